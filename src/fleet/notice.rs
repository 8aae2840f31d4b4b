//! `check-expiry --notify`: one e-mail per notice threshold per certificate (SPEC), sent
//! after the report. The rules that keep cron honest:
//! - a notice is recorded in the profile's `notices.toml` only after the server accepted
//!   it, so a failed send is retried on the next run;
//! - an SMTP failure is reported on stderr (server and cause, never the password) and
//!   never changes the expiry exit code, which belongs to the certificates.

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use serde::Serialize;

use super::report::renew_steps;
use super::{Checked, Facts, Kind, Owner};
use crate::config::{self, Notify};
use crate::context::Ctx;
use crate::error::Result;
use crate::expiry::{self, DEFAULT_NOTICE_DAYS, Notice};
use crate::notices::Notices;
use crate::notify::{self, Mailer, Rendered, Templates};
use crate::output::safe;
use crate::profile::Profile;
use crate::store;

/// Everything needed to send, checked before the scan.
pub struct Notifier {
    pub(crate) cfg: Notify,
    pub(crate) templates: Templates,
    /// `None` with `--dry-run`: nothing is sent, nothing recorded.
    pub(crate) mailer: Option<Mailer>,
}

/// The facts a notice template gets (documented in docs/expiry.md).
#[derive(Serialize)]
struct NoticeFacts<'a> {
    profile: &'a str,
    tenant: &'a str,
    organization: &'a str,
    kind: &'static str,
    subject: String,
    serial: &'a str,
    fingerprint: &'a str,
    not_after: String,
    days_left: i64,
    /// "24 days", "1 day", "5 hours", "less than an hour": how far notAfter is, either
    /// way (never "0 days"); the template says "in …" or "… ago".
    distance: String,
    expired: bool,
    notice: String,
    file: String,
    pending_since: Option<String>,
    /// When the autopilot (or `renew --mail`) sent the renewal CSR to support, and to whom.
    renewal_requested: Option<String>,
    renewal_requested_to: Option<String>,
    steps: Vec<String>,
    hostname: &'a str,
    thresholds: String,
}

impl<'a> NoticeFacts<'a> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        ctx: &Ctx,
        c: &'a Checked,
        profile: &'a Profile,
        facts: &'a Facts,
        due: Notice,
        thresholds: &[u32],
        hostname: &'a str,
        now: DateTime<Utc>,
    ) -> NoticeFacts<'a> {
        let owner = c.owner.as_ref();
        NoticeFacts {
            profile: owner.map(|o| o.name.as_str()).unwrap_or_default(),
            tenant: &profile.tenant,
            organization: &profile.organization,
            kind: c.kind.as_str(),
            subject: safe(&facts.subject).into_owned(),
            serial: &facts.serial,
            fingerprint: &facts.fingerprint,
            not_after: crate::time::when(facts.not_after),
            days_left: facts.verdict.days_left,
            distance: crate::time::distance(facts.not_after, now),
            expired: facts.verdict.expired,
            notice: due.key(),
            file: c.file.display().to_string(),
            pending_since: c.pending_since().map(crate::time::day),
            renewal_requested: c.requested_at().map(crate::time::day),
            renewal_requested_to: c
                .requested_at()
                .and(owner.and_then(|o| o.request.as_ref()))
                .and_then(|r| r.to.clone()),
            steps: renew_steps(ctx, c),
            hostname,
            thresholds: thresholds
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// Every variable set, for checking the templates before any notice is due.
    fn sample() -> NoticeFacts<'static> {
        NoticeFacts {
            profile: "default",
            tenant: "tenant",
            organization: "Organization",
            kind: "client",
            subject: "CN=tenant".into(),
            serial: "01",
            fingerprint: "00",
            not_after: "2030-01-01 00:00 UTC".into(),
            days_left: 30,
            distance: "30 days".into(),
            expired: false,
            notice: "30".into(),
            file: "tls-cert.pem".into(),
            pending_since: Some("2030-01-01".into()),
            renewal_requested: Some("2030-01-01".into()),
            renewal_requested_to: Some("support@example.com".into()),
            steps: vec!["centiloc-cert renew".into()],
            hostname: "host",
            thresholds: "30".into(),
        }
    }
}

impl Notifier {
    pub fn prepare(ctx: &Ctx, dry_run: bool) -> Result<Notifier> {
        let cfg = config::require_notify(&ctx.home.config_file(), "check-expiry --notify", &[])?;
        let templates = Templates::load(&ctx.home.config_dir)?;
        // A typo in an override is found on the first run, not on the day it matters.
        templates.render(notify::Kind::ExpiryNotice, &NoticeFacts::sample())?;
        templates.render(
            notify::Kind::RenewalRequest,
            &crate::autopilot::RequestFacts::sample(),
        )?;
        let mailer = if dry_run {
            None
        } else {
            Some(notify::mailer(&cfg, ctx)?)
        };
        Ok(Notifier {
            cfg,
            templates,
            mailer,
        })
    }

    /// Sends (or prints) every notice that is due. Failures are reported, not returned.
    pub fn run(&self, ctx: &Ctx, checked: &[Checked], now: DateTime<Utc>) {
        let host = notify::hostname();
        let mut unsent = 0usize;
        let mut server_down = false;
        for c in checked {
            let (Some(owner), Ok(facts)) = (&c.owner, &c.outcome) else {
                continue;
            };
            let Some(profile) = &owner.profile else {
                continue;
            };
            let Some((due, thresholds)) = due_notice(ctx, owner, profile, facts, now) else {
                continue;
            };
            if server_down {
                unsent += 1;
                continue;
            }
            let to = self.cfg.to.clone().or_else(|| profile.email.parse().ok());
            let Some(to) = to else {
                ctx.out.warn(format!(
                    "profile {}: e-mail {:?} is not usable as a recipient; set [notify] to in {}",
                    owner.name,
                    profile.email,
                    self.cfg.file.display()
                ));
                continue;
            };
            let nf = NoticeFacts::new(ctx, c, profile, facts, due, &thresholds, &host, now);
            let rendered = match self.templates.render(notify::Kind::ExpiryNotice, &nf) {
                Ok(r) => r,
                Err(e) => {
                    // The same template fails for every certificate: say it once.
                    ctx.out.warn(format!("{e}; no expiry notice sent"));
                    return;
                }
            };
            match &self.mailer {
                None => print_dry_run(&self.cfg.from, &to, &rendered, owner, c.kind, due),
                Some(m) => match self.send(
                    ctx,
                    m,
                    &to,
                    &rendered,
                    &owner.name,
                    facts,
                    due,
                    now,
                    checked,
                ) {
                    Ok(()) => {}
                    Err(down) => {
                        unsent += 1;
                        server_down = down;
                    }
                },
            }
        }
        if unsent > 1 {
            ctx.out.warn(format!(
                "{unsent} expiry notices were not sent; they will be sent on the next run"
            ));
        }
    }

    /// Sends one notice and records it. `Err(true)` when the server is unreachable (the
    /// rest of this run's notices wait for the next run), `Err(false)` for this one only.
    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        ctx: &Ctx,
        mailer: &Mailer,
        to: &Mailbox,
        rendered: &Rendered,
        profile: &str,
        facts: &Facts,
        due: Notice,
        now: DateTime<Utc>,
        checked: &[Checked],
    ) -> std::result::Result<(), bool> {
        let msg = notify::build(&self.cfg.from, to, None, rendered, None).map_err(|e| {
            ctx.out.warn(format!("{e}"));
            false
        })?;
        if let Err(f) = mailer.send(&msg) {
            ctx.out.warn(format!(
                "the {} notice for profile {profile} to {to} was not sent: {}; it will be sent again on the next run",
                notice_name(due),
                f.error
            ));
            return Err(f.unreachable);
        }
        ctx.out.note(format!(
            "sent the {} notice for profile {profile} to {to}",
            notice_name(due)
        ));
        // The fingerprints still in this profile, so stale entries are dropped.
        let current: Vec<&str> = checked
            .iter()
            .filter(|c| c.owner.as_ref().is_some_and(|o| o.name == profile))
            .filter_map(|c| c.outcome.as_ref().ok().map(|f| f.fingerprint.as_str()))
            .collect();
        if let Err(e) = record(ctx, profile, &facts.fingerprint, due, now, &current) {
            ctx.out.warn(format!(
                "{e}; the notice was sent but not recorded, so it may be sent again"
            ));
        }
        Ok(())
    }
}

/// The notice due for a certificate now (by the profile's thresholds and what its
/// `notices.toml` says was sent), with those thresholds; `None` when none is due or the
/// file cannot be read (said on stderr).
fn due_notice(
    ctx: &Ctx,
    owner: &Owner,
    profile: &Profile,
    facts: &Facts,
    now: DateTime<Utc>,
) -> Option<(Notice, Vec<u32>)> {
    let thresholds = profile
        .expiry
        .notice_days
        .clone()
        .unwrap_or_else(|| DEFAULT_NOTICE_DAYS.to_vec());
    let notices_file = ctx.home.profile(&owner.name).notices();
    let sent = match Notices::load(&notices_file) {
        Ok(n) => n,
        Err(e) => {
            ctx.out
                .warn(format!("{e}; no notice sent for profile {}", owner.name));
            return None;
        }
    };
    let due = expiry::notice_due(
        facts.not_after,
        now,
        &thresholds,
        sent.sent_for(&facts.fingerprint),
    )?;
    Some((due, thresholds))
}

/// Records a delivered notice under the profile lock (a person running `renew` or
/// `install-cert` at the same time must not lose it), re-reading the file inside the lock.
fn record(
    ctx: &Ctx,
    profile: &str,
    fingerprint: &str,
    due: Notice,
    now: DateTime<Utc>,
    current: &[&str],
) -> Result<()> {
    let paths = ctx.home.profile(profile);
    let _lock = store::lock(&paths.lock())?;
    let mut n = Notices::load(&paths.notices())?;
    n.record(fingerprint, &due.key(), now, current);
    n.save(&paths.notices())
}

fn notice_name(n: Notice) -> String {
    match n {
        Notice::Days(d) => format!("{d}-day"),
        Notice::Expired => "expired".into(),
    }
}

fn print_dry_run(
    from: &Mailbox,
    to: &Mailbox,
    r: &Rendered,
    owner: &Owner,
    kind: Kind,
    due: Notice,
) {
    crate::output::write_stdout(
        format!(
            "--- dry run: {} notice for profile {} ({} certificate), not sent ---\n{}",
            notice_name(due),
            owner.name,
            kind.as_str(),
            notify::preview(from, to, r)
        )
        .as_bytes(),
    );
}
