//! `renew`: a new key and CSR in `pending/`, the current key and certificate untouched and
//! still used by every command until `install-cert` receives the new certificate.

use serde_json::json;

use super::Ctx;
use crate::cli::RenewArgs;
use crate::error::Result;
use crate::exit_codes::ExitCode;
use crate::output::Format;
use crate::{renewal, store};

pub fn run(ctx: &Ctx, args: RenewArgs) -> Result<ExitCode> {
    let (paths, profile) = ctx.load()?;
    let _lock = store::lock(&paths.lock())?;
    let install = ctx.cmd("install-cert FILE");
    let started = renewal::start(&paths, &profile, args.curve, args.force, &install)?;
    if args.format == Format::Json {
        ctx.out.json(&json!({
            "profile": paths.name,
            "csr_file": started.csr_file,
            "key_file": started.key_file,
            "subject": started.subject,
            "curve": started.curve,
            "key_fingerprint_sha256": started.key_fingerprint,
            "resumed": started.resumed,
            "archived_to": started.archived,
        }));
        return Ok(ExitCode::Ok);
    }
    let o = &ctx.out;
    if let Some(dir) = &started.archived {
        o.note(format!(
            "the abandoned pending key and CSR are kept in {}",
            dir.display()
        ));
    }
    if started.resumed {
        o.note("reused the pending key an interrupted `renew` had made");
    }
    o.line(format!(
        "Renewal started: wrote {}",
        started.csr_file.display()
    ));
    o.line(format!("  subject      {}", started.subject));
    o.line(format!(
        "  new key      {} ({}, mode 0600)",
        started.key_file.display(),
        started.curve
    ));
    o.line(format!("  key SHA-256  {}", started.key_fingerprint));
    o.line("The current key and certificate stay in use until the new certificate is installed.");
    o.line(format!(
        "Next: send {} to Centiloc support, then install their answer with `{install}`",
        started.csr_file.display()
    ));
    Ok(ExitCode::Ok)
}
