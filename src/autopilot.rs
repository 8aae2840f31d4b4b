//! The renewal autopilot (issue 15): Centiloc's CA is a support desk, so "renewing by
//! itself" means making the new key and CSR in time, sending the CSR to support, and
//! chasing support until the certificate arrives. This module holds the record of that
//! request (`renewal-request.toml`), the pure decision of what to do next, and the
//! support e-mail (facts, rendering, sending) that `check-expiry --notify`,
//! `renew --mail` and `csr --mail` share.
//!
//! The record names the pending key it concerns: a renewal started over (`renew
//! --force`) or finished (`install-cert`) makes it stale without a reset step, as
//! `notices.toml` does with certificate fingerprints.

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use serde::{Deserialize, Serialize};

use crate::cert;
use crate::config::Notify;
use crate::error::{Error, Result};
use crate::expiry::{self, Notice};
use crate::keys;
use crate::notify::{self, FileAttachment, Mailer, Rendered, Templates};
use crate::paths::{self, ProfilePaths};
use crate::profile::Profile;
use crate::{renewal, store};

/// `renewal-request.toml`: the request sent to support for one pending key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// SHA-256 of the pending key's public half (as `status` prints it).
    pub pending_key_sha256: String,
    /// When check-expiry started this renewal (RFC 3339); unset for `renew --mail`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When support was sent the CSR (RFC 3339); unset while that e-mail has not gone out
    /// (then the next run sends it: never a second key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Notice thresholds ("30", "14", ...) support has been reminded at, plus the one
    /// already crossed when the request went out: once per threshold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reminders: Vec<String>,
}

impl Request {
    /// The record of `paths`, whatever key it names; `Ok(None)` when there is none.
    pub fn load(paths: &ProfilePaths) -> Result<Option<Request>> {
        let file = paths.renewal_request();
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::read(file, e)),
        };
        toml::from_str(&text).map(Some).map_err(|e| Error::Config {
            path: file,
            reason: format!(
                "{} (it records the renewal request sent to support; removing it makes check-expiry --notify send the pending CSR again)",
                e.message()
            ),
        })
    }

    /// The record for the renewal pending now (its key is the one named), if any.
    pub fn for_pending(paths: &ProfilePaths) -> Result<Option<Request>> {
        let Some(key) = pending_key_sha256(paths) else {
            return Ok(None);
        };
        Ok(Request::load(paths)?.filter(|r| r.pending_key_sha256 == key))
    }

    /// Best effort, for reports: a broken record shows as no request.
    pub fn current(paths: &ProfilePaths) -> Option<Request> {
        Request::for_pending(paths).ok().flatten()
    }

    /// Writes the record atomically (the caller holds the profile lock).
    pub fn save(&self, paths: &ProfilePaths) -> Result<()> {
        let file = paths.renewal_request();
        let text = toml::to_string_pretty(self).map_err(|e| Error::Config {
            path: file.clone(),
            reason: e.to_string(),
        })?;
        store::write_atomic(&file, text.as_bytes(), store::Mode::Public)
    }

    /// When support was sent the CSR.
    pub fn requested(&self) -> Option<DateTime<Utc>> {
        let t = self.requested_at.as_deref()?;
        DateTime::parse_from_rfc3339(t).ok().map(|t| t.to_utc())
    }
}

/// SHA-256 of the public key in `pending/certificate-request.csr`.
pub fn pending_key_sha256(paths: &ProfilePaths) -> Option<String> {
    let csr = renewal::pending_paths(paths).csr();
    let bytes = std::fs::read(&csr).ok()?;
    let spki = crate::csr::public_key_of(&csr, &bytes).ok()?;
    Some(keys::spki_fingerprint(&spki))
}

/// "renewal requested on 2026-11-30 (3 days ago)", for status, list and check-expiry.
pub fn requested_words(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let days = (now - at).num_days();
    let ago = match days {
        0 => "today".to_string(),
        1 => "1 day ago".to_string(),
        n => format!("{n} days ago"),
    };
    format!("renewal requested on {} ({ago})", crate::time::day(at))
}

/// What the autopilot does for one profile on this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Make the new key and CSR (as `renew`), then e-mail the CSR to support.
    Start,
    /// The renewal is the autopilot's, but support has not been sent the CSR yet (the
    /// last send failed): send it now, with the key already made.
    Mail,
    /// Support has the CSR and no certificate came: remind them at this threshold.
    Remind(Notice),
}

/// Where one profile stands, for [`next_step`].
#[derive(Debug, Clone, Copy)]
pub struct Situation<'a> {
    /// `[renewal] request_days` in force (profile, else config.toml); 0 or unset is off.
    pub request_days: Option<u32>,
    pub not_after: DateTime<Utc>,
    pub now: DateTime<Utc>,
    /// A pending CSR exists.
    pub pending: bool,
    /// The request record for that pending key, if any.
    pub request: Option<&'a Request>,
    pub thresholds: &'a [u32],
}

/// The pure decision. A renewal someone started by hand (pending, no record) is left to
/// that person: they may have sent the CSR already, and a second e-mail would confuse
/// support. Reminders follow the notice thresholds still ahead at request time.
pub fn next_step(s: Situation) -> Option<Step> {
    let days = s.request_days.filter(|d| *d > 0)?;
    match (s.pending, s.request) {
        (false, _) => {
            (expiry::days_left(s.not_after, s.now) <= i64::from(days)).then_some(Step::Start)
        }
        (true, None) => None,
        (true, Some(r)) if r.requested_at.is_none() => Some(Step::Mail),
        (true, Some(r)) => {
            expiry::notice_due(s.not_after, s.now, s.thresholds, &r.reminders).map(Step::Remind)
        }
    }
}

/// The certificate a renewal replaces, as the support e-mail states it.
#[derive(Debug, Clone)]
pub struct Replaced {
    pub serial: String,
    pub fingerprint: String,
    pub not_after: DateTime<Utc>,
}

impl Replaced {
    /// The profile's installed certificate; `None` when it cannot be read.
    pub fn of(paths: &ProfilePaths) -> Option<Replaced> {
        let chain = cert::load_chain(&paths.cert()).ok()?;
        let leaf = chain.first()?;
        Some(Replaced {
            serial: leaf.serial.clone(),
            fingerprint: leaf.fingerprint(),
            not_after: leaf.not_after,
        })
    }
}

/// The facts the `renewal-request` templates get (documented in docs/expiry.md).
#[derive(Serialize)]
pub struct RequestFacts {
    pub organization: String,
    pub tenant: String,
    /// The profile's address: the contact, and where support's answer goes.
    pub email: String,
    pub subject: String,
    pub curve: String,
    pub key_fingerprint: String,
    pub csr_file_name: &'static str,
    pub replaces_serial: String,
    pub replaces_fingerprint: String,
    pub replaces_not_after: String,
    pub days_left: i64,
    /// A reminder: the first request went out on `first_sent` and no certificate came.
    pub reminder: bool,
    pub first_sent: Option<String>,
    pub hostname: String,
}

impl RequestFacts {
    /// Every variable set, for checking the templates before any request is due.
    pub fn sample() -> RequestFacts {
        RequestFacts {
            organization: "Organization".into(),
            tenant: "tenant".into(),
            email: "ops@example.com".into(),
            subject: "CN=tenant".into(),
            curve: "P-256".into(),
            key_fingerprint: "00".into(),
            csr_file_name: paths::CSR_FILE,
            replaces_serial: "01".into(),
            replaces_fingerprint: "00".into(),
            replaces_not_after: "2030-01-01 00:00 UTC".into(),
            days_left: 45,
            reminder: true,
            first_sent: Some("2030-01-01".into()),
            hostname: "host".into(),
        }
    }
}

/// The template facts: the profile, the new key (curve, SHA-256), the certificate replaced.
fn request_facts(
    paths: &ProfilePaths,
    profile: &Profile,
    (curve, key_fingerprint): (String, String),
    reminder_of: Option<&Request>,
    now: DateTime<Utc>,
) -> RequestFacts {
    let replaced = Replaced::of(paths);
    let r = replaced.as_ref();
    RequestFacts {
        organization: profile.organization.clone(),
        tenant: profile.tenant.clone(),
        email: profile.email.clone(),
        subject: crate::csr::Subject::of(profile).openssl_line(),
        curve,
        key_fingerprint,
        csr_file_name: paths::CSR_FILE,
        replaces_serial: r.map(|r| r.serial.clone()).unwrap_or_default(),
        replaces_fingerprint: r.map(|r| r.fingerprint.clone()).unwrap_or_default(),
        replaces_not_after: r
            .map(|r| crate::time::when(r.not_after))
            .unwrap_or_default(),
        days_left: r
            .map(|r| expiry::days_left(r.not_after, now))
            .unwrap_or_default(),
        reminder: reminder_of.is_some(),
        first_sent: reminder_of
            .and_then(Request::requested)
            .map(crate::time::day),
        hostname: notify::hostname(),
    }
}

/// Where support's e-mail goes and how: `mailer` is `None` for `--dry-run`.
pub struct Support<'a> {
    pub cfg: &'a Notify,
    pub to: Mailbox,
    pub templates: &'a Templates,
    pub mailer: Option<&'a Mailer>,
}

/// A request e-mail, ready to send or to show.
pub struct Letter {
    pub rendered: Rendered,
    pub csr_pem: String,
}

impl Support<'_> {
    /// The e-mail for the pending CSR of `paths` (read from `pending/`).
    pub fn letter(
        &self,
        paths: &ProfilePaths,
        profile: &Profile,
        reminder_of: Option<&Request>,
        now: DateTime<Utc>,
    ) -> Result<Letter> {
        let pending = renewal::pending_paths(paths);
        let csr_pem =
            std::fs::read_to_string(pending.csr()).map_err(|e| Error::read(pending.csr(), e))?;
        let key = keys::PrivateKey::from_file(&pending.key())?;
        let new_key = (key.curve().to_string(), key.fingerprint());
        let facts = request_facts(paths, profile, new_key, reminder_of, now);
        let rendered = self
            .templates
            .render(notify::Kind::RenewalRequest, &facts)?;
        Ok(Letter { rendered, csr_pem })
    }

    /// The e-mail `--dry-run` shows before any new key exists.
    pub fn letter_before_start(
        &self,
        paths: &ProfilePaths,
        profile: &Profile,
        now: DateTime<Utc>,
    ) -> Result<Letter> {
        let curve = keys::PrivateKey::from_file(&paths.key())
            .map(|k| k.curve())
            .unwrap_or(keys::Curve::P256);
        let placeholder = "(the new key's, made by the real run)".to_string();
        let facts = request_facts(paths, profile, (curve.to_string(), placeholder), None, now);
        let rendered = self
            .templates
            .render(notify::Kind::RenewalRequest, &facts)?;
        Ok(Letter {
            rendered,
            csr_pem: String::new(),
        })
    }

    /// Sends the letter; replies go to the profile's address, where support answers.
    /// Returns the Message-ID. Without a mailer (dry run) nothing happens.
    pub fn send(&self, profile: &Profile, letter: &Letter) -> Result<Option<String>> {
        let Some(mailer) = self.mailer else {
            return Ok(None);
        };
        let reply_to: Option<Mailbox> = profile.email.parse().ok();
        let attachment = FileAttachment {
            name: paths::CSR_FILE.into(),
            content_type: "application/pkcs10",
            bytes: letter.csr_pem.as_bytes().to_vec(),
        };
        let msg = notify::build(
            &self.cfg.from,
            &self.to,
            reply_to.as_ref(),
            &letter.rendered,
            Some(attachment),
        )?;
        let id = msg.headers().get_raw("Message-ID").map(str::to_owned);
        mailer.send(&msg).map_err(|f| f.error)?;
        Ok(id)
    }

    /// How `--dry-run` shows the letter.
    pub fn preview(&self, letter: &Letter) -> String {
        format!(
            "{}[attached: {} for the pending key]\n",
            notify::preview(&self.cfg.from, &self.to, &letter.rendered),
            paths::CSR_FILE
        )
    }
}

/// Records that support was sent the pending CSR of `paths` (the caller holds the lock):
/// keeps the autopilot's start time, and counts the notice threshold already crossed as
/// reminded, so the first reminder comes at the next one.
pub fn record_request(
    paths: &ProfilePaths,
    to: &Mailbox,
    message_id: Option<String>,
    now: DateTime<Utc>,
    crossed: Option<Notice>,
) -> Result<Request> {
    let key = pending_key_sha256(paths).unwrap_or_default();
    let mut r = Request::load(paths)
        .ok()
        .flatten()
        .filter(|r| r.pending_key_sha256 == key)
        .unwrap_or_default();
    r.pending_key_sha256 = key;
    r.requested_at = Some(crate::time::rfc3339(now));
    r.to = Some(to.to_string());
    r.message_id = message_id;
    r.reminders = crossed.map(|n| vec![n.key()]).unwrap_or_default();
    r.save(paths)?;
    Ok(r)
}

/// What `renew --mail` needs, checked before any key is made.
pub struct MailSetup {
    pub cfg: Notify,
    pub templates: Templates,
    pub mailer: Mailer,
}

impl MailSetup {
    pub fn prepare(ctx: &crate::context::Ctx, what: &'static str) -> Result<MailSetup> {
        let home = &ctx.home;
        let cfg = crate::config::require_notify(&home.config_file(), what, &["support_to"])?;
        support_address(&cfg, what)?;
        let templates = Templates::load(&home.config_dir)?;
        templates.render(notify::Kind::RenewalRequest, &RequestFacts::sample())?;
        Ok(MailSetup {
            mailer: Mailer::new(&cfg, &ctx.fix(crate::fix::Fix::SmtpPassword))?,
            templates,
            cfg,
        })
    }
}

/// `renew --mail`, `csr --mail` during a renewal: the pending CSR to support, recorded
/// like the autopilot's request so that check-expiry reminds support instead of sending
/// it again. The caller holds the profile lock.
pub fn mail_pending(
    paths: &ProfilePaths,
    profile: &Profile,
    cfg: &Notify,
    templates: &Templates,
    mailer: &Mailer,
    now: DateTime<Utc>,
) -> Result<Mailbox> {
    let s = Support {
        cfg,
        to: support_address(cfg, "--mail")?,
        templates,
        mailer: Some(mailer),
    };
    let letter = s.letter(paths, profile, None, now)?;
    let id = s.send(profile, &letter)?;
    let thresholds = profile
        .expiry
        .notice_days
        .clone()
        .unwrap_or_else(|| expiry::DEFAULT_NOTICE_DAYS.to_vec());
    let crossed =
        Replaced::of(paths).and_then(|r| expiry::crossed_notice(r.not_after, now, &thresholds));
    record_request(paths, &s.to, id, now, crossed)?;
    Ok(s.to)
}

/// The support address of `[notify]`, or the error that says how to add it.
pub fn support_address(cfg: &Notify, what: &str) -> Result<Mailbox> {
    cfg.support_to.clone().ok_or_else(|| Error::Config {
        path: cfg.file.clone(),
        reason: format!(
            "[notify] has no support_to, needed by {what}; add support_to = \"<Centiloc support's address>\""
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn step(days_left: i64, days: Option<u32>, pending: bool, r: Option<&Request>) -> Option<Step> {
        let now = at("2026-06-01T12:00:00Z");
        next_step(Situation {
            request_days: days,
            not_after: now + Duration::days(days_left) + Duration::hours(1),
            now,
            pending,
            request: r,
            thresholds: &expiry::DEFAULT_NOTICE_DAYS,
        })
    }

    #[test]
    fn starts_once_at_request_days_and_only_when_on() {
        assert_eq!(step(40, None, false, None), None);
        assert_eq!(step(40, Some(0), false, None), None);
        assert_eq!(step(46, Some(45), false, None), None);
        assert_eq!(step(45, Some(45), false, None), Some(Step::Start));
        assert_eq!(step(-3, Some(45), false, None), Some(Step::Start));
        // Someone's own renewal: left alone.
        assert_eq!(step(40, Some(45), true, None), None);
    }

    #[test]
    fn an_unsent_request_is_mailed_and_a_sent_one_reminded_per_threshold() {
        let unsent = Request {
            pending_key_sha256: "K".into(),
            started_at: Some("2026-06-01T00:00:00Z".into()),
            ..Default::default()
        };
        assert_eq!(step(40, Some(45), true, Some(&unsent)), Some(Step::Mail));
        let sent = Request {
            requested_at: Some("2026-06-01T00:00:00Z".into()),
            ..unsent
        };
        assert_eq!(step(40, Some(45), true, Some(&sent)), None);
        assert_eq!(
            step(30, Some(45), true, Some(&sent)),
            Some(Step::Remind(Notice::Days(30)))
        );
        let reminded = Request {
            reminders: vec!["30".into()],
            ..sent
        };
        assert_eq!(step(20, Some(45), true, Some(&reminded)), None);
        assert_eq!(
            step(13, Some(45), true, Some(&reminded)),
            Some(Step::Remind(Notice::Days(14)))
        );
    }

    #[test]
    fn requested_words_count_days() {
        let t = at("2026-06-01T12:00:00Z");
        assert_eq!(
            requested_words(t, t + Duration::days(3)),
            "renewal requested on 2026-06-01 (3 days ago)"
        );
        assert_eq!(
            requested_words(t, t + Duration::hours(2)),
            "renewal requested on 2026-06-01 (today)"
        );
    }
}
