//! `list`: every profile in the home, one line each: profile, tenant, certificate
//! notAfter, days left, state. Read-only and cheap: one small file read and one parse per
//! profile, so it stays instant at thousands of profiles.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::Ctx;
use crate::cert::{self, Certificate};
use crate::cli::ListArgs;
use crate::credentials::PASSWORD_ENV;
use crate::error::Result;
use crate::exit_codes::ExitCode;
use crate::output::{Format, safe};
use crate::paths::ProfilePaths;
use crate::profile::Profile;
use crate::renewal;

/// One profile's line.
struct Row {
    profile: String,
    tenant: Option<String>,
    cert: Option<Certificate>,
    state: &'static str,
    renewal_pending: bool,
}

pub fn run(ctx: &Ctx, args: ListArgs) -> Result<ExitCode> {
    let now = Utc::now();
    let env_password = std::env::var_os(PASSWORD_ENV).is_some_and(|v| !v.is_empty());
    let rows: Vec<Row> = ctx
        .home
        .profile_names()?
        .into_iter()
        .map(|name| row(&ctx.home.profile(&name), env_password, now))
        .collect();
    if args.format == Format::Json {
        let items: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({
                    "profile": r.profile,
                    "tenant": r.tenant,
                    "not_after": r.cert.as_ref().map(|c| c.not_after.to_rfc3339()),
                    "days_left": r.cert.as_ref().map(|c| c.days_left(now)),
                    "state": r.state,
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
            ctx.cmd("init --tenant ID --org NAME --email ADDRESS")
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
            Some(c) => (
                c.not_after.format("%Y-%m-%d %H:%M UTC").to_string(),
                c.days_left(now).to_string(),
            ),
            None => ("-".into(), "-".into()),
        };
        ctx.out.line(format!(
            "{:wp$}  {:wt$}  {:20}  {:>5}  {}",
            r.profile,
            r.tenant.as_deref().map(safe).unwrap_or("-".into()),
            not_after,
            days,
            r.state
        ));
    }
    Ok(ExitCode::Ok)
}

fn row(paths: &ProfilePaths, env_password: bool, now: DateTime<Utc>) -> Row {
    let renewal_pending = renewal::is_pending(paths);
    let mut r = Row {
        profile: paths.name.clone(),
        tenant: None,
        cert: None,
        state: "invalid profile.toml",
        renewal_pending,
    };
    let Ok(profile) = Profile::load(paths) else {
        return r;
    };
    r.tenant = Some(profile.tenant.clone());
    let cert = match std::fs::read(paths.cert()) {
        Err(_) => {
            r.state = "waiting for certificate";
            return r;
        }
        Ok(bytes) => cert::parse_chain(&paths.cert(), &bytes).map(|mut c| c.swap_remove(0)),
    };
    let Ok(cert) = cert else {
        r.state = "unreadable certificate";
        return r;
    };
    let complete = paths.ca().exists()
        && profile.username.is_some()
        && (env_password || paths.password().exists());
    r.state = if cert.is_expired(now) {
        "expired"
    } else if renewal_pending {
        "renewal pending"
    } else if !complete {
        // Not one of issue 3's four states: "ready" would be a lie without the CA or
        // the credentials, and `status` names what is missing.
        "incomplete"
    } else {
        "ready"
    };
    r.cert = Some(cert);
    r
}
