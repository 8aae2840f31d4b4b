//! `notices.toml` in a profile: which expiry notices went out for which certificate, so a
//! daily cron job sends each one once (SPEC: `--notify`, once per threshold per
//! certificate). Entries are keyed by the certificate's SHA-256 fingerprint: a newly
//! installed certificate has no entry and starts afresh, with no reset step to forget.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store;

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notices {
    /// Fingerprint (colon hex, as `openssl x509 -fingerprint -sha256`) → what was sent.
    #[serde(default)]
    pub certificate: BTreeMap<String, Sent>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sent {
    /// Notice keys already delivered: day thresholds ("30", "14", ...) or "expired".
    pub sent: Vec<String>,
    /// When the last one was delivered (RFC 3339), for the person reading the file.
    pub last_sent: String,
}

impl Notices {
    /// Reads the file; a missing file means nothing was sent yet.
    pub fn load(path: &Path) -> Result<Notices> {
        let Some(text) = crate::input::read_text_if_exists(path, crate::input::Kind::Settings)?
        else {
            return Ok(Notices::default());
        };
        toml::from_str(&text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            reason: format!(
                "{} (it only records which expiry e-mails were sent; removing it re-sends the current notice)",
                e.message()
            ),
        })
    }

    pub fn sent_for(&self, fingerprint: &str) -> &[String] {
        self.certificate
            .get(fingerprint)
            .map(|s| s.sent.as_slice())
            .unwrap_or(&[])
    }

    /// Notes that `key` went out for `fingerprint`, and forgets certificates that are no
    /// longer in the profile (`current`) and had no notice for over a year, so the file
    /// stays small. The year matters: a run that did not look at a certificate (the
    /// broker's, without `--check-broker`) must not forget what was sent for it.
    pub fn record(&mut self, fingerprint: &str, key: &str, now: DateTime<Utc>, current: &[&str]) {
        let entry = self.certificate.entry(fingerprint.to_owned()).or_default();
        if !entry.sent.iter().any(|k| k == key) {
            entry.sent.push(key.to_owned());
        }
        entry.last_sent = crate::time::rfc3339(now);
        let forget_before = now - chrono::Duration::days(400);
        self.certificate.retain(|fp, e| {
            fp == fingerprint
                || current.contains(&fp.as_str())
                || DateTime::parse_from_rfc3339(&e.last_sent)
                    .is_ok_and(|t| t.with_timezone(&Utc) > forget_before)
        });
    }

    /// Writes the file atomically (the caller holds the profile lock).
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = toml::to_string_pretty(self).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        store::write_atomic(path, text.as_bytes(), store::Mode::Public)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_pruning() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("notices.toml");
        let mut n = Notices::load(&f).unwrap();
        assert!(n.sent_for("AA:BB").is_empty());
        let now = Utc::now();
        n.record("AA:BB", "30", now, &["AA:BB", "CC:DD"]);
        n.record("CC:DD", "expired", now, &["AA:BB", "CC:DD"]);
        n.record("AA:BB", "14", now, &["AA:BB", "CC:DD"]);
        n.save(&f).unwrap();
        let back = Notices::load(&f).unwrap();
        assert_eq!(back.sent_for("AA:BB"), ["30", "14"]);
        assert_eq!(back, n);
        // A certificate this run did not look at (the broker's without --check-broker)
        // keeps its record; one gone for over a year is forgotten.
        let mut n = back;
        n.record("EE:FF", "30", now, &["EE:FF", "CC:DD"]);
        assert_eq!(n.sent_for("AA:BB"), ["30", "14"]);
        let later = now + chrono::Duration::days(401);
        n.record("EE:FF", "14", later, &["EE:FF", "CC:DD"]);
        assert!(n.sent_for("AA:BB").is_empty());
        assert_eq!(n.sent_for("CC:DD"), ["expired"]);
    }

    #[test]
    fn garbage_is_a_config_error_naming_the_file() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("notices.toml");
        std::fs::write(&f, "certificate = 3").unwrap();
        let e = Notices::load(&f).unwrap_err();
        assert!(e.to_string().contains("notices.toml"), "{e}");
        assert_eq!(e.exit_code(), crate::exit_codes::ExitCode::Config);
    }
}
