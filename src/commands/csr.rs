//! `csr`: the certificate signing request, from the profile's key and subject.

use crate::cli::CsrArgs;
use crate::config::{self, Notify};
use crate::context::Ctx;
use crate::csr::Subject;
use crate::csr_target;
use crate::error::{Error, Result};
use crate::exit_codes::ExitCode;
use crate::fix::Fix;
use crate::keys::PrivateKey;
use crate::notify::{self, FileAttachment, Mailer, Templates};
use crate::output::Format;
use crate::paths;
use crate::profile::Profile;
use crate::store;
use lettre::message::Mailbox;
use serde::Serialize;

pub fn run(ctx: &Ctx, args: CsrArgs) -> Result<ExitCode> {
    let (paths, profile) = ctx.load()?;
    // Issue 11: a renewal's pending CSR, or a refusal when this key is certified already.
    let target = csr_target::decide(&paths, args.force, &ctx.fix(Fix::Renew))?;
    // Checked before anything is written, so a missing [notify] costs nothing.
    let mail = if args.mail {
        Some(CsrMail::prepare(ctx)?)
    } else {
        None
    };
    let key = PrivateKey::from_file(&target.key)?;
    let subject = Subject::of(&profile);
    let pem = csr_target::request(&target, &key, &subject)?;

    let to_stdout = args.out.as_deref() == Some(std::path::Path::new("-"));
    let dest = match &args.out {
        _ if to_stdout => None,
        Some(file) => {
            store::write_out(file, pem.as_bytes(), args.force)?;
            Some(file.clone())
        }
        None if target.pending => Some(target.csr.clone()),
        None => {
            let _lock = store::lock(&paths.lock())?;
            store::write_atomic(&paths.csr(), pem.as_bytes(), store::Mode::Public)?;
            Some(paths.csr())
        }
    };
    if let Some(note) = csr_target::pending_note(&target, &ctx.fix(Fix::InstallCert)) {
        ctx.out.note(note);
    }

    if let Some(m) = &mail {
        if target.pending {
            // The renewal's letter (it names the certificate replaced), recorded so that
            // check-expiry --notify reminds support rather than sending it again.
            let _lock = store::lock(&paths.lock())?;
            let now = chrono::Utc::now();
            let to = crate::autopilot::mail_pending(
                &paths,
                &profile,
                &m.cfg,
                &m.templates,
                &m.mailer,
                now,
            )?;
            ctx.out.note(format!(
                "e-mailed the pending renewal CSR ({}) to Centiloc support at {to}",
                target.csr.display()
            ));
        } else {
            let to = m.send(&profile, &key, &subject, &pem)?;
            ctx.out
                .note(format!("e-mailed the CSR to Centiloc support at {to}"));
        }
    }

    let report = Report {
        profile: &paths.name,
        csr: to_stdout.then_some(pem.as_str()),
        csr_file: dest.as_deref(),
        subject: subject.openssl_line(),
        curve: key.curve(),
        key_fingerprint_sha256: key.fingerprint(),
        signature_algorithm: signature_name(&key),
        pending_renewal: target.pending,
    };
    match args.format {
        Format::Json => ctx.out.report(&report),
        Format::Text => print_text(ctx, &report, mail.is_some()),
    }
    Ok(ExitCode::Ok)
}

/// What `csr` made: the JSON document, and what the text is made from. `csr` is the
/// PEM when it went to stdout (`--out -`), `csr_file` where it was written otherwise.
#[derive(Serialize)]
struct Report<'a> {
    profile: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    csr: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    csr_file: Option<&'a std::path::Path>,
    subject: String,
    curve: crate::keys::Curve,
    key_fingerprint_sha256: String,
    signature_algorithm: &'static str,
    pending_renewal: bool,
}

fn print_text(ctx: &Ctx, r: &Report, mailed: bool) {
    let o = &ctx.out;
    let Some(dest) = r.csr_file else {
        // stdout carries the CSR alone, so it can be piped; the summary goes to stderr.
        crate::output::write_stdout(r.csr.unwrap_or_default().as_bytes());
        o.note(format!(
            "subject {}, key SHA-256 {}",
            r.subject, r.key_fingerprint_sha256
        ));
        return;
    };
    o.line(format!("Wrote {}", dest.display()));
    o.line(format!("  subject      {}", r.subject));
    o.line(format!(
        "  key          {}, {}",
        r.curve, r.signature_algorithm
    ));
    o.line(format!("  key SHA-256  {}", r.key_fingerprint_sha256));
    if mailed {
        o.line(
            "Next: Centiloc support answers within one working day with your certificate (tls-cert.pem).",
        );
    } else {
        o.line(format!(
            "Next: send {} to Centiloc support (or, with e-mail set up in config.toml, run `{}`); they answer within one working day with your certificate (tls-cert.pem).",
            dest.display(),
            ctx.fix(Fix::CsrMail)
        ));
    }
}

/// `csr --mail`: the CSR attached to a templated message to `[notify] support_to`.
struct CsrMail {
    cfg: Notify,
    support: Mailbox,
    templates: Templates,
    mailer: Mailer,
}

/// The facts the `csr-request` templates get (documented in docs/expiry.md).
#[derive(Serialize)]
struct CsrFacts<'a> {
    organization: &'a str,
    tenant: &'a str,
    email: &'a str,
    subject: String,
    curve: String,
    key_fingerprint: String,
    csr_file_name: &'static str,
}

impl CsrMail {
    fn prepare(ctx: &Ctx) -> Result<CsrMail> {
        let file = ctx.home.config_file();
        let cfg = config::require_notify(&file, "csr --mail", &["support_to"])?;
        let support = cfg.support_to.clone().ok_or_else(|| Error::Config {
            path: file.clone(),
            reason: "[notify] has no support_to, needed by csr --mail; add support_to = \"<Centiloc support's address>\"".into(),
        })?;
        Ok(CsrMail {
            templates: Templates::load(&ctx.home.config_dir)?,
            mailer: notify::mailer(&cfg, ctx)?,
            support,
            cfg,
        })
    }

    /// Sends the message; replies go to the profile's address, where support answers.
    fn send(
        &self,
        profile: &Profile,
        key: &PrivateKey,
        subject: &Subject,
        pem: &str,
    ) -> Result<Mailbox> {
        let facts = CsrFacts {
            organization: &profile.organization,
            tenant: &profile.tenant,
            email: &profile.email,
            subject: subject.openssl_line(),
            curve: key.curve().to_string(),
            key_fingerprint: key.fingerprint(),
            csr_file_name: paths::CSR_FILE,
        };
        let rendered = self.templates.render(notify::Kind::CsrRequest, &facts)?;
        let reply_to: Option<Mailbox> = profile.email.parse().ok();
        let attachment = FileAttachment {
            name: paths::CSR_FILE.into(),
            content_type: "application/pkcs10",
            bytes: pem.as_bytes().to_vec(),
        };
        let msg = notify::build(
            &self.cfg.from,
            &self.support,
            reply_to.as_ref(),
            &rendered,
            Some(attachment),
        )?;
        self.mailer.send(&msg).map_err(|f| f.error)?;
        Ok(self.support.clone())
    }
}

fn signature_name(key: &PrivateKey) -> &'static str {
    match key.curve() {
        crate::keys::Curve::P256 => "ecdsa-with-SHA256",
        crate::keys::Curve::P384 => "ecdsa-with-SHA384",
    }
}
