//! Reading certificates for `check-expiry`: one file, one profile, or every profile of
//! a home in parallel, fast enough for 10,000 profiles (issue 4).

use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rustix::fs::{AtFlags, Mode, OFlags};

use super::{Checked, Facts, Kind, Owner, Problem, ScanOptions};
use crate::cert;
use crate::error::{Error, Result};
use crate::expiry::{self, Limits};
use crate::paths::{self, Home, ProfilePaths};
use crate::profile::Profile;

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
pub fn profile_dirs(home: &Home) -> Result<Vec<String>> {
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
                Profile::from_bytes(&paths.settings(), reader.data()).map_err(|e| e.to_string())
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
        // Nothing records a request yet: issue 15's autopilot will.
        renewal_requested: None,
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

pub fn check_file(file: &Path, opts: ScanOptions, now: DateTime<Utc>) -> Checked {
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
        issuer: if opts.issuers {
            issuer_of(leaf.der())
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

/// The issuer name of a certificate already parsed once (the fast path skips it).
fn issuer_of(der: &[u8]) -> String {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, x)| x.issuer().to_string())
        .unwrap_or_default()
}
