//! Any bytes as a certificate file (PEM with text around it, DER): a chain or an error,
//! never a panic; the fast leaf reader of `check-expiry` agrees with the full parser.
#![no_main]

use std::path::Path;

use centiloc_cert::cert;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("tls-cert.pem");
    let chain = cert::parse_chain(path, data);
    if let Ok(leaf) = cert::parse_leaf(path, data) {
        if let Ok(chain) = &chain {
            assert_eq!(chain[0].not_after, leaf.not_after);
        }
    }
});
