//! Every file the tool reads, from the user or from a profile, goes through here: `-` is
//! standard input, a path is opened without blocking and must be a regular file, and no
//! read goes past a size limit fitting its kind (issue 14 item 5: a FIFO hung
//! `check-expiry --all`, a link to `/dev/zero` grew it to gigabytes).

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::path::Path;

use rustix::fs::{FileType, Mode, OFlags};

use crate::error::{Error, Result};

/// What a file is expected to hold; each kind has its size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A private key (PEM).
    Key,
    /// A certificate or chain stored in a profile.
    Certificate,
    /// What the user hands over as a certificate: a file, a PKCS#7 bundle or support's
    /// e-mail reply, whose logos and signatures easily pass a megabyte.
    Reply,
    /// `profile.toml`, `config.toml`, `notices.toml`, templates, the password files.
    Settings,
    /// A message payload for `decode`: Centiloc's batches run to megabytes.
    Payload,
    /// A `.proto` schema.
    Schema,
}

const MIB: u64 = 1024 * 1024;

impl Kind {
    /// The most bytes a file of this kind may hold. Keys, certificates and settings are
    /// a few kilobytes; a megabyte leaves room for long chains and e-mails with
    /// attachments. Payloads and schemas get the 64 MiB of issue 14's message limit.
    pub const fn limit(self) -> u64 {
        match self {
            Kind::Key | Kind::Certificate | Kind::Settings => MIB,
            Kind::Reply => 32 * MIB,
            Kind::Payload | Kind::Schema => 64 * MIB,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::Key => "a private key",
            Kind::Certificate => "a certificate",
            Kind::Reply => "a certificate or the e-mail carrying it",
            Kind::Settings => "a settings file",
            Kind::Payload => "a message payload",
            Kind::Schema => "a .proto schema",
        }
    }
}

/// Is this path the `-` that stands for standard input?
pub fn is_stdin(path: &Path) -> bool {
    path == Path::new("-")
}

/// How messages name an input: "standard input" for `-`, else the path.
pub fn display_name(path: &Path) -> &Path {
    if is_stdin(path) {
        Path::new("standard input")
    } else {
        path
    }
}

/// Why an input was refused before or while reading it. Carried inside an `io::Error`
/// so that readers working in `io::Result` (the check-expiry scan) pass it along, and
/// [`error`] turns it back into the user's sentence.
#[derive(Debug)]
enum Refusal {
    NotRegular(&'static str),
    TooLarge(Kind),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotRegular(what) => write!(f, "it is {what}, not a regular file"),
            Refusal::TooLarge(kind) => write!(
                f,
                "it is larger than {} MiB, too large for {}",
                kind.limit() / MIB,
                kind.noun()
            ),
        }
    }
}

impl std::error::Error for Refusal {}

fn refusal(r: Refusal) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, r)
}

/// The kind of a non-regular file, in words; `None` for a regular file.
pub fn irregular(ty: FileType) -> Option<&'static str> {
    match ty {
        FileType::RegularFile => None,
        FileType::Directory => Some("a directory"),
        FileType::Fifo => Some("a named pipe (FIFO)"),
        FileType::CharacterDevice | FileType::BlockDevice => Some("a device"),
        FileType::Socket => Some("a socket"),
        FileType::Symlink => Some("a symbolic link"),
        _ => Some("not a file"),
    }
}

/// `O_NONBLOCK` so that opening a FIFO returns at once (it would wait for a writer),
/// `O_NOCTTY` so that a terminal device never becomes our controlling terminal.
const OPEN_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::NONBLOCK)
    .union(OFlags::NOCTTY)
    .union(OFlags::CLOEXEC);

/// Refuses anything but a regular file behind an open descriptor.
fn regular(fd: impl Into<std::os::fd::OwnedFd>) -> io::Result<File> {
    let file = File::from(fd.into());
    let st = rustix::fs::fstat(file.as_fd())?;
    match irregular(FileType::from_raw_mode(st.st_mode)) {
        None => Ok(file),
        Some(what) => Err(refusal(Refusal::NotRegular(what))),
    }
}

/// Opens `path` for reading if it is a regular file (symbolic links are followed: a
/// user's file may well be one).
pub fn open(path: &Path) -> io::Result<File> {
    regular(rustix::fs::open(path, OPEN_FLAGS, Mode::empty())?)
}

/// Opens `name` relative to the directory `dir` for reading if it is a regular file.
pub fn open_at(dir: impl AsFd, name: &str) -> io::Result<File> {
    regular(rustix::fs::openat(dir, name, OPEN_FLAGS, Mode::empty())?)
}

/// An error when `len` bytes are more than `kind` allows: for readers that fill their
/// own buffer.
pub fn check_size(len: usize, kind: Kind) -> io::Result<()> {
    if len as u64 > kind.limit() {
        return Err(refusal(Refusal::TooLarge(kind)));
    }
    Ok(())
}

/// Reads at most `kind`'s limit from `reader`; one byte more is an error.
fn read_limited(reader: impl Read, kind: Kind, size_hint: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(size_hint.min(kind.limit()) as usize + 1);
    reader.take(kind.limit() + 1).read_to_end(&mut bytes)?;
    check_size(bytes.len(), kind)?;
    Ok(bytes)
}

fn read_io(path: &Path, kind: Kind) -> io::Result<Vec<u8>> {
    if is_stdin(path) {
        // Redirected from a file, standard input says its size too.
        let hint = rustix::fs::fstat(io::stdin())
            .ok()
            .filter(|st| FileType::from_raw_mode(st.st_mode) == FileType::RegularFile)
            .map_or(0, |st| st.st_size as u64);
        return read_limited(io::stdin().lock(), kind, hint);
    }
    let file = open(path)?;
    // A regular file says its size: read it in one go rather than in doubling steps.
    let hint = file.metadata().map_or(0, |m| m.len());
    read_limited(file, kind, hint)
}

/// The user's sentence for a failed read of `path`.
pub fn error(path: &Path, e: io::Error) -> Error {
    let name = display_name(path).to_path_buf();
    match e.get_ref().and_then(|r| r.downcast_ref::<Refusal>()) {
        Some(Refusal::NotRegular(what)) => Error::NotAFile { path: name, what },
        Some(Refusal::TooLarge(kind)) => Error::TooLarge {
            path: name,
            limit_mib: kind.limit() / MIB,
            what: kind.noun(),
        },
        None => Error::read(name, e),
    }
}

/// The bytes of `path` (`-`: standard input).
pub fn read(path: &Path, kind: Kind) -> Result<Vec<u8>> {
    read_io(path, kind).map_err(|e| error(path, e))
}

/// Like [`read`], but `Ok(None)` when the file does not exist.
pub fn read_if_exists(path: &Path, kind: Kind) -> Result<Option<Vec<u8>>> {
    match read_io(path, kind) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(error(path, e)),
    }
}

/// A text file (settings, templates): UTF-8 is required, and the line that breaks it
/// is named, since people edit these files by hand.
pub fn read_text_if_exists(path: &Path, kind: Kind) -> Result<Option<String>> {
    let Some(bytes) = read_if_exists(path, kind)? else {
        return Ok(None);
    };
    match String::from_utf8(bytes) {
        Ok(s) => Ok(Some(s)),
        Err(e) => {
            let bad = e.utf8_error().valid_up_to();
            let line = 1 + e.as_bytes()[..bad].iter().filter(|&&b| b == b'\n').count();
            // The bytes may be a secret (a password file): wipe them before dropping.
            let mut bytes = e.into_bytes();
            zeroize::Zeroize::zeroize(&mut bytes);
            Err(Error::Config {
                path: path.to_path_buf(),
                reason: format!("line {line} is not UTF-8 text"),
            })
        }
    }
}

/// A short form of any text echoed in a message: a whole file's worth of value does not
/// belong in an error line.
pub fn shorten(text: &str, max_chars: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max_chars) {
        None => Cow::Borrowed(text),
        Some((i, _)) => Cow::Owned(format!("{}… ({} bytes)", &text[..i], text.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit_codes::ExitCode;

    #[test]
    fn a_directory_is_refused_naming_it() {
        let d = tempfile::tempdir().unwrap();
        let e = read(d.path(), Kind::Key).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{} is a directory, not a regular file: give the path of the file itself",
                d.path().display()
            )
        );
        assert_eq!(e.exit_code(), ExitCode::NoInput);
    }

    #[test]
    fn a_fifo_is_refused_at_once() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("pipe");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let e = read(&fifo, Kind::Certificate).unwrap_err();
        assert!(
            matches!(
                e,
                Error::NotAFile {
                    what: "a named pipe (FIFO)",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn a_device_is_refused_and_size_is_capped() {
        let e = read(Path::new("/dev/zero"), Kind::Key).unwrap_err();
        assert!(
            matches!(
                e,
                Error::NotAFile {
                    what: "a device",
                    ..
                }
            ),
            "{e}"
        );
        let d = tempfile::tempdir().unwrap();
        let big = d.path().join("big.pem");
        std::fs::write(&big, vec![b'a'; MIB as usize + 1]).unwrap();
        let e = read(&big, Kind::Certificate).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{} is larger than 1 MiB, too large for a certificate: check that it is the right file",
                big.display()
            )
        );
        assert_eq!(e.exit_code(), ExitCode::DataErr);
        std::fs::write(&big, vec![b'a'; MIB as usize]).unwrap();
        assert_eq!(read(&big, Kind::Certificate).unwrap().len(), MIB as usize);
    }

    #[test]
    fn missing_is_none_and_bad_utf8_names_the_line() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("x.toml");
        assert!(read_if_exists(&f, Kind::Settings).unwrap().is_none());
        std::fs::write(&f, b"a = 1\nb = \"\xff\"\n").unwrap();
        let e = read_text_if_exists(&f, Kind::Settings).unwrap_err();
        assert!(e.to_string().contains("line 2 is not UTF-8 text"), "{e}");
        assert_eq!(e.exit_code(), ExitCode::Config);
    }

    #[test]
    fn names_and_shortening() {
        assert_eq!(display_name(Path::new("-")), Path::new("standard input"));
        assert_eq!(display_name(Path::new("a.pem")), Path::new("a.pem"));
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdef", 3), "abc… (6 bytes)");
    }
}
