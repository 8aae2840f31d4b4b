//! `check-expiry --notify` with `[renewal] request_days`: the renewal autopilot across the
//! checked profiles (issue 15). [`crate::autopilot`] decides; this runs the steps:
//! `renew`'s key and CSR, the e-mail to support, the reminders. The rules:
//! - each profile's step runs under its lock, deciding again from the files inside it;
//! - the request is recorded before the e-mail only as "started", and as "requested"
//!   after the server accepted it: a failed send leaves the pending key in place and the
//!   next run sends the e-mail again, never a second key;
//! - failures are reported on stderr and never change the expiry exit code.

use chrono::{DateTime, Utc};

use super::notice::Notifier;
use super::{Checked, Kind};
use crate::autopilot::{self, Request, Situation, Step, Support};
use crate::config;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::expiry::{self, DEFAULT_NOTICE_DAYS};
use crate::fix::Fix;
use crate::paths::ProfilePaths;
use crate::profile::Profile;
use crate::{renewal, store};

/// Runs the step due for each profile; returns the profiles whose files changed, for the
/// caller to check again before reporting.
pub fn run(ctx: &Ctx, n: &Notifier, checked: &[Checked], now: DateTime<Utc>) -> Vec<String> {
    let default_days = match config::load_request_days(&ctx.home.config_file()) {
        Ok(d) => d,
        Err(e) => {
            ctx.out.warn(format!("{e}; no renewal started"));
            return Vec::new();
        }
    };
    let mut touched = Vec::new();
    let mut support: Option<Support> = None;
    for c in checked.iter().filter(|c| c.kind == Kind::Client) {
        let (Some(owner), Ok(facts)) = (&c.owner, &c.outcome) else {
            continue;
        };
        let Some(profile) = &owner.profile else {
            continue;
        };
        let thresholds = thresholds(profile);
        let situation = Situation {
            request_days: profile.renewal.request_days.or(default_days),
            not_after: facts.not_after,
            now,
            pending: owner.pending_since.is_some(),
            request: owner.request.as_ref(),
            thresholds: &thresholds,
        };
        // The common case (nothing due) costs no lock and no file.
        if autopilot::next_step(situation).is_none() {
            continue;
        }
        if support.is_none() {
            match autopilot::support_address(&n.cfg, "[renewal] request_days") {
                Ok(to) => {
                    support = Some(Support {
                        cfg: &n.cfg,
                        to,
                        templates: &n.templates,
                        mailer: n.mailer.as_ref(),
                    })
                }
                Err(e) => {
                    ctx.out.warn(format!("{e}; no renewal started"));
                    return touched;
                }
            }
        }
        let Some(s) = &support else { continue };
        let paths = ctx.home.profile(&owner.name);
        let day_count = situation.request_days.unwrap_or_default();
        match step(ctx, s, &paths, profile, facts.not_after, day_count, now) {
            Ok(true) => touched.push(owner.name.clone()),
            Ok(false) => {}
            Err(e) => ctx.out.warn(format!("profile {}: {e}", owner.name)),
        }
    }
    touched
}

fn thresholds(profile: &Profile) -> Vec<u32> {
    profile
        .expiry
        .notice_days
        .clone()
        .unwrap_or_else(|| DEFAULT_NOTICE_DAYS.to_vec())
}

/// One profile's step, decided again under its lock. `Ok(true)` when files changed.
fn step(
    ctx: &Ctx,
    s: &Support,
    paths: &ProfilePaths,
    profile: &Profile,
    not_after: DateTime<Utc>,
    request_days: u32,
    now: DateTime<Utc>,
) -> Result<bool> {
    let _lock = store::lock(&paths.lock())?;
    let request = Request::for_pending(paths)?;
    let thresholds = thresholds(profile);
    let due = autopilot::next_step(Situation {
        request_days: Some(request_days),
        not_after,
        now,
        pending: renewal::is_pending(paths),
        request: request.as_ref(),
        thresholds: &thresholds,
    });
    let Some(due) = due else {
        return Ok(false);
    };
    if s.mailer.is_none() {
        dry_run(
            ctx,
            s,
            paths,
            profile,
            due,
            request.as_ref(),
            request_days,
            now,
        );
        return Ok(false);
    }
    if due == Step::Start {
        start(ctx, paths, profile, now)?;
    }
    let crossed = expiry::crossed_notice(not_after, now, &thresholds);
    match due {
        Step::Start | Step::Mail => {
            mail(ctx, s, paths, profile, now, crossed)?;
        }
        Step::Remind(n) => {
            if let Some(r) = request {
                remind(ctx, s, paths, profile, r, n, now)?;
            }
        }
    }
    Ok(true)
}

/// `renew`'s key and CSR, and the record that this renewal is the autopilot's.
fn start(ctx: &Ctx, paths: &ProfilePaths, profile: &Profile, now: DateTime<Utc>) -> Result<()> {
    let install = ctx.fix_for(&paths.name, Fix::InstallCert);
    let started = renewal::start(paths, profile, None, false, &install)?;
    Request {
        pending_key_sha256: started.key_fingerprint.clone(),
        started_at: Some(crate::time::rfc3339(now)),
        ..Default::default()
    }
    .save(paths)?;
    ctx.out.note(format!(
        "profile {}: renewal started, new key and CSR in {}",
        paths.name,
        paths.pending_dir().display()
    ));
    Ok(())
}

fn mail(
    ctx: &Ctx,
    s: &Support,
    paths: &ProfilePaths,
    profile: &Profile,
    now: DateTime<Utc>,
    crossed: Option<expiry::Notice>,
) -> Result<()> {
    let letter = s.letter(paths, profile, None, now)?;
    let id = s.send(profile, &letter).map_err(|e| unsent(e, paths))?;
    autopilot::record_request(paths, &s.to, id, now, crossed)?;
    ctx.out.note(format!(
        "profile {}: e-mailed the renewal CSR to Centiloc support at {}",
        paths.name, s.to
    ));
    Ok(())
}

fn remind(
    ctx: &Ctx,
    s: &Support,
    paths: &ProfilePaths,
    profile: &Profile,
    mut r: Request,
    n: expiry::Notice,
    now: DateTime<Utc>,
) -> Result<()> {
    let letter = s.letter(paths, profile, Some(&r), now)?;
    s.send(profile, &letter).map_err(|e| unsent(e, paths))?;
    r.reminders.push(n.key());
    r.save(paths)?;
    ctx.out.note(format!(
        "profile {}: reminded Centiloc support at {} of the renewal requested on {}",
        paths.name,
        s.to,
        r.requested().map(crate::time::day).unwrap_or_default()
    ));
    Ok(())
}

/// A send failure, saying that nothing is lost.
fn unsent(e: Error, paths: &ProfilePaths) -> Error {
    e.unsent(
        "support",
        &format!(
            "the renewal e-mail was not sent; the pending key in {} stays and the e-mail is sent again on the next run",
            paths.pending_dir().display()
        ),
    )
}

/// `--dry-run`: what the real run would do, changing nothing.
#[allow(clippy::too_many_arguments)]
fn dry_run(
    ctx: &Ctx,
    s: &Support,
    paths: &ProfilePaths,
    profile: &Profile,
    due: Step,
    request: Option<&Request>,
    request_days: u32,
    now: DateTime<Utc>,
) {
    let head = match due {
        Step::Start => format!(
            "--- dry run: renewal for profile {} ([renewal] request_days = {request_days}): would run `{}` (new key and CSR in {}), e-mail the CSR to {} and record the request in {}; nothing changed ---\n",
            paths.name,
            ctx.fix_for(&paths.name, Fix::Renew),
            paths.pending_dir().display(),
            s.to,
            paths.renewal_request().display()
        ),
        Step::Mail => format!(
            "--- dry run: renewal for profile {}: would e-mail the pending CSR to {} (the last attempt failed), not sent ---\n",
            paths.name, s.to
        ),
        Step::Remind(n) => format!(
            "--- dry run: renewal for profile {}: would remind {} ({} notice), not sent ---\n",
            paths.name,
            s.to,
            n.key()
        ),
    };
    let letter = match due {
        Step::Start => s.letter_before_start(paths, profile, now),
        Step::Mail => s.letter(paths, profile, None, now),
        Step::Remind(_) => s.letter(paths, profile, request, now),
    };
    let body = match letter {
        Ok(l) => s.preview(&l),
        Err(e) => format!("(cannot show the e-mail: {e})\n"),
    };
    crate::output::write_stdout(format!("{head}{body}").as_bytes());
}
