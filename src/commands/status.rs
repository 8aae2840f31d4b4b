//! `status`: the readiness checklist, ✓/✗ per item with the command that fixes it. Exit 0
//! only when everything needed to connect is there (66 missing, 65 wrong).

use chrono::Utc;

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
    // Never a replacement or promotion half done (issue 14 item 12).
    let _read = crate::store::read_lock(&paths.lock());
    let now = Utc::now();
    let list = readiness::assess(&paths, &profile, &|rest| ctx.cmd(rest), now);
    let code = list.exit_code();
    let report = Report {
        profile: &paths.name,
        tenant: &profile.tenant,
        dir: &paths.dir,
        ready: code == ExitCode::Ok,
        exit_code: code.code(),
        checks: &list.checks,
        certificate: list.certificate.as_ref().map(|c| CertFacts {
            subject: &c.subject,
            serial: &c.serial,
            fingerprint_sha256: c.fingerprint(),
            not_before: c.not_before,
            not_after: c.not_after,
            days_left: c.days_left(now),
        }),
    };
    match args.format {
        Format::Json => ctx.out.report(&report),
        // The checklist is the answer, so it prints even with --quiet only when it is
        // not all good: a quiet cron job stays silent while ready.
        Format::Text if ctx.out.quiet && report.ready => {}
        Format::Text => ctx.out.text(text(ctx, &report)),
    }
    Ok(code)
}

/// The checklist of one profile: the JSON document, and what the text is made from.
#[derive(serde::Serialize)]
struct Report<'a> {
    profile: &'a str,
    tenant: &'a str,
    dir: &'a std::path::Path,
    ready: bool,
    exit_code: u8,
    checks: &'a [readiness::Check],
    certificate: Option<CertFacts<'a>>,
}

#[derive(serde::Serialize)]
struct CertFacts<'a> {
    subject: &'a str,
    serial: &'a str,
    fingerprint_sha256: String,
    #[serde(serialize_with = "crate::time::json")]
    not_before: chrono::DateTime<Utc>,
    #[serde(serialize_with = "crate::time::json")]
    not_after: chrono::DateTime<Utc>,
    days_left: i64,
}

fn text(ctx: &Ctx, r: &Report) -> String {
    let width = r.checks.iter().map(|c| c.label().len()).max().unwrap_or(0);
    let mut text = format!(
        "Profile {:?} (tenant {}) in {}\n",
        r.profile,
        safe(r.tenant),
        r.dir.display()
    );
    for c in r.checks {
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
    let count = |s: State| r.checks.iter().filter(|c| c.state == s).count();
    text.push_str(&match (&r.certificate, r.ready) {
        (Some(c), true) => format!(
            "Ready to connect (certificate valid until {}). Next: {}",
            when(c.not_after),
            ctx.fix(Fix::TestConnect)
        ),
        (None, true) => "Ready to connect.".into(),
        _ => format!(
            "Not ready to connect: {} missing, {} wrong. Follow the → hints above.",
            count(State::Missing),
            count(State::Wrong)
        ),
    });
    text.push('\n');
    text
}
