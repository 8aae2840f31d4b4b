//! Any bytes as a key file given to `init --key`: adopted or refused with a sentence,
//! never a panic; an adopted key signs (its halves were checked) and never shows its
//! secret in Debug.
#![no_main]

use std::path::Path;

use centiloc_cert::keys::PrivateKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match PrivateKey::adopt_bytes(Path::new("key.pem"), data) {
        Ok(k) => {
            k.verify().expect("an adopted key can sign");
            let _ = k.fingerprint();
            assert!(!format!("{k:?}").contains("PRIVATE"));
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    // The cheap path `list` and `status` use must not panic either.
    if let Ok(k) = PrivateKey::parse(Path::new("key.pem"), data) {
        let _ = k.verify();
    }
});
