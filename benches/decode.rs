//! Schema-less decode (`protoc --decode_raw` text) of a typical item event and of a
//! 1.35 MB batch of 10,000 (issue 6), and the JSON views of the batch: schema-less, and
//! with `tests/fixtures/transtream.proto` both ways (the fast writer from the wire bytes,
//! and prost-reflect's decode + serialize it stands in for; issue 12, item 5). The
//! whole-process comparison with protoc and with the text path is `scripts/bench-decode`. Payloads are built here, shaped like
//! `tests/fixtures/item_event.txtpb` encoded with `tests/fixtures/transtream.proto`.

use centiloc_cert::decode::json_out::JsonOut;
use centiloc_cert::decode::{self, Encoding, Schema, raw_proto};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn len_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    varint(out, field << 3 | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn var_field(out: &mut Vec<u8>, field: u64, v: u64) {
    varint(out, field << 3);
    varint(out, v);
}

/// One `transtreamdatamodel.ItemEvent`, about 130 bytes.
fn item_event(i: u64) -> Vec<u8> {
    let mut m = Vec::new();
    let mut ts = Vec::new();
    var_field(&mut ts, 1, 1_795_600_800 + i);
    len_field(&mut m, 1, &ts);
    len_field(
        &mut m,
        2,
        format!("E0040150{:08}", i % 100_000_000).as_bytes(),
    );
    var_field(&mut m, 3, 1);
    let mut pos = Vec::new();
    varint(&mut pos, 120);
    varint(&mut pos, 45);
    len_field(&mut m, 4, &pos);
    len_field(&mut m, 5, b"CB-000123");
    var_field(&mut m, 6, 3);
    var_field(&mut m, 7, 1_500_000_000);
    varint(&mut m, 8 << 3 | 5);
    m.extend_from_slice(&0.75f32.to_le_bytes());
    len_field(&mut m, 9, b"REF-000042");
    len_field(&mut m, 10, b"SH-9");
    len_field(&mut m, 11, b"FU-77");
    len_field(&mut m, 13, b"acme");
    len_field(&mut m, 14, b"LOC-A3-S9");
    len_field(&mut m, 15, b"aisle-3");
    len_field(&mut m, 16, b"fragile");
    var_field(&mut m, 18, u64::MAX); // floor -1
    m
}

/// `ItemEvents { repeated ItemEvent events = 1; }` with `n` events.
fn batch(n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        len_field(&mut out, 1, &item_event(i));
    }
    out
}

fn bench(c: &mut Criterion) {
    let one = item_event(0);
    let many = batch(10_000);
    let mut g = c.benchmark_group("raw_decode");
    g.throughput(Throughput::Bytes(one.len() as u64));
    g.bench_function(format!("item_event_{}B", one.len()), |b| {
        b.iter(|| raw_proto::to_text(black_box(&one)))
    });
    g.throughput(Throughput::Bytes(many.len() as u64));
    g.bench_function(format!("batch_10000_{}B", many.len()), |b| {
        b.iter(|| raw_proto::to_text(black_box(&many)))
    });
    // What `decode` does: text streamed in 64 KiB chunks (here to nowhere).
    g.bench_function("batch_10000_stream", |b| {
        b.iter(|| {
            raw_proto::stream_text(black_box(&many), &mut |c| {
                black_box(c);
            })
        })
    });
    g.bench_function("batch_10000_json_tree", |b| {
        b.iter(|| decode::decode(black_box(&many), Encoding::Proto, None).map(|d| d.to_json()))
    });
    // What `decode --format json` does: pretty JSON streamed in 64 KiB chunks.
    g.bench_function("batch_10000_json", |b| {
        b.iter(|| {
            let d = decode::decode(black_box(&many), Encoding::Proto, None).unwrap();
            let mut sink = |c: &[u8]| {
                black_box(c);
            };
            let mut out = JsonOut::streaming(&mut sink);
            d.write_json(&mut out);
            out.finish();
        })
    });
    g.finish();
    schema_json(c, &many);
}

/// The batch as `transtreamdatamodel.ItemEvents` in JSON.
fn schema_json(c: &mut Criterion, many: &[u8]) {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let schema = Schema::compile(
        &[fixtures.join("transtream.proto")],
        &[fixtures],
        Some("transtreamdatamodel.ItemEvents"),
    )
    .expect("the fixture schema compiles");
    let mut g = c.benchmark_group("schema_decode");
    g.throughput(Throughput::Bytes(many.len() as u64));
    // `decode --format json --proto`: checked, then written from the wire bytes.
    g.bench_function("batch_10000_json", |b| {
        b.iter(|| {
            let writer = schema.json_writer(black_box(many)).expect("fits");
            let mut sink = |c: &[u8]| {
                black_box(c);
            };
            let mut out = JsonOut::streaming(&mut sink);
            writer.write(many, &mut out);
            out.finish();
        })
    });
    // The reference it replaces: prost-reflect's message, serialized by serde_json.
    g.bench_function("batch_10000_json_prost_reflect", |b| {
        b.iter(|| {
            let d = decode::decode(black_box(many), Encoding::Proto, Some(&schema)).unwrap();
            serde_json::to_vec_pretty(&d.json_view()).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
