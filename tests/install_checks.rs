//! `install-cert` of certificates that carry the profile's key but are not what a broker
//! takes as a client certificate, and of a renewal that does not extend the validity
//! (issue 10, small gaps). Certificates are made by openssl, as Centiloc support would.

mod support;

use support::{Ca, TestHome, assert_install_refused, openssl};

/// Signs `csr` with `ca` for `days`, with the extension lines `ext` (openssl's extfile).
fn sign_with(
    ca: &Ca,
    csr: &std::path::Path,
    days: u32,
    ext: &str,
    name: &str,
) -> std::path::PathBuf {
    let d = ca.dir.path();
    let extfile = d.join(format!("{name}.ext"));
    std::fs::write(&extfile, ext).unwrap();
    let out = d.join(format!("{name}.pem"));
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            csr.to_str().unwrap(),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-days",
            &days.to_string(),
            "-extfile",
            extfile.to_str().unwrap(),
            "-out",
            out.to_str().unwrap(),
        ],
    );
    out
}

const CLIENT: &str = "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n";

#[test]
fn a_ca_certificate_for_the_profiles_key_is_refused() {
    let ca = Ca::new("Checks CA");
    let h = TestHome::new();
    let csr = h.init_with_csr("acme");
    let cert = sign_with(
        &ca,
        &csr,
        365,
        "basicConstraints=critical,CA:TRUE\n",
        "ca-true",
    );
    let err = assert_install_refused(&h, &[cert.to_str().unwrap()], None, 65, &[]);
    assert_eq!(
        err,
        format!(
            "ERROR: {} refused, nothing was changed: it carries this profile's key but is a CA certificate (basicConstraints CA:TRUE), not a client certificate, and a broker refuses it as one; ask Centiloc support to sign the CSR again as a client certificate (CA:FALSE)\n",
            cert.display()
        )
    );
    // install-ca still takes a CA certificate (one without our key, as Centiloc's is).
    h.cmd().arg("install-ca").arg(&ca.cert).assert().success();
}

#[test]
fn an_unknown_critical_extension_is_refused() {
    let ca = Ca::new("Checks CA");
    let h = TestHome::new();
    let csr = h.init_with_csr("acme");
    let ext = format!("{CLIENT}1.2.3.4=critical,ASN1:UTF8String:made up\n");
    let cert = sign_with(&ca, &csr, 365, &ext, "critical");
    let err = assert_install_refused(&h, &[cert.to_str().unwrap()], None, 65, &[]);
    assert_eq!(
        err,
        format!(
            "ERROR: {} refused, nothing was changed: it has a critical extension that TLS software does not know (1.2.3.4), so the broker must refuse it (RFC 5280 §4.2); ask Centiloc support to sign the CSR again without it\n",
            cert.display()
        )
    );
    // The same extension, not critical, is no reason to refuse.
    let ext = format!("{CLIENT}1.2.3.4=ASN1:UTF8String:made up\n");
    let cert = sign_with(&ca, &csr, 365, &ext, "not-critical");
    h.cmd().arg("install-cert").arg(&cert).assert().success();
}

/// The "valid until" of a certificate file, as the tool prints dates.
fn valid_until(cert: &std::path::Path) -> String {
    let out = openssl(
        cert.parent().unwrap(),
        &[
            "x509",
            "-in",
            cert.to_str().unwrap(),
            "-noout",
            "-enddate",
            "-dateopt",
            "iso_8601",
        ],
    );
    // notAfter=2027-11-30 17:45:34Z
    let iso = out.trim().trim_start_matches("notAfter=");
    format!("{} UTC", &iso[..16])
}

/// A profile with a one-year certificate installed and a renewal started: the CA, the
/// home, that first certificate and the pending CSR.
fn installed_then_renewing() -> (Ca, TestHome, std::path::PathBuf, std::path::PathBuf) {
    let ca = Ca::new("Checks CA");
    let h = TestHome::new();
    let csr = h.init_with_csr("acme");
    let first = sign_with(&ca, &csr, 365, CLIENT, "first");
    h.cmd().arg("install-cert").arg(&first).assert().success();
    h.cmd().arg("renew").assert().success();
    let pending = h
        .profile_dir("default")
        .join("pending/certificate-request.csr");
    (ca, h, first, pending)
}

#[test]
fn a_renewal_that_ends_earlier_is_installed_with_a_warning() {
    let (ca, h, first, pending) = installed_then_renewing();
    let shorter = sign_with(&ca, &pending, 360, CLIENT, "shorter");
    let (code, _, err) = support::run(&h, &["install-cert", shorter.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let warning = format!(
        "Warning: the new certificate is valid until {}, not later than the one it replaced (valid until {}): check that it is the renewed certificate Centiloc support meant to send\n",
        valid_until(&shorter),
        valid_until(&first)
    );
    assert!(err.contains(&warning), "{err}");
    assert_eq!(
        std::fs::read(h.profile_dir("default").join("tls-cert.pem")).unwrap(),
        std::fs::read(&shorter).unwrap(),
        "installed as asked"
    );

    // A renewal that ends later says nothing of the kind.
    h.cmd().arg("renew").assert().success();
    let longer = sign_with(&ca, &pending, 370, CLIENT, "longer");
    let (code, _, err) = support::run(&h, &["install-cert", longer.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("not later than"), "{err}");
}

/// Last year's certificate given again after a renewal: said to be the certificate of the
/// profile's earlier key, with the archive folder, not "signed for another CSR".
#[test]
fn last_years_certificate_is_named_as_such() {
    let (ca, h, first, pending) = installed_then_renewing();
    let second = sign_with(&ca, &pending, 370, CLIENT, "second");
    h.cmd().arg("install-cert").arg(&second).assert().success();
    let archive = h.profile_dir("default").join("archive");
    let with_key: Vec<_> = std::fs::read_dir(&archive)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|d| d.join("private-key.pem").exists())
        .collect();
    assert_eq!(with_key.len(), 1, "{with_key:?}");
    let err = assert_install_refused(&h, &[first.to_str().unwrap()], None, 65, &[]);
    assert_eq!(
        err,
        format!(
            "ERROR: {} refused, nothing was changed: it is the certificate of this profile's earlier key (archived in {}), which a renewal replaced; install the certificate Centiloc support signed for the current CSR\n",
            first.display(),
            with_key[0].display()
        )
    );
}

/// The same certificate sent again as DER, without the CA certificate installed behind it:
/// nothing changes, the chain stays, and a note says so.
#[test]
fn the_same_certificate_without_its_chain_keeps_the_chain() {
    let ca = Ca::new("Checks CA");
    let h = TestHome::new();
    let csr = h.init_with_csr("acme");
    let leaf = sign_with(&ca, &csr, 365, CLIENT, "leaf");
    let chained = ca.dir.path().join("chained.pem");
    let mut both = std::fs::read(&leaf).unwrap();
    both.extend(std::fs::read(&ca.cert).unwrap());
    std::fs::write(&chained, both).unwrap();
    h.cmd().arg("install-cert").arg(&chained).assert().success();
    let installed = h.profile_dir("default").join("tls-cert.pem");
    let before = std::fs::read(&installed).unwrap();
    let der = ca.dir.path().join("leaf.der");
    openssl(
        ca.dir.path(),
        &[
            "x509",
            "-in",
            leaf.to_str().unwrap(),
            "-outform",
            "DER",
            "-out",
            der.to_str().unwrap(),
        ],
    );
    let (code, out, err) = support::run(&h, &["install-cert", der.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("Note: the installed file already holds this certificate with 1 CA certificate behind it; kept as it is, chain included"),
        "{err}"
    );
    assert!(out.contains("nothing changed"), "{out}");
    assert_eq!(std::fs::read(&installed).unwrap(), before, "chain kept");
}
