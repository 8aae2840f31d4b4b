//! Renewal without downtime (SPEC: `renew`): a new key and CSR wait in `pending/` while
//! the current key and certificate keep working; when support's certificate for the new
//! key arrives, `install-cert` promotes key, CSR and certificate together.
//!
//! Layout others rely on (issue 3 coordination): `pending/private-key.pem` (0600, written
//! with `store::write_new`) and `pending/certificate-request.csr`, in a 0700 folder. The
//! CSR's presence is what "a renewal is pending" means (`check-expiry` reads its mtime).
//!
//! # Why promotion is all or nothing
//!
//! Three files must change together and POSIX has no multi-file rename, so promotion is
//! a small roll-forward journal, run with the profile lock held:
//!
//! 1. `pending/tls-cert.pem` is written atomically. **This is the commit point**: before
//!    it, nothing the other commands read has changed; after it, the promotion will be
//!    finished, by this run or by the next command that loads the profile.
//! 2. `pending/.promotion` records the `archive/<stamp>/` folder chosen, so a resumed
//!    run archives into the same folder.
//! 3. For each of CSR, certificate, key: the current file gets a second name in the
//!    archive (hard link), then the pending file is renamed over it. Each rename is
//!    atomic, and the hard link comes first, so at every instant each old key is reachable
//!    under some name and each current name holds a whole file (SPEC: a key is never
//!    deleted or overwritten, and no half-written file).
//! 4. The journal and the empty `pending/` folder are removed.
//!
//! A crash anywhere leaves, per file, either "old at the top, new in pending/" or "new at
//! the top, nothing in pending/" — and step 3 is idempotent on both — so [`recover`]
//! simply runs steps 2–4 again. Between two renames the top level may briefly pair the
//! new key with the old certificate; that window is closed by the same roll-forward.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::csr::{self, Subject};
use crate::error::{Error, Result};
use crate::keys::{Curve, PrivateKey};
use crate::paths::{CERT_FILE, CSR_FILE, KEY_FILE, ProfilePaths};
use crate::profile::Profile;
use crate::store;

/// Records which archive folder an interrupted promotion was using.
const JOURNAL: &str = ".promotion";

/// The pending renewal's files, named like the profile's own (`pending/private-key.pem`...).
pub fn pending_paths(paths: &ProfilePaths) -> ProfilePaths {
    ProfilePaths {
        name: paths.name.clone(),
        dir: paths.pending_dir(),
    }
}

/// Is a renewal waiting for its certificate? (The pending CSR exists.)
pub fn is_pending(paths: &ProfilePaths) -> bool {
    pending_paths(paths).csr().is_file()
}

/// When the pending renewal started: the pending CSR's modification time.
pub fn pending_since(paths: &ProfilePaths) -> Option<DateTime<Utc>> {
    let modified = std::fs::metadata(pending_paths(paths).csr())
        .and_then(|m| m.modified())
        .ok()?;
    Some(DateTime::<Utc>::from(modified))
}

/// What [`start`] made.
#[derive(Debug)]
pub struct Started {
    pub key_file: PathBuf,
    pub csr_file: PathBuf,
    pub curve: Curve,
    pub key_fingerprint: String,
    pub subject: String,
    /// An earlier run made the key but crashed before the CSR: we reused that key.
    pub resumed: bool,
    /// `--force` moved an abandoned pending key and CSR here.
    pub archived: Option<PathBuf>,
}

/// Makes a new key and CSR in `pending/` with the profile's subject. The caller holds the
/// profile lock. `curve`: `None` keeps the current key's curve. `install_cmd` is the
/// command line quoted in the refusal when a renewal is already pending.
pub fn start(
    paths: &ProfilePaths,
    profile: &Profile,
    curve: Option<Curve>,
    force: bool,
    install_cmd: &str,
) -> Result<Started> {
    let pending = pending_paths(paths);
    let has_key = pending.key().exists();
    let has_csr = pending.csr().exists();
    if (has_key || has_csr) && force {
        return restart(paths, profile, curve);
    }
    if has_csr {
        return Err(Error::RenewalPending {
            csr: pending.csr(),
            since: pending_since(paths)
                .map(crate::time::when)
                .unwrap_or_else(|| "an unknown time".into()),
            install_cmd: install_cmd.to_owned(),
        });
    }
    // A key without its CSR is a run that crashed in between: finish it with that key
    // rather than asking for --force (the key was never sent anywhere).
    let resumed = has_key;
    let key = if resumed {
        PrivateKey::from_file(&pending.key())?
    } else {
        let key = PrivateKey::generate(renewal_curve(paths, curve))?;
        store::create_private_dir(&pending.dir)?;
        store::write_new(&pending.key(), key.pem().as_bytes(), store::Mode::Secret)?;
        key
    };
    let subject = Subject::of(profile);
    let pem = csr::build(&key, &subject)?;
    store::write_atomic(&pending.csr(), pem.as_bytes(), store::Mode::Public)?;
    Ok(Started::new(&pending, &key, &subject, resumed, None))
}

impl Started {
    fn new(
        pending: &ProfilePaths,
        key: &PrivateKey,
        subject: &Subject,
        resumed: bool,
        archived: Option<PathBuf>,
    ) -> Started {
        Started {
            key_file: pending.key(),
            csr_file: pending.csr(),
            curve: key.curve(),
            key_fingerprint: key.fingerprint(),
            subject: subject.openssl_line(),
            resumed,
            archived,
        }
    }
}

/// The new key's curve: the one asked for, else the current key's (P-256 without one).
fn renewal_curve(paths: &ProfilePaths, asked: Option<Curve>) -> Curve {
    asked.unwrap_or_else(|| {
        PrivateKey::from_file(&paths.key())
            .map(|k| k.curve())
            .unwrap_or(Curve::P256)
    })
}

/// `renew --force` over a pending renewal: the new pending key and CSR are staged and
/// replace the old ones in one commit, the old ones archived last, so a full disk or a
/// crash never leaves the pending key gone (issue 14 item 2: the certificate support had
/// already signed for it was refused afterwards).
fn restart(paths: &ProfilePaths, profile: &Profile, curve: Option<Curve>) -> Result<Started> {
    let pending = pending_paths(paths);
    let key = PrivateKey::generate(renewal_curve(paths, curve))?;
    let subject = Subject::of(profile);
    let pem = csr::build(&key, &subject)?;
    let r = store::Replacement::begin(&paths.dir, crate::paths::PENDING_DIR)?;
    r.write(KEY_FILE, key.pem().as_bytes(), store::Mode::Secret)?;
    r.write(CSR_FILE, pem.as_bytes(), store::Mode::Public)?;
    let archived = r.commit()?;
    Ok(Started::new(&pending, &key, &subject, false, archived))
}

/// Installs `cert_pem` (already checked against the pending key) and promotes the pending
/// key and CSR with it; the replaced key, CSR and certificate go to one archive folder,
/// which is returned. The caller holds the profile lock.
pub fn promote(paths: &ProfilePaths, cert_pem: &[u8]) -> Result<PathBuf> {
    let pending = pending_paths(paths);
    if !pending.key().is_file() {
        return Err(Error::PromotionStuck {
            dir: pending.dir,
            reason: "the pending private key is gone".into(),
        });
    }
    store::write_atomic(&pending.cert(), cert_pem, store::Mode::Public)?;
    roll_forward(paths)
}

/// Was a promotion interrupted (crash, power cut, full disk) after its commit point?
pub fn needs_recovery(paths: &ProfilePaths) -> bool {
    let pending = pending_paths(paths);
    pending.cert().exists() || pending.dir.join(JOURNAL).exists()
}

/// Finishes an interrupted promotion; `Ok(None)` when there was none. The caller holds
/// the profile lock.
pub fn recover(paths: &ProfilePaths) -> Result<Option<PathBuf>> {
    if !needs_recovery(paths) {
        return Ok(None);
    }
    let pending = pending_paths(paths);
    // Before the journal exists nothing has moved yet: the promotion can only go on if
    // the whole pending set is there; otherwise leave everything for a person to see.
    if !pending.dir.join(JOURNAL).exists() && !pending.key().is_file() {
        return Err(Error::PromotionStuck {
            reason: format!(
                "{} is there but the pending private key is not",
                pending.cert().display()
            ),
            dir: pending.dir,
        });
    }
    roll_forward(paths).map(Some)
}

/// Steps 2–4 of the module comment; idempotent, so a crash in here is finished by rerunning it.
fn roll_forward(paths: &ProfilePaths) -> Result<PathBuf> {
    let pending = pending_paths(paths);
    let journal = pending.dir.join(JOURNAL);
    let dest = match std::fs::read_to_string(&journal) {
        Ok(name) => archive_folder(paths, name.trim(), &pending.dir)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dest = store::new_archive_dir(&paths.dir)?;
            let name = dest.file_name().unwrap_or_default().to_string_lossy();
            store::write_atomic(&journal, name.as_bytes(), store::Mode::Public)?;
            dest
        }
        Err(e) => return Err(Error::read(journal, e)),
    };
    // CSR and certificate before the key: until the key moves, a reader that pairs the
    // top-level key with the pending one's certificate gets a mismatch for the shortest time.
    for name in [CSR_FILE, CERT_FILE, KEY_FILE] {
        let from = pending.dir.join(name);
        if !from.exists() {
            continue;
        }
        let to = paths.dir.join(name);
        if to.exists() {
            store::link_into_archive(&to, &dest.join(name)).map_err(|e| stuck(&pending.dir, e))?;
        }
        store::rename(&from, &to)?;
    }
    std::fs::remove_file(&journal).map_err(|e| Error::write(&journal, e))?;
    // Anything a person put into pending/ keeps the folder alive; that is fine.
    let _ = std::fs::remove_dir(&pending.dir);
    Ok(dest)
}

fn archive_folder(paths: &ProfilePaths, name: &str, pending_dir: &Path) -> Result<PathBuf> {
    let valid = !name.is_empty() && !name.contains('/') && !name.starts_with('.');
    if !valid {
        return Err(Error::PromotionStuck {
            dir: pending_dir.to_path_buf(),
            reason: format!("its journal names no usable archive folder ({name:?})"),
        });
    }
    let dest = paths.archive_dir().join(name);
    store::create_private_dir(&dest)?;
    Ok(dest)
}

fn stuck(dir: &Path, e: Error) -> Error {
    Error::PromotionStuck {
        dir: dir.to_path_buf(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile_dir() -> (tempfile::TempDir, ProfilePaths) {
        let d = tempfile::tempdir().unwrap();
        let paths = ProfilePaths {
            name: "p".into(),
            dir: d.path().to_path_buf(),
        };
        for (f, v) in [
            (KEY_FILE, "old key"),
            (CSR_FILE, "old csr"),
            (CERT_FILE, "old cert"),
        ] {
            std::fs::write(paths.dir.join(f), v).unwrap();
        }
        let pending = pending_paths(&paths);
        store::create_private_dir(&pending.dir).unwrap();
        std::fs::write(pending.key(), "new key").unwrap();
        std::fs::write(pending.csr(), "new csr").unwrap();
        (d, paths)
    }

    fn read(p: PathBuf) -> String {
        std::fs::read_to_string(p).unwrap()
    }

    fn assert_promoted(paths: &ProfilePaths, dest: &Path) {
        assert_eq!(read(paths.key()), "new key");
        assert_eq!(read(paths.csr()), "new csr");
        assert_eq!(read(paths.cert()), "new cert");
        assert_eq!(read(dest.join(KEY_FILE)), "old key");
        assert_eq!(read(dest.join(CSR_FILE)), "old csr");
        assert_eq!(read(dest.join(CERT_FILE)), "old cert");
        assert!(!paths.pending_dir().exists());
        assert!(!needs_recovery(paths));
    }

    #[test]
    fn promotion_moves_all_three_and_archives_the_old_ones_together() {
        let (_d, paths) = profile_dir();
        let dest = promote(&paths, b"new cert").unwrap();
        assert_promoted(&paths, &dest);
    }

    #[test]
    fn a_crash_after_the_commit_point_is_rolled_forward() {
        // Crash right after writing pending/tls-cert.pem (before the journal).
        let (_d, paths) = profile_dir();
        std::fs::write(pending_paths(&paths).cert(), "new cert").unwrap();
        assert!(needs_recovery(&paths));
        let dest = recover(&paths).unwrap().unwrap();
        assert_promoted(&paths, &dest);
    }

    #[test]
    fn a_crash_between_renames_is_rolled_forward_into_the_same_archive() {
        let (_d, paths) = profile_dir();
        let pending = pending_paths(&paths);
        std::fs::write(pending.cert(), "new cert").unwrap();
        // Simulate steps 2 and part of 3: journal written, CSR archived and moved, the
        // certificate linked into the archive but not yet replaced.
        let dest = store::new_archive_dir(&paths.dir).unwrap();
        let name = dest.file_name().unwrap().to_str().unwrap();
        std::fs::write(pending.dir.join(JOURNAL), name).unwrap();
        store::link_into_archive(&paths.csr(), &dest.join(CSR_FILE)).unwrap();
        std::fs::rename(pending.csr(), paths.csr()).unwrap();
        store::link_into_archive(&paths.cert(), &dest.join(CERT_FILE)).unwrap();
        assert_eq!(recover(&paths).unwrap().unwrap(), dest);
        assert_promoted(&paths, &dest);
        // Exactly one archive folder.
        assert_eq!(std::fs::read_dir(paths.archive_dir()).unwrap().count(), 1);
    }

    #[test]
    fn a_pending_certificate_without_its_key_is_left_alone() {
        let (_d, paths) = profile_dir();
        let pending = pending_paths(&paths);
        std::fs::remove_file(pending.key()).unwrap();
        std::fs::write(pending.cert(), "new cert").unwrap();
        assert!(matches!(recover(&paths), Err(Error::PromotionStuck { .. })));
        assert_eq!(read(paths.key()), "old key");
        assert_eq!(read(paths.cert()), "old cert");
    }

    #[test]
    fn nothing_to_recover_is_none() {
        let (_d, paths) = profile_dir();
        assert!(recover(&paths).unwrap().is_none());
        assert_eq!(read(paths.key()), "old key");
    }
}
