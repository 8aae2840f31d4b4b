//! Where things live. `--home DIR` (or `CENTILOC_CERT_HOME`) puts everything under DIR;
//! otherwise the platform directories of the `directories` crate (SPEC: Files and state).
//! File names inside a profile are the ones Centiloc's documentation uses, so a user who
//! followed the manual recipe recognises them.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub const CONFIG_FILE: &str = "config.toml";
pub const PROFILES_DIR: &str = "profiles";

pub const PROFILE_FILE: &str = "profile.toml";
pub const KEY_FILE: &str = "private-key.pem";
pub const CSR_FILE: &str = "certificate-request.csr";
pub const CERT_FILE: &str = "tls-cert.pem";
pub const CA_FILE: &str = "ca-cert.pem";
pub const PASSWORD_FILE: &str = "mqtt-password";
pub const PENDING_DIR: &str = "pending";
pub const ARCHIVE_DIR: &str = "archive";
pub const LOCK_FILE: &str = ".lock";
/// Which expiry e-mails went out (check-expiry --notify).
pub const NOTICES_FILE: &str = "notices.toml";
/// The renewal request sent to support (issue 15): when, to whom, which pending key.
pub const REQUEST_FILE: &str = "renewal-request.toml";

/// The two roots: configuration (config.toml, template overrides) and data (profiles).
#[derive(Debug, Clone)]
pub struct Home {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
}

impl Home {
    /// `explicit` is `--home` / `CENTILOC_CERT_HOME` (clap already merged the two).
    pub fn resolve(explicit: Option<&Path>) -> Result<Home> {
        if let Some(dir) = explicit {
            return Ok(Home {
                config_dir: dir.to_path_buf(),
                data_dir: dir.to_path_buf(),
            });
        }
        let dirs = directories::ProjectDirs::from("com", "Centiloc", "centiloc-cert")
            .ok_or(Error::NoHomeDir)?;
        Ok(Home {
            config_dir: dirs.config_dir().to_path_buf(),
            data_dir: dirs.data_dir().to_path_buf(),
        })
    }

    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join(CONFIG_FILE)
    }

    pub fn profiles_dir(&self) -> PathBuf {
        self.data_dir.join(PROFILES_DIR)
    }

    pub fn profile(&self, name: &str) -> ProfilePaths {
        ProfilePaths {
            name: name.to_owned(),
            dir: self.profiles_dir().join(name),
        }
    }

    /// Names of every profile directory that holds a `profile.toml`, sorted.
    pub fn profile_names(&self) -> Result<Vec<String>> {
        let dir = self.profiles_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::read(dir, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::read(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && entry.path().join(PROFILE_FILE).is_file() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }
}

/// The files of one profile (one User-MQTT connection).
#[derive(Debug, Clone)]
pub struct ProfilePaths {
    pub name: String,
    pub dir: PathBuf,
}

impl ProfilePaths {
    pub fn settings(&self) -> PathBuf {
        self.dir.join(PROFILE_FILE)
    }
    pub fn key(&self) -> PathBuf {
        self.dir.join(KEY_FILE)
    }
    pub fn csr(&self) -> PathBuf {
        self.dir.join(CSR_FILE)
    }
    pub fn cert(&self) -> PathBuf {
        self.dir.join(CERT_FILE)
    }
    pub fn ca(&self) -> PathBuf {
        self.dir.join(CA_FILE)
    }
    pub fn password(&self) -> PathBuf {
        self.dir.join(PASSWORD_FILE)
    }
    pub fn pending_dir(&self) -> PathBuf {
        self.dir.join(PENDING_DIR)
    }
    pub fn archive_dir(&self) -> PathBuf {
        self.dir.join(ARCHIVE_DIR)
    }
    pub fn lock(&self) -> PathBuf {
        self.dir.join(LOCK_FILE)
    }
    pub fn renewal_request(&self) -> PathBuf {
        self.dir.join(REQUEST_FILE)
    }

    pub fn notices(&self) -> PathBuf {
        self.dir.join(NOTICES_FILE)
    }
    pub fn exists(&self) -> bool {
        self.settings().is_file()
    }
}

/// OpenSSH's StrictModes rule: whoever can write a directory can swap the files in it,
/// so a profile directory must not be writable by its group or by others (issue 14
/// item 10: `status` called a 0777 profile ready). Pure: takes the `st_mode` bits.
pub fn writable_by_others(mode: u32) -> bool {
    mode & 0o022 != 0
}

/// What is wrong with the profile directory's permissions, with the command that fixes
/// it; `None` when it is fine (or cannot be read, which other checks report).
pub fn dir_mode_problem(dir: &Path) -> Option<(String, String)> {
    use std::os::unix::fs::MetadataExt;
    let mode = std::fs::metadata(dir).ok()?.mode() & 0o7777;
    writable_by_others(mode).then(|| {
        (
            format!(
                "{} is mode {mode:04o}: others on this machine can replace its key and certificate",
                dir.display()
            ),
            format!("chmod 700 {}", dir.display()),
        )
    })
}

/// Profile names become directory names: keep them to a safe, portable alphabet.
pub fn validate_profile_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "profile name",
            name,
            "use 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_home_holds_config_and_profiles() {
        let h = Home::resolve(Some(Path::new("/tmp/h"))).unwrap();
        assert_eq!(h.config_file(), Path::new("/tmp/h/config.toml"));
        assert_eq!(
            h.profile("default").key(),
            Path::new("/tmp/h/profiles/default/private-key.pem")
        );
    }

    #[test]
    fn group_or_world_writable_is_unsafe() {
        for bad in [0o777, 0o770, 0o722, 0o1777, 0o720] {
            assert!(writable_by_others(bad), "{bad:o}");
        }
        for good in [0o700, 0o755, 0o750, 0o500] {
            assert!(!writable_by_others(good), "{good:o}");
        }
    }

    #[test]
    fn profile_names_are_filesystem_safe() {
        for bad in ["", "../x", "a/b", ".hidden", "a b", &"x".repeat(65)] {
            assert!(validate_profile_name(bad).is_err(), "{bad:?}");
        }
        for good in ["default", "acme-prod", "t_1.eu"] {
            validate_profile_name(good).unwrap();
        }
    }
}
