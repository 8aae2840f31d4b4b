//! `decode [FILE]`: one payload from a file or stdin, shown as `test-connect` and `watch`
//! show what they receive (SPEC: Commands, Decoding).

use std::path::{Path, PathBuf};

use crate::cli::DecodeArgs;
use crate::decode::{self, Encoding, Schema, SchemaError, raw_proto};
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
    fn from_args(a: DecodeArgs) -> Result<Settings> {
        let schema = if a.protos.is_empty() {
            None
        } else {
            Some(
                Schema::compile(&a.protos, &a.includes, a.message.as_deref()).map_err(
                    |e| match e {
                        SchemaError::NotFound(_) => Error::SchemaNotFound(e.to_string()),
                        // Which message to decode as is the user's choice to make: a
                        // usage error (64) that lists the choices, not bad data.
                        SchemaError::MessageRequired { .. } => {
                            Error::Usage(format!("cannot use the schema: {e}"))
                        }
                        _ => Error::Schema(e.to_string()),
                    },
                )?,
            )
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

pub fn run(ctx: &Ctx, args: DecodeArgs) -> Result<ExitCode> {
    let s = Settings::from_args(args)?;
    let bytes = read_payload(s.file.as_deref())?;
    let encoding = s.encoding.unwrap_or_else(|| Encoding::guess(&bytes));
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
    let decoded = decode::decode(&bytes, encoding, s.schema.as_ref()).map_err(bad_payload)?;
    match s.format {
        Format::Json => ctx.out.json(&decoded.to_json()),
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

fn read_payload(file: Option<&Path>) -> Result<Vec<u8>> {
    let path = file.unwrap_or(Path::new("-"));
    crate::input::read(path, crate::input::Kind::Payload)
}
