//! Cost of one certificate in `check-expiry`: parsing the leaf of a PEM file and the
//! verdict. `scripts/bench-expiry` measures the whole command over fleets of profiles.

use std::hint::black_box;
use std::path::Path;

use centiloc_cert::cert;
use centiloc_cert::expiry::{self, Limits};
use centiloc_cert::keys::{Curve, PrivateKey};
use chrono::{Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};

fn pem_certificate() -> String {
    let key = PrivateKey::generate(Curve::P256).expect("key");
    let mut params = rcgen::CertificateParams::new(vec![]).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "tenant-00042");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Fleet Corp");
    params.not_before = rcgen::date_time_ymd(2026, 1, 1);
    params.not_after = rcgen::date_time_ymd(2027, 1, 1);
    let signing = key.signing_key().expect("signing key");
    params.self_signed(&signing).expect("certificate").pem()
}

fn bench(c: &mut Criterion) {
    let pem = pem_certificate();
    let now = Utc::now();
    let path = Path::new("tls-cert.pem");
    c.bench_function("parse_leaf (PEM, P-256)", |b| {
        b.iter(|| cert::parse_leaf(path, black_box(pem.as_bytes())).expect("parses"))
    });
    let leaf = cert::parse_leaf(path, pem.as_bytes()).expect("parses");
    c.bench_function("verdict", |b| {
        b.iter(|| {
            expiry::verdict(
                black_box(leaf.not_before),
                black_box(leaf.not_after),
                black_box(now),
                Limits::default(),
            )
        })
    });
    let toml = "tenant = \"tenant-00042\"\norganization = \"Fleet Corp\"\nemail = \"ops@fleet.example\"\n\n[broker]\nhost = \"mqtt-client.centiloc.com\"\nport = 8883\n\n[expiry]\n";
    c.bench_function("profile.toml parse + validate", |b| {
        b.iter(|| {
            centiloc_cert::profile::Profile::from_toml(Path::new("profile.toml"), black_box(toml))
                .expect("valid")
        })
    });
    c.bench_function("notice_due", |b| {
        let sent = vec!["30".to_string()];
        b.iter(|| {
            expiry::notice_due(
                black_box(now + Duration::days(10)),
                black_box(now),
                &expiry::DEFAULT_NOTICE_DAYS,
                &sent,
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
