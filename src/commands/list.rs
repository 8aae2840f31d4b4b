//! `list`: every profile in the home, one line each: profile, tenant, certificate
//! notAfter, days left, state. The state comes from the same checks as `status`
//! ([`readiness::Checklist::list_state`]), in their cheap [`Scope::Summary`]: no CSR parse,
//! and the key is parsed only when a certificate is there to compare it with.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::cert::Certificate;
use crate::cli::ListArgs;
use crate::context::Ctx;
use crate::error::Result;
use crate::exit_codes::ExitCode;
use crate::fix::Fix;
use crate::output::{Format, safe};
use crate::paths::ProfilePaths;
use crate::profile::Profile;
use crate::readiness::{self, ListState, Scope};
use crate::renewal;

/// One profile's line.
struct Row {
    profile: String,
    tenant: Option<String>,
    cert: Option<Certificate>,
    state: ListState,
    renewal_pending: bool,
}

pub fn run(ctx: &Ctx, args: ListArgs) -> Result<ExitCode> {
    let now = Utc::now();
    let rows: Vec<Row> = ctx
        .home
        .profile_names()?
        .into_iter()
        .map(|name| row(ctx, &ctx.home.profile(&name), now))
        .collect();
    if args.format == Format::Json {
        let items: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({
                    "profile": r.profile,
                    "tenant": r.tenant,
                    "not_after": r.cert.as_ref().map(|c| crate::time::rfc3339(c.not_after)),
                    "days_left": r.cert.as_ref().map(|c| c.days_left(now)),
                    "state": r.state.as_str(),
                    "renewal_pending": r.renewal_pending,
                })
            })
            .collect();
        ctx.out.json(&json!(items));
        return Ok(ExitCode::Ok);
    }
    if rows.is_empty() {
        ctx.out.note(format!(
            "no profiles in {}: create one with `{}`",
            ctx.home.profiles_dir().display(),
            ctx.fix(Fix::Init)
        ));
        return Ok(ExitCode::Ok);
    }
    let w = |f: fn(&Row) -> usize, min: usize| rows.iter().map(f).max().unwrap_or(0).max(min);
    let wp = w(|r| r.profile.len(), 7);
    let wt = w(
        |r| r.tenant.as_deref().map_or(1, |t| safe(t).chars().count()),
        6,
    );
    ctx.out.line(format!(
        "{:wp$}  {:wt$}  {:20}  {:>5}  STATE",
        "PROFILE", "TENANT", "NOT AFTER", "DAYS"
    ));
    for r in &rows {
        let (not_after, days) = match &r.cert {
            Some(c) => (crate::time::when(c.not_after), c.days_left(now).to_string()),
            None => ("-".into(), "-".into()),
        };
        ctx.out.line(format!(
            "{:wp$}  {:wt$}  {:20}  {:>5}  {}",
            r.profile,
            r.tenant.as_deref().map(safe).unwrap_or("-".into()),
            not_after,
            days,
            r.state.as_str()
        ));
    }
    Ok(ExitCode::Ok)
}

fn row(ctx: &Ctx, paths: &ProfilePaths, now: DateTime<Utc>) -> Row {
    let mut r = Row {
        profile: paths.name.clone(),
        tenant: None,
        cert: None,
        state: ListState::InvalidProfile,
        renewal_pending: renewal::is_pending(paths),
    };
    let Ok(profile) = Profile::load(paths) else {
        return r;
    };
    r.tenant = Some(profile.tenant.clone());
    // The same checks as `status`, minus those that cannot change the state.
    let checks = readiness::assess_scope(paths, &profile, &|c| ctx.cmd(c), now, Scope::Summary);
    r.state = checks.list_state();
    r.cert = checks.certificate;
    r
}
