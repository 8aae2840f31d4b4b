//! `check-expiry`: for cron and monitoring. Reads certificates (a profile's, every
//! profile's, or one file), asks [`crate::expiry`] for each verdict, reports in text, JSON
//! or Prometheus form, optionally e-mails notices, and exits with the worst state (SPEC:
//! 0 OK, 1 WARNING, 2 CRITICAL or expired, 3 UNKNOWN).

use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rustix::fs::{AtFlags, Mode, OFlags};

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
    /// SHA-256 of the DER: the key of `notices.toml` (empty unless `--notify`).
    pub fingerprint: String,
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

    /// Why the thresholds that apply to a profile contradict each other (critical above
    /// warn), when `profile.toml` set at least one of them; `None` when they are fine.
    /// Both from the command line is a usage error, caught before the scan. Treated as
    /// an invalid `profile.toml` (check-expiry reports it UNKNOWN, naming the file): a
    /// guess at which number was meant could report WARNING for what should be CRITICAL.
    pub fn conflict(self, profile: &Profile, file: &Path) -> Option<String> {
        let l = self.resolve(Some(profile));
        // Only when a value in force came from profile.toml: that file is what to fix.
        let e = &profile.expiry;
        let set = (self.warn_days.is_none() && e.warn_days.is_some())
            || (self.critical_days.is_none() && e.critical_days.is_some());
        if l.critical_days <= l.warn_days || !set {
            return None;
        }
        let source = |flag: Option<u32>, set: Option<u32>, key: &str, v: u32| match (flag, set) {
            (Some(_), _) => format!("--{} {v}", key.replace('_', "-")),
            (None, Some(_)) => format!("[expiry] {key} = {v}"),
            (None, None) => format!("the default {key} {v}"),
        };
        Some(format!(
            "{} is not valid: {} is more than {}, but CRITICAL must come after WARNING; set [expiry] critical_days to at most warn_days there (defaults: warn_days = {}, critical_days = {})",
            file.display(),
            source(
                self.critical_days,
                e.critical_days,
                "critical_days",
                l.critical_days
            ),
            source(self.warn_days, e.warn_days, "warn_days", l.warn_days),
            expiry::DEFAULT_WARN_DAYS,
            expiry::DEFAULT_CRITICAL_DAYS,
        ))
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
    let opts = ScanOptions {
        limits: flags,
        fingerprints: args.notify,
    };
    let now = Utc::now();
    let checked = if let Some(file) = &args.cert {
        vec![check_file(file, opts, now)]
    } else if args.all {
        let names = profile_dirs(&ctx.home)?;
        scan_profiles(&ctx.home, &names, opts, now)
    } else {
        // One profile: a missing profile is an error (66), not an UNKNOWN line. An
        // invalid profile.toml is reported as `--all` reports it, UNKNOWN with the file
        // and the fix, so a monitoring plugin still gets 0-3 and a line.
        if let Err(e @ (Error::NoProfile { .. } | Error::Usage(_))) = ctx.load() {
            return Err(e);
        }
        check_profile(&ctx.paths(), opts, now, &mut Reader::default())
    };
    // `--all` with nothing checked has nothing to vouch for: UNKNOWN, with one line (or
    // JSON field) saying how to create a profile, still in the asked format so a JSON
    // reader or the textfile collector gets a well-formed document.
    let nothing = (args.all && checked.is_empty()).then(|| {
        format!(
            "no profiles in {}: create one with `{}`",
            ctx.home.profiles_dir().display(),
            ctx.cmd("init --tenant ID --org NAME --email ADDRESS")
        )
    });
    let worst = checked
        .iter()
        .map(Checked::state)
        .max()
        .unwrap_or(State::Unknown);
    expiry_report::print(ctx, &checked, nothing.as_deref(), args.format, now);
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
    opts: ScanOptions,
    now: DateTime<Utc>,
) -> Vec<Checked> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8)
        // Below a few hundred profiles a thread costs more than it saves.
        .min(names.len() / 256 + 1);
    let scan = |part: &[String]| {
        let mut reader = Reader::default();
        part.iter()
            .flat_map(|n| check_profile(&home.profile(n), opts, now, &mut reader))
            .collect::<Vec<_>>()
    };
    if threads <= 1 {
        return scan(names);
    }
    let chunk = names.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = names
            .chunks(chunk)
            .map(|part| s.spawn(move || scan(part)))
            .collect();
        handles
            .into_iter()
            // No input can panic a scan thread; if one ever did, losing its profiles
            // silently would hide certificates from monitoring, so the panic goes on.
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// The directories under `profiles/`, sorted; like [`Home::profile_names`] without a stat
/// per entry (the directory listing already says which entries are directories), the
/// check for `profile.toml` being the read that [`check_profile`] does anyway.
fn profile_dirs(home: &Home) -> Result<Vec<String>> {
    let dir = home.profiles_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::read(dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::read(&dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && entry.file_type().is_ok_and(|t| t.is_dir()) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// What the scan needs to know besides the files.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanOptions {
    pub limits: LimitFlags,
    /// Compute SHA-256 fingerprints (the key of notices.toml); only `--notify` needs them.
    pub fingerprints: bool,
}

/// Reads profile files relative to the `profiles/` directory, opened once per thread:
/// the kernel then walks two path components per file instead of the whole home path
/// (at 10,000 profiles, path lookup was the largest single cost). Keeps one buffer, and
/// the parsed CA certificate, which is usually the same file in every profile.
#[derive(Default)]
pub struct Reader {
    root: Option<(PathBuf, Arc<OwnedFd>)>,
    buf: Vec<u8>,
    /// Bytes of `buf` holding the last file read.
    len: usize,
    ca_cache: Option<(Vec<u8>, Facts)>,
}

impl Reader {
    /// The directory holding the profile directories, opened on first use.
    fn root(&mut self, profiles_dir: &Path) -> io::Result<Arc<OwnedFd>> {
        if let Some((p, fd)) = &self.root
            && p == profiles_dir
        {
            return Ok(fd.clone());
        }
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = Arc::new(rustix::fs::open(profiles_dir, flags, Mode::empty())?);
        self.root = Some((profiles_dir.to_path_buf(), fd.clone()));
        Ok(fd)
    }

    /// Reads `name` (relative to `dir`) into the buffer: open, read, close, with no size
    /// probe. A read that does not fill the buffer is the end of a regular file (reads
    /// from the page cache are never partial), which saves the second, empty read.
    fn read_at(&mut self, dir: &OwnedFd, name: &str) -> io::Result<()> {
        // A FIFO or device planted as a profile file is refused at once (issue 14).
        let mut file = crate::input::open_at(dir, name)?;
        let mut len = 0;
        if self.buf.len() < 16 * 1024 {
            self.buf.resize(16 * 1024, 0);
        }
        loop {
            match file.read(&mut self.buf[len..]) {
                Ok(0) => break,
                Ok(n) => {
                    len += n;
                    if len < self.buf.len() {
                        break;
                    }
                    crate::input::check_size(len, crate::input::Kind::Certificate)?;
                    self.buf.resize(len * 2, 0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.len = len;
        Ok(())
    }

    fn mtime_at(dir: &OwnedFd, name: &str) -> Option<DateTime<Utc>> {
        let st = rustix::fs::statat(dir, name, AtFlags::empty()).ok()?;
        DateTime::<Utc>::from_timestamp(st.st_mtime, 0)
    }

    fn data(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The client certificate and the CA certificate of one profile.
pub fn check_profile(
    paths: &ProfilePaths,
    opts: ScanOptions,
    now: DateTime<Utc>,
    reader: &mut Reader,
) -> Vec<Checked> {
    let parent = paths.dir.parent().unwrap_or(Path::new("."));
    let rel = |file: &str| format!("{}/{file}", paths.name);
    let dir = reader.root(parent);
    let profile = match &dir {
        Ok(fd) => match reader.read_at(fd, &rel(paths::PROFILE_FILE)) {
            // Not a profile (`Home::profile_names` skips these too).
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Vec::new(),
            Ok(()) => {
                let text = String::from_utf8_lossy(reader.data());
                Profile::from_toml(&paths.settings(), &text).map_err(|e| e.to_string())
            }
            Err(e) => Err(Error::read(paths.settings(), e).to_string()),
        },
        Err(e) => Err(Error::read(parent, io::Error::from(e.kind())).to_string()),
    };
    let pending_since = dir.as_ref().ok().and_then(|fd| {
        Reader::mtime_at(
            fd,
            &rel(&format!("{}/{}", paths::PENDING_DIR, paths::CSR_FILE)),
        )
    });
    let (profile, mut problem) = match profile {
        Ok(p) => (Some(p), None),
        Err(e) => (None, Some(Problem::BadProfile(e))),
    };
    if let Some(p) = &profile {
        problem = opts
            .limits
            .conflict(p, &paths.settings())
            .map(Problem::BadProfile);
    }
    let owner = Arc::new(Owner {
        name: paths.name.clone(),
        dir: paths.dir.clone(),
        pending_since,
        profile,
    });
    let limits = opts.limits.resolve(owner.profile.as_ref());
    [
        (Kind::Client, paths::CERT_FILE, paths.cert()),
        (Kind::Ca, paths::CA_FILE, paths.ca()),
    ]
    .into_iter()
    .map(|(kind, name, file)| {
        let outcome = match (&problem, &dir) {
            (Some(p), _) => Err(p.clone()),
            (None, Ok(fd)) => match reader.read_at(fd, &rel(name)) {
                Ok(()) => reader.facts(&file, kind == Kind::Ca, opts, limits, now),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Problem::Missing),
                Err(e) => Err(Problem::Unreadable(
                    crate::input::error(&file, e).to_string(),
                )),
            },
            (None, Err(_)) => Err(Problem::Missing),
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

impl Reader {
    /// Facts of the leaf in the buffer. A CA file identical to the previous one is not
    /// parsed again; only its verdict (which depends on the profile's limits) is redone.
    fn facts(
        &mut self,
        file: &Path,
        cacheable: bool,
        opts: ScanOptions,
        limits: Limits,
        now: DateTime<Utc>,
    ) -> std::result::Result<Facts, Problem> {
        if cacheable
            && let Some((bytes, facts)) = &self.ca_cache
            && bytes.as_slice() == self.data()
        {
            let mut f = facts.clone();
            f.verdict = expiry::verdict(f.not_before, f.not_after, now, limits);
            return Ok(f);
        }
        let facts = facts_of(file, self.data(), opts, limits, now)?;
        if cacheable {
            self.ca_cache = Some((self.data().to_vec(), facts.clone()));
        }
        Ok(facts)
    }
}

fn check_file(file: &Path, opts: ScanOptions, now: DateTime<Utc>) -> Checked {
    let limits = opts.limits.resolve(None);
    let outcome = match cert::read_input(file) {
        Ok(bytes) => facts_of(file, &bytes, opts, limits, now),
        Err(Error::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            Err(Problem::Missing)
        }
        Err(e) => Err(Problem::Unreadable(e.to_string())),
    };
    Checked {
        owner: None,
        kind: Kind::File,
        file: file.to_path_buf(),
        limits,
        outcome,
    }
}

/// The leaf (first certificate) of a file's bytes and its verdict.
fn facts_of(
    file: &Path,
    bytes: &[u8],
    opts: ScanOptions,
    limits: Limits,
    now: DateTime<Utc>,
) -> std::result::Result<Facts, Problem> {
    let leaf = cert::parse_leaf(file, bytes).map_err(|e| Problem::Unreadable(e.to_string()))?;
    Ok(Facts {
        verdict: expiry::verdict(leaf.not_before, leaf.not_after, now, limits),
        fingerprint: if opts.fingerprints {
            leaf.fingerprint()
        } else {
            String::new()
        },
        subject: leaf.subject,
        common_name: leaf.common_name,
        serial: leaf.serial,
        not_before: leaf.not_before,
        not_after: leaf.not_after,
    })
}
