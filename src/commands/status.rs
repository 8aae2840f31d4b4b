//! `status`: the readiness checklist, ✓/✗ per item with the command that fixes it. Exit 0
//! only when everything needed to connect is there (66 missing, 65 wrong).

use chrono::Utc;
use serde_json::json;

use crate::cli::StatusArgs;
use crate::context::Ctx;
use crate::error::Result;
use crate::exit_codes::ExitCode;
use crate::fix::Fix;
use crate::output::{Format, safe};
use crate::readiness::{self, State};
use crate::time::when;

pub fn run(ctx: &Ctx, args: StatusArgs) -> Result<ExitCode> {
    let (paths, profile) = ctx.load()?;
    let now = Utc::now();
    let list = readiness::assess(&paths, &profile, &|rest| ctx.cmd(rest), now);
    let code = list.exit_code();
    if args.format == Format::Json {
        let cert = list.certificate.as_ref().map(|c| {
            json!({
                "subject": c.subject,
                "serial": c.serial,
                "fingerprint_sha256": c.fingerprint(),
                "not_before": crate::time::rfc3339(c.not_before),
                "not_after": crate::time::rfc3339(c.not_after),
                "days_left": c.days_left(now),
            })
        });
        ctx.out.json(&json!({
            "profile": paths.name,
            "tenant": profile.tenant,
            "dir": paths.dir,
            "ready": code == ExitCode::Ok,
            "exit_code": code.code(),
            "checks": list.checks,
            "certificate": cert,
        }));
        return Ok(code);
    }
    // The checklist is the answer, so it prints even with --quiet only when it is not
    // all good: a quiet cron job stays silent while ready.
    if ctx.out.quiet && code == ExitCode::Ok {
        return Ok(code);
    }
    let width = list
        .checks
        .iter()
        .map(|c| c.label().len())
        .max()
        .unwrap_or(0);
    let mut text = format!(
        "Profile {:?} (tenant {}) in {}\n",
        paths.name,
        safe(&profile.tenant),
        paths.dir.display()
    );
    for c in &list.checks {
        text.push_str(&format!(
            "{} {:width$}  {}\n",
            c.state.mark(),
            c.label(),
            safe(&c.detail)
        ));
        if let Some(h) = &c.hint
            && c.state != State::Ok
        {
            text.push_str(&format!("    → {}\n", safe(h)));
        }
    }
    let count = |s: State| list.checks.iter().filter(|c| c.state == s).count();
    text.push_str(&match code {
        ExitCode::Ok => match &list.certificate {
            Some(c) => format!(
                "Ready to connect (certificate valid until {}). Next: {}",
                when(c.not_after),
                ctx.fix(Fix::TestConnect)
            ),
            None => "Ready to connect.".into(),
        },
        _ => format!(
            "Not ready to connect: {} missing, {} wrong. Follow the → hints above.",
            count(State::Missing),
            count(State::Wrong)
        ),
    });
    ctx.out.text(format!("{text}\n"));
    Ok(code)
}
