//! The certificates `check-expiry` looks at across a home: which certificate of which
//! profile ([`Kind`], [`Owner`]), what its file says ([`Facts`]), the verdict with the
//! limits that applied ([`Checked`]), or why there is none ([`Problem`]). [`scan`] reads
//! them, [`report`] renders them, [`notice`] e-mails the notices that are due. The
//! verdict itself is [`crate::expiry`]'s.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::expiry::{LimitFlags, Limits, State, Verdict};
use crate::profile::Profile;

pub mod nagios;
pub mod notice;
pub mod prometheus;
pub mod report;
pub mod scan;

/// Which certificate of a profile, or a file given with `--cert`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Client,
    Ca,
    File,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Client => "client",
            Kind::Ca => "ca",
            Kind::File => "file",
        }
    }
}

/// The profile a certificate belongs to, as far as check-expiry needs it.
#[derive(Debug, Clone)]
pub struct Owner {
    pub name: String,
    pub dir: PathBuf,
    /// `None` when profile.toml could not be read (then the line says why).
    pub profile: Option<Profile>,
    /// mtime of `pending/certificate-request.csr`: a renewal waiting for its certificate.
    pub pending_since: Option<DateTime<Utc>>,
    /// When the pending CSR was sent to Centiloc support, as the profile records it
    /// (issue 15 fills it); Prometheus exports it so an unanswered request alerts.
    pub renewal_requested: Option<DateTime<Utc>>,
}

/// What was found in one certificate file.
#[derive(Debug, Clone)]
pub struct Facts {
    pub subject: String,
    pub common_name: Option<String>,
    pub serial: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// SHA-256 of the DER: the key of `notices.toml` (empty unless `--notify`).
    pub fingerprint: String,
    /// The issuer's distinguished name (empty unless [`ScanOptions::issuers`]): a
    /// Prometheus label, so that a certificate from another CA is a new series.
    pub issuer: String,
    pub verdict: Verdict,
}

/// One checked certificate.
#[derive(Debug, Clone)]
pub struct Checked {
    /// Shared by the profile's two certificates (no copy of its settings per line).
    pub owner: Option<Arc<Owner>>,
    pub kind: Kind,
    pub file: PathBuf,
    pub limits: Limits,
    /// The facts, or why there are none (missing file, unreadable, broken profile).
    pub outcome: std::result::Result<Facts, Problem>,
}

#[derive(Debug, Clone)]
pub enum Problem {
    Missing,
    /// The certificate file exists but cannot be read or parsed.
    Unreadable(String),
    /// `profile.toml` cannot be read, is invalid, or sets contradictory thresholds: the
    /// sentence names the file and the fix.
    BadProfile(String),
}

impl Checked {
    pub fn state(&self) -> State {
        match &self.outcome {
            Ok(f) => f.verdict.state,
            Err(_) => State::Unknown,
        }
    }

    /// When the profile's renewal CSR was made, on the client certificate's line only:
    /// a renewal replaces the client certificate, never the CA.
    pub fn pending_since(&self) -> Option<DateTime<Utc>> {
        match self.kind {
            Kind::Client => self.owner.as_ref().and_then(|o| o.pending_since),
            Kind::Ca | Kind::File => None,
        }
    }
}

/// What the scan needs to know besides the files.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanOptions {
    pub limits: LimitFlags,
    /// Compute SHA-256 fingerprints (the key of notices.toml); only `--notify` needs them.
    pub fingerprints: bool,
    /// Format issuer names; only the Prometheus report shows them, and formatting them is
    /// a sizeable share of reading a certificate (see `cert::parse_leaf`).
    pub issuers: bool,
}
