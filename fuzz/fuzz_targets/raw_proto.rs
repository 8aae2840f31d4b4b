//! Any bytes: the schema-less decoder returns text or an error, never panics, and its
//! text output is printable ASCII (protoc's escaping) for any input it accepts.
#![no_main]

use centiloc_cert::decode::raw_proto;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match raw_proto::to_text(data) {
        Ok(text) => {
            assert!(text.bytes().all(|b| b == b'\n' || (0x20..0x7f).contains(&b)));
            let _ = raw_proto::to_json(data).expect("validated input renders as JSON");
        }
        Err(e) => {
            assert!(e.offset <= data.len());
            assert!(raw_proto::to_json(data).is_err());
        }
    }
});
