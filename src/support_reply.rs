//! What Centiloc support sends back, in every form it arrives (issue 11): a PEM or DER
//! certificate, a PKCS#7 bundle (PEM or DER), or support's e-mail reply itself (a saved
//! `.eml`, or the message a mail filter pipes to `install-cert -`). The answer is the
//! certificates found and where each came from; choosing the one for our key is
//! `install`'s job. Pure: bytes in, certificates out (the fuzz target calls [`read`]).
//!
//! MIME is `mail-parser`'s (transfer encodings, charsets, nested multiparts, forwarded
//! `message/rfc822` parts): hand-parsed MIME is where mail tools break.

use std::path::Path;

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

use crate::cert::{self, Certificate};
use crate::error::{Error, Result};
use crate::output::safe;
use crate::{pem_input, pkcs7};

/// Forwarded messages inside forwarded messages are followed this deep.
const MAX_DEPTH: usize = 8;

/// One certificate of the input and where it was found.
#[derive(Debug, Clone)]
pub struct Found {
    pub cert: Certificate,
    /// `attachment "tls-cert.p7b" (application/pkcs7-mime)`, `the text body`... Empty for
    /// a plain certificate file.
    pub place: String,
}

/// Every certificate of one input.
#[derive(Debug, Clone)]
pub struct Received {
    pub found: Vec<Found>,
    /// What the input was: `PEM`, `DER`, `PKCS#7 bundle`, `e-mail "Subject" from x@y`.
    pub form: String,
    /// The order carries no meaning (PKCS#7 is a SET; an e-mail spreads certificates
    /// over parts): the chain is rebuilt from issuer links instead of the file order.
    pub unordered: bool,
}

impl Received {
    pub fn certificates(&self) -> Vec<Certificate> {
        self.found.iter().map(|f| f.cert.clone()).collect()
    }
}

/// Reads the certificates of `bytes` in any form support sends; `path` names the input
/// in errors (`standard input` for `-`).
pub fn read(path: &Path, bytes: &[u8]) -> Result<Received> {
    if looks_like_mail(bytes) {
        return from_mail(path, bytes);
    }
    let (certs, form, unordered) = certificates_in(path, bytes)?;
    Ok(Received {
        found: certs
            .into_iter()
            .map(|cert| Found {
                cert,
                place: String::new(),
            })
            .collect(),
        form: form.into(),
        unordered,
    })
}

/// The certificates of a file or an attachment: PEM (CERTIFICATE and PKCS7 blocks), DER
/// certificate or DER PKCS#7. Returns them, the form's name, and whether it is a bag.
fn certificates_in(path: &Path, bytes: &[u8]) -> Result<(Vec<Certificate>, &'static str, bool)> {
    let bad = |reason: String| Error::BadData {
        path: path.to_path_buf(),
        reason,
    };
    if pem_input::looks_like_pem(bytes) {
        let blocks = pem_input::blocks(path, bytes)?;
        if !blocks.iter().any(|b| pkcs7::is_pem_label(b.tag())) {
            return Ok((cert::parse_chain(path, bytes)?, "PEM", false));
        }
        let mut out = Vec::new();
        for b in &blocks {
            if pkcs7::is_pem_label(b.tag()) {
                out.extend(pkcs7::certificates(b.contents()).map_err(bad)?);
            } else if b.tag() == "CERTIFICATE" {
                out.push(Certificate::from_der(b.contents()).map_err(bad)?);
            }
        }
        return Ok((out, "PKCS#7 bundle (PEM)", true));
    }
    if pkcs7::looks_like(bytes) {
        let certs = pkcs7::certificates(bytes).map_err(bad)?;
        return Ok((certs, "PKCS#7 bundle (DER)", true));
    }
    Ok((cert::parse_chain(path, bytes)?, "DER", false))
}

/// Headers that open an e-mail (RFC 5322, plus what delivery adds); `From ` is the mbox
/// separator a `.forward` pipe or a saved mailbox starts with.
const MAIL_HEADERS: &[&str] = &[
    "return-path",
    "received",
    "delivered-to",
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "reply-to",
    "sender",
    "in-reply-to",
    "references",
    "dkim-signature",
    "arc-seal",
    "arc-message-signature",
    "arc-authentication-results",
    "authentication-results",
    "received-spf",
    "envelope-to",
    "thread-topic",
];

/// Does the input start like an e-mail message? Decided by its first line, so that PEM
/// with prose around it (`openssl x509 -text` output) is not taken for mail.
pub fn looks_like_mail(bytes: &[u8]) -> bool {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = b.split(|&c| c == b'\n').next().unwrap_or_default();
    if first.starts_with(b"From ") {
        return true;
    }
    let Some(colon) = first.iter().position(|&c| c == b':') else {
        return false;
    };
    let name = String::from_utf8_lossy(&first[..colon]).to_ascii_lowercase();
    MAIL_HEADERS.contains(&name.as_str()) || name.starts_with("x-")
}

/// What an e-mail holds: certificates with their places, and an inventory of its parts
/// for the error when there is none.
#[derive(Default)]
struct Walk {
    found: Vec<Found>,
    parts: Vec<String>,
}

fn from_mail(path: &Path, bytes: &[u8]) -> Result<Received> {
    let bad = |reason: String| Error::BadData {
        path: path.to_path_buf(),
        reason,
    };
    let msg = MessageParser::default()
        .parse(bytes)
        .ok_or_else(|| bad("looks like an e-mail but cannot be read as one".into()))?;
    let form = describe_message(&msg);
    let mut walk = Walk::default();
    walk_message(&msg, "", 0, &mut walk);
    if walk.found.is_empty() {
        let parts = if walk.parts.is_empty() {
            "nothing".to_string()
        } else {
            walk.parts.join(", ")
        };
        return Err(bad(format!(
            "the {form} holds no certificate (it contains: {parts}); ask Centiloc support to attach the signed certificate (tls-cert.pem), or save the certificate from the reply and install that file"
        )));
    }
    Ok(Received {
        found: walk.found,
        form,
        unordered: true,
    })
}

/// `e-mail "Re: CSR" from support@example.com`, made terminal-safe.
fn describe_message(msg: &Message<'_>) -> String {
    let subject = msg
        .subject()
        .map(|s| format!(" \"{}\"", safe(s)))
        .unwrap_or_else(|| " without subject".into());
    let from = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(|a| format!(" from {}", safe(a)))
        .unwrap_or_default();
    format!("e-mail{subject}{from}")
}

fn walk_message(msg: &Message<'_>, prefix: &str, depth: usize, walk: &mut Walk) {
    for part in &msg.parts {
        match &part.body {
            PartType::Multipart(_) => {}
            PartType::Message(inner) => {
                let here = format!("{prefix}forwarded {}", describe_message(inner));
                walk.parts.push(here.clone());
                if depth < MAX_DEPTH {
                    walk_message(inner, &format!("{here}: "), depth + 1, walk);
                }
            }
            PartType::Text(text) | PartType::Html(text) => {
                let html = matches!(part.body, PartType::Html(_));
                let place = format!("{prefix}{}", part_name(part, html));
                walk.parts.push(place.clone());
                let text = if html {
                    html_text(text)
                } else {
                    text.to_string()
                };
                if pem_input::looks_like_pem(text.as_bytes()) {
                    take(walk, &place, text.as_bytes());
                }
            }
            PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
                let place = format!("{prefix}{}", part_name(part, false));
                walk.parts.push(place.clone());
                take(walk, &place, bytes);
            }
        }
    }
}

/// Adds the certificates of one part; a part that holds none is only inventory, with
/// the reason when it was meant to be a certificate (a damaged attachment).
fn take(walk: &mut Walk, place: &str, bytes: &[u8]) {
    match certificates_in(Path::new(place), bytes) {
        Ok((certs, _, _)) => walk.found.extend(certs.into_iter().map(|cert| Found {
            cert,
            place: place.to_owned(),
        })),
        Err(Error::BadData { reason, .. }) if meant_as_certificate(place) => {
            if let Some(last) = walk.parts.last_mut() {
                last.push_str(&format!(" which is not readable: {}", safe(&reason)));
            }
        }
        Err(_) => {}
    }
}

/// Does a part's name or type say it carries a certificate?
fn meant_as_certificate(place: &str) -> bool {
    let p = place.to_ascii_lowercase();
    [
        ".pem",
        ".crt",
        ".cer",
        ".der",
        ".p7b",
        ".p7c",
        "x509",
        "pkix-cert",
        "pkcs7",
    ]
    .iter()
    .any(|k| p.contains(k))
}

/// `attachment "tls-cert.pem" (application/x-pem-file)`, or `the text body`.
fn part_name(part: &mail_parser::MessagePart<'_>, html: bool) -> String {
    let mime = part
        .content_type()
        .map(|c| match c.subtype() {
            Some(sub) => format!("{}/{sub}", c.ctype()),
            None => c.ctype().to_string(),
        })
        .unwrap_or_else(|| "text/plain".into());
    match part.attachment_name() {
        Some(name) => format!("attachment \"{}\" ({})", safe(name), safe(&mime)),
        None if html => "the HTML body".into(),
        None if part.is_text() => "the text body".into(),
        None => format!("an unnamed {} part", safe(&mime)),
    }
}

/// The text of an HTML body, enough for PEM pasted into it: line breaks from `<br>`,
/// `<p>` and `<div>`, other tags dropped, the entities mail clients write for base64's
/// `+`, `/`, `=` and for spaces decoded, blank lines dropped.
fn html_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let Some(gt) = rest[lt..].find('>') else {
            rest = "";
            break;
        };
        let tag = rest[lt + 1..lt + gt]
            .trim_start_matches('/')
            .to_ascii_lowercase();
        if ["br", "p", "div", "pre", "tr", "li"].iter().any(|t| {
            tag == *t || tag.starts_with(&format!("{t} ")) || tag.starts_with(&format!("{t}/"))
        }) {
            out.push('\n');
        }
        rest = &rest[lt + gt + 1..];
    }
    out.push_str(rest);
    [
        ("&nbsp;", " "),
        ("&#43;", "+"),
        ("&#x2B;", "+"),
        ("&#47;", "/"),
        ("&#x2F;", "/"),
        ("&#61;", "="),
        ("&#x3D;", "="),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&amp;", "&"),
    ]
    .iter()
    .fold(out, |s, (from, to)| s.replace(from, to))
    // A `<br>` at the end of a source line makes two breaks; PEM wants no blank lines.
    .lines()
    .map(str::trim)
    .filter(|l| !l.is_empty())
    .collect::<Vec<_>>()
    .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_is_told_from_pem_with_prose() {
        assert!(looks_like_mail(b"From support@example.com Mon Nov 30\n"));
        assert!(looks_like_mail(b"Return-Path: <a@b>\r\n"));
        assert!(looks_like_mail(b"\xEF\xBB\xBFSubject: your certificate\n"));
        assert!(looks_like_mail(b"X-Mailer: x\n"));
        assert!(!looks_like_mail(b"Certificate:\n    Data:\n"));
        assert!(!looks_like_mail(b"-----BEGIN CERTIFICATE-----\n"));
        assert!(!looks_like_mail(b"\x30\x82\x01\x00"));
    }

    #[test]
    fn html_keeps_pem_lines() {
        let t = html_text(
            "<p>Hello</p><pre>-----BEGIN X-----<br>AB&#43;/&#61;<br/>-----END X-----</pre>",
        );
        assert_eq!(t, "Hello\n-----BEGIN X-----\nAB+/=\n-----END X-----");
    }

    #[test]
    fn a_damaged_certificate_attachment_says_why() {
        let mail = b"From: s@example.com\r\nSubject: cert\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/x-x509-user-cert; name=tls-cert.crt\r\nContent-Transfer-Encoding: base64\r\n\r\nMIIBAA==\r\n--b--\r\n";
        let e = read(Path::new("m"), mail).unwrap_err().to_string();
        assert!(
            e.contains("attachment \"tls-cert.crt\" (application/x-x509-user-cert) which is not readable: not a valid X.509 certificate"),
            "{e}"
        );
    }

    #[test]
    fn a_mail_without_certificate_lists_its_parts() {
        let mail = b"From: Support <support@example.com>\r\nSubject: Re: CSR\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--b\r\nContent-Type: application/pdf; name=invoice.pdf\r\nContent-Disposition: attachment; filename=invoice.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n";
        let e = read(Path::new("reply.eml"), mail).unwrap_err().to_string();
        assert!(
            e.contains("the e-mail \"Re: CSR\" from support@example.com holds no certificate (it contains: the text body, attachment \"invoice.pdf\" (application/pdf))"),
            "{e}"
        );
    }
}
