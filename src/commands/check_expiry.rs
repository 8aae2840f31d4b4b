//! `check-expiry`: for cron and monitoring. Reads certificates (a profile's, every
//! profile's, or one file), asks [`crate::expiry`] for each verdict, reports in text, JSON
//! or Prometheus form, optionally e-mails notices, and exits with the worst state (SPEC:
//! 0 OK, 1 WARNING, 2 CRITICAL or expired, 3 UNKNOWN).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::Ctx;
use super::expiry_notify;
use super::expiry_report;
use crate::cert;
use crate::cli::CheckExpiryArgs;
use crate::error::{Error, Result};
use crate::exit_codes::ExitCode;
use crate::expiry::{self, Limits, State, Verdict};
use crate::paths::{self, Home, ProfilePaths};
use crate::profile::Profile;

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
}

/// What was found in one certificate file.
#[derive(Debug, Clone)]
pub struct Facts {
    pub subject: String,
    pub common_name: Option<String>,
    pub serial: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// SHA-256 of the DER: the key of `notices.toml`.
    pub fingerprint: String,
    pub verdict: Verdict,
}

/// One checked certificate.
#[derive(Debug, Clone)]
pub struct Checked {
    pub owner: Option<Owner>,
    pub kind: Kind,
    pub file: PathBuf,
    pub limits: Limits,
    /// The facts, or why there are none (missing file, unreadable, broken profile).
    pub outcome: std::result::Result<Facts, Problem>,
}

#[derive(Debug, Clone)]
pub enum Problem {
    Missing,
    Unreadable(String),
}

impl Checked {
    pub fn state(&self) -> State {
        match &self.outcome {
            Ok(f) => f.verdict.state,
            Err(_) => State::Unknown,
        }
    }
}

/// Thresholds from the command line; each unset one falls back to the profile, then to
/// the defaults. The command line wins: it is what the person or cron job asked for now.
#[derive(Debug, Clone, Copy, Default)]
pub struct LimitFlags {
    pub warn_days: Option<u32>,
    pub critical_days: Option<u32>,
}

impl LimitFlags {
    pub fn resolve(self, profile: Option<&Profile>) -> Limits {
        let p = profile.map(|p| &p.expiry);
        let d = Limits::default();
        Limits {
            warn_days: self
                .warn_days
                .or(p.and_then(|p| p.warn_days))
                .unwrap_or(d.warn_days),
            critical_days: self
                .critical_days
                .or(p.and_then(|p| p.critical_days))
                .unwrap_or(d.critical_days),
        }
    }
}

pub fn run(ctx: &Ctx, args: CheckExpiryArgs) -> Result<ExitCode> {
    let flags = LimitFlags {
        warn_days: args.warn_days,
        critical_days: args.critical_days,
    };
    if let (Some(w), Some(c)) = (flags.warn_days, flags.critical_days)
        && c > w
    {
        return Err(Error::Usage(format!(
            "--critical-days {c} is more than --warn-days {w}: CRITICAL must come after WARNING, so pass a smaller --critical-days"
        )));
    }
    // A broken [notify] is reported now, on a quiet day, not on the day a notice is due.
    let notifier = if args.notify {
        Some(expiry_notify::Notifier::prepare(ctx, args.dry_run)?)
    } else {
        None
    };
    let now = Utc::now();
    let checked = if let Some(file) = &args.cert {
        vec![check_file(file, flags.resolve(None), now)]
    } else if args.all {
        let names = ctx.home.profile_names()?;
        if names.is_empty() {
            ctx.out.warn(format!(
                "no profile in {}: create one with `{}`",
                ctx.home.profiles_dir().display(),
                ctx.cmd("init --tenant ID --org NAME --email ADDRESS")
            ));
            return Ok(ExitCode::Unknown);
        }
        scan_profiles(&ctx.home, &names, flags, now)
    } else {
        // One profile: a missing profile is an error (66), not an UNKNOWN line.
        ctx.load()?;
        check_profile(&ctx.paths(), flags, now)
    };
    let worst = checked
        .iter()
        .map(Checked::state)
        .max()
        .unwrap_or(State::Unknown);
    expiry_report::print(ctx, &checked, args.format, now);
    if let Some(n) = notifier {
        n.run(ctx, &checked, now);
    }
    Ok(worst.exit_code())
}

/// Checks every profile, in parallel over the machine's cores: at thousands of profiles
/// the cost is reading and parsing files, which threads share well (issue 4: 10,000
/// profiles in under 150 ms on 2 cores). Results keep the order of `names`.
pub fn scan_profiles(
    home: &Home,
    names: &[String],
    flags: LimitFlags,
    now: DateTime<Utc>,
) -> Vec<Checked> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8)
        // Below a few hundred profiles a thread costs more than it saves.
        .min(names.len() / 256 + 1);
    if threads <= 1 {
        return names
            .iter()
            .flat_map(|n| check_profile(&home.profile(n), flags, now))
            .collect();
    }
    let chunk = names.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = names
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .flat_map(|n| check_profile(&home.profile(n), flags, now))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// The client certificate and the CA certificate of one profile.
pub fn check_profile(paths: &ProfilePaths, flags: LimitFlags, now: DateTime<Utc>) -> Vec<Checked> {
    let (profile, problem) = match Profile::load(paths) {
        Ok(p) => (Some(p), None),
        Err(e) => (None, Some(Problem::Unreadable(e.to_string()))),
    };
    let owner = Owner {
        name: paths.name.clone(),
        dir: paths.dir.clone(),
        pending_since: pending_since(paths),
        profile,
    };
    let limits = flags.resolve(owner.profile.as_ref());
    [(Kind::Client, paths.cert()), (Kind::Ca, paths.ca())]
        .into_iter()
        .map(|(kind, file)| {
            let outcome = match &problem {
                Some(p) => Err(p.clone()),
                None => read_facts(&file, limits, now),
            };
            Checked {
                owner: Some(owner.clone()),
                kind,
                file,
                limits,
                outcome,
            }
        })
        .collect()
}

fn check_file(file: &Path, limits: Limits, now: DateTime<Utc>) -> Checked {
    Checked {
        owner: None,
        kind: Kind::File,
        file: file.to_path_buf(),
        limits,
        outcome: read_facts(file, limits, now),
    }
}

/// The leaf (first certificate) of a file and its verdict.
fn read_facts(
    file: &Path,
    limits: Limits,
    now: DateTime<Utc>,
) -> std::result::Result<Facts, Problem> {
    let chain = match cert::load_chain(file) {
        Ok(c) => c,
        Err(Error::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Err(Problem::Missing);
        }
        Err(e) => return Err(Problem::Unreadable(e.to_string())),
    };
    let Some(leaf) = chain.into_iter().next() else {
        return Err(Problem::Unreadable(format!(
            "{}: no certificate in the file",
            file.display()
        )));
    };
    Ok(Facts {
        verdict: expiry::verdict(leaf.not_before, leaf.not_after, now, limits),
        fingerprint: leaf.fingerprint(),
        subject: leaf.subject,
        common_name: leaf.common_name,
        serial: leaf.serial,
        not_before: leaf.not_before,
        not_after: leaf.not_after,
    })
}

/// When the renewal CSR in `pending/` was written, if there is one.
fn pending_since(paths: &ProfilePaths) -> Option<DateTime<Utc>> {
    let csr = paths.pending_dir().join(paths::CSR_FILE);
    let modified = std::fs::metadata(csr).and_then(|m| m.modified()).ok()?;
    Some(DateTime::<Utc>::from(modified))
}
