//! `decode` checked against an independent parser: protoc 3.21 (`protoc --decode_raw`,
//! `protoc --decode=NAME`). The corpus is encoded at test time with `protoc --encode`
//! from `tests/fixtures/corpus.proto`, so every case records how it was made.
//! protoc is required: without it these tests fail and say how to install it.

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::Command as BinCommand;
use centiloc_cert::decode::json_out::JsonOut;
use centiloc_cert::decode::{self, Encoding, Schema, raw_proto};
use proptest::prelude::*;

mod support;

// ---- protoc, the reference ------------------------------------------------------------

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Runs protoc in the fixtures directory with `stdin`; `Ok(stdout)` on success,
/// `Err(stderr)` when it refuses.
fn protoc(args: &[&str], stdin: &[u8]) -> Result<Vec<u8>, String> {
    support::protoc_in(&fixtures(), args, stdin)
}

fn encode(proto: &str, message: &str, text: &str) -> Vec<u8> {
    protoc(
        &[
            "-I.",
            "-I/usr/include",
            &format!("--encode={message}"),
            proto,
        ],
        text.as_bytes(),
    )
    .unwrap_or_else(|e| panic!("protoc --encode={message} refused {text:?}: {e}"))
}

fn decode_raw(bytes: &[u8]) -> Result<String, String> {
    protoc(&["--decode_raw"], bytes).map(|o| String::from_utf8(o).expect("protoc prints ASCII"))
}

/// Our text must equal protoc's when protoc accepts, and be an error when it refuses.
fn assert_agrees_with_protoc(bytes: &[u8]) {
    let ours = raw_proto::to_text(bytes);
    match (decode_raw(bytes), ours) {
        (Ok(theirs), Ok(ours)) => assert_eq!(ours, theirs, "bytes {bytes:02x?}"),
        (Err(_), Err(_)) => {}
        (Ok(theirs), Err(e)) => panic!("protoc accepts {bytes:02x?} as\n{theirs}but we fail: {e}"),
        (Err(_), Ok(ours)) => panic!("protoc refuses {bytes:02x?} but we print\n{ours}"),
    }
}

// ---- the corpus -------------------------------------------------------------------------

/// Text-format cases of `corpus.Everything`, one per shape issue 6 lists.
const CORPUS: &[(&str, &str)] = &[
    (
        "negative varints",
        "i32: -1 i64: -9223372036854775808 s32: -5 s64: -1",
    ),
    (
        "huge varints",
        "u64: 18446744073709551615 i64: 9223372036854775807",
    ),
    ("fixed32/64", "f32: 4294967295 f64: 1 sf32: -1 sf64: -2"),
    ("floats and doubles", "fl: 1.5 db: -0.0"),
    ("float specials", "fl: nan db: inf"),
    ("bool and enum", "b: true kind: B"),
    ("unpacked repeated", "unpacked: [1, -2, 300]"),
    (
        "packed repeated",
        "packed: [1, 2, 3, 150] packed_d: [0.5, 2]",
    ),
    ("nested", "inner { a: 1 s: \"x\" }"),
    (
        "deeply nested (past protoc's print budget)",
        "inner { child { child { child { child { child { child { child { child { child { child { child { a: 7 } } } } } } } } } } } }",
    ),
    (
        "maps",
        "m { key: \"k\" value: 1 } m { key: \"\" value: 0 } mi { key: 3 value { s: \"v\" } }",
    ),
    ("group", "G { ga: 5 gs: \"in group\" }"),
    (
        "repeated group with a message",
        "RG { x: 1 } RG { x: 2 in { a: 3 } }",
    ),
    (
        "empty message and empty string",
        "empty {} str: \"\" by: \"\"",
    ),
    ("invalid UTF-8 bytes", "by: \"\\377\\376\\000abc\\200\""),
    (
        "valid UTF-8 string",
        "str: \"h\u{e9}llo \u{fc}n\u{ef}c\u{f6}d\u{e9} \u{2603}\"",
    ),
    (
        "escapes and terminal controls",
        "str: \"tab\\there \\\"q\\\" 'a' \\\\ \\033[31m\\r\\n\\177\"",
    ),
    ("string that parses as a message", "str: \"\\n\\003abc\""),
    (
        "string that almost parses",
        "str: \"hello world\" strs: [\"\\010\", \"\\010\\001\", \"A\"]",
    ),
    ("large field number", "big: 7"),
    (
        "everything at once",
        "i32: 1 str: \"s\" inner { a: 2 } G { ga: 3 } packed: [4] big: 5",
    ),
];

#[test]
fn corpus_matches_protoc_decode_raw() {
    for (name, text) in CORPUS {
        let bytes = encode("corpus.proto", "corpus.Everything", text);
        let theirs =
            decode_raw(&bytes).unwrap_or_else(|e| panic!("{name}: protoc --decode_raw: {e}"));
        let ours = raw_proto::to_text(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ours, theirs, "case {name:?} ({text})");
    }
}

#[test]
fn empty_payload_prints_nothing_like_protoc() {
    assert_eq!(decode_raw(b"").unwrap(), "");
    assert_eq!(raw_proto::to_text(b"").unwrap(), "");
}

/// Hand-made wire bytes at the edges of protoc's readers (tag/length/varint sizes,
/// group limits, print budget), each checked live.
#[test]
fn wire_edge_cases_match_protoc() {
    let mut cases: Vec<Vec<u8>> = vec![
        b"\x08\x80\x00".to_vec(),                            // over-long varint
        [b"\x08".as_slice(), &[0xff; 9], b"\x02"].concat(),  // 10th byte > 1
        [b"\x08".as_slice(), &[0x80; 10], b"\x01"].concat(), // 11-byte varint
        b"\x88\x80\x80\x80\x80\x00\x01".to_vec(),            // 6-byte tag
        b"\xf8\xff\xff\xff\x1f\x01".to_vec(),                // tag bits past 32
        b"\x0a\x81\x80\x80\x80\x00a".to_vec(),               // 5-byte length
        b"\x0a\x81\x80\x80\x80\x10a".to_vec(),               // length >= 2^32
        b"\x00".to_vec(),                                    // tag 0
        b"\x02\x00".to_vec(),                                // field 0
        b"\x0c".to_vec(),                                    // stray end-group
        b"\x4b\x54".to_vec(),                                // mismatched end-group
        b"\x0b\x10\x01".to_vec(),                            // unclosed group
        b"\x0d\x01\x02".to_vec(),                            // short fixed32
        b"\x09\x01".to_vec(),                                // short fixed64
        b"\x0e".to_vec(),                                    // wire type 6
        b"\x0f".to_vec(),                                    // wire type 7
    ];
    // Each also wrapped in a length-delimited field: protoc's lenient trial parse.
    let wrapped: Vec<Vec<u8>> = cases.iter().map(|c| wrap(1, c)).collect();
    cases.extend(wrapped);
    for depth in [99, 100, 101] {
        cases.push(groups(depth));
    }
    for depth in 9..=12 {
        let mut b = b"\x08\x07".to_vec();
        for _ in 0..depth {
            b = wrap(1, &b);
        }
        cases.push(b);
    }
    for (groups_inside, wraps) in [(10, 1), (11, 1), (9, 2), (10, 2)] {
        let mut b = groups(groups_inside);
        for _ in 0..wraps {
            b = wrap(3, &b);
        }
        cases.push(b);
    }
    for c in &cases {
        assert_agrees_with_protoc(c);
    }
}

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

fn wrap(field: u32, inner: &[u8]) -> Vec<u8> {
    [
        varint(u64::from(field) << 3 | 2),
        varint(inner.len() as u64),
        inner.to_vec(),
    ]
    .concat()
}

/// `depth` nested groups of field 1 around a varint field 2.
fn groups(depth: usize) -> Vec<u8> {
    [vec![0x0b; depth], b"\x10\x07".to_vec(), vec![0x0c; depth]].concat()
}

#[test]
fn invalid_wire_data_names_the_offset() {
    let e = raw_proto::validate(b"\x08\x01\x12\x05ab").unwrap_err();
    assert_eq!(
        e.to_string(),
        "length 5 at byte 3 runs past the end of the data (2 bytes left)"
    );
    let e = raw_proto::validate(b"\x08\x01\x08\xff\xff").unwrap_err();
    assert_eq!(
        e.to_string(),
        "varint truncated by the end of the data at byte 3"
    );
    let e = raw_proto::validate(b"\x08\x01\x0e").unwrap_err();
    assert_eq!(e.to_string(), "invalid wire type 6 at byte 2");
}

// ---- property tests against protoc ---------------------------------------------------

#[derive(Debug, Clone)]
enum Field {
    Varint(u32, u64),
    Fixed32(u32, u32),
    Fixed64(u32, u64),
    Bytes(u32, Vec<u8>),
    Message(u32, Vec<Field>),
    Group(u32, Vec<Field>),
}

fn encode_fields(fields: &[Field]) -> Vec<u8> {
    let mut out = Vec::new();
    let tag = |n: u32, wt: u64| varint(u64::from(n) << 3 | wt);
    for f in fields {
        match f {
            Field::Varint(n, v) => out.extend([tag(*n, 0), varint(*v)].concat()),
            Field::Fixed32(n, v) => out.extend([tag(*n, 5), v.to_le_bytes().to_vec()].concat()),
            Field::Fixed64(n, v) => out.extend([tag(*n, 1), v.to_le_bytes().to_vec()].concat()),
            Field::Bytes(n, b) => out.extend(wrap(*n, b)),
            Field::Message(n, inner) => out.extend(wrap(*n, &encode_fields(inner))),
            Field::Group(n, inner) => {
                out.extend([tag(*n, 3), encode_fields(inner), tag(*n, 4)].concat())
            }
        }
    }
    out
}

fn field_number() -> impl Strategy<Value = u32> {
    prop_oneof![1u32..20, 1u32..(1 << 29)]
}

fn fields() -> impl Strategy<Value = Vec<Field>> {
    let leaf = prop_oneof![
        (field_number(), any::<u64>()).prop_map(|(n, v)| Field::Varint(n, v)),
        (field_number(), 0u64..300).prop_map(|(n, v)| Field::Varint(n, v)),
        (field_number(), any::<u32>()).prop_map(|(n, v)| Field::Fixed32(n, v)),
        (field_number(), any::<u64>()).prop_map(|(n, v)| Field::Fixed64(n, v)),
        (
            field_number(),
            proptest::collection::vec(any::<u8>(), 0..12)
        )
            .prop_map(|(n, b)| Field::Bytes(n, b)),
        (field_number(), "[ -~]{0,10}").prop_map(|(n, s)| Field::Bytes(n, s.into_bytes())),
    ];
    let field = leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            (
                field_number(),
                proptest::collection::vec(inner.clone(), 0..4)
            )
                .prop_map(|(n, f)| Field::Message(n, f)),
            (field_number(), proptest::collection::vec(inner, 0..4))
                .prop_map(|(n, f)| Field::Group(n, f)),
        ]
    });
    proptest::collection::vec(field, 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_valid_messages_print_like_protoc(fields in fields()) {
        let bytes = encode_fields(&fields);
        let theirs = decode_raw(&bytes).expect("protoc accepts a well-formed message");
        prop_assert_eq!(raw_proto::to_text(&bytes).expect("well-formed"), theirs);
    }

    /// Random and damaged bytes: we agree with protoc (same text, or both refuse), and
    /// never panic.
    #[test]
    fn random_bytes_agree_with_protoc(
        fields in fields(),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = encode_fields(&fields);
        if !bytes.is_empty() {
            let i = flip.index(bytes.len());
            bytes[i] = byte;
            bytes.truncate(cut.index(bytes.len()) + 1);
        }
        assert_agrees_with_protoc(&bytes);
        let _ = raw_proto::to_json(&bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Pure noise never panics and errors name an offset inside the data.
    #[test]
    fn noise_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Err(e) = raw_proto::validate(&bytes) {
            prop_assert!(e.offset <= bytes.len());
            prop_assert!(raw_proto::to_text(&bytes).is_err());
        }
        let _ = decode::json::decode(&bytes);
    }
}

// ---- JSON tree of the schema-less decoder --------------------------------------------

#[test]
fn raw_json_lists_every_plausible_reading() {
    let bytes = encode(
        "corpus.proto",
        "corpus.Everything",
        "i32: 1 unpacked: [1, 2] str: \"\\n\\003abc\" by: \"\\377\" fl: 1.5",
    );
    let v = raw_proto::to_json(&bytes).unwrap();
    assert_eq!(v["1"], 1);
    assert_eq!(v["15"], serde_json::json!([1, 2]));
    assert_eq!(v["13"]["string"], "\n\u{3}abc");
    assert_eq!(v["13"]["message"]["1"]["string"], "abc");
    assert_eq!(v["13"]["bytes"], "CgNhYmM=");
    assert!(
        v["14"].get("string").is_none(),
        "invalid UTF-8 has no string reading"
    );
    assert_eq!(v["10"]["float"], 1.5);
}

// ---- with a schema ---------------------------------------------------------------------

fn transtream(message: &str) -> Schema {
    Schema::compile(
        &[fixtures().join("transtream.proto")],
        &[fixtures()],
        Some(message),
    )
    .expect("the fixture schema compiles")
}

fn item_event_bytes() -> Vec<u8> {
    let text = std::fs::read_to_string(fixtures().join("item_event.txtpb")).unwrap();
    encode("transtream.proto", "transtreamdatamodel.ItemEvent", &text)
}

/// Our text format, read back by protoc, is the same message protoc decodes.
#[test]
fn schema_text_means_what_protoc_decode_says() {
    let name = "transtreamdatamodel.ItemEvent";
    let bytes = item_event_bytes();
    let decoded = decode::decode(&bytes, Encoding::Proto, Some(&transtream(name))).unwrap();
    let ours = decoded.to_text();
    assert!(ours.contains("uid: \"E004015012345678\""), "{ours}");
    let flag = format!("--decode={name}");
    let args = ["-I.", "-I/usr/include", flag.as_str(), "transtream.proto"];
    let theirs = protoc(&args, &bytes).unwrap();
    let reencoded = encode("transtream.proto", name, &ours);
    assert_eq!(protoc(&args, &reencoded).unwrap(), theirs);
}

#[test]
fn schema_json_is_canonical_proto3_json() {
    let bytes = item_event_bytes();
    let schema = transtream("transtreamdatamodel.ItemEvent");
    let v = decode::decode(&bytes, Encoding::Proto, Some(&schema))
        .unwrap()
        .to_json();
    assert_eq!(v["momentum"], "2026-11-25T10:00:00Z");
    assert_eq!(v["uid"], "E004015012345678");
    assert_eq!(v["posMm"], serde_json::json!([120, 45]));
    assert_eq!(v["holdTime"], "1500000000", "64-bit integers are strings");
    assert_eq!(v["isIn"], true);
}

#[test]
fn schema_enums_print_by_name() {
    let name = "transtreamdatamodel.BoardEvent";
    let bytes = encode(
        "transtream.proto",
        name,
        "board_sn: \"CB-1\" status: ONERROR",
    );
    let d = decode::decode(&bytes, Encoding::Proto, Some(&transtream(name))).unwrap();
    assert!(d.to_text().contains("status: ONERROR"), "{}", d.to_text());
    assert_eq!(d.to_json()["status"], "ONERROR");
}

#[test]
fn unknown_message_lists_the_schema_messages() {
    let e = Schema::compile(
        &[fixtures().join("transtream.proto")],
        &[fixtures()],
        Some("transtreamdatamodel.Nope"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no message \"transtreamdatamodel.Nope\""), "{e}");
    assert!(e.contains("transtreamdatamodel.ItemEvent"), "{e}");
    assert!(e.contains("transtreamdatamodel.BoardEvent"), "{e}");
}

#[test]
fn schema_that_does_not_compile_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.proto");
    std::fs::write(
        &f,
        "syntax = \"proto3\";\n\nmessage A {\n  int32 x = ;\n}\n",
    )
    .unwrap();
    let e = Schema::compile(&[f], &[], None).unwrap_err().to_string();
    assert!(e.contains("bad.proto:4:"), "{e}");
}

// ---- JSON events -----------------------------------------------------------------------

const ITEM_JSON: &str = r#"{"momentum":"2026-11-25T10:00:00Z","uid":"E004015012345678","is_in":true,
 "pos_mm":[120,45],"board_sn":"CB-000123","nb_hits":3,"hold_time":1500000000,"fill_ratio":0.75,
 "product_reference":"REF-42","shelf_sn":"","furniture_sn":null,"pos_on_shelf_mm":[],
 "tenant":"acme","loc_reference":"","loc_labels":["aisle-3"],"item_labels":null,
 "pos_on_floor_mm":[1,2],"floor":-1,"is_interpolated":false,"new_field":{"x":1}}"#;

#[test]
fn item_update_reads_as_one_line() {
    let d = decode::decode(ITEM_JSON.as_bytes(), Encoding::Json, None).unwrap();
    assert_eq!(
        d.to_text(),
        "item E004015012345678 IN board CB-000123 pos 120,45 mm hold 1.5s @ 2026-11-25T10:00:00Z"
    );
    let v = d.to_json();
    assert_eq!(v["new_field"]["x"], 1, "unknown fields are kept");
    assert_eq!(v["shelf_sn"], "", "masked fields stay present and empty");
    assert_eq!(v["pos_on_shelf_mm"], serde_json::json!([]));
    assert!(v["furniture_sn"].is_null());
    assert!(v.get("nonexistent").is_none());
    assert_eq!(v["hold_time"], 1500000000);
}

#[test]
fn board_update_reads_as_one_line() {
    let json = br#"{"Momentum":"2026-11-25T10:00:00Z","BoardSN":"CB-000123","Status":1,"FwVersion":"2.4.1",
      "LastConnectionDate":"2026-11-24T08:00:00Z","LastDisconnectionDate":"","LastErrorDate":null}"#;
    let d = decode::decode(json, Encoding::Json, None).unwrap();
    assert_eq!(
        d.to_text(),
        "board CB-000123 DISCONNECTED fw 2.4.1 @ 2026-11-25T10:00:00Z"
    );
    assert_eq!(d.to_json()["LastConnectionDate"], "2026-11-24T08:00:00Z");
}

#[test]
fn payload_text_is_made_safe() {
    let d = decode::decode(
        br#"{"uid":"E\u001b[2J1","is_in":false}"#,
        Encoding::Json,
        None,
    )
    .unwrap();
    assert_eq!(d.to_text(), "item E\\u{1b}[2J1 OUT");
    let e = decode::decode(b"{\"uid\": \x1b[31m", Encoding::Json, None).unwrap_err();
    assert!(!e.to_string().contains('\x1b'), "{e}");
}

// ---- the command -------------------------------------------------------------------------

fn bin() -> BinCommand {
    let mut c = BinCommand::cargo_bin("centiloc-cert").unwrap();
    c.env_remove("CENTILOC_CERT_HOME")
        .env_remove("CENTILOC_CERT_PROFILE");
    c
}

#[test]
fn cli_decodes_protobuf_from_a_file_like_protoc() {
    let bytes = item_event_bytes();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("item.bin");
    std::fs::write(&f, &bytes).unwrap();
    bin()
        .arg("decode")
        .arg(&f)
        .assert()
        .code(0)
        .stdout(decode_raw(&bytes).unwrap());
}

#[test]
fn cli_decodes_stdin_with_a_schema() {
    bin()
        .args([
            "decode",
            "-",
            "--format",
            "json",
            "--message",
            "transtreamdatamodel.ItemEvent",
        ])
        .arg("--proto")
        .arg(fixtures().join("transtream.proto"))
        .write_stdin(item_event_bytes())
        .assert()
        .code(0)
        .stdout(predicates::str::contains("\"uid\": \"E004015012345678\""));
}

#[test]
fn cli_guesses_json() {
    bin()
        .arg("decode")
        .write_stdin(ITEM_JSON)
        .assert()
        .code(0)
        .stdout("item E004015012345678 IN board CB-000123 pos 120,45 mm hold 1.5s @ 2026-11-25T10:00:00Z\n");
}

#[test]
fn cli_bad_protobuf_exits_65_with_the_offset() {
    bin()
        .args(["decode", "--encoding", "proto"])
        .write_stdin(&b"\x08\x01\x12\x05ab"[..])
        .assert()
        .code(65)
        .stderr("ERROR: standard input: not valid protobuf: length 5 at byte 3 runs past the end of the data (2 bytes left); check --encoding (or the schema and --message)\n");
}

#[test]
fn cli_bad_json_exits_65_with_a_safe_preview() {
    bin()
        .args(["decode", "--encoding", "json"])
        .write_stdin("{\"uid\": \x1b[31m")
        .assert()
        .code(65)
        .stderr(concat!(
            "ERROR: standard input: not valid JSON: expected value at line 1 column 9 ",
            "(payload: {\"uid\": \\u{1b}[31m); check --encoding (or the schema and --message)\n"
        ));
}

#[test]
fn cli_missing_file_exits_66() {
    bin()
        .args(["decode", "/nonexistent/payload.bin"])
        .assert()
        .code(66)
        .stderr("ERROR: cannot read /nonexistent/payload.bin: no such file or directory; check the path and its permissions\n");
}

#[test]
fn cli_missing_schema_exits_66_and_unknown_message_or_broken_schema_78() {
    bin()
        .args(["decode", "--proto", "/nonexistent/x.proto"])
        .write_stdin(&b""[..])
        .assert()
        .code(66);
    bin()
        .args(["decode", "--message", "x.Nope", "--proto"])
        .arg(fixtures().join("transtream.proto"))
        .write_stdin(&b""[..])
        .assert()
        .code(78)
        .stderr(predicates::str::contains("transtreamdatamodel.ItemEvent"));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.proto");
    std::fs::write(
        &bad,
        "syntax = \"proto3\";\nmessage A {\n  int32 x = ;\n}\n",
    )
    .unwrap();
    bin()
        .args(["decode", "--proto"])
        .arg(&bad)
        .write_stdin(&b""[..])
        .assert()
        .code(78)
        .stderr(predicates::str::contains("bad.proto:3:"));
}

/// mosquitto_sub without -N adds a newline after the payload: from a pipe, the data
/// without it is decoded and the note says why (issue 12).
#[test]
fn cli_stray_newline_from_a_pipe_is_dropped_and_said() {
    bin()
        .args(["decode", "-"])
        .write_stdin(&b"\x08\x96\x01\n"[..])
        .assert()
        .code(0)
        .stdout("1: 150\n")
        .stderr(predicates::str::contains(
            "without its last byte, a newline",
        ));
    // A payload that ends in a valid 0x0A (the varint 10) is left alone.
    bin()
        .args(["decode", "-"])
        .write_stdin(&b"\x08\x0a"[..])
        .assert()
        .code(0)
        .stdout("1: 10\n")
        .stderr("");
    // From a file, the bytes are what they are.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("p.bin");
    std::fs::write(&f, b"\x08\x96\x01\n").unwrap();
    bin().arg("decode").arg(&f).assert().code(65);
}

/// A schema in two directories, as Centiloc's might be laid out: `top.proto` in the
/// directory, importing `dep.proto` from `inc/`.
fn schema_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("inc")).unwrap();
    std::fs::write(
        dir.path().join("inc/dep.proto"),
        "syntax = \"proto3\";\npackage d;\nmessage Dep { int32 x = 1; }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("top.proto"),
        "syntax = \"proto3\";\npackage t;\nimport \"dep.proto\";\nmessage Top { d.Dep dep = 1; string s = 2; }\n",
    )
    .unwrap();
    dir
}

/// `Top` encoded and decoded by protoc, run in `dir` with `-I. -Iinc`.
fn top_by_protoc(dir: &Path) -> (Vec<u8>, String) {
    let run = |args: &[&str], stdin: &[u8]| {
        support::protoc_in(dir, args, stdin).unwrap_or_else(|e| panic!("protoc {args:?}: {e}"))
    };
    let bytes = run(
        &["-I.", "-Iinc", "--encode=t.Top", "top.proto"],
        b"dep { x: 5 } s: \"a\"",
    );
    let text = run(&["-I.", "-Iinc", "--decode=t.Top", "top.proto"], &bytes);
    (bytes, String::from_utf8(text).unwrap())
}

#[test]
fn cli_missing_proto_says_it_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    bin()
        .current_dir(dir.path())
        .args(["decode", "--proto", "nothere.proto"])
        .write_stdin(&b""[..])
        .assert()
        .code(66)
        .stderr(
            "ERROR: cannot use the schema: nothere.proto does not exist; check --proto and -I\n",
        );
    bin()
        .current_dir(dir.path())
        .args(["decode", "-I", "inc", "--proto", "nothere.proto"])
        .write_stdin(&b""[..])
        .assert()
        .code(66)
        .stderr("ERROR: cannot use the schema: nothere.proto does not exist (not in the current directory nor under -I inc); check --proto and -I\n");
}

#[test]
fn cli_missing_import_exits_66_naming_it() {
    let dir = schema_dir();
    bin()
        .current_dir(dir.path())
        .args(["decode", "--proto", "top.proto"])
        .write_stdin(&b""[..])
        .assert()
        .code(66)
        .stderr(predicates::str::contains("import 'dep.proto' not found"));
}

/// The include directories work as protoc's `-I`, and a `--proto` file that exists is
/// found whether or not it lies under one (issue 6).
#[test]
fn cli_schema_files_and_imports_are_found_like_protoc() {
    let dir = schema_dir();
    let (bytes, theirs) = top_by_protoc(dir.path());
    assert_eq!(theirs, "dep {\n  x: 5\n}\ns: \"a\"\n");
    let abs = dir.path().canonicalize().unwrap();
    let top = abs.join("top.proto").display().to_string();
    let inc = abs.join("inc").display().to_string();
    let cases: &[&[&str]] = &[
        // protoc's own command line.
        &["-I.", "-Iinc", "--proto", "top.proto"],
        // top.proto under no -I: protoc refuses, we add its directory.
        &["-I", "inc", "--proto", "top.proto"],
        &["-I", &inc, "--proto", &top],
        &["-I", "inc", "--proto", &top],
        &["-I", &inc, "--proto", "./top.proto"],
        // An absolute file under a relative include, and the reverse.
        &["-I", ".", "-I", &inc, "--proto", &top],
        &[
            "-I",
            &abs.display().to_string(),
            "-I",
            "inc",
            "--proto",
            "top.proto",
        ],
    ];
    for args in cases {
        bin()
            .current_dir(dir.path())
            .arg("decode")
            .args(*args)
            .args(["--message", "t.Top"])
            .write_stdin(bytes.clone())
            .assert()
            .code(0)
            .stdout(theirs.clone());
    }
    // A --proto path relative to an include directory, as protoc resolves it.
    bin()
        .current_dir(dir.path())
        .args(["decode", "-I", "inc", "--proto", "dep.proto"])
        .write_stdin(&b"\x08\x05"[..])
        .assert()
        .code(0)
        .stdout("x: 5\n");
    // No -I: the current directory is the include, as for protoc.
    std::fs::write(
        dir.path().join("top2.proto"),
        "syntax = \"proto3\";\npackage t2;\nimport \"inc/dep.proto\";\nmessage Top { d.Dep dep = 1; string s = 2; }\n",
    )
    .unwrap();
    bin()
        .current_dir(dir.path())
        .args(["decode", "--proto", "top2.proto", "--message", "t2.Top"])
        .write_stdin(bytes.clone())
        .assert()
        .code(0)
        .stdout(theirs.clone());
}

#[test]
fn cli_schema_with_several_messages_needs_message_64() {
    let dir = schema_dir();
    bin()
        .current_dir(dir.path())
        .args(["decode", "-I", "inc", "--proto", "top.proto"])
        .write_stdin(&b""[..])
        .assert()
        .code(64)
        .stderr("ERROR: cannot use the schema: the schema has several messages, pass --message with one of: d.Dep, t.Top\n");
}

#[test]
fn cli_json_with_a_byte_order_mark_is_json() {
    let with_bom = format!("\u{feff}{ITEM_JSON}");
    let line =
        "item E004015012345678 IN board CB-000123 pos 120,45 mm hold 1.5s @ 2026-11-25T10:00:00Z\n";
    bin()
        .arg("decode")
        .write_stdin(with_bom.clone())
        .assert()
        .code(0)
        .stdout(line);
    bin()
        .args(["decode", "--encoding", "json"])
        .write_stdin(format!("\u{feff} \n{ITEM_JSON}"))
        .assert()
        .code(0)
        .stdout(line);
}

#[test]
fn cli_json_keeps_masked_fields_present_and_empty() {
    let json = r#"{"Momentum":"2026-11-25T10:00:00Z","BoardSN":"CB-000123","Status":1,"LastDisconnectionDate":"","LastErrorDate":null}"#;
    let out = bin()
        .args(["decode", "--format", "json"])
        .write_stdin(json)
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["LastDisconnectionDate"], "");
    assert!(v["LastErrorDate"].is_null());
    assert!(v.get("LastErrorDate").is_some());
    assert!(v.get("FwVersion").is_none(), "absent stays absent");
    assert_eq!(v["Status"], 1);
}

/// A full disk is an I/O error (74) in one sentence, not a silent success (issue 6).
#[test]
fn cli_output_to_a_full_disk_exits_74() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("big.bin");
    // 200,000 fields `1: 8`: about 1 MB of text, several 64 KiB chunks.
    std::fs::write(&f, vec![0x08; 400_000]).unwrap();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let bin = assert_cmd::cargo::cargo_bin("centiloc-cert");
    for args in [&["decode"][..], &["decode", "--format", "json"]] {
        let out = Command::new(&bin)
            .args(args)
            .arg(&f)
            .stdout(full.try_clone().unwrap())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(74), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(
            stderr,
            "ERROR: cannot write to standard output: the disk is full; check where the output is redirected\n"
        );
    }
}

/// The JSON streamed by `json_view` (decode and watch print it) is, byte for byte, the
/// tree `to_json` builds: keys in the tree's order ("1" < "10" < "2"), repeated fields as
/// arrays in wire order, every reading of a length-delimited value (issue 12, item 5).
#[test]
fn streamed_json_is_the_tree_byte_for_byte() {
    let same = |bytes: &[u8]| {
        let d = decode::decode(bytes, Encoding::Proto, None).unwrap();
        let tree = serde_json::to_string_pretty(&d.to_json()).unwrap();
        let streamed = serde_json::to_string_pretty(&d.json_view()).unwrap();
        assert_eq!(streamed, tree);
        let compact = serde_json::to_string(&d.json_view()).unwrap();
        assert_eq!(compact, d.to_json().to_string());
    };
    let cases: [&[u8]; 6] = [
        b"",
        b"\x08\x96\x01\x50\x01\x10\x02\x08\x03",
        b"\x0a\x05hello\x12\x02\x08\x01\x0a\x03\xff\xfe\x00",
        b"\x0d\x00\x00\xc0\x7f\x11\x00\x00\x00\x00\x00\x00\xf0\x7f\x15\x00\x00\x80\x3f",
        b"\x1b\x08\x01\x1c\x22\x04\x0a\x02\x08\x05",
        b"\xa2\x06\x02\x08\x01\x0a\x00\x90\x03\x07",
    ];
    for c in cases {
        same(c);
    }
    same(&item_event_bytes());
    // With a schema, fields stream in the schema's order (as protobuf's own JSON printer
    // writes them), where the tree sorted them: the same document.
    let schema = transtream("transtreamdatamodel.ItemEvent");
    let d = decode::decode(&item_event_bytes(), Encoding::Proto, Some(&schema)).unwrap();
    let streamed = serde_json::to_string(&d.json_view()).unwrap();
    assert!(
        streamed.starts_with(r#"{"momentum":"2026-11-25T10:00:00Z","uid":"#),
        "{streamed}"
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&streamed).unwrap(),
        d.to_json()
    );
    proptest::proptest!(|(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64))| {
        if raw_proto::validate(&bytes).is_ok() {
            same(&bytes);
        }
    });
}

// ---- the fast JSON writers against serde_json and prost-reflect (issue 12, item 5) -----

/// `decode --format json` writes the schema-less view directly (`Decoded::write_json`);
/// it must be what serde_json writes for `json_view`, byte for byte.
fn fast_raw_json_is_serde(bytes: &[u8]) -> Result<(), TestCaseError> {
    let d = decode::decode(bytes, Encoding::Proto, None).expect("valid");
    let mut out = JsonOut::new();
    d.write_json(&mut out);
    let want = serde_json::to_string_pretty(&d.json_view()).unwrap();
    prop_assert_eq!(String::from_utf8(out.into_bytes()).unwrap(), want);
    Ok(())
}

#[test]
fn fast_raw_json_is_serde_json_byte_for_byte() {
    let cases: [&[u8]; 7] = [
        b"",
        b"\x08\x96\x01\x50\x01\x10\x02\x08\x03",
        b"\x0a\x05hello\x12\x02\x08\x01\x0a\x03\xff\xfe\x00",
        b"\x0d\x00\x00\xc0\x7f\x11\x00\x00\x00\x00\x00\x00\xf0\x7f\x15\x00\x00\x80\x3f",
        b"\x1b\x08\x01\x1c\x22\x04\x0a\x02\x08\x05",
        b"\xa2\x06\x02\x08\x01\x0a\x00\x90\x03\x07",
        b"\x0a\x06\"\\\x01\x1f\x7f\n",
    ];
    for c in cases {
        fast_raw_json_is_serde(c).unwrap();
    }
    fast_raw_json_is_serde(&item_event_bytes()).unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(500));
    runner
        .run(&fields(), |f| fast_raw_json_is_serde(&encode_fields(&f)))
        .unwrap();
    let noise = proptest::collection::vec(any::<u8>(), 0..64);
    runner
        .run(&noise, |b| {
            if raw_proto::validate(&b).is_ok() {
                fast_raw_json_is_serde(&b)?;
            }
            Ok(())
        })
        .unwrap();
}

fn kinds() -> Schema {
    Schema::compile(
        &[fixtures().join("json_kinds.proto")],
        &[fixtures()],
        Some("kinds.Node"),
    )
    .expect("the fixture schema compiles")
}

/// Field numbers of `kinds.Node` by the wire shape that fits them.
const VARINT_FIELDS: &[u32] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 21, 22, 26, 32, 37, 38];
const FIXED32_FIELDS: &[u32] = &[11, 12, 13, 23];
const FIXED64_FIELDS: &[u32] = &[14, 15, 16, 24, 25];
const LEN_FIELDS: &[u32] = &[17, 18, 21, 22, 23, 24, 25, 26, 27, 28, 31, 36, 37];
const MESSAGE_FIELDS: &[u32] = &[19, 20, 33];

fn one_of(numbers: &'static [u32]) -> impl Strategy<Value = u32> {
    proptest::sample::select(numbers)
}

/// Fields shaped for `kinds.Node`: mostly of the wire type their number expects, some
/// not, some unknown or of kinds left to prost-reflect (map 34, Duration 35).
fn node_fields() -> impl Strategy<Value = Vec<Field>> {
    let text = proptest::collection::vec(any::<char>(), 0..6)
        .prop_map(|c| String::from_iter(c).into_bytes());
    let varint = prop_oneof![any::<u64>(), 0u64..300, Just(u64::from(u32::MAX) + 1)];
    let timestamp = (-62_135_596_900i64..253_402_300_900, 0u64..1_000_000_001)
        .prop_map(|(s, n)| vec![Field::Varint(1, s as u64), Field::Varint(2, n)]);
    let leaf = prop_oneof![
        4 => (one_of(VARINT_FIELDS), varint).prop_map(|(n, v)| Field::Varint(n, v)),
        2 => (one_of(FIXED32_FIELDS), any::<u32>()).prop_map(|(n, v)| Field::Fixed32(n, v)),
        2 => (one_of(FIXED64_FIELDS), any::<u64>()).prop_map(|(n, v)| Field::Fixed64(n, v)),
        3 => (one_of(LEN_FIELDS), text).prop_map(|(n, b)| Field::Bytes(n, b)),
        1 => (one_of(LEN_FIELDS), proptest::collection::vec(any::<u8>(), 0..9))
            .prop_map(|(n, b)| Field::Bytes(n, b)),
        2 => (one_of(&[29, 30]), timestamp).prop_map(|(n, t)| Field::Message(n, t)),
        1 => (1u32..41, any::<u64>()).prop_map(|(n, v)| Field::Varint(n, v)),
        1 => (1u32..41, 0u32..3).prop_map(|(n, v)| Field::Fixed32(n, v)),
    ];
    let field = leaf.prop_recursive(3, 24, 4, |inner| {
        (
            one_of(MESSAGE_FIELDS),
            proptest::collection::vec(inner, 0..5),
        )
            .prop_map(|(n, f)| Field::Message(n, f))
    });
    proptest::collection::vec(field, 0..8)
}

/// When the fast writer takes a payload, prost-reflect decodes it and serializes it to
/// the same bytes; returns whether it took it.
fn fast_schema_json_is_prost_reflect(schema: &Schema, bytes: &[u8]) -> Result<bool, String> {
    let Some(writer) = schema.json_writer(bytes) else {
        return Ok(false);
    };
    let message = schema
        .decode(bytes)
        .map_err(|e| format!("the fast writer took bytes prost refuses: {e}"))?;
    let reference = decode::Decoded::Message(message);
    let want = serde_json::to_string_pretty(&reference.json_view())
        .map_err(|e| format!("the fast writer took bytes prost-reflect cannot write: {e}"))?;
    let mut out = JsonOut::new();
    writer.write(bytes, &mut out);
    let got = String::from_utf8(out.into_bytes()).unwrap();
    if got != want {
        return Err(format!("fast:\n{got}\nprost-reflect:\n{want}"));
    }
    Ok(true)
}

#[test]
fn fast_schema_json_is_prost_reflect_byte_for_byte() {
    let schema = transtream("transtreamdatamodel.ItemEvent");
    assert!(fast_schema_json_is_prost_reflect(&schema, &item_event_bytes()).unwrap());
    let kinds = kinds();
    let (fast, slow) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(3000));
    runner
        .run(&node_fields(), |f| {
            let bytes = encode_fields(&f);
            match fast_schema_json_is_prost_reflect(&kinds, &bytes) {
                Ok(true) => fast.set(fast.get() + 1),
                Ok(false) => slow.set(slow.get() + 1),
                Err(e) => return Err(TestCaseError::fail(e)),
            }
            Ok(())
        })
        .unwrap();
    // Both ways were exercised: the comparison above is not vacuous.
    let (fast, slow) = (fast.get(), slow.get());
    assert!(
        fast > 600 && slow > 300,
        "fast {fast}, left to prost-reflect {slow}"
    );
}

/// Payloads the fast writer leaves to prost-reflect still print (or fail) as before.
#[test]
fn fast_schema_json_leaves_the_odd_cases_to_prost_reflect() {
    let kinds = kinds();
    let cases: [&[u8]; 7] = [
        b"\x92\x02\x05\x0a\x01a\x10\x01",            // map entry
        b"\x9a\x02\x02\x08\x01",                     // Duration
        b"\x08\x01\x08\x02",                         // a singular field twice
        b"\xfa\x01\x01a\x80\x02\x01",                // two members of a oneof
        b"\xc8\x02\x01",                             // unknown field 41
        b"\x8a\x01\x02\xff\xfe",                     // a string not UTF-8
        b"\xea\x01\x07\x08\x80\x83\xd1\xff\xaf\x07", // year 10000
    ];
    for c in cases {
        assert!(kinds.json_writer(c).is_none(), "{c:?}");
    }
    assert!(kinds.json_writer(b"\x08\x01\x10\x02").is_some());
}

/// The CLI's `--format json` of protobuf (written from the bytes, with and without a
/// schema) is the pretty JSON of the general way plus a newline; bad bytes still exit 65.
#[test]
fn cli_json_of_protobuf_is_the_general_way_byte_for_byte() {
    let events = [item_event_bytes(), item_event_bytes()]
        .map(|e| wrap(1, &e))
        .concat();
    let schema = transtream("transtreamdatamodel.ItemEvents");
    let general = |schema: Option<&Schema>| {
        let d = decode::decode(&events, Encoding::Proto, schema).unwrap();
        serde_json::to_string_pretty(&d.json_view()).unwrap() + "\n"
    };
    let proto = fixtures().join("transtream.proto");
    let with_schema = ["--message", "transtreamdatamodel.ItemEvents", "--proto"];
    for (args, want) in [
        (&[][..], general(None)),
        (&with_schema[..], general(Some(&schema))),
    ] {
        let mut cmd = bin();
        cmd.args(["decode", "-", "--encoding", "proto", "--format", "json"]);
        if !args.is_empty() {
            cmd.args(args).arg(&proto);
        }
        let out = cmd.write_stdin(events.clone()).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(String::from_utf8(out.stdout).unwrap(), want);
        let mut bad = bin();
        bad.args(["decode", "-", "--encoding", "proto", "--format", "json"]);
        if !args.is_empty() {
            bad.args(args).arg(&proto);
        }
        bad.write_stdin(&b"\x0a\x05ab"[..])
            .assert()
            .code(65)
            .stdout("");
    }
}
