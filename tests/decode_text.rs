//! Schema text output compared byte for byte with `protoc --decode=NAME` (protoc 3.21,
//! issue 12 item 2): the fixtures, hand-picked edge cases (escapes, floats, maps, oneofs,
//! presence, unknown fields, enums, well-known types) and random messages of
//! `tests/fixtures/text_kinds.proto`, written as protoc text and encoded by
//! `protoc --encode`. protoc is required: without it these tests fail saying so.

use std::path::{Path, PathBuf};

use centiloc_cert::decode::{Schema, text_format};
use proptest::prelude::*;

mod support;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Runs protoc in the fixtures directory with `stdin`; panics with its stderr on refusal.
fn protoc(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let args: Vec<&str> = ["-I.", "-I/usr/include"]
        .iter()
        .chain(args)
        .copied()
        .collect();
    support::protoc_in(&fixtures(), &args, stdin).unwrap_or_else(|e| {
        panic!(
            "protoc {args:?} refused {:?}: {e}",
            String::from_utf8_lossy(stdin)
        )
    })
}

/// Encodes `text` (protoc text format) as `message` of `proto`, then checks that our
/// text for those bytes is exactly what `protoc --decode` prints.
fn assert_same_as_protoc(proto: &str, message: &str, text: &str) {
    let bytes = protoc(&[&format!("--encode={message}"), proto], text.as_bytes());
    assert_bytes_same_as_protoc(proto, message, &bytes);
}

fn assert_bytes_same_as_protoc(proto: &str, message: &str, bytes: &[u8]) {
    let theirs = protoc(&[&format!("--decode={message}"), proto], bytes);
    let schema = Schema::compile(&[fixtures().join(proto)], &[fixtures()], Some(message))
        .expect("the fixture schema compiles");
    let decoded = schema.decode(bytes).expect("protoc's bytes decode");
    let ours = text_format::to_text(&decoded);
    assert_eq!(
        ours,
        String::from_utf8(theirs).expect("protoc prints ASCII")
    );
}

#[test]
fn item_event_fixture_prints_as_protoc_decode() {
    let text = std::fs::read_to_string(fixtures().join("item_event.txtpb")).unwrap();
    assert_same_as_protoc("transtream.proto", "transtreamdatamodel.ItemEvent", &text);
}

#[test]
fn repeated_scalars_print_one_per_line() {
    let bytes = protoc(
        &["--encode=transtreamdatamodel.ItemEvent", "transtream.proto"],
        b"pos_mm: [120, 45]",
    );
    let schema = Schema::compile(
        &[fixtures().join("transtream.proto")],
        &[fixtures()],
        Some("transtreamdatamodel.ItemEvent"),
    )
    .unwrap();
    let text = text_format::to_text(&schema.decode(&bytes).unwrap());
    assert_eq!(text, "pos_mm: 120\npos_mm: 45\n");
}

#[test]
fn board_event_fixture_prints_as_protoc_decode() {
    let text = "momentum { seconds: 1795600800 nanos: 5 } board_sn: \"CB-1\" status: ONERROR \
                fw_version: \"1.2\" last_error_date { seconds: 1 }";
    assert_same_as_protoc("transtream.proto", "transtreamdatamodel.BoardEvent", text);
    assert_same_as_protoc(
        "transtream.proto",
        "transtreamdatamodel.BoardEvent",
        "status: 9",
    );
}

#[test]
fn edge_cases_print_as_protoc_decode() {
    let cases = [
        // Escapes: UTF-8 and control bytes as octal, named escapes, quotes.
        r#"str: "h\303\251llo\n\t\"'\\\001\177\r" by: "\000\377ab" r_by: "\200""#,
        // Floats and doubles as SimpleFtoa/SimpleDtoa, -0 present in proto3.
        "fl: 0.1 db: -0 r_db: [1e20, inf, -inf, nan, -0, 0.30000000000000004, 5e-324, 1e15, \
         123456789012, 1e-5, 0.0001] r_fl: [0.1, 1e20, 3.4028235e38, 1.17549435e-38, -0]",
        "fl: -0",
        // Defaults omitted, set messages printed even when empty, enums by name or number.
        "i32: 0 str: \"\" inner {} r_inner {} r_inner { a: 3 kids { a: 4 } } color: BLUE \
         r_color: [RED, GREEN, 7]",
        "color: 9",
        // Maps sorted by key, key and value always printed.
        "m_si { key: \"b\" value: 2 } m_si { key: \"a\" value: 1 } m_si { key: \"\" } \
         m_im { key: 5 value { a: 1 } } m_im { key: -1 } m_bs { key: true value: \"t\" } \
         m_bs { value: \"f\" }",
        // Oneof and optional: present at their defaults.
        "o_s: \"\" opt_i: 0 opt_s: \"\"",
        "o_m {}",
        "o_i: 0",
        // Integers at their limits.
        "i32: -2147483648 i64: -9223372036854775808 u32: 4294967295 \
         u64: 18446744073709551615 s32: -1 s64: 9223372036854775807 f32: 4294967295 \
         f64: 1 sf32: -1 sf64: -9223372036854775808 b: true r_b: [true, false]",
        // Well-known types: no special form in --decode.
        "ts { seconds: 1795600800 nanos: 1 } any { type_url: \
         \"type.googleapis.com/textkinds.Inner\" value: \"\\010\\001\" }",
    ];
    for case in cases {
        assert_same_as_protoc("text_kinds.proto", "textkinds.Kinds", case);
    }
}

#[test]
fn unknown_fields_print_by_number_like_decode_raw() {
    // Field 1 known; 100 (varint), 110 (fixed32), 111 (bytes), 112 (a nested message)
    // unknown, in ascending order as a sender writes them; nested unknowns too.
    let mut bytes = vec![0x08, 0x05, 0xa0, 0x06, 0x02, 0xf5, 0x06, 1, 2, 3, 4];
    bytes.extend_from_slice(&[0xfa, 0x06, 3, b'a', b'b', b'c', 0x82, 0x07, 2, 0x08, 0x01]);
    bytes.extend_from_slice(&[0x8a, 0x01, 5, 0x08, 0x01, 0xa8, 0x06]);
    bytes.push(0x07);
    assert_bytes_same_as_protoc("text_kinds.proto", "textkinds.Kinds", &bytes);
}

#[test]
fn proto2_fields_print_when_set_even_at_their_default() {
    for case in [
        "a: 0 s: \"x\" d: 0 must: false",
        "must: true r: [0, 0] next { must: false next { a: 1 must: true } }",
        "must: false d: -0",
    ] {
        assert_same_as_protoc("text_kinds_proto2.proto", "textkinds2.Legacy", case);
    }
}

#[test]
fn extensions_and_groups_print_as_protoc_decode() {
    let text = "a: 1 Point { x: 3 y: 0 } Tag { t: \"a\" } Tag {} z: 7 \
                [textkinds2.note]: \"n\" [textkinds2.marks]: 1 [textkinds2.marks]: 2 \
                [textkinds2.legacy] { must: true }";
    assert_same_as_protoc("text_kinds_proto2.proto", "textkinds2.Extended", text);
}

#[test]
fn closed_enum_numbers_it_lacks_print_as_unknown_fields() {
    // level 7 (unknown), levels 1 and 9, x 5, packed levels [1, 8, -1, -2], field 8 unknown.
    let mut bytes = vec![0x08, 0x07, 0x10, 0x01, 0x10, 0x09, 0x18, 0x05, 0x22, 22];
    bytes.extend_from_slice(&[0x01, 0x08]);
    bytes.extend_from_slice(&[0xff; 9]);
    bytes.push(0x01);
    bytes.extend_from_slice(&[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    bytes.extend_from_slice(&[0x40, 0x01]);
    assert_bytes_same_as_protoc("text_kinds_proto2.proto", "textkinds2.Closed", &bytes);
}

// ---- random messages ------------------------------------------------------------------

/// Every byte as an octal escape: protoc's text parser reads any byte back exactly.
fn quoted(bytes: &[u8]) -> String {
    let body: String = bytes.iter().map(|b| format!("\\{b:03o}")).collect();
    format!("\"{body}\"")
}

fn double_text(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else {
        format!("{v:e}")
    }
}

fn float_text(v: f32) -> String {
    if v.is_nan() {
        "nan".into()
    } else {
        format!("{v:e}")
    }
}

fn inner_text() -> impl Strategy<Value = String> {
    let leaf = (any::<i32>(), any::<String>())
        .prop_map(|(a, s)| format!("a: {a} s: {}", quoted(s.as_bytes())));
    leaf.prop_recursive(2, 6, 3, |kid| {
        (any::<i32>(), prop::collection::vec(kid, 0..3)).prop_map(|(a, kids)| {
            let kids: String = kids.iter().map(|k| format!(" kids {{ {k} }}")).collect();
            format!("a: {a}{kids}")
        })
    })
}

/// Optional numeric fields, each at a random value or absent (often 0: the default).
fn scalars_text() -> impl Strategy<Value = String> {
    (
        prop::option::of(prop_oneof![Just(0i64), any::<i64>()]),
        prop::option::of(any::<u64>()),
        prop::option::of(any::<i32>()),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<f32>()),
        prop::option::of(any::<f64>()),
        prop::option::of(0i32..5),
        prop::option::of(any::<u32>()),
    )
        .prop_map(|(i64v, u64v, s32, b, fl, db, color, f32v)| {
            let mut t = String::new();
            let mut put = |s: Option<String>| {
                if let Some(s) = s {
                    t.push_str(&s);
                    t.push(' ');
                }
            };
            put(i64v.map(|v| format!("i64: {v} sf64: {v} s64: {v}")));
            put(u64v.map(|v| format!("u64: {v} f64: {v}")));
            put(s32.map(|v| format!("s32: {v} i32: {v} sf32: {v}")));
            put(b.map(|v| format!("b: {v}")));
            put(fl.map(|v| format!("fl: {}", float_text(v))));
            put(db.map(|v| format!("db: {}", double_text(v))));
            put(color.map(|v| format!("color: {v}")));
            put(f32v.map(|v| format!("f32: {v} u32: {v}")));
            t
        })
}

fn repeated_text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(any::<i32>(), 0..4),
        prop::collection::vec(any::<String>(), 0..3),
        prop::collection::vec(any::<f64>(), 0..3),
        prop::collection::vec(any::<f32>(), 0..3),
        prop::collection::vec(0i32..4, 0..3),
        prop::collection::vec(inner_text(), 0..3),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..6), 0..3),
    )
        .prop_map(|(ints, strs, dbs, fls, colors, inners, bys)| {
            let mut t = String::new();
            ints.iter()
                .for_each(|v| t.push_str(&format!("r_i32: {v} ")));
            strs.iter()
                .for_each(|s| t.push_str(&format!("r_str: {} ", quoted(s.as_bytes()))));
            dbs.iter()
                .for_each(|v| t.push_str(&format!("r_db: {} ", double_text(*v))));
            fls.iter()
                .for_each(|v| t.push_str(&format!("r_fl: {} ", float_text(*v))));
            colors
                .iter()
                .for_each(|v| t.push_str(&format!("r_color: {v} ")));
            inners
                .iter()
                .for_each(|v| t.push_str(&format!("r_inner {{ {v} }} ")));
            bys.iter()
                .for_each(|b| t.push_str(&format!("r_by: {} ", quoted(b))));
            t
        })
}

/// Maps (unique keys: see the module doc of `text_format`), a oneof, optionals.
fn maps_and_choices_text() -> impl Strategy<Value = String> {
    (
        prop::collection::btree_map(any::<String>(), any::<i32>(), 0..4),
        prop::collection::btree_map(any::<i32>(), prop::option::of(inner_text()), 0..3),
        prop::collection::btree_map(any::<bool>(), any::<String>(), 0..2),
        prop_oneof![
            Just(String::new()),
            any::<i32>().prop_map(|v| format!("o_i: {v}")),
            any::<String>().prop_map(|s| format!("o_s: {}", quoted(s.as_bytes()))),
            inner_text().prop_map(|m| format!("o_m {{ {m} }}")),
        ],
        prop::option::of(any::<i32>()),
        prop::option::of(any::<String>()),
        prop::option::of((any::<String>(), prop::collection::vec(any::<u8>(), 0..8))),
    )
        .prop_map(|(si, im, bs, choice, opt_i, opt_s, str_by)| {
            let mut t = choice + " ";
            for (k, v) in si {
                t.push_str(&format!(
                    "m_si {{ key: {} value: {v} }} ",
                    quoted(k.as_bytes())
                ));
            }
            for (k, v) in im {
                let v = v.map(|v| format!("value {{ {v} }}")).unwrap_or_default();
                t.push_str(&format!("m_im {{ key: {k} {v} }} "));
            }
            for (k, v) in bs {
                t.push_str(&format!(
                    "m_bs {{ key: {k} value: {} }} ",
                    quoted(v.as_bytes())
                ));
            }
            opt_i
                .into_iter()
                .for_each(|v| t.push_str(&format!("opt_i: {v} ")));
            opt_s
                .into_iter()
                .for_each(|s| t.push_str(&format!("opt_s: {} ", quoted(s.as_bytes()))));
            if let Some((s, b)) = str_by {
                t.push_str(&format!(
                    "str: {} by: {} ",
                    quoted(s.as_bytes()),
                    quoted(&b)
                ));
            }
            t
        })
}

proptest! {
    // Each case runs protoc twice; 96 cases cover the kinds in a few seconds.
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn random_messages_print_as_protoc_decode(
        scalars in scalars_text(),
        repeated in repeated_text(),
        rest in maps_and_choices_text(),
        inner in prop::option::of(inner_text()),
    ) {
        let inner = inner.map(|i| format!("inner {{ {i} }}")).unwrap_or_default();
        let text = format!("{scalars}{repeated}{rest}{inner}");
        assert_same_as_protoc("text_kinds.proto", "textkinds.Kinds", &text);
    }
}
