//! `config.toml`: settings shared by every profile of a home. Today the `[notify]` section
//! (SPEC: Notifications): the SMTP server and addresses for expiry notices and
//! `csr --mail`. The SMTP password is never in this file: it comes from
//! `CENTILOC_SMTP_PASSWORD` at send time, so the file can be world-readable and shared.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use lettre::message::Mailbox;
use serde::Deserialize;

use crate::error::{Error, Result};

pub const SMTP_PASSWORD_ENV: &str = "CENTILOC_SMTP_PASSWORD";

/// A minimal `[notify]` section, for messages that say how to add one.
const EXAMPLE: &str = "[notify]\n    smtp_url = \"smtp://mail.example.com:587?tls=required\"\n    from = \"certs@example.com\"";

/// An example value for a `[notify]` key, for "add KEY = VALUE".
fn example_value(key: &str) -> &'static str {
    match key {
        "smtp_url" => "\"smtp://mail.example.com:587?tls=required\"",
        "from" => "\"certs@example.com\"",
        "support_to" => "\"<Centiloc support's address>\"",
        _ => "\"name@example.com\"",
    }
}

/// Why the TOML does not fit, with its line: `Error::Config` ends with "correct that
/// line", so every reason here names one. A missing key names the `[notify]` section.
fn toml_reason(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message();
    let missing = msg
        .strip_prefix("missing field `")
        .and_then(|r| r.split_once('`'))
        .map(|(k, _)| k);
    match missing {
        Some(key) => {
            let line = section_line(text)
                .map(|l| format!("line {l}: "))
                .unwrap_or_default();
            format!(
                "{line}the [notify] section has no {key}; add {key} = {} to it",
                example_value(key)
            )
        }
        None => crate::profile::toml_reason(text, e),
    }
}

/// The line of the `[notify]` header (1-based).
fn section_line(text: &str) -> Option<usize> {
    text.lines()
        .position(|l| l.trim().starts_with("[notify]"))
        .map(|i| i + 1)
}

/// The line (1-based) that sets `key` inside `[notify]`, for value errors.
fn key_line(text: &str, key: &str) -> Option<usize> {
    let start = section_line(text)?;
    text.lines()
        .enumerate()
        .skip(start)
        .take_while(|(_, l)| !l.trim_start().starts_with('['))
        .find(|(_, l)| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map(|(i, _)| i + 1)
}

/// The file as written. Unknown top-level sections are tolerated (other commands may own
/// them); inside `[notify]` a misspelt key is an error, not a silently ignored setting.
#[derive(Debug, Default, Deserialize)]
struct RawConfig {
    #[serde(default)]
    notify: Option<RawNotify>,
    #[serde(default)]
    renewal: Option<RawRenewal>,
}

/// `[renewal]` in config.toml: the default of every profile's `[renewal]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRenewal {
    #[serde(default)]
    request_days: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotify {
    smtp_url: String,
    from: String,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    support_to: Option<String>,
    /// Lets the SMTP password go to a relay on this machine without TLS (issue 14 item 7).
    #[serde(default)]
    allow_plaintext_auth: bool,
}

/// Validated `[notify]` settings.
#[derive(Debug, Clone)]
pub struct Notify {
    pub smtp: SmtpServer,
    pub from: Mailbox,
    /// Overrides every profile's e-mail address for expiry notices.
    pub to: Option<Mailbox>,
    /// Centiloc support's address, for `csr --mail`.
    pub support_to: Option<Mailbox>,
    /// The file these came from, for error messages.
    pub file: PathBuf,
    /// `allow_plaintext_auth = true`: the password may go to this loopback relay
    /// without TLS (checked at load: refused for any other host).
    pub allow_plaintext_auth: bool,
}

/// Where to send: `smtp://host[:port]` (plain, port 25), `smtp://…?tls=required` or
/// `?tls=opportunistic` (STARTTLS, port 587), `smtps://…` (TLS, port 465); an optional
/// user name in the URL (`smtp://user@host`).
#[derive(Debug, Clone)]
pub struct SmtpServer {
    /// The URL as lettre takes it, never holding a password.
    pub url: String,
    /// `host:port`, for messages.
    pub display: String,
    pub user: Option<String>,
    /// The host alone, to tell a loopback relay.
    pub host: String,
    /// TLS before any credentials: `smtps://` or STARTTLS with `tls=required`. Plain
    /// `smtp://` and `tls=opportunistic` (which falls back to plain text) are not.
    pub tls: bool,
}

/// Reads `config.toml`'s `[notify]`; `Ok(None)` when the file or the section is absent.
pub fn load_notify(file: &Path) -> Result<Option<Notify>> {
    let Some(text) = crate::input::read_text_if_exists(file, crate::input::Kind::Settings)? else {
        return Ok(None);
    };
    parse_notify(file, &text)
}

/// The command that stores the SMTP password, as a message says it where this run's
/// flags are unknown; the command layer puts this run's --home in (`Fix::SmtpPassword`).
pub const STORE_SMTP_PASSWORD: &str = "`centiloc-cert credentials --smtp-password-stdin`";

/// `[notify]` from the text of `config.toml`; `file` only names it in errors.
pub fn parse_notify(file: &Path, text: &str) -> Result<Option<Notify>> {
    let bad = |reason: String| Error::Config {
        path: file.to_path_buf(),
        reason,
    };
    let raw: RawConfig = toml::from_str(text).map_err(|e| bad(toml_reason(text, &e)))?;
    let Some(n) = raw.notify else {
        return Ok(None);
    };
    let at = |key: &str| {
        key_line(text, key)
            .map(|l| format!("line {l}: "))
            .unwrap_or_default()
    };
    let address = |field: &str, v: &str| {
        Mailbox::from_str(v).map_err(|_| {
            bad(format!(
                "{}[notify] {field} = {v:?} is not an e-mail address; write name@example.com or \"Name <name@example.com>\"",
                at(field)
            ))
        })
    };
    let smtp = SmtpServer::parse(&n.smtp_url).map_err(|r| bad(format!("{}{r}", at("smtp_url"))))?;
    if n.allow_plaintext_auth && !smtp.is_loopback() {
        return Err(bad(format!(
            "{}[notify] allow_plaintext_auth = true is only for a mail relay on this machine (localhost, 127.0.0.1, ::1), not {}; remove it and use smtps:// or ?tls=required",
            at("allow_plaintext_auth"),
            smtp.host
        )));
    }
    Ok(Some(Notify {
        smtp,
        from: address("from", &n.from)?,
        to: n.to.as_deref().map(|v| address("to", v)).transpose()?,
        support_to: n
            .support_to
            .as_deref()
            .map(|v| address("support_to", v))
            .transpose()?,
        file: file.to_path_buf(),
        allow_plaintext_auth: n.allow_plaintext_auth,
    }))
}

/// `[renewal] request_days` of config.toml: the renewal autopilot's default for profiles
/// that do not set their own; `Ok(None)` when the file, section or key is absent.
pub fn load_request_days(file: &Path) -> Result<Option<u32>> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::read(file, e)),
    };
    let raw: RawConfig = toml::from_str(&text).map_err(|e| Error::Config {
        path: file.to_path_buf(),
        reason: toml_reason(&text, &e),
    })?;
    Ok(raw.renewal.and_then(|r| r.request_days))
}

/// `[notify]` or the error that says how to add it, with an example that also has the
/// `extra` keys `what` needs (`csr --mail`: `support_to`). A missing file or section
/// has no line to correct, so this is not `Error::Config` ("correct that line").
pub fn require_notify(file: &Path, what: &'static str, extra: &[&str]) -> Result<Notify> {
    load_notify(file)?.ok_or_else(|| {
        let mut example = EXAMPLE.to_owned();
        for key in extra {
            example.push_str(&format!("\n    {key} = {}", example_value(key)));
        }
        Error::NotifyNotSetUp {
            path: file.to_owned(),
            lacking: if file.exists() {
                "has no [notify] section"
            } else {
                "does not exist"
            },
            what,
            example,
        }
    })
}

impl SmtpServer {
    /// A relay on this machine: the password never crosses a network.
    pub fn is_loopback(&self) -> bool {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// Checks `smtp_url`; the error text is the reason, for the caller to wrap.
    pub fn parse(s: &str) -> std::result::Result<SmtpServer, String> {
        let url = url::Url::parse(s).map_err(|e| {
            format!("[notify] smtp_url is not a URL ({e}); write smtp://host:port or smtps://host")
        })?;
        if url.password().is_some() {
            // The secret must not sit in a file that is shared and shown in messages.
            return Err(format!(
                "[notify] smtp_url holds a password; remove it from the file and store it with {STORE_SMTP_PASSWORD} (or set {SMTP_PASSWORD_ENV})"
            ));
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("[notify] smtp_url has no host; write smtp://host:port")?;
        let tls = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let port = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => 25,
            ("smtp", Some("required" | "opportunistic")) => 587,
            ("smtp", Some(other)) => {
                return Err(format!(
                    "[notify] smtp_url has tls={other:?}; use tls=required or tls=opportunistic (or smtps:// for TLS from the start)"
                ));
            }
            ("smtps", _) => 465,
            (scheme, _) => {
                return Err(format!(
                    "[notify] smtp_url has scheme {scheme:?}; use smtp:// or smtps://"
                ));
            }
        };
        let port = url.port().unwrap_or(port);
        let user = Some(url.username())
            .filter(|u| !u.is_empty())
            .map(percent_decode);
        Ok(SmtpServer {
            url: s.to_owned(),
            display: format!("{host}:{port}"),
            user,
            host: host.to_owned(),
            tls: url.scheme() == "smtps" || tls.as_deref() == Some("required"),
        })
    }
}

/// `%40` → `@` in a URL user name (e.g. `smtp://me%40example.com@host`).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        if bytes[i] == b'%'
            && let Some(Ok(b)) = hex.map(|h| u8::from_str_radix(h, 16))
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Option<Notify>> {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("config.toml");
        std::fs::write(&f, text).unwrap();
        load_notify(&f)
    }

    #[test]
    fn missing_file_or_section_is_none() {
        assert!(
            load_notify(Path::new("/nonexistent/config.toml"))
                .unwrap()
                .is_none()
        );
        assert!(load("[other]\nx = 1\n").unwrap().is_none());
    }

    #[test]
    fn renewal_default_days() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("config.toml");
        assert_eq!(load_request_days(&f).unwrap(), None);
        std::fs::write(&f, "[renewal]\nrequest_days = 45\n").unwrap();
        assert_eq!(load_request_days(&f).unwrap(), Some(45));
        std::fs::write(&f, "[renewal]\nrequest_day = 45\n").unwrap();
        let e = load_request_days(&f).unwrap_err().to_string();
        assert!(
            e.contains("config.toml") && e.contains("request_day"),
            "{e}"
        );
    }

    #[test]
    fn full_section() {
        let n = load(
            "[notify]\nsmtp_url = \"smtp://me%40x.com@mail.x.com?tls=required\"\nfrom = \"Certs <c@x.com>\"\nto = \"ops@x.com\"\nsupport_to = \"support@centiloc.com\"\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(n.smtp.display, "mail.x.com:587");
        assert_eq!(n.smtp.user.as_deref(), Some("me@x.com"));
        assert_eq!(n.from.email.to_string(), "c@x.com");
        assert_eq!(n.to.unwrap().email.to_string(), "ops@x.com");
        assert_eq!(SmtpServer::parse("smtps://h").unwrap().display, "h:465");
        assert_eq!(
            SmtpServer::parse("smtp://127.0.0.1:2525").unwrap().display,
            "127.0.0.1:2525"
        );
    }

    #[test]
    fn refusals_name_the_file_and_never_echo_a_password() {
        for (text, needle) in [
            (
                "[notify]\nsmtp_url = \"smtp://u:s3cret@h\"\nfrom = \"a@b.co\"\n",
                "CENTILOC_SMTP_PASSWORD",
            ),
            (
                "[notify]\nsmtp_url = \"http://h\"\nfrom = \"a@b.co\"\n",
                "smtp://",
            ),
            (
                "[notify]\nsmtp_url = \"smtp://h?tls=maybe\"\nfrom = \"a@b.co\"\n",
                "tls=required",
            ),
            (
                "[notify]\nsmtp_url = \"smtp://h\"\nfrom = \"nope\"\n",
                "from",
            ),
            (
                "[notify]\nsmtp_url = \"smtp://h\"\nfrom = \"a@b.co\"\nsmtp_password = \"x\"\n",
                "smtp_password",
            ),
            ("[notify]\nfrom = \"a@b.co\"\n", "smtp_url"),
            (
                "# mail\n[notify]\nsmtp_url = \"smtp://h\"\n",
                "line 2: the [notify] section has no from; add from = \"certs@example.com\"",
            ),
            (
                "[notify]\nsmtp_url = \"smtp://h\"\nfrom = \"nope\"\n",
                "line 3: [notify] from = \"nope\"",
            ),
            ("[notify]\nsmtp_url = 3\n", "line 2, column 12"),
        ] {
            let e = load(text).unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains("config.toml") && msg.contains(needle), "{msg}");
            assert!(!msg.contains("s3cret"), "{msg}");
            assert!(
                msg.contains("correct that line") && msg.contains("line "),
                "{msg}"
            );
            assert_eq!(e.exit_code(), crate::exit_codes::ExitCode::Config);
        }
    }

    #[test]
    fn missing_file_or_section_says_add_it_with_an_example() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("config.toml");
        for content in [None, Some("[other]\nx = 1\n")] {
            if let Some(c) = content {
                std::fs::write(&f, c).unwrap();
            }
            let e = require_notify(&f, "check-expiry --notify", &[]).unwrap_err();
            let msg = e.to_string();
            let lacking = if content.is_some() {
                "has no [notify] section"
            } else {
                "does not exist"
            };
            assert!(
                msg.starts_with(&format!(
                    "e-mail is not set up: {} {lacking}; check-expiry --notify needs a [notify] section there",
                    f.display()
                )) && msg.contains("smtp_url = \"smtp://")
                    && msg.contains("from = ")
                    && !msg.contains("support_to")
                    && !msg.contains("invalid")
                    && !msg.contains("correct that line"),
                "{msg}"
            );
            assert_eq!(e.exit_code(), crate::exit_codes::ExitCode::Config);
            // csr --mail also needs support's address: the example has it.
            let e = require_notify(&f, "csr --mail", &["support_to"])
                .unwrap_err()
                .to_string();
            assert!(e.contains("support_to = "), "{e}");
        }
    }
}
