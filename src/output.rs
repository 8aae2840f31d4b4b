//! How results reach the user: text lines on stdout, `Note:`/`Warning:` on stderr (after
//! mkcert), or one JSON document for scripts. Untrusted text (certificate subjects,
//! payloads) goes through [`safe`] before it reaches a terminal.

use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::OnceLock;

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

    /// One JSON document on stdout (printed even with `--quiet`: the caller asked for it).
    pub fn json(&self, value: &serde_json::Value) {
        let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
        write_out(&text);
    }
}

fn write_out(text: &str) {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    write_stdout(line.as_bytes());
}

/// The first failed write to stdout, if any. Recorded rather than returned so that every
/// printing site stays simple; `main` checks it once before choosing the exit code.
static STDOUT_FAILURE: OnceLock<io::ErrorKind> = OnceLock::new();

/// Writes to stdout without ever panicking (`println!` panics on a full disk or a closed
/// pipe). After a failure, further output is dropped and [`stdout_failure`] reports it.
pub fn write_stdout(bytes: &[u8]) {
    if STDOUT_FAILURE.get().is_some() {
        return;
    }
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
        let _ = STDOUT_FAILURE.set(e.kind());
    }
}

/// Why stdout could not be written, if it could not.
pub fn stdout_failure() -> Option<io::ErrorKind> {
    STDOUT_FAILURE.get().copied()
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
    fn safe_escapes_terminal_controls() {
        assert_eq!(safe("plain"), "plain");
        assert_eq!(safe("a\x1b[31mred"), "a\\u{1b}[31mred");
        assert_eq!(safe("x\ny"), "x\\ny");
        assert_eq!(safe("\u{202E}abc"), "\\u{202e}abc");
    }
}
