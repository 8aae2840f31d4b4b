//! Every write the tool makes goes through here, so that a crash, a full disk or a
//! concurrent cron job never leaves a half-written key or certificate (SPEC: Files and
//! state). The recipe: a temporary file in the same directory, created with its final
//! mode, written, fsynced, renamed over (or, for keys, linked without replacing), then the
//! directory fsynced so the rename itself survives a power cut.

use std::fs::{self, File, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::OFlags;

use crate::error::{Error, Result};

/// File modes. Secrets are created 0600 at open, never chmod-ed afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Private keys and the MQTT password: 0600.
    Secret,
    /// Certificates, CSRs, settings: 0644 (the profile directory itself is 0700).
    Public,
}

impl Mode {
    fn bits(self) -> u32 {
        match self {
            Mode::Secret => 0o600,
            Mode::Public => 0o644,
        }
    }
}

/// Creates `dir` and any missing parents with mode 0700.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::write(dir, e))
}

/// Atomically replaces (or creates) `path` with `bytes`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Mode) -> Result<()> {
    let tmp = write_temp(path, bytes, mode)?;
    tmp.persist(path).map_err(|e| Error::write(path, e.error))?;
    sync_parent(path)
}

/// Atomically creates `path`; never replaces an existing file. Used for private keys,
/// which are never overwritten (SPEC), so an existing file is [`Error::WouldOverwrite`].
pub fn write_new(path: &Path, bytes: &[u8], mode: Mode) -> Result<()> {
    let tmp = write_temp(path, bytes, mode)?;
    match tmp.persist_noclobber(path) {
        Ok(_) => sync_parent(path),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(Error::WouldOverwrite {
                path: path.to_path_buf(),
            })
        }
        Err(e) => Err(Error::write(path, e.error)),
    }
}

/// Writes a file the user named (`csr --out`): created new when nothing is there (an
/// existing name is [`Error::WouldOverwrite`] without `force`, decided by the no-clobber
/// link itself, not by an earlier look); with `force`, renamed over a regular file only.
/// A symbolic link, device, FIFO or directory is refused even with `force` (issue 14
/// item 8: as root, `--force` replaced `/dev/full` with a regular file).
pub fn write_out(path: &Path, bytes: &[u8], force: bool) -> Result<()> {
    if force {
        match fs::symlink_metadata(path) {
            Ok(m) => {
                if let Some(e) = not_a_file_out(path, &m) {
                    return Err(e);
                }
                return write_atomic(path, bytes, Mode::Public);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::write(path, e)),
        }
    }
    write_new(path, bytes, Mode::Public).map_err(|e| match e {
        // "pass --force" would be wrong advice for a directory or a device, which --force
        // refuses too: say what is there instead.
        Error::WouldOverwrite { .. } => fs::symlink_metadata(path)
            .ok()
            .and_then(|m| not_a_file_out(path, &m))
            .unwrap_or(e),
        e => e,
    })
}

/// [`Error::NotAFileOut`] when `path` (described by `m`) is not a regular file.
fn not_a_file_out(path: &Path, m: &fs::Metadata) -> Option<Error> {
    let ty = rustix::fs::FileType::from_raw_mode(std::os::unix::fs::MetadataExt::mode(m));
    crate::input::irregular(ty).map(|what| Error::NotAFileOut {
        path: path.to_path_buf(),
        what,
    })
}

/// Like [`write_new`], but leaves the directory fsync to the caller: for filling a fresh
/// staging directory that is fsynced once (with [`sync_dir`]) before it is renamed into
/// view. Saves one fsync per file where no reader can see the directory yet.
pub fn write_new_staged(path: &Path, bytes: &[u8], mode: Mode) -> Result<()> {
    let tmp = write_temp(path, bytes, mode)?;
    tmp.persist_noclobber(path)
        .map(drop)
        .map_err(|e| Error::write(path, e.error))
}

/// fsyncs a directory, making the renames inside it durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::write(dir, e))
}

fn write_temp(path: &Path, bytes: &[u8], mode: Mode) -> Result<tempfile::NamedTempFile> {
    let dir = parent(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .permissions(Permissions::from_mode(mode.bits()))
        .tempfile_in(dir)
        .map_err(|e| Error::write(path, e))?;
    // The umask may have masked bits off `permissions`; set exactly what we mean.
    tmp.as_file()
        .set_permissions(Permissions::from_mode(mode.bits()))
        .and_then(|()| tmp.write_all(bytes))
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::write(path, e))?;
    Ok(tmp)
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn sync_parent(path: &Path) -> Result<()> {
    sync_dir(parent(path))
}

/// Moves `files` (those that exist) of `profile_dir` into a new `archive/<UTC time>/`
/// folder, keeping their names. Renames within one file system: nothing is copied, so a
/// key is never in two half-states. Returns the folder, or `None` when nothing existed.
pub fn archive(profile_dir: &Path, files: &[PathBuf]) -> Result<Option<PathBuf>> {
    let present: Vec<&PathBuf> = files.iter().filter(|f| f.exists()).collect();
    if present.is_empty() {
        return Ok(None);
    }
    let dest = new_archive_dir(profile_dir)?;
    for f in present {
        let name = f.file_name().unwrap_or_default();
        let to = dest.join(name);
        fs::rename(f, &to).map_err(|e| Error::write(&to, e))?;
    }
    sync_parent(&dest.join("x"))?;
    sync_parent(&files[0])?;
    Ok(Some(dest))
}

/// Creates a new, empty `archive/<UTC time>/` folder (0700) in `profile_dir`; a second
/// one in the same second gets a `-2`, `-3`... suffix, so nothing is ever mixed.
pub fn new_archive_dir(profile_dir: &Path) -> Result<PathBuf> {
    let root = profile_dir.join(crate::paths::ARCHIVE_DIR);
    create_private_dir(&root)?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let mut n = 1;
    loop {
        let dest = match n {
            1 => root.join(&stamp),
            _ => root.join(format!("{stamp}-{n}")),
        };
        // `create_dir` (not `create_dir_all`) fails on an existing folder: no race
        // between two runs can make them share one.
        match fs::DirBuilder::new().mode(0o700).create(&dest) {
            Ok(()) => return Ok(dest),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(Error::write(&dest, e)),
        }
    }
}

/// Makes `archived` a second name (hard link) of `file`, so that `file` can then be
/// replaced by a rename while its content survives in the archive: there is no moment
/// when neither name holds it (SPEC: a key is never deleted). Already linked: nothing to do.
pub fn link_into_archive(file: &Path, archived: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(file), fs::metadata(archived)) {
        (Ok(a), Ok(b)) if a.dev() == b.dev() && a.ino() == b.ino() => Ok(()),
        (Ok(_), Ok(_)) => Err(Error::WouldOverwrite {
            path: archived.to_path_buf(),
        }),
        _ => {
            fs::hard_link(file, archived).map_err(|e| Error::write(archived, e))?;
            sync_parent(archived)
        }
    }
}

/// Renames `from` over `to` and makes the rename durable in both directories.
pub fn rename(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to).map_err(|e| Error::write(to, e))?;
    sync_parent(to)?;
    if parent(from) != parent(to) {
        sync_parent(from)?;
    }
    Ok(())
}

/// An exclusive lock on a profile, released when dropped (or when the process dies,
/// so a crashed run never leaves a stale lock behind).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// How long a command waits for another run's lock before saying so: long enough for a
/// `status` reading under the shared lock, or a replacement finishing, short enough that
/// a person is not left wondering.
const LOCK_WAIT: Duration = Duration::from_secs(3);

/// Opens the lock file without following a symbolic link (issue 14 item 10: a planted
/// link made the lock create a file anywhere).
fn open_lock(path: &Path, create: bool) -> std::io::Result<File> {
    let mut flags = OFlags::RDWR | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    if create {
        flags |= OFlags::CREATE;
    }
    let fd = rustix::fs::open(path, flags, rustix::fs::Mode::from_raw_mode(0o600))?;
    Ok(File::from(fd))
}

/// A symbolic link where the tool keeps its own files is refused, never followed.
fn refuse_link(path: &Path, e: std::io::Error) -> Error {
    if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
        return Error::SymlinkRefused {
            path: path.to_path_buf(),
        };
    }
    Error::write(path, e)
}

/// Takes the profile lock: a person and a cron job must not interleave writes, and the
/// one that comes second waits a moment, then is told so rather than left hanging.
/// Holding it, finishes or clears what a crashed run left (see [`recover`]).
pub fn lock(path: &Path) -> Result<Lock> {
    let file = open_lock(path, true).map_err(|e| refuse_link(path, e))?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(Error::Locked {
                    path: path.to_path_buf(),
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(Error::write(path, e)),
        }
    }
    recover(parent(path))?;
    Ok(Lock { _file: file })
}

/// The lock of a staging folder being filled (`init` of a new profile), taken at once.
pub fn lock_staging(path: &Path) -> Result<Lock> {
    let file = open_lock(path, true).map_err(|e| refuse_link(path, e))?;
    file.try_lock().map_err(|_| Error::Locked {
        path: path.to_path_buf(),
    })?;
    Ok(Lock { _file: file })
}

/// Removes the staging folders `root/<prefix>*` that a crashed run left: those whose
/// lock nobody holds (a live run holds its own). Best effort: what cannot be removed
/// now is tried again next time.
pub fn remove_stale_staging(root: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(prefix) {
            continue;
        }
        let dir = entry.path();
        match open_lock(&dir.join(crate::paths::LOCK_FILE), false) {
            Ok(f) if f.try_lock().is_ok() => {
                let _ = fs::remove_dir_all(&dir);
            }
            // Crashed before its lock existed: an empty folder.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let _ = fs::remove_dir(&dir);
            }
            _ => {}
        }
    }
}

/// A shared lock for a command that only reads (`status`): it waits while a writer
/// holds the profile, so it never sees a replacement half done. Never creates the lock
/// file, and gives up quietly (`None`) when there is none or the wait runs out.
pub fn read_lock(path: &Path) -> Option<Lock> {
    let file = open_lock(path, false).ok()?;
    let started = Instant::now();
    loop {
        match file.try_lock_shared() {
            Ok(()) => return Some(Lock { _file: file }),
            Err(fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => return None,
        }
    }
}

/// What a crashed run may have left in a profile, dealt with by the next run that holds
/// the lock (issue 14 items 2 and 12): a committed replacement is finished; staging
/// folders and temporary files (one may hold a 0600 key) are removed. `pending/` and
/// `archive/` must be real folders.
fn recover(profile_dir: &Path) -> Result<()> {
    for sub in [crate::paths::PENDING_DIR, crate::paths::ARCHIVE_DIR] {
        let p = profile_dir.join(sub);
        if fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(Error::SymlinkRefused { path: p });
        }
    }
    if fs::symlink_metadata(profile_dir.join(COMMIT_DIR)).is_ok() {
        roll_forward(profile_dir)?;
    }
    remove_leftovers(profile_dir, &[STAGING_PREFIX, TEMP_PREFIX])?;
    let pending = profile_dir.join(crate::paths::PENDING_DIR);
    if pending.is_dir() {
        remove_leftovers(&pending, &[TEMP_PREFIX])?;
    }
    Ok(())
}

/// Did a crashed run leave a committed replacement to finish in `profile_dir`?
pub fn needs_recovery(profile_dir: &Path) -> bool {
    fs::symlink_metadata(profile_dir.join(COMMIT_DIR)).is_ok()
}

/// Removes the entries of `dir` whose names start with one of `prefixes`.
fn remove_leftovers(dir: &Path, prefixes: &[&str]) -> Result<()> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !prefixes.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let path = entry.path();
        let gone = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        gone.map_err(|e| Error::write(&path, e))?;
    }
    Ok(())
}

// ---- Replacing several files at once (issue 14 item 2) ----
//
// POSIX renames one name at a time, so a command that replaces several files (`init
// --force`: key and settings, retiring CSR, certificate and pending renewal; `renew
// --force`: the pending key and CSR; `install-ca`) works like this, holding the lock:
//
// 1. the new files are written into a fresh `.staging-*` folder with a journal naming
//    the archive folder to use and the files to retire, all fsynced;
// 2. **commit**: the folder is renamed to `.commit` (one atomic rename). Before it the
//    profile is untouched and the staging folder is garbage; after it the replacement
//    will be finished, by this run or by the next one that takes the lock;
// 3. roll forward: each old file gets a second name in the archive (hard link; a folder
//    is renamed there), then the new file is renamed over it, or the retired name is
//    removed. Every step is idempotent, so a crash in here is finished by rerunning it;
// 4. the journal and `.commit` are removed: the archive comes last.
//
// At every instant each old key is reachable under some name, and the profile holds the
// old key and settings or the new ones: never neither.

const STAGING_PREFIX: &str = ".staging-";
const TEMP_PREFIX: &str = ".tmp-";
/// The committed set of new files, with its journal.
pub const COMMIT_DIR: &str = ".commit";
const JOURNAL_FILE: &str = "journal";

/// A replacement being staged; nothing visible changes until [`Replacement::commit`].
pub struct Replacement {
    profile_dir: PathBuf,
    /// `""` for the profile folder itself, or a sub-folder (`pending`).
    target: String,
    staging: tempfile::TempDir,
    retire: Vec<String>,
}

impl Replacement {
    /// Starts replacing files in `profile_dir/target`. The caller holds the lock.
    pub fn begin(profile_dir: &Path, target: &str) -> Result<Replacement> {
        let staging = tempfile::Builder::new()
            .prefix(STAGING_PREFIX)
            .permissions(Permissions::from_mode(0o700))
            .tempdir_in(profile_dir)
            .map_err(|e| Error::write(profile_dir, e))?;
        Ok(Replacement {
            profile_dir: profile_dir.to_path_buf(),
            target: target.to_owned(),
            staging,
            retire: Vec::new(),
        })
    }

    /// Stages the new content of `name`.
    pub fn write(&self, name: &str, bytes: &[u8], mode: Mode) -> Result<()> {
        write_new_staged(&self.staging.path().join(name), bytes, mode)
    }

    /// Moves `name` (a file or a folder) to the archive without a successor.
    pub fn retire(&mut self, name: &str) {
        self.retire.push(name.to_owned());
    }

    /// Commits (one rename) and finishes; the archive folder, when something was archived.
    pub fn commit(self) -> Result<Option<PathBuf>> {
        let archive = free_archive_name(&self.profile_dir);
        let mut journal = format!("archive={archive}\ntarget={}\n", self.target);
        for r in &self.retire {
            journal.push_str(&format!("retire={r}\n"));
        }
        self.write(JOURNAL_FILE, journal.as_bytes(), Mode::Public)?;
        sync_dir(self.staging.path())?;
        let commit = self.profile_dir.join(COMMIT_DIR);
        fs::rename(self.staging.path(), &commit).map_err(|e| Error::write(&commit, e))?;
        // The folder lives on under its new name; TempDir must not chase it.
        let _ = self.staging.keep();
        sync_dir(&self.profile_dir)?;
        roll_forward(&self.profile_dir)
    }
}

/// The journal of a committed replacement.
struct Journal {
    archive: String,
    target: String,
    retire: Vec<String>,
}

fn read_journal(commit: &Path) -> Result<Journal> {
    let file = commit.join(JOURNAL_FILE);
    let text = fs::read_to_string(&file).map_err(|e| Error::read(&file, e))?;
    let mut j = Journal {
        archive: String::new(),
        target: String::new(),
        retire: Vec::new(),
    };
    for line in text.lines() {
        match line.split_once('=') {
            Some(("archive", v)) => j.archive = v.to_owned(),
            Some(("target", v)) => j.target = v.to_owned(),
            Some(("retire", v)) => j.retire.push(v.to_owned()),
            _ => {}
        }
    }
    let plain = |n: &str| !n.contains('/') && !n.starts_with('.') && n != "..";
    let valid = plain(&j.archive)
        && !j.archive.is_empty()
        && (j.target.is_empty() || plain(&j.target))
        && j.retire.iter().all(|r| plain(r) && !r.is_empty());
    if !valid {
        return Err(Error::PromotionStuck {
            dir: commit.to_path_buf(),
            reason: format!("its journal {} is damaged", file.display()),
        });
    }
    Ok(j)
}

/// Steps 3 and 4 for the `.commit` folder of `profile_dir`; idempotent.
fn roll_forward(profile_dir: &Path) -> Result<Option<PathBuf>> {
    let commit = profile_dir.join(COMMIT_DIR);
    // A crash between the journal's removal (the last step) and the folder's: all done.
    if fs::symlink_metadata(commit.join(JOURNAL_FILE)).is_err() && fs::remove_dir(&commit).is_ok() {
        return Ok(None);
    }
    let j = read_journal(&commit)?;
    let target = match j.target.as_str() {
        "" => profile_dir.to_path_buf(),
        sub => profile_dir.join(sub),
    };
    let archive = profile_dir.join(crate::paths::ARCHIVE_DIR).join(&j.archive);
    let mut archived = false;
    for name in &j.retire {
        archived |= retire_one(&target.join(name), &archive)?;
    }
    let mut new_files: Vec<_> = fs::read_dir(&commit)
        .map_err(|e| Error::read(&commit, e))?
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != JOURNAL_FILE)
        .collect();
    // Settings after the key: the profile never names a key that is not there yet.
    new_files.sort_by_key(|n| n == crate::paths::PROFILE_FILE);
    if !new_files.is_empty() {
        create_private_dir(&target)?;
    }
    for name in new_files {
        let top = target.join(&name);
        if fs::symlink_metadata(&top).is_ok() {
            create_private_dir(&archive)?;
            link_into_archive(&top, &archive.join(&name))?;
            archived = true;
        }
        rename(&commit.join(&name), &top)?;
    }
    let journal = commit.join(JOURNAL_FILE);
    fs::remove_file(&journal).map_err(|e| Error::write(&journal, e))?;
    fs::remove_dir(&commit).map_err(|e| Error::write(&commit, e))?;
    sync_dir(profile_dir)?;
    Ok(archived.then_some(archive))
}

/// Moves one retired file or folder into the archive; `false` when it was not there.
fn retire_one(top: &Path, archive: &Path) -> Result<bool> {
    let Ok(meta) = fs::symlink_metadata(top) else {
        return Ok(false);
    };
    create_private_dir(archive)?;
    let to = archive.join(top.file_name().unwrap_or_default());
    if meta.is_dir() {
        rename(top, &to)?;
    } else {
        link_into_archive(top, &to)?;
        fs::remove_file(top).map_err(|e| Error::write(top, e))?;
        sync_parent(top)?;
    }
    Ok(true)
}

/// An `archive/<UTC time>` name not yet taken (created only when something is archived,
/// so a replacement that fails before its commit leaves no empty archive folder).
fn free_archive_name(profile_dir: &Path) -> String {
    let root = profile_dir.join(crate::paths::ARCHIVE_DIR);
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    (1..)
        .map(|n| match n {
            1 => stamp.clone(),
            _ => format!("{stamp}-{n}"),
        })
        .find(|name| fs::symlink_metadata(root.join(name)).is_err())
        .unwrap_or(stamp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn secret_files_are_0600_and_public_0644() {
        let d = tempfile::tempdir().unwrap();
        let s = d.path().join("s");
        let p = d.path().join("p");
        write_new(&s, b"k", Mode::Secret).unwrap();
        write_atomic(&p, b"c", Mode::Public).unwrap();
        assert_eq!(fs::metadata(&s).unwrap().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o777, 0o644);
    }

    #[test]
    fn write_new_never_replaces() {
        let d = tempfile::tempdir().unwrap();
        let k = d.path().join("k");
        write_new(&k, b"first", Mode::Secret).unwrap();
        let e = write_new(&k, b"second", Mode::Secret).unwrap_err();
        assert!(matches!(e, Error::WouldOverwrite { .. }), "{e:?}");
        assert_eq!(fs::read(&k).unwrap(), b"first");
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn archive_moves_existing_files_only() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a");
        write_atomic(&a, b"1", Mode::Public).unwrap();
        let dest = archive(d.path(), &[a.clone(), d.path().join("missing")])
            .unwrap()
            .unwrap();
        assert!(!a.exists());
        assert_eq!(fs::read(dest.join("a")).unwrap(), b"1");
        assert!(archive(d.path(), &[a]).unwrap().is_none());
    }

    #[test]
    fn second_lock_is_refused_until_the_first_is_dropped() {
        let d = tempfile::tempdir().unwrap();
        let l = d.path().join(".lock");
        let first = lock(&l).unwrap();
        assert!(matches!(lock(&l), Err(Error::Locked { .. })));
        drop(first);
        lock(&l).unwrap();
    }

    #[test]
    fn create_private_dir_is_0700() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x/y");
        create_private_dir(&p).unwrap();
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o777, 0o700);
    }
}
