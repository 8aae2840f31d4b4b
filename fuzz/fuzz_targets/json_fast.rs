//! Differential: the fast JSON writers of `decode --format json` (issue 12, item 5) against
//! the general ways, for any bytes. Schema-less: `Decoded::write_json` must equal
//! serde_json's writing of `json_view`. With the schema of tests/fixtures/json_kinds.proto
//! (every scalar kind, enums, packed and unpacked repeats, nesting, oneofs, maps,
//! Timestamp): whenever the fast writer takes the bytes, prost must accept them too and
//! prost-reflect's JSON must be the same, byte for byte.
#![no_main]

use std::sync::OnceLock;

use centiloc_cert::decode::json_out::JsonOut;
use centiloc_cert::decode::{self, Encoding, Schema};
use libfuzzer_sys::fuzz_target;

fn kinds() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
        Schema::compile(&[dir.join("json_kinds.proto")], &[dir], Some("kinds.Node"))
            .expect("the fixture schema compiles")
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = decode::decode(data, Encoding::Proto, None) {
        let mut out = JsonOut::new();
        d.write_json(&mut out);
        let want = serde_json::to_string_pretty(&d.json_view()).unwrap();
        assert_eq!(String::from_utf8(out.into_bytes()).unwrap(), want);
    }
    let schema = kinds();
    if let Some(writer) = schema.json_writer(data) {
        let message = schema
            .decode(data)
            .expect("the fast writer took bytes prost refuses");
        let reference = decode::Decoded::Message(message);
        let want = serde_json::to_string_pretty(&reference.json_view())
            .expect("the fast writer took bytes prost-reflect cannot write");
        let mut out = JsonOut::new();
        writer.write(data, &mut out);
        assert_eq!(String::from_utf8(out.into_bytes()).unwrap(), want);
    }
});
