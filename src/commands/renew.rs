//! `renew`: a new key and CSR in `pending/`, the current key and certificate untouched and
//! still used by every command until `install-cert` receives the new certificate.
//! Refused (66) before any certificate is installed: the first CSR is still the way on.
//! With a broken current key it still helps (it makes the key that will replace it), and
//! says that nothing connects meanwhile.

use std::path::Path;

use crate::autopilot::{self, MailSetup};
use crate::cert;
use crate::cli::RenewArgs;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::exit_codes::ExitCode;
use crate::fix::Fix;
use crate::keys::PrivateKey;
use crate::output::{Format, safe};
use crate::paths::ProfilePaths;
use crate::profile::Profile;
use crate::{readiness, renewal, store};
use chrono::Utc;

/// What the current key and certificate do while the renewal waits.
enum Current {
    /// Both usable: they keep the connection working.
    InUse,
    /// The certificate has expired: nothing connects until the new one is installed.
    Expired,
    /// `private-key.pem` cannot be used (the reason): the same, and it is archived then.
    BrokenKey(String),
}

pub fn run(ctx: &Ctx, args: RenewArgs) -> Result<ExitCode> {
    let (paths, profile) = ctx.load()?;
    let _lock = store::lock(&paths.lock())?;
    let install = ctx.fix(Fix::InstallCert);
    if !paths.cert().exists() {
        return Err(nothing_to_renew(ctx, &paths, &profile));
    }
    let current = match PrivateKey::from_file(&paths.key()) {
        Err(e) => Current::BrokenKey(e.to_string()),
        Ok(_) => match cert::load_chain(&paths.cert()) {
            Ok(chain) if chain[0].is_expired(Utc::now()) => Current::Expired,
            _ => Current::InUse,
        },
    };
    // A broken [notify] is found before a key is made.
    let mail = if args.mail {
        Some(MailSetup::prepare(ctx, "renew --mail")?)
    } else {
        None
    };
    let started = renewal::start(&paths, &profile, args.curve, args.force, &install)?;
    let mailed_to = match &mail {
        Some(m) => Some(
            autopilot::mail_pending(&paths, &profile, &m.cfg, &m.templates, &m.mailer, Utc::now())
                .map_err(|e| {
                    e.unsent(
                        &m.cfg.smtp.display,
                        &format!(
                            "the renewal is started (new key and CSR in {}): send the CSR with `{}` when the mail server is back",
                            paths.pending_dir().display(),
                            ctx.fix(Fix::CsrMail)
                        ),
                    )
                })?,
        ),
        None => None,
    };
    let report = Report {
        profile: &paths.name,
        csr_file: &started.csr_file,
        key_file: &started.key_file,
        subject: &started.subject,
        curve: started.curve,
        key_fingerprint_sha256: &started.key_fingerprint,
        resumed: started.resumed,
        archived_to: started.archived.as_deref(),
        current_in_use: matches!(current, Current::InUse),
        current: &current,
        mailed_to: mailed_to.as_ref().map(|m| m.to_string()),
    };
    match args.format {
        Format::Json => ctx.out.report(&report),
        Format::Text => print_text(ctx, &report, &paths.key(), &install),
    }
    Ok(ExitCode::Ok)
}

/// What `renew` did: the JSON document, and what the text is made from.
#[derive(serde::Serialize)]
struct Report<'a> {
    profile: &'a str,
    csr_file: &'a Path,
    key_file: &'a Path,
    subject: &'a str,
    curve: crate::keys::Curve,
    key_fingerprint_sha256: &'a str,
    /// An interrupted `renew` had made the key: it was reused.
    resumed: bool,
    /// Where `--force` moved an abandoned pending key and CSR.
    archived_to: Option<&'a Path>,
    /// The current key and certificate keep the connection working meanwhile.
    current_in_use: bool,
    #[serde(skip)]
    current: &'a Current,
    /// `--mail`: where the CSR went (issue 15).
    mailed_to: Option<String>,
}

/// The refusal before any certificate: a second CSR would only confuse support, the
/// first one is still the way on.
fn nothing_to_renew(ctx: &Ctx, paths: &ProfilePaths, profile: &Profile) -> Error {
    let install = ctx.fix(Fix::InstallCert);
    let key_ok = PrivateKey::from_file(&paths.key()).is_ok();
    let send = if !key_ok {
        format!(
            "{} cannot be used either, so start over",
            paths.key().display()
        )
    } else if paths.csr().exists() {
        format!(
            "send the existing {} to Centiloc support and install their answer with `{install}`",
            paths.csr().display()
        )
    } else {
        format!(
            "make the CSR with `{}`, send it to Centiloc support and install their answer with `{install}`",
            ctx.fix(Fix::Csr)
        )
    };
    Error::NothingToRenew {
        profile: paths.name.clone(),
        next: format!(
            "{send}{} with `{}` (the current key and CSR are archived)",
            if key_ok { ", or start over" } else { "" },
            ctx.cmd(&readiness::init_force_cmd(profile))
        ),
    }
}

fn print_text(ctx: &Ctx, r: &Report, current_key: &Path, install: &str) {
    let o = &ctx.out;
    if let Some(dir) = r.archived_to {
        o.note(format!(
            "the abandoned pending key and CSR are kept in {}",
            dir.display()
        ));
    }
    if r.resumed {
        o.note("reused the pending key an interrupted `renew` had made");
    }
    o.line(format!("Renewal started: wrote {}", r.csr_file.display()));
    o.line(format!("  subject      {}", r.subject));
    o.line(format!(
        "  new key      {} ({}, mode 0600)",
        r.key_file.display(),
        r.curve
    ));
    o.line(format!("  key SHA-256  {}", r.key_fingerprint_sha256));
    match r.current {
        Current::InUse => o.line(
            "The current key and certificate stay in use until the new certificate is installed.",
        ),
        Current::Expired => o.line(
            "The current certificate has expired: this profile cannot connect until the new certificate is installed.",
        ),
        Current::BrokenKey(reason) => {
            o.warn(format!(
                "the current key cannot be used ({}): this profile cannot connect until the new certificate is installed",
                safe(reason)
            ));
            o.line(format!(
                "The new key replaces {} when its certificate is installed; the unusable file is archived then, not deleted.",
                current_key.display()
            ));
        }
    }
    match &r.mailed_to {
        Some(to) => o.line(format!(
            "E-mailed the new CSR to Centiloc support at {to}. Next: install their answer with `{install}`"
        )),
        None => o.line(format!(
            "Next: send {} to Centiloc support (or `{}`), then install their answer with `{install}`",
            r.csr_file.display(),
            ctx.fix(Fix::CsrMail)
        )),
    }
}
