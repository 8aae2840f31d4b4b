//! Every write the tool makes goes through here, so that a crash, a full disk or a
//! concurrent cron job never leaves a half-written key or certificate (SPEC: Files and
//! state). The recipe: a temporary file in the same directory, created with its final
//! mode, written, fsynced, renamed over (or, for keys, linked without replacing), then the
//! directory fsynced so the rename itself survives a power cut.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

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
                let ty =
                    rustix::fs::FileType::from_raw_mode(std::os::unix::fs::MetadataExt::mode(&m));
                if let Some(what) = crate::input::irregular(ty) {
                    return Err(Error::NotAFileOut {
                        path: path.to_path_buf(),
                        what,
                    });
                }
                return write_atomic(path, bytes, Mode::Public);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::write(path, e)),
        }
    }
    write_new(path, bytes, Mode::Public)
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
        .prefix(".tmp-")
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

/// Takes the profile lock without waiting: a person and a cron job must not interleave
/// writes, and the one that comes second is told so rather than left hanging.
pub fn lock(path: &Path) -> Result<Lock> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::write(path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(Lock { _file: file }),
        Err(fs::TryLockError::WouldBlock) => Err(Error::Locked {
            path: path.to_path_buf(),
        }),
        Err(fs::TryLockError::Error(e)) => Err(Error::write(path, e)),
    }
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
