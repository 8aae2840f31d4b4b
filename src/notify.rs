//! E-mail: rendering (pure: templates + facts → subject, text, HTML) and sending (lettre
//! over SMTP, the edge). SPEC: Notifications. Templates are compiled in from `templates/`
//! and a file of the same name in the config directory replaces the built-in one.

use std::path::Path;
use std::time::Duration;

use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Message, SmtpTransport, Transport};
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::config::Notify;
use crate::error::{Error, Result};
use crate::input;

/// Built-in templates, by file name.
const BUILTIN: &[(&str, &str)] = &[
    (
        "expiry-notice.subject.txt",
        include_str!("../templates/expiry-notice.subject.txt"),
    ),
    (
        "expiry-notice.txt",
        include_str!("../templates/expiry-notice.txt"),
    ),
    (
        "expiry-notice.html",
        include_str!("../templates/expiry-notice.html"),
    ),
    (
        "csr-request.subject.txt",
        include_str!("../templates/csr-request.subject.txt"),
    ),
    (
        "csr-request.txt",
        include_str!("../templates/csr-request.txt"),
    ),
    (
        "csr-request.html",
        include_str!("../templates/csr-request.html"),
    ),
    (
        "renewal-request.subject.txt",
        include_str!("../templates/renewal-request.subject.txt"),
    ),
    (
        "renewal-request.txt",
        include_str!("../templates/renewal-request.txt"),
    ),
    (
        "renewal-request.html",
        include_str!("../templates/renewal-request.html"),
    ),
];

/// A family of templates: `<kind>.subject.txt`, `<kind>.txt`, `<kind>.html`.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    ExpiryNotice,
    CsrRequest,
    /// The renewal's CSR to support, and the reminders (issue 15).
    RenewalRequest,
}

impl Kind {
    fn stem(self) -> &'static str {
        match self {
            Kind::ExpiryNotice => "expiry-notice",
            Kind::CsrRequest => "csr-request",
            Kind::RenewalRequest => "renewal-request",
        }
    }
}

/// A rendered message, ready to send or to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    /// `None` when the HTML template renders to nothing (an empty override).
    pub html: Option<String>,
}

/// The templates in force: built-ins, each replaced by an override file if one exists.
pub struct Templates {
    env: Environment<'static>,
    /// Where each template came from, for error messages.
    /// Name → (where it came from, its source text), for error messages.
    origin: Vec<(String, (String, String))>,
}

impl Templates {
    /// Loads the built-ins and any overrides in `config_dir`.
    pub fn load(config_dir: &Path) -> Result<Templates> {
        let mut env = Environment::new();
        // A misspelt variable in an override is a mistake to report, not an empty string.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let mut origin = Vec::new();
        for (name, builtin) in BUILTIN {
            let file = config_dir.join(name);
            let (source, from) = match input::read_text_if_exists(&file, input::Kind::Settings)? {
                Some(text) => (text, file.display().to_string()),
                None => ((*builtin).to_owned(), format!("built-in {name}")),
            };
            env.add_template_owned(*name, source.clone())
                .map_err(|e| template_error(&from, &source, &e))?;
            origin.push(((*name).to_owned(), (from, source)));
        }
        Ok(Templates { env, origin })
    }

    /// Renders the subject, text and HTML of `kind` with `facts`.
    pub fn render(&self, kind: Kind, facts: &impl Serialize) -> Result<Rendered> {
        let stem = kind.stem();
        let ctx = minijinja::Value::from(minijinja::value::Serde(facts));
        let one = |suffix: &str| -> Result<String> {
            let name = format!("{stem}{suffix}");
            let (from, source) = self
                .origin
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, o)| o.clone())
                .unwrap_or_else(|| (name.clone(), String::new()));
            self.env
                .get_template(&name)
                .and_then(|t| t.render(&ctx))
                .map_err(|e| template_error(&from, &source, &e))
        };
        let subject = one(".subject.txt")?;
        // A subject is one header line: folding or injected headers are not wanted.
        let subject = subject
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("centiloc-cert")
            .to_owned();
        let html = one(".html")?;
        Ok(Rendered {
            subject,
            text: one(".txt")?,
            html: Some(html).filter(|h| !h.trim().is_empty()),
        })
    }
}

/// The error with its line, quoted, so that "undefined value" shows which variable.
fn template_error(from: &str, source: &str, e: &minijinja::Error) -> Error {
    let mut reason = e.to_string();
    if let Some(line) = e.line() {
        let text = source
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or("")
            .trim();
        reason = format!("line {line} `{}`: {reason}", crate::output::safe(text));
    }
    Error::Template {
        origin: from.to_owned(),
        reason,
    }
}

/// A file to attach (the CSR for `csr --mail`).
pub struct FileAttachment {
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// Assembles the MIME message: text, optional HTML alternative, optional attachment.
pub fn build(
    from: &Mailbox,
    to: &Mailbox,
    reply_to: Option<&Mailbox>,
    msg: &Rendered,
    attachment: Option<FileAttachment>,
) -> Result<Message> {
    // Message-ID (`<uuid@hostname>`) and Date: spam filters and mail clients expect both
    // from the sender, and a relay may not add them. lettre adds Date when it is unset;
    // setting it here keeps that explicit.
    let mut b = Message::builder()
        .message_id(None)
        .date_now()
        .from(from.clone())
        .to(to.clone())
        .subject(&msg.subject);
    if let Some(r) = reply_to {
        b = b.reply_to(r.clone());
    }
    let text = SinglePart::plain(msg.text.clone());
    let body = match &msg.html {
        Some(html) => MultiPart::alternative()
            .singlepart(text)
            .singlepart(SinglePart::html(html.clone())),
        None => MultiPart::mixed().singlepart(text),
    };
    let body = match attachment {
        Some(a) => {
            let ct = ContentType::parse(a.content_type).unwrap_or(ContentType::TEXT_PLAIN);
            let part = Attachment::new(a.name).body(a.bytes, ct);
            MultiPart::mixed().multipart(body).singlepart(part)
        }
        None => body,
    };
    b.multipart(body)
        .map_err(|e| Error::smtp("(message)", format!("cannot build the e-mail: {e}")))
}

/// How a message is shown by `--dry-run`: headers a person reads, then the text body.
pub fn preview(from: &Mailbox, to: &Mailbox, msg: &Rendered) -> String {
    let mut s = format!(
        "From: {from}\nTo: {to}\nSubject: {}\n\n{}",
        msg.subject, msg.text
    );
    if !s.ends_with('\n') {
        s.push('\n');
    }
    if let Some(h) = &msg.html {
        s.push_str(&format!("[HTML alternative: {} bytes]\n", h.len()));
    }
    s
}

/// Why a send failed, and whether the server could be reached at all (then trying more
/// messages in this run is pointless).
#[derive(Debug)]
pub struct SendFailure {
    pub error: Error,
    pub unreachable: bool,
}

/// An SMTP connection setting, ready to send.
pub struct Mailer {
    transport: SmtpTransport,
    server: String,
    /// The command that stores the SMTP password, for a refused login's fix.
    store_cmd: String,
    /// Said before sending: the password goes to a loopback relay without TLS.
    pub warning: Option<String>,
}

impl Mailer {
    /// Prepares the transport from `[notify]` and `CENTILOC_SMTP_PASSWORD` or the
    /// `smtp-password` file beside config.toml.
    /// `store_cmd` is the command that stores the password, for the error without one.
    pub fn new(cfg: &Notify, store_cmd: &str) -> Result<Mailer> {
        let server = format!("{} ({})", cfg.smtp.display, cfg.file.display());
        let mut builder = SmtpTransport::from_url(&cfg.smtp.url).map_err(|e| Error::Config {
            path: cfg.file.clone(),
            reason: format!("[notify] smtp_url cannot be used ({e})"),
        })?;
        let password = crate::credentials::read_smtp_password(&cfg.file)?;
        let logs_in = cfg.smtp.user.is_some() || password.is_some();
        let warning = cleartext_check(cfg, logs_in)?;
        let password = password.map(|p| p.to_string());
        match (&cfg.smtp.user, password) {
            (Some(user), Some(pw)) => {
                builder = builder.credentials(Credentials::new(user.clone(), pw));
            }
            (Some(user), None) => {
                return Err(Error::SmtpPassword {
                    server: cfg.smtp.display.clone(),
                    user: user.clone(),
                    store_cmd: store_cmd.to_owned(),
                });
            }
            // A password with no user in the URL: log in as the sender, as most providers
            // expect.
            (None, Some(pw)) => {
                builder = builder.credentials(Credentials::new(cfg.from.email.to_string(), pw));
            }
            (None, None) => {}
        }
        Ok(Mailer {
            transport: builder.timeout(Some(Duration::from_secs(20))).build(),
            server,
            store_cmd: store_cmd.to_owned(),
            warning,
        })
    }

    /// A refused login (RFC 4954: 530 authentication required, 534/535 refused) is the
    /// user and password to check, not the server.
    fn fix_for(&self, e: &lettre::transport::smtp::Error) -> String {
        let code = e.status().map(|c| c.to_string());
        match code.as_deref() {
            Some("530" | "534" | "535") => format!(
                "check the user in [notify] smtp_url and the SMTP password (store it with `{}`, or set CENTILOC_SMTP_PASSWORD)",
                self.store_cmd
            ),
            _ => crate::error::SMTP_FIX.into(),
        }
    }

    pub fn send(&self, msg: &Message) -> std::result::Result<(), SendFailure> {
        self.transport.send(msg).map(|_| ()).map_err(|e| {
            let unreachable = !e.is_permanent() && !e.is_transient();
            SendFailure {
                error: Error::Smtp {
                    server: self.server.clone(),
                    reason: smtp_reason(&e),
                    fix: self.fix_for(&e),
                },
                unreachable,
            }
        })
    }
}

/// [`Mailer::new`], saying its warning (if any) through `out` before anything is sent.
pub fn mailer(cfg: &Notify, ctx: &crate::context::Ctx) -> Result<Mailer> {
    let m = Mailer::new(cfg, &ctx.fix(crate::fix::Fix::SmtpPassword))?;
    if let Some(w) = &m.warning {
        ctx.out.warn(w);
    }
    Ok(m)
}

/// Credentials go to an SMTP server only over TLS (issue 14 item 7: `AUTH PLAIN` went
/// over plain TCP); a loopback relay may be allowed in clear by
/// `[notify] allow_plaintext_auth = true`, with the warning returned here.
fn cleartext_check(cfg: &Notify, logs_in: bool) -> Result<Option<String>> {
    if !logs_in || cfg.smtp.tls {
        return Ok(None);
    }
    if cfg.allow_plaintext_auth {
        return Ok(Some(format!(
            "sending the SMTP password to {} without TLS, as [notify] allow_plaintext_auth allows for this relay on this machine",
            cfg.smtp.display
        )));
    }
    Err(Error::SmtpCleartext {
        server: cfg.smtp.display.clone(),
        file: cfg.file.clone(),
        loopback: cfg.smtp.is_loopback(),
    })
}

/// lettre's error as a phrase a person can act on. Its own text names its internals
/// ("internal client error", "received corrupt message of type InvalidContentType",
/// "(os error 11)"), which must not reach users (issue 10 item 4). Never holds the
/// password: lettre reports server replies and I/O errors only.
fn smtp_reason(e: &lettre::transport::smtp::Error) -> String {
    if let Some(code) = e.status() {
        // "permanent error (535): 5.7.8 Authentication credentials invalid"
        let text = e.to_string();
        let said = text.split_once("): ").map_or("", |(_, t)| t.trim());
        return format!("the server answered {code} {said}")
            .trim_end()
            .to_owned();
    }
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        if let Some(t) = c.downcast_ref::<rustls::Error>() {
            return tls_reason(t);
        }
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return io_reason(io);
        }
        src = c.source();
    }
    let text = e.to_string();
    if text.contains("STARTTLS is not supported") {
        return "the server does not offer STARTTLS, which ?tls=required asks for (a server that speaks TLS from the first byte wants smtps://)".into();
    }
    if text.contains("No compatible authentication mechanism") {
        return "the server offers no way to log in that this tool knows (PLAIN or LOGIN); if it needs no password, remove the user from smtp_url".into();
    }
    text.split_once(": ")
        .map_or(text.clone(), |(_, t)| t.to_owned())
}

fn tls_reason(t: &rustls::Error) -> String {
    match t {
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            "the server does not speak TLS on this port (smtps:// expects TLS from the first byte; a server that starts in plain text and offers STARTTLS wants smtp://…?tls=required)".into()
        }
        other => format!(
            "the TLS handshake failed: {}",
            crate::mqtt::tls::describe(other)
        ),
    }
}

fn io_reason(io: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    if let Some(t) = io.get_ref().and_then(|r| r.downcast_ref::<rustls::Error>()) {
        return tls_reason(t);
    }
    match io.kind() {
        K::ConnectionRefused => "the connection was refused: nothing listens on that port".into(),
        // A socket read timeout shows as EAGAIN (WouldBlock) on Linux.
        K::TimedOut | K::WouldBlock => "the server did not answer within 20 seconds".into(),
        K::ConnectionReset | K::ConnectionAborted | K::UnexpectedEof | K::BrokenPipe => {
            "the server closed the connection".into()
        }
        _ if io.to_string().contains("failed to lookup address") => {
            "its host name cannot be resolved (check the spelling and this machine's DNS)".into()
        }
        _ => crate::error::io_reason(io),
    }
}

/// This machine's name, for the message footer.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this machine".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expiry_facts(days_left: i64, expired: bool) -> serde_json::Value {
        json!({
            "profile": "default", "tenant": "acme", "organization": "ACME <Corp>",
            "kind": "client", "subject": "CN=acme", "serial": "10:00",
            "fingerprint": "AA:BB", "not_after": "2026-12-01 08:00 UTC",
            "days_left": days_left, "expired": expired, "file": "/p/tls-cert.pem",
            "distance": if days_left == 0 { "5 hours".to_string() } else { format!("{} day{}", days_left.abs(), if days_left.abs() == 1 { "" } else { "s" }) },
            "pending_since": null, "renewal_requested": null, "renewal_requested_to": null, "steps": ["centiloc-cert renew", "send it", "centiloc-cert install-cert FILE"],
            "hostname": "h", "thresholds": "30, 14, 7, 3, 1", "notice": "30",
        })
    }

    #[test]
    fn builtin_expiry_notice_states_the_facts_and_steps() {
        let d = tempfile::tempdir().unwrap();
        let t = Templates::load(d.path()).unwrap();
        let r = t
            .render(Kind::ExpiryNotice, &expiry_facts(24, false))
            .unwrap();
        assert_eq!(
            r.subject,
            "24 days left: Centiloc User-MQTT client certificate of tenant acme (default)"
        );
        for fact in [
            "acme",
            "10:00",
            "AA:BB",
            "2026-12-01 08:00 UTC",
            "in 24 days",
            "1. centiloc-cert renew",
            "3. centiloc-cert install-cert FILE",
        ] {
            assert!(r.text.contains(fact), "{fact} missing from:\n{}", r.text);
        }
        let html = r.html.unwrap();
        assert!(
            html.contains("ACME &lt;Corp&gt;"),
            "HTML is escaped: {html}"
        );
        assert!(r.text.contains("ACME <Corp>"), "text is not escaped");
        let r = t
            .render(Kind::ExpiryNotice, &expiry_facts(-2, true))
            .unwrap();
        assert!(r.subject.starts_with("EXPIRED: "), "{}", r.subject);
        assert!(r.text.contains("(2 days ago)"), "{}", r.text);
        // Within the last day before notAfter: hours, never "in 0 days".
        let r = t
            .render(Kind::ExpiryNotice, &expiry_facts(0, false))
            .unwrap();
        assert!(r.subject.starts_with("5 hours left: "), "{}", r.subject);
        assert!(r.text.contains("within 24 hours, in 5 hours"), "{}", r.text);
        assert!(!r.text.contains("0 day"), "{}", r.text);
        assert!(!r.html.unwrap().contains("0 day"));
    }

    #[test]
    fn override_file_wins_and_a_typo_is_reported_with_its_file() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("expiry-notice.subject.txt"),
            "Renew {{ tenant }}\n",
        )
        .unwrap();
        std::fs::write(d.path().join("expiry-notice.html"), "").unwrap();
        let t = Templates::load(d.path()).unwrap();
        let r = t
            .render(Kind::ExpiryNotice, &expiry_facts(24, false))
            .unwrap();
        assert_eq!(r.subject, "Renew acme");
        assert_eq!(r.html, None);
        std::fs::write(d.path().join("expiry-notice.txt"), "{{ tenat }}").unwrap();
        let t = Templates::load(d.path()).unwrap();
        let e = t
            .render(Kind::ExpiryNotice, &expiry_facts(24, false))
            .unwrap_err();
        assert!(e.to_string().contains("expiry-notice.txt"), "{e}");
        assert_eq!(e.exit_code(), crate::exit_codes::ExitCode::Config);
    }

    #[test]
    fn message_has_text_html_and_attachment() {
        let from: Mailbox = "Certs <c@x.com>".parse().unwrap();
        let to: Mailbox = "s@y.com".parse().unwrap();
        let r = Rendered {
            subject: "S".into(),
            text: "T".into(),
            html: Some("<p>H</p>".into()),
        };
        let att = FileAttachment {
            name: "certificate-request.csr".into(),
            content_type: "application/pkcs10",
            bytes: b"CSR".to_vec(),
        };
        let m = build(&from, &to, None, &r, Some(att)).unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        let headers = &raw[..raw.find("\r\n\r\n").unwrap()];
        for name in ["Message-ID: <", "Date: "] {
            assert!(
                headers.lines().any(|l| l.starts_with(name)),
                "{name} missing:\n{headers}"
            );
        }
        for needle in [
            "multipart/mixed",
            "multipart/alternative",
            "text/html",
            "application/pkcs10",
            "certificate-request.csr",
        ] {
            assert!(raw.contains(needle), "{needle} missing:\n{raw}");
        }
        assert!(
            preview(&from, &to, &r)
                .starts_with("From: Certs <c@x.com>\nTo: s@y.com\nSubject: S\n\nT\n")
        );
    }
}
