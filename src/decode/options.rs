//! The schema options of `decode`, `test-connect` and `watch` (`--proto`, `-I`,
//! `--message [item=|board=]NAME`, `--raw`), resolved against `profile.toml`'s `[decode]`
//! section, and the writing of that section (issue 12, item 1).

use std::path::{Path, PathBuf};

use super::schema::{MessageNames, SchemaError, Schemas};
use crate::error::{Error, Result};
use crate::profile::DecodeSettings;

/// What the command line says about the schema, before it is compiled.
#[derive(Debug, Clone, Default)]
pub struct SchemaRequest {
    pub protos: Vec<PathBuf>,
    pub includes: Vec<PathBuf>,
    /// `--message` values: `NAME`, `item=NAME`, `board=NAME`.
    pub messages: Vec<String>,
    /// `--raw`: no schema, whatever the profile says.
    pub raw: bool,
}

impl SchemaRequest {
    fn names(&self) -> Result<MessageNames> {
        MessageNames::parse(&self.messages).map_err(Error::Usage)
    }

    /// The schema of the flags alone (`decode`): `None` without `--proto`.
    pub fn compile_flags(&self) -> Result<Option<Schemas>> {
        if self.protos.is_empty() {
            if !self.messages.is_empty() || !self.includes.is_empty() {
                return Err(Error::Usage(
                    "--message and -I need the schema: add --proto FILE".into(),
                ));
            }
            return Ok(None);
        }
        compile(&self.protos, &self.includes, &self.names()?).map(Some)
    }

    /// The schema `test-connect` and `watch` use: none with `--raw`; the flags' files when
    /// `--proto` is given; otherwise the profile's `[decode]` files, with the flags'
    /// `--message` and `-I` taking the place of the profile's when given. `dir` is the
    /// profile directory, which relative paths in `[decode]` are relative to.
    pub fn resolve(&self, saved: &DecodeSettings, dir: &Path) -> Result<Option<Schemas>> {
        if self.raw {
            return Ok(None);
        }
        if !self.protos.is_empty() {
            return self.compile_flags();
        }
        if saved.proto.is_empty() {
            if !self.messages.is_empty() {
                return Err(Error::Usage(
                    "--message needs a schema: add --proto FILE, or save one in the profile with `decode --save-schema --proto FILE --message …`".into(),
                ));
            }
            return Ok(None);
        }
        let under = |v: &[PathBuf]| -> Vec<PathBuf> { v.iter().map(|p| dir.join(p)).collect() };
        let includes = if self.includes.is_empty() {
            under(&saved.include)
        } else {
            self.includes.clone()
        };
        let names = if self.messages.is_empty() {
            MessageNames {
                any: None,
                item: saved.item_message.clone(),
                board: saved.board_message.clone(),
            }
        } else {
            self.names()?
        };
        compile(&under(&saved.proto), &includes, &names).map(Some)
    }

    /// The `[decode]` section these flags describe, with absolute paths (the profile is
    /// used from other directories, by cron and systemd). A bare `--message NAME` is
    /// stored for both kinds.
    pub fn to_settings(&self) -> Result<DecodeSettings> {
        let names = self.names()?;
        let abs = |v: &[PathBuf]| -> Result<Vec<PathBuf>> {
            v.iter()
                .map(|p| std::path::absolute(p).map_err(|e| Error::read(p, e)))
                .collect()
        };
        Ok(DecodeSettings {
            proto: abs(&self.protos)?,
            include: abs(&self.includes)?,
            item_message: names.item.or_else(|| names.any.clone()),
            board_message: names.board.or(names.any),
        })
    }
}

/// Compiles the schema; its errors in the user's words with SPEC exit codes: a missing
/// file 66, a schema that does not compile or lacks the message 78 (a configuration the
/// user gave, on the command line or in profile.toml), several messages and no
/// `--message` 64.
pub fn compile(files: &[PathBuf], includes: &[PathBuf], names: &MessageNames) -> Result<Schemas> {
    Schemas::compile(files, includes, names).map_err(|e| match e {
        SchemaError::NotFound(_) => Error::SchemaNotFound(e.to_string()),
        SchemaError::MessageRequired { .. } => Error::Usage(format!("cannot use the schema: {e}")),
        _ => Error::Schema(e.to_string()),
    })
}
