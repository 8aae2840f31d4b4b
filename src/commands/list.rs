//! `list`: every profile in the home, one line each: profile, tenant, certificate
//! notAfter, days left, state. The state comes from the same checks as `status`
//! ([`readiness::Checklist::list_state`]), in their cheap [`Scope::Summary`]: no CSR parse,
//! and the key is parsed only when a certificate is there to compare it with.

use chrono::{DateTime, Utc};

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
    /// The renewal request sent to support, when one is pending (issue 15).
    request: Option<crate::autopilot::Request>,
}

pub fn run(ctx: &Ctx, args: ListArgs) -> Result<ExitCode> {
    let now = Utc::now();
    let rows: Vec<Row> = ctx
        .home
        .profile_names()?
        .into_iter()
        .map(|name| row(ctx, &ctx.home.profile(&name), now))
        .collect();
    let lines: Vec<Line> = rows.iter().map(|r| Line::of(r, now)).collect();
    if args.format == Format::Json {
        /// SPEC: `list` is an object, `{"format_version": 1, "profiles": [...]}`.
        #[derive(serde::Serialize)]
        struct Document<'a> {
            profiles: &'a [Line<'a>],
        }
        ctx.out.report(&Document { profiles: &lines });
        return Ok(ExitCode::Ok);
    }
    if lines.is_empty() {
        ctx.out.note(format!(
            "no profiles in {}: create one with `{}`",
            ctx.home.profiles_dir().display(),
            ctx.fix(Fix::Init)
        ));
        return Ok(ExitCode::Ok);
    }
    print_table(ctx, &lines);
    Ok(ExitCode::Ok)
}

/// One profile as `list` reports it: a JSON entry, and what the table row is made from.
#[derive(serde::Serialize)]
struct Line<'a> {
    profile: &'a str,
    tenant: Option<&'a str>,
    #[serde(serialize_with = "crate::time::json_opt")]
    not_after: Option<DateTime<Utc>>,
    days_left: Option<i64>,
    /// The token (`waiting_for_certificate`); `summary` has the words.
    state: &'static str,
    summary: &'static str,
    renewal_pending: bool,
    /// When the pending renewal's CSR was e-mailed to support, and to whom (issue 15).
    #[serde(serialize_with = "crate::time::json_opt")]
    renewal_requested_at: Option<DateTime<Utc>>,
    renewal_requested_to: Option<&'a str>,
    /// "renewal requested on DATE (N days ago)", for the table.
    #[serde(skip)]
    request_words: Option<String>,
}

impl<'a> Line<'a> {
    fn of(r: &'a Row, now: DateTime<Utc>) -> Line<'a> {
        Line {
            profile: &r.profile,
            tenant: r.tenant.as_deref(),
            not_after: r.cert.as_ref().map(|c| c.not_after),
            days_left: r.cert.as_ref().map(|c| c.days_left(now)),
            state: r.state.token(),
            summary: r.state.as_str(),
            renewal_pending: r.renewal_pending,
            renewal_requested_at: requested(r),
            renewal_requested_to: requested(r)
                .and(r.request.as_ref())
                .and_then(|q| q.to.as_deref()),
            request_words: requested(r).map(|at| crate::autopilot::requested_words(at, now)),
        }
    }
}

fn print_table(ctx: &Ctx, lines: &[Line]) {
    let w = |f: fn(&Line) -> usize, min: usize| lines.iter().map(f).max().unwrap_or(0).max(min);
    let wp = w(|r| r.profile.len(), 7);
    let wt = w(|r| r.tenant.map_or(1, |t| safe(t).chars().count()), 6);
    ctx.out.line(format!(
        "{:wp$}  {:wt$}  {:20}  {:>5}  STATE",
        "PROFILE", "TENANT", "NOT AFTER", "DAYS"
    ));
    for r in lines {
        let not_after = r.not_after.map_or("-".into(), crate::time::when);
        let days = r.days_left.map_or("-".into(), |d| d.to_string());
        let request = r
            .request_words
            .as_deref()
            .map(|w| format!(", {w}"))
            .unwrap_or_default();
        ctx.out.line(format!(
            "{:wp$}  {:wt$}  {:20}  {:>5}  {}{request}",
            r.profile,
            r.tenant.map(safe).unwrap_or("-".into()),
            not_after,
            days,
            r.summary
        ));
    }
}

fn requested(r: &Row) -> Option<DateTime<Utc>> {
    r.request
        .as_ref()
        .and_then(crate::autopilot::Request::requested)
}

fn row(ctx: &Ctx, paths: &ProfilePaths, now: DateTime<Utc>) -> Row {
    let mut r = Row {
        profile: paths.name.clone(),
        tenant: None,
        cert: None,
        state: ListState::InvalidProfile,
        renewal_pending: renewal::is_pending(paths),
        request: None,
    };
    if r.renewal_pending {
        r.request = crate::autopilot::Request::current(paths);
    }
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
