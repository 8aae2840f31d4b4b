//! Protobuf with the customer's schema: the `.proto` files Centiloc hands out (package
//! `transtreamdatamodel`) are compiled at run time with protox, so `protoc` is not needed,
//! and payloads are decoded with prost-reflect into protobuf text format or canonical
//! proto3 JSON (SPEC: Decoding).

use std::fmt;
use std::path::{Path, PathBuf};

use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};

/// A compiled schema and the message type payloads are decoded as.
#[derive(Debug, Clone)]
pub struct Schema {
    message: MessageDescriptor,
}

/// Why a schema could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaError {
    /// protox's own message, which starts with `file:line:column:` when it has one.
    Compile(String),
    /// A schema file or import that does not exist.
    NotFound(String),
    /// `--message` names no message of the schema; `available` lists those it has.
    UnknownMessage {
        name: String,
        available: Vec<String>,
    },
    /// More than one message and no `--message`.
    MessageRequired { available: Vec<String> },
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaError::Compile(e) | SchemaError::NotFound(e) => write!(f, "{e}"),
            SchemaError::UnknownMessage { name, available } => write!(
                f,
                "no message {name:?} in the schema; it has: {}",
                list(available)
            ),
            SchemaError::MessageRequired { available } => write!(
                f,
                "the schema has several messages, pass --message with one of: {}",
                list(available)
            ),
        }
    }
}

impl std::error::Error for SchemaError {}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}

impl Schema {
    /// Compiles `files` (imports looked up in `includes`; with no include directory, in
    /// each file's own directory, as a user who passes one `--proto` expects) and picks
    /// `message` (fully qualified, e.g. `transtreamdatamodel.ItemEvent`). Without
    /// `message`, a schema whose files declare exactly one message uses it.
    pub fn compile(
        files: &[PathBuf],
        includes: &[PathBuf],
        message: Option<&str>,
    ) -> Result<Schema, SchemaError> {
        let includes: Vec<PathBuf> = if includes.is_empty() {
            let mut dirs: Vec<PathBuf> = files
                .iter()
                .map(|f| match f.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                })
                .collect();
            dirs.dedup();
            dirs
        } else {
            includes.to_vec()
        };
        let pool = compile_pool(files, &includes)?;
        Schema::from_pool(&pool, message)
    }

    fn from_pool(pool: &DescriptorPool, message: Option<&str>) -> Result<Schema, SchemaError> {
        // Messages of the files the user named (not of google/protobuf imports).
        let names: Vec<String> = pool
            .all_messages()
            .filter(|m| !m.full_name().starts_with("google.protobuf."))
            .filter(|m| !m.is_map_entry())
            .map(|m| m.full_name().to_owned())
            .collect();
        let chosen = match message {
            Some(name) => {
                let name = name.strip_prefix('.').unwrap_or(name);
                pool.get_message_by_name(name)
                    .ok_or_else(|| SchemaError::UnknownMessage {
                        name: name.to_owned(),
                        available: names.clone(),
                    })?
            }
            None => match names.as_slice() {
                [only] => {
                    pool.get_message_by_name(only)
                        .ok_or_else(|| SchemaError::MessageRequired {
                            available: names.clone(),
                        })?
                }
                _ => {
                    return Err(SchemaError::MessageRequired {
                        available: names.clone(),
                    });
                }
            },
        };
        Ok(Schema { message: chosen })
    }

    /// The message type payloads are decoded as.
    pub fn message_name(&self) -> &str {
        self.message.full_name()
    }

    /// Decodes one payload; the error is prost's reason (it names the field and type).
    pub fn decode(
        &self,
        bytes: &[u8],
    ) -> Result<DynamicMessage, prost_reflect::prost::DecodeError> {
        DynamicMessage::decode(self.message.clone(), bytes)
    }
}

fn compile_pool(files: &[PathBuf], includes: &[PathBuf]) -> Result<DescriptorPool, SchemaError> {
    let err = |e: protox::Error| {
        if e.is_file_not_found() {
            SchemaError::NotFound(format!("{e:?}"))
        } else {
            SchemaError::Compile(format!("{e:?}"))
        }
    };
    let mut compiler = protox::Compiler::new(includes).map_err(err)?;
    compiler.include_imports(true);
    for f in files {
        compiler.open_file(Path::new(f)).map_err(err)?;
    }
    Ok(compiler.descriptor_pool())
}

/// Protobuf text format with field and enum names, as `protoc --decode=NAME` prints it
/// (strings are escaped, so the text is safe for a terminal).
pub fn to_text(message: &DynamicMessage) -> String {
    let options = prost_reflect::text_format::FormatOptions::new().pretty(true);
    let mut text = message.to_text_format_with_options(&options);
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// Canonical proto3 JSON: lowerCamelCase names, 64-bit integers as strings, enum names,
/// well-known types (Timestamp as RFC 3339) in their JSON form.
pub fn to_json(message: &DynamicMessage) -> Result<serde_json::Value, serde_json::Error> {
    message.serialize_with_options(serde_json::value::Serializer, &SerializeOptions::new())
}
