//! `install-ca FILE`: store Centiloc's public CA certificate as `ca-cert.pem`, the trust
//! anchor that verifies the broker (checked: parses, is a CA, not expired).

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::cert;
use crate::cli::InstallCaArgs;
use crate::context::Ctx;
use crate::error::Result;
use crate::exit_codes::ExitCode;
use crate::fix::Fix;
use crate::install;
use crate::output::{Format, safe};
use crate::store;
use crate::time::when;

pub fn run(ctx: &Ctx, args: InstallCaArgs) -> Result<ExitCode> {
    let (paths, _profile) = ctx.load()?;
    let _lock = store::lock(&paths.lock())?;
    let chain = cert::load_chain(&args.file)?;
    let now = Utc::now();
    let source = if args.file.as_os_str() == "-" {
        "the certificate on standard input".to_string()
    } else {
        args.file.display().to_string()
    };
    let warnings = install::check_ca(
        &source,
        &chain,
        now,
        &ctx.with_file(crate::fix::Fix::InstallCert, &args.file),
    )?;
    let pem: String = chain.iter().map(cert::Certificate::to_pem).collect();
    let unchanged = crate::input::read(&paths.ca(), crate::input::Kind::Certificate)
        .is_ok_and(|old| old == pem.as_bytes());
    let archived = if unchanged {
        None
    } else {
        install::replace_archiving(&paths, &paths.ca(), &pem)?
    };

    let ca = &chain[0];
    let report = Report {
        profile: &paths.name,
        ca_file: paths.ca(),
        changed: !unchanged,
        subject: &ca.subject,
        fingerprint_sha256: ca.fingerprint(),
        not_after: ca.not_after,
        days_left: ca.days_left(now),
        certificates: chain.len(),
        archived_to: archived,
        warnings,
    };
    for w in &report.warnings {
        ctx.out.warn(safe(w));
    }
    match args.format {
        Format::Json => ctx.out.report(&report),
        Format::Text => report.print_text(ctx),
    }
    Ok(ExitCode::Ok)
}

/// What `install-ca` did: the JSON document, and what the text is made from.
#[derive(serde::Serialize)]
struct Report<'a> {
    profile: &'a str,
    #[serde(serialize_with = "crate::output::path")]
    ca_file: PathBuf,
    changed: bool,
    subject: &'a str,
    fingerprint_sha256: String,
    #[serde(serialize_with = "crate::time::json")]
    not_after: DateTime<Utc>,
    days_left: i64,
    /// How many certificates the file held (the CA first).
    certificates: usize,
    #[serde(serialize_with = "crate::output::path_opt")]
    archived_to: Option<PathBuf>,
    /// Raw in JSON; escaped on the terminal.
    warnings: Vec<String>,
}

impl Report<'_> {
    fn print_text(&self, ctx: &Ctx) {
        let o = &ctx.out;
        if self.changed {
            o.line(format!("Installed {}", self.ca_file.display()));
        } else {
            o.line(format!(
                "{} already holds this CA certificate; nothing changed.",
                self.ca_file.display()
            ));
        }
        o.line(format!("  subject      {}", safe(self.subject)));
        o.line(format!("  SHA-256      {}", self.fingerprint_sha256));
        o.line(format!(
            "  valid until  {} ({} days left)",
            when(self.not_after),
            self.days_left
        ));
        if let Some(dir) = &self.archived_to {
            o.note(format!(
                "the previous CA certificate is kept in {}",
                dir.display()
            ));
        }
        o.line(format!("Next: {}", ctx.fix(Fix::Status)));
    }
}
