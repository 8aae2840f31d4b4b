//! `decode [FILE]`: one payload from a file or stdin, shown as `test-connect` and `watch`
//! show what they receive (SPEC: Commands, Decoding).

use std::path::{Path, PathBuf};

use crate::cli::DecodeArgs;
use crate::decode::json_out::JsonOut;
use crate::decode::options::SchemaRequest;
use crate::decode::{self, Encoding, Schema, raw_proto};
use crate::error::{Error, Result};
use crate::exit_codes::ExitCode;
use crate::output::{self, Format};

use crate::context::Ctx;

/// What `decode` was asked to do, once the flags are checked.
struct Settings {
    /// `None`: standard input.
    file: Option<PathBuf>,
    encoding: Option<Encoding>,
    schema: Option<Schema>,
    format: Format,
}

impl Settings {
    fn from_args(ctx: &Ctx, a: DecodeArgs) -> Result<Settings> {
        let schemas = if a.schema.protos.is_empty() && !a.schema.message.is_empty() {
            Some(saved_schema(ctx, &a)?)
        } else {
            schema_request(&a).compile_flags()?
        };
        let schema = match schemas {
            None => None,
            // One payload has no topic: per-kind messages are for test-connect/watch.
            Some(s) => Some(s.other.ok_or_else(|| {
                Error::Usage(
                    "decode reads one payload without a topic: give the message as --message NAME, or --message item / --message board for the profile's saved ones (item=/board= are for test-connect and watch, or with --save-schema)".into(),
                )
            })?),
        };
        Ok(Settings {
            file: a.file.filter(|f| f != Path::new("-")),
            encoding: a.encoding,
            schema,
            format: a.format,
        })
    }

    fn source_name(&self) -> String {
        match &self.file {
            Some(f) => f.display().to_string(),
            None => "standard input".into(),
        }
    }
}

/// `decode --message item|board|NAME` without `--proto`: the schema files the profile
/// saved (`[decode]`), as `test-connect` and `watch` use them; `item`/`board` name the
/// message saved for that topic kind. A user who saved the schema expected `decode` to
/// use it too (a new user's year, issue 12).
fn saved_schema(ctx: &Ctx, a: &DecodeArgs) -> Result<crate::decode::Schemas> {
    let (paths, profile) = ctx.load().map_err(|e| match e {
        Error::NoProfile { .. } => Error::Usage(
            "--message needs the schema: add --proto FILE (or save it in a profile with `decode --save-schema`)".into(),
        ),
        e => e,
    })?;
    let saved = &profile.decode;
    let kind = |name: &Option<String>, kind: &str| {
        name.clone().ok_or_else(|| {
            Error::Usage(format!(
                "no {kind} message is saved in {} ([decode] {kind}_message): give --message NAME, or save one with `{}`",
                paths.settings().display(),
                ctx.cmd("decode --save-schema --proto FILE --message item=NAME --message board=NAME")
            ))
        })
    };
    let messages = match a.schema.message.as_slice() {
        [one] if one == "item" => vec![kind(&saved.item_message, "item")?],
        [one] if one == "board" => vec![kind(&saved.board_message, "board")?],
        other => other.to_vec(),
    };
    let req = SchemaRequest {
        messages,
        ..schema_request(a)
    };
    let schemas = req.resolve(saved, &paths.dir)?;
    // `resolve` with a --message and no saved files says how to save some.
    schemas.ok_or_else(|| Error::Usage("--message needs a schema: add --proto FILE".into()))
}

fn schema_request(a: &DecodeArgs) -> SchemaRequest {
    SchemaRequest {
        protos: a.schema.protos.clone(),
        includes: a.schema.includes.clone(),
        messages: a.schema.message.clone(),
        raw: false,
    }
}

/// `decode --save-schema`: checks that the schema compiles and has the messages, then
/// writes `[decode]` to profile.toml under the profile's lock.
fn save_schema(ctx: &Ctx, a: &DecodeArgs) -> Result<ExitCode> {
    let req = schema_request(a);
    let settings = req.to_settings()?;
    crate::decode::options::compile(
        &settings.proto,
        &settings.include,
        &crate::decode::MessageNames {
            any: None,
            item: settings.item_message.clone(),
            board: settings.board_message.clone(),
        },
    )?;
    let (paths, mut profile) = ctx.load()?;
    let _lock = crate::store::lock(&paths.lock())?;
    profile.decode = settings;
    profile.save(&paths)?;
    ctx.out.note(format!(
        "saved the schema in {} ([decode]); test-connect and watch use it unless given --raw or other schema options, and `decode --message item` (or board) decodes with it",
        paths.settings().display()
    ));
    Ok(ExitCode::Ok)
}

pub fn run(ctx: &Ctx, args: DecodeArgs) -> Result<ExitCode> {
    if args.save_schema {
        return save_schema(ctx, &args);
    }
    let s = Settings::from_args(ctx, args)?;
    let mut bytes = read_payload(s.file.as_deref())?;
    let encoding = s.encoding.unwrap_or_else(|| Encoding::guess(&bytes));
    if s.file.is_none()
        && encoding == Encoding::Proto
        && drop_stray_newline(&mut bytes, s.schema.as_ref())
    {
        ctx.out.note(
            "decoded the data without its last byte, a newline that made it invalid protobuf (mosquitto_sub adds one unless given -N: `snippet mosquitto-sub --for-decode` prints the pipe form)",
        );
    }
    let bad_payload = |e: decode::DecodeError| Error::BadPayload {
        source_name: s.source_name(),
        reason: e.to_string(),
    };
    if let (Encoding::Proto, None, Format::Text) = (encoding, &s.schema, s.format) {
        // The common case, kept lean: check, then print into a 64 KiB buffer written out
        // whenever it fills; no copy of the payload and no `String`. A failed write is
        // recorded by `write_stdout` and reported by `main` (74; a closed pipe, as in
        // `decode x | head`, silently); the rest is then not written.
        raw_proto::stream_text(&bytes, &mut |chunk| output::write_stdout(chunk))
            .map_err(|e| bad_payload(decode::DecodeError::Wire(e)))?;
        return Ok(ExitCode::Ok);
    }
    if s.format == Format::Json && encoding == Encoding::Proto && fast_json(&bytes, &s) {
        return Ok(ExitCode::Ok);
    }
    let decoded = decode::decode(&bytes, encoding, s.schema.as_ref()).map_err(bad_payload)?;
    match s.format {
        Format::Json => print_json(|out| decoded.write_json(out)),
        Format::Text => {
            let mut text = Vec::new();
            decoded.write_text(&mut text);
            if !text.is_empty() && !text.ends_with(b"\n") {
                text.push(b'\n');
            }
            // One write for the whole text (a 1 MB payload prints megabytes). The text
            // is already terminal-safe.
            output::write_stdout(&text);
        }
    }
    Ok(ExitCode::Ok)
}

/// `--format json` of protobuf written straight from the bytes as read (issue 12, item
/// 5): without a schema always (no copy of the payload: a 50 MB one took twice its size
/// in memory), with one when its fast writer takes the payload. `false`: not written,
/// take the general way (which also reports the payload's errors).
fn fast_json(bytes: &[u8], s: &Settings) -> bool {
    if raw_proto::validate(bytes).is_err() {
        return false;
    }
    match &s.schema {
        None => print_json(|out| {
            // Validated above; a walk error would be a bug: the JSON stops there.
            let _ = decode::raw_json::write(bytes, out);
        }),
        Some(schema) => match schema.json_writer(bytes) {
            Some(writer) => print_json(|out| writer.write(bytes, out)),
            None => return false,
        },
    }
    true
}

/// The JSON view, pretty-printed as `Output::json` prints a tree, streamed to stdout in
/// 64 KiB pieces without building the tree (issue 12, item 5: a 50 MB payload's tree
/// took 6.8 GB). After a failed write the rest is not written; `main` reports it.
fn print_json(write: impl FnOnce(&mut JsonOut<'_>)) {
    let mut sink = |chunk: &[u8]| output::write_stdout(chunk);
    let mut out = JsonOut::streaming(&mut sink);
    write(&mut out);
    out.raw(b"\n");
    out.finish();
}

/// mosquitto_sub prints a newline after each message unless `-N`: a protobuf payload piped
/// from it ends in a 0x0A that reads as the start of a field 1 with no length. When the
/// data is invalid with that byte and valid without it, the byte is dropped (issue 12).
fn drop_stray_newline(bytes: &mut Vec<u8>, schema: Option<&Schema>) -> bool {
    let valid = |b: &[u8]| decode::decode(b, Encoding::Proto, schema).is_ok();
    if bytes.last() == Some(&b'\n') && !valid(bytes) && valid(&bytes[..bytes.len() - 1]) {
        bytes.pop();
        return true;
    }
    false
}

fn read_payload(file: Option<&Path>) -> Result<Vec<u8>> {
    let path = file.unwrap_or(Path::new("-"));
    crate::input::read(path, crate::input::Kind::Payload)
}
