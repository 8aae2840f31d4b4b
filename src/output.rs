//! How results reach the user: text lines on stdout, `Note:`/`Warning:` on stderr (after
//! mkcert), or one JSON document for scripts. Untrusted text (certificate subjects,
//! payloads) goes through [`safe`] before it reaches a terminal.

use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// `--format` for commands that report text or JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// The reporting settings every command gets.
#[derive(Debug, Clone, Copy, Default)]
pub struct Output {
    /// `-q`: print nothing but errors and warnings.
    pub quiet: bool,
    /// `-v` count: 1 adds the cause chain to errors and extra details.
    pub verbose: u8,
}

impl Output {
    /// A result line on stdout (suppressed by `--quiet`).
    pub fn line(&self, text: impl AsRef<str>) {
        if !self.quiet {
            write_out(text.as_ref());
        }
    }

    /// A side remark on stderr (suppressed by `--quiet`).
    pub fn note(&self, text: impl AsRef<str>) {
        if !self.quiet {
            write_stderr(&format!("Note: {}", text.as_ref()));
        }
    }

    /// Something the user should act on; shown even with `--quiet`.
    pub fn warn(&self, text: impl AsRef<str>) {
        write_stderr(&format!("Warning: {}", text.as_ref()));
    }

    /// Extra detail for `-v`.
    pub fn detail(&self, text: impl AsRef<str>) {
        if self.verbose > 0 {
            write_stderr(&format!("  {}", text.as_ref()));
        }
    }

    /// A block of text on stdout as it is (a snippet, a whole report), printed even with
    /// `--quiet`: it is what the command was asked for.
    pub fn text(&self, text: impl AsRef<str>) {
        write_stdout(text.as_ref().as_bytes());
    }

    /// A line on stderr without a prefix (a prompt's hint, a progress remark), suppressed
    /// by `--quiet`.
    pub fn say(&self, text: impl AsRef<str>) {
        if !self.quiet {
            write_stderr(text.as_ref());
        }
    }

    /// A command's report value as its JSON document (printed even with `--quiet`: the
    /// caller asked for it), stamped with [`FORMAT_VERSION`] (SPEC: JSON contract) so no
    /// report can lack it: the same struct its text is
    /// rendered from (issue 10 item 5), so the two cannot drift. A value serde cannot
    /// write (it never happens with the report types) prints `null`, never a panic.
    ///
    /// Written straight from the struct, `format_version` first and the fields in their
    /// declared order: a `Value` in between would sort every map, and a decoded payload
    /// inside (`test-connect`) would lose the schema's field order that `watch` and
    /// `decode` print.
    pub fn report<T: serde::Serialize>(&self, report: &T) {
        #[derive(serde::Serialize)]
        struct Versioned<'a, T> {
            format_version: u32,
            #[serde(flatten)]
            report: &'a T,
        }
        let doc = Versioned {
            format_version: FORMAT_VERSION,
            report,
        };
        write_out(&serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "null".into()));
    }

    /// A JSON document on stdout as it is: `decode` prints the payload itself, so that
    /// it pipes into other JSON tools unchanged.
    pub fn json_as_is(&self, value: &serde_json::Value) {
        let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
        write_out(&text);
    }

    /// The JSON error document of a `--format json` command that failed before printing
    /// its report (SPEC: JSON contract); the sentence also goes to stderr as usual.
    pub fn json_error(&self, e: &crate::error::Error) {
        if !stdout_used() {
            self.report(&ErrorDocument {
                ok: false,
                exit_code: e.exit_code().code(),
                error: &e.to_string(),
            });
        }
    }
}

/// What a `--format json` command prints when it fails (SPEC: JSON contract), besides
/// the sentence on stderr: `format_version`, `ok: false`, `exit_code`, `error`.
#[derive(serde::Serialize)]
pub struct ErrorDocument<'a> {
    pub ok: bool,
    pub exit_code: u8,
    /// The sentence stderr shows, without its `ERROR: `.
    pub error: &'a str,
}

/// Whether the command line asks for a JSON report (`--format json`, `--format=json`,
/// or `json` in `export`'s list), read before clap decides, so that a usage error is a
/// JSON error document too. `decode` prints payloads, not reports: never for it.
pub fn json_requested(args: &[std::ffi::OsString]) -> bool {
    let words: Vec<&str> = args.iter().filter_map(|a| a.to_str()).collect();
    let json = |v: &str| v.split(',').any(|f| f == "json");
    let asked = words.windows(2).any(|w| w[0] == "--format" && json(w[1]))
        || words
            .iter()
            .any(|w| w.strip_prefix("--format=").is_some_and(json));
    asked && !words.contains(&"decode")
}

fn write_out(text: &str) {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    write_stdout(line.as_bytes());
}

/// The version of every JSON report's field set (SPEC: JSON contract); a breaking change
/// of any report bumps it.
pub const FORMAT_VERSION: u32 = 1;

/// Whether anything was written to stdout (a command that printed its own JSON document
/// on failure does not get a second one).
static STDOUT_USED: AtomicBool = AtomicBool::new(false);

pub fn stdout_used() -> bool {
    STDOUT_USED.load(Ordering::Relaxed)
}

/// The first failed write to stdout, if any. Recorded rather than returned so that every
/// printing site stays simple; `main` checks it once before choosing the exit code, and
/// long-running commands ask [`stdout_gone`] to stop early.
static STDOUT_FAILURE: OnceLock<io::Error> = OnceLock::new();

/// Writes to stdout without ever panicking (`println!` panics on a full disk or a closed
/// pipe). After a failure, further output is dropped and [`stdout_failure`] reports it.
pub fn write_stdout(bytes: &[u8]) {
    let _ = try_write_stdout(bytes);
}

/// [`write_stdout`] for callers that must know whether the bytes were handed on (`watch`
/// acknowledges a message only once it was). The failure is recorded all the same.
pub fn try_write_stdout(bytes: &[u8]) -> io::Result<()> {
    STDOUT_USED.store(true, Ordering::Relaxed);
    if let Some(e) = STDOUT_FAILURE.get() {
        return Err(io::Error::from(e.kind()));
    }
    let mut out = io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| {
            let kind = e.kind();
            let _ = STDOUT_FAILURE.set(e);
            io::Error::from(kind)
        })
}

/// Why stdout could not be written, if it could not.
pub fn stdout_failure() -> Option<&'static io::Error> {
    STDOUT_FAILURE.get()
}

/// True once a write to stdout failed: nothing more this run prints can reach anyone.
pub fn stdout_gone() -> bool {
    STDOUT_FAILURE.get().is_some()
}

/// True when stdout is a pipe, socket or terminal whose reader has gone (the kernel
/// reports an error or hang-up on our end), before anything fails to write: `watch` in
/// a quiet hour must not keep its session after `| head -1` exited.
pub fn stdout_reader_gone() -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let out = io::stdout();
    let mut fds = [PollFd::new(&out, PollFlags::empty())];
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    poll(&mut fds, Some(&now)).is_ok()
        && fds[0].revents().intersects(PollFlags::ERR | PollFlags::HUP)
}

/// What a failed stdout means for the exit: `None` when it did not fail or its reader
/// went away (`list | head -1`: nobody is left to tell, and the command's own exit code
/// stands), else the error to report (exit 74).
pub fn stdout_error() -> Option<crate::error::Error> {
    let e = STDOUT_FAILURE.get()?;
    if e.kind() == io::ErrorKind::BrokenPipe {
        return None;
    }
    Some(crate::error::Error::Stdout(match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(e.kind(), e.to_string()),
    }))
}

/// `#[serde(serialize_with = "crate::output::path")]`: a path in a JSON report as text
/// (a name that is not UTF-8 is shown with replacement characters rather than making
/// the whole report fail).
pub fn path<S: serde::Serializer>(p: &std::path::Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.to_string_lossy())
}

/// [`path`] for an optional path (`null` when absent).
pub fn path_opt<S, P>(p: &Option<P>, s: S) -> Result<S::Ok, S::Error>
where
    S: serde::Serializer,
    P: AsRef<std::path::Path>,
{
    match p {
        Some(p) => s.serialize_str(&p.as_ref().to_string_lossy()),
        None => s.serialize_none(),
    }
}

/// A line on stderr; if even stderr is gone there is nobody left to tell, so no panic.
pub fn write_stderr(text: &str) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

/// Makes untrusted text safe for a terminal: control characters (ESC, BEL, CR, ...) and
/// Unicode bidi overrides are shown as escapes instead of being interpreted.
pub fn safe(s: &str) -> Cow<'_, str> {
    let bad =
        |c: char| c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if bad(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_recognised_before_parsing() {
        let asks = |a: &[&str]| json_requested(&a.iter().map(Into::into).collect::<Vec<_>>());
        assert!(asks(&["c", "init", "--format", "json", "--curve", "p521"]));
        assert!(asks(&["c", "--format=json", "status"]));
        assert!(asks(&["c", "export", "--format", "pkcs12,json"]));
        assert!(!asks(&["c", "status", "--format", "text"]));
        assert!(!asks(&["c", "test-connect", "--encoding", "json"]));
        assert!(!asks(&["c", "decode", "--format", "json", "--bogus"]));
    }

    #[test]
    fn safe_escapes_terminal_controls() {
        assert_eq!(safe("plain"), "plain");
        assert_eq!(safe("a\x1b[31mred"), "a\\u{1b}[31mred");
        assert_eq!(safe("x\ny"), "x\\ny");
        assert_eq!(safe("\u{202E}abc"), "\\u{202e}abc");
    }
}
