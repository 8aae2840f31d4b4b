//! Protobuf with the customer's schema: the `.proto` files Centiloc hands out (package
//! `transtreamdatamodel`) are compiled at run time with protox, so `protoc` is not needed,
//! and payloads are decoded with prost-reflect into protobuf text format or canonical
//! proto3 JSON (SPEC: Decoding).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};

use super::schema_json::Plan;

/// A compiled schema and the message type payloads are decoded as.
#[derive(Debug, Clone)]
pub struct Schema {
    message: MessageDescriptor,
    /// How `--format json` writes payloads without prost-reflect (issue 12, item 5).
    plan: Option<Arc<Plan>>,
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
    /// Compiles `files` and picks `message` (fully qualified, e.g.
    /// `transtreamdatamodel.ItemEvent`). Without `message`, a schema whose files declare
    /// exactly one message uses it. Files and imports are found as protoc finds them
    /// (see [`resolve`]).
    pub fn compile(
        files: &[PathBuf],
        includes: &[PathBuf],
        message: Option<&str>,
    ) -> Result<Schema, SchemaError> {
        let (files, includes) = resolve(files, includes)?;
        let pool = compile_pool(&files, &includes)?;
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
        let plan = Plan::new(&chosen).map(Arc::new);
        Ok(Schema {
            message: chosen,
            plan,
        })
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

    /// The fast JSON writer for `bytes`, when it writes them exactly as decoding and
    /// [`to_json`] would (see `schema_json`); `None`: take that way instead.
    pub fn json_writer(&self, bytes: &[u8]) -> Option<&Plan> {
        self.plan.as_deref().filter(|p| p.check(bytes))
    }
}

/// The message types of one schema per Centiloc topic kind (issue 12): item and board
/// topics carry different messages, so one `--message` for every topic is not enough.
#[derive(Debug, Clone, Default)]
pub struct Schemas {
    /// For item topics (`--message item=NAME`, or a bare `--message NAME`).
    pub item: Option<Schema>,
    /// For board topics (`--message board=NAME`, or a bare `--message NAME`).
    pub board: Option<Schema>,
    /// For topics of neither kind: the bare `--message NAME`, or the only message.
    pub other: Option<Schema>,
}

/// Which messages to decode as: a bare name for every topic, or one per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageNames {
    pub any: Option<String>,
    pub item: Option<String>,
    pub board: Option<String>,
}

impl MessageNames {
    /// `NAME`, `item=NAME` or `board=NAME` (`--message`, repeatable).
    pub fn parse(values: &[String]) -> Result<MessageNames, String> {
        let mut m = MessageNames::default();
        for v in values {
            let (slot, name) = match v.split_once('=') {
                Some(("item", n)) => (&mut m.item, n),
                Some(("board", n)) => (&mut m.board, n),
                Some((k, _)) => {
                    return Err(format!(
                        "--message {v:?}: the topic kind must be item or board, not {k:?} (e.g. --message item=transtreamdatamodel.ItemEvent)"
                    ));
                }
                None => (&mut m.any, v.as_str()),
            };
            if name.is_empty() {
                return Err(format!("--message {v:?} names no message"));
            }
            *slot = Some(name.to_owned());
        }
        Ok(m)
    }

    pub fn is_empty(&self) -> bool {
        *self == MessageNames::default()
    }
}

impl Schemas {
    /// Compiles `files` once and picks a message for each kind. Without any name, a
    /// schema with exactly one message uses it everywhere.
    pub fn compile(
        files: &[PathBuf],
        includes: &[PathBuf],
        names: &MessageNames,
    ) -> Result<Schemas, SchemaError> {
        let (files, includes) = resolve(files, includes)?;
        let pool = compile_pool(&files, &includes)?;
        let pick = |n: Option<&String>| -> Result<Option<Schema>, SchemaError> {
            n.map(|n| Schema::from_pool(&pool, Some(n))).transpose()
        };
        let other = match (&names.any, &names.item, &names.board) {
            (None, None, None) => Some(Schema::from_pool(&pool, None)?),
            (any, _, _) => pick(any.as_ref())?,
        };
        Ok(Schemas {
            item: pick(names.item.as_ref())?.or_else(|| other.clone()),
            board: pick(names.board.as_ref())?.or_else(|| other.clone()),
            other,
        })
    }

    /// The schema for a topic of `kind` (`None`: a topic of neither kind).
    pub fn for_kind(&self, kind: Option<super::Kind>) -> Option<&Schema> {
        use super::Kind;
        match kind {
            Some(Kind::Item) => self.item.as_ref(),
            Some(Kind::Board) => self.board.as_ref(),
            None => self.other.as_ref(),
        }
    }
}

/// Where the schema files and their imports are, the way protoc finds them (issue 6):
///
/// - the include directories are `includes`, or the current directory when there are
///   none; then, when there are none, each file's own directory too (so a schema that
///   imports its neighbours works from anywhere, as it did before);
/// - a `--proto` path that exists on disk is used as is: protox names it by its path
///   relative to the include directory that holds it. protoc refuses one under no
///   include directory; here its directory becomes one more include instead;
/// - a relative `--proto` path that is not on disk is looked up in each include
///   directory, as protoc does (`-I inc --proto top.proto` is `inc/top.proto`).
///
/// Paths are made absolute and canonical so that a file given by an absolute path
/// matches an include given by a relative one (and the reverse).
fn resolve(
    files: &[PathBuf],
    includes: &[PathBuf],
) -> Result<(Vec<PathBuf>, Vec<PathBuf>), SchemaError> {
    let implicit = includes.is_empty();
    let mut dirs: Vec<PathBuf> = if implicit {
        vec![PathBuf::from(".")]
    } else {
        includes.to_vec()
    };
    // A directory that does not exist holds nothing; protoc only warns about it.
    dirs = dirs
        .iter()
        .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.clone()))
        .collect();
    let mut found = Vec::with_capacity(files.len());
    for f in files {
        // A FIFO or device named as the schema is refused at once, naming it.
        if f.exists()
            && !f.is_file()
            && let Err(e) = crate::input::open(f)
        {
            return Err(SchemaError::Compile(crate::input::error(f, e).to_string()));
        }
        let on_disk = if f.is_file() {
            Some(f.clone())
        } else if f.is_relative() {
            dirs.iter().map(|d| d.join(f)).find(|p| p.is_file())
        } else {
            None
        };
        let Some(path) = on_disk else {
            return Err(SchemaError::NotFound(not_found(f, includes)));
        };
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        let parent = path.parent().map(Path::to_path_buf);
        if let Some(parent) = parent
            && (implicit || !dirs.iter().any(|d| path.starts_with(d)))
            && !dirs.contains(&parent)
        {
            dirs.push(parent);
        }
        found.push(path);
    }
    Ok((found, dirs))
}

/// "FILE does not exist", with where it was looked for.
fn not_found(file: &Path, includes: &[PathBuf]) -> String {
    let mut s = format!("{} does not exist", file.display());
    if file.is_relative() && !includes.is_empty() {
        let dirs: Vec<String> = includes.iter().map(|d| d.display().to_string()).collect();
        s.push_str(&format!(
            " (not in the current directory nor under -I {})",
            dirs.join(", ")
        ));
    }
    s
}

fn compile_pool(files: &[PathBuf], includes: &[PathBuf]) -> Result<DescriptorPool, SchemaError> {
    let err = |e: protox::Error| {
        if e.is_file_not_found() {
            SchemaError::NotFound(format!("{e:?}"))
        } else {
            SchemaError::Compile(format!("{e:?}"))
        }
    };
    let mut resolver = protox::file::ChainFileResolver::new();
    resolver.add(CheckedIncludes(includes.to_vec()));
    resolver.add(protox::file::GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true);
    for f in files {
        compiler.open_file(Path::new(f)).map_err(err)?;
    }
    Ok(compiler.descriptor_pool())
}

/// protox's include-path lookup, reading through [`crate::input`]: a schema or import
/// must be a regular file within the schema size limit (issue 14: a FIFO named as an
/// import blocked the compiler forever).
struct CheckedIncludes(Vec<PathBuf>);

impl protox::file::FileResolver for CheckedIncludes {
    fn resolve_path(&self, path: &Path) -> Option<String> {
        self.0
            .iter()
            .find_map(|dir| protox::file::IncludeFileResolver::new(dir.clone()).resolve_path(path))
    }

    fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
        use crate::input::{self, Kind};
        for dir in &self.0 {
            let path = dir.join(name);
            if std::fs::metadata(&path).is_err() {
                continue;
            }
            let text = input::read_text_if_exists(&path, Kind::Schema)
                .map_err(|e| protox::Error::new(Refused(e.to_string())))?
                .ok_or_else(|| protox::Error::file_not_found(name))?;
            return protox::file::File::from_source(name, &text);
        }
        Err(protox::Error::file_not_found(name))
    }
}

/// Our sentence inside a protox error, shown as is (protox's errors are printed with
/// `{:?}`, which would quote a plain string).
struct Refused(String);

impl fmt::Debug for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Canonical proto3 JSON: lowerCamelCase names, 64-bit integers as strings, enum names,
/// well-known types (Timestamp as RFC 3339) in their JSON form.
pub fn to_json(message: &DynamicMessage) -> Result<serde_json::Value, serde_json::Error> {
    message.serialize_with_options(serde_json::value::Serializer, &SerializeOptions::new())
}
