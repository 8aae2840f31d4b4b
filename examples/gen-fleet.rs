//! Generates the fleet fixture for `scripts/bench-expiry`: N profiles under DIR, each with
//! a profile.toml, a client certificate ending somewhere between 30 days ago and 400 days
//! from now, and the CA certificate; some with a renewal pending, some with a chain.
//! rcgen signs in-process (tens of microseconds a certificate): openssl per certificate
//! would take minutes for 10,000.
//!
//! Usage: cargo run --release --example gen-fleet -- DIR N

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    PKCS_ECDSA_P256_SHA256,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(n)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: gen-fleet DIR N");
        std::process::exit(64);
    };
    let n: usize = n.parse()?;
    let dir = Path::new(dir);
    let now = time_now();

    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut ca_params = CertificateParams::new(vec![])?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Fleet Bench CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.not_before = now - time::Duration::days(30);
    ca_params.not_after = now + time::Duration::days(3650);
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let ca_pem = ca_cert.pem();
    let issuer = Issuer::new(ca_params, ca_key);

    for i in 0..n {
        let name = format!("p{i:05}");
        let tenant = format!("tenant-{i:05}");
        let pdir = dir.join("profiles").join(&name);
        std::fs::create_dir_all(&pdir)?;
        std::fs::write(
            pdir.join("profile.toml"),
            format!(
                "tenant = \"{tenant}\"\norganization = \"Fleet Corp\"\nemail = \"ops@fleet.example\"\n\n[broker]\nhost = \"mqtt-client.centiloc.com\"\nport = 8883\n\n[expiry]\n"
            ),
        )?;
        // Spread the end dates over 430 days so every state occurs.
        let days_left = (i as i64 * 37) % 430 - 30;
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut p = CertificateParams::new(vec![])?;
        p.distinguished_name
            .push(DnType::OrganizationName, "Fleet Corp");
        p.distinguished_name.push(DnType::CommonName, &tenant);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.serial_number = Some(rcgen::SerialNumber::from(
            (i as u64 + 1).to_be_bytes().to_vec(),
        ));
        p.not_after = now + time::Duration::days(days_left);
        p.not_before = p.not_after - time::Duration::days(365);
        let leaf = p.signed_by(&key, &issuer)?;
        let mut pem = leaf.pem();
        if i % 10 == 3 {
            pem.push_str(&ca_pem);
        }
        std::fs::write(pdir.join("tls-cert.pem"), pem)?;
        std::fs::write(pdir.join("ca-cert.pem"), &ca_pem)?;
        if i % 20 == 7 {
            std::fs::create_dir_all(pdir.join("pending"))?;
            std::fs::write(pdir.join("pending/certificate-request.csr"), "pending")?;
        }
    }
    Ok(())
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}
