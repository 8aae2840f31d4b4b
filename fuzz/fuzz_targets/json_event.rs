//! Any bytes as a JSON payload: an event, other JSON or an error, never a panic, and
//! nothing that reaches the terminal carries a control character.
#![no_main]

use centiloc_cert::decode::json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let no_controls = |s: &str| s.chars().all(|c| c == '\n' || !c.is_control());
    match json::decode(data) {
        Ok(p) => {
            assert!(no_controls(&p.to_text()));
            let _ = p.to_json();
        }
        Err(e) => assert!(no_controls(&e.to_string())),
    }
});
