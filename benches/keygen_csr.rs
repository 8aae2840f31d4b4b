//! What `init` + `csr` cost inside one process: key generation, and CSR building from
//! a key and subject (SPEC: every offline command must feel instant).

use centiloc_cert::csr::{self, Subject};
use centiloc_cert::keys::{Curve, PrivateKey};
use criterion::{Criterion, criterion_group, criterion_main};

fn subject() -> Subject {
    Subject {
        country: Some("FR".into()),
        state: None,
        locality: None,
        organization: "Centiloc".into(),
        org_unit: None,
        common_name: "centiloc".into(),
        email: "me@example.com".into(),
    }
}

fn bench(c: &mut Criterion) {
    c.bench_function("generate P-256 key", |b| {
        b.iter(|| PrivateKey::generate(Curve::P256).unwrap())
    });
    let key = PrivateKey::generate(Curve::P256).unwrap();
    let s = subject();
    c.bench_function("build CSR (P-256)", |b| {
        b.iter(|| csr::build(&key, &s).unwrap())
    });
    c.bench_function("keygen + CSR (P-256)", |b| {
        b.iter(|| {
            let k = PrivateKey::generate(Curve::P256).unwrap();
            csr::build(&k, &s).unwrap()
        })
    });
    c.bench_function("parse key PEM", |b| {
        b.iter(|| PrivateKey::parse(std::path::Path::new("k"), key.pem().as_bytes()).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
