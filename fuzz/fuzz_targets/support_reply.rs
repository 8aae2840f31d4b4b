//! Any bytes as what `install-cert` reads (issue 11): a certificate, a PKCS#7 bundle or an
//! e-mail reply. Certificates or an error, never a panic, and nothing that reaches the
//! terminal (places, forms, error sentences) carries a control character.
#![no_main]

use std::path::Path;

use centiloc_cert::support_reply;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let no_controls = |s: &str| !s.chars().any(char::is_control);
    match support_reply::read(Path::new("reply.eml"), data) {
        Ok(r) => {
            assert!(!r.found.is_empty());
            assert!(no_controls(&r.form), "{:?}", r.form);
            for f in &r.found {
                assert!(no_controls(&f.place), "{:?}", f.place);
            }
        }
        Err(e) => assert!(no_controls(&e.to_string()), "{e}"),
    }
});
