//! `install-ca FILE`: store Centiloc's public CA certificate as `ca-cert.pem`, the trust
//! anchor that verifies the broker (checked: parses, is a CA, not expired).

use chrono::Utc;
use serde_json::json;

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
    if args.format == Format::Json {
        ctx.out.json(&json!({
            "profile": paths.name,
            "ca_file": paths.ca(),
            "changed": !unchanged,
            "subject": ca.subject,
            "fingerprint_sha256": ca.fingerprint(),
            "not_after": crate::time::rfc3339(ca.not_after),
            "days_left": ca.days_left(now),
            "certificates": chain.len(),
            "archived_to": archived,
            "warnings": warnings,
        }));
    }
    for w in &warnings {
        ctx.out.warn(safe(w));
    }
    if args.format == Format::Json {
        return Ok(ExitCode::Ok);
    }
    let o = &ctx.out;
    if unchanged {
        o.line(format!(
            "{} already holds this CA certificate; nothing changed.",
            paths.ca().display()
        ));
    } else {
        o.line(format!("Installed {}", paths.ca().display()));
    }
    o.line(format!("  subject      {}", safe(&ca.subject)));
    o.line(format!("  SHA-256      {}", ca.fingerprint()));
    o.line(format!(
        "  valid until  {} ({} days left)",
        when(ca.not_after),
        ca.days_left(now)
    ));
    if let Some(dir) = archived {
        o.note(format!(
            "the previous CA certificate is kept in {}",
            dir.display()
        ));
    }
    o.line(format!("Next: {}", ctx.fix(Fix::Status)));
    Ok(ExitCode::Ok)
}
