//! What every command needs to run: where files live, which profile, how to report,
//! and how to write a command line the user can paste (with this run's `--home` and
//! `--profile`). Below `commands/`, so the modules commands call can take it too.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::fix::Fix;
use crate::output::Output;
use crate::paths::{Home, ProfilePaths};
use crate::profile::Profile;
use crate::{renewal, store};

/// What every command needs: where files live, which profile, how to report.
pub struct Ctx {
    pub home: Home,
    /// `--home` as given, to repeat it in the "next step" commands we print.
    pub home_flag: Option<PathBuf>,
    pub profile: String,
    pub out: Output,
}

impl Ctx {
    pub fn paths(&self) -> ProfilePaths {
        self.home.profile(&self.profile)
    }

    /// The profile's paths and validated settings; [`Error::NoProfile`] if absent.
    /// Finishes a renewal promotion a crash interrupted, so that every command sees a
    /// consistent profile (see `renewal`).
    pub fn load(&self) -> Result<(ProfilePaths, Profile)> {
        let paths = self.paths();
        let profile = Profile::load(&paths).map_err(|e| match e {
            Error::NoProfile { name, dir, .. } => Error::NoProfile {
                name,
                dir,
                init_cmd: self.fix(Fix::Init),
            },
            other => other,
        })?;
        self.finish_interrupted_promotion(&paths);
        Ok((paths, profile))
    }

    /// Best effort: a run holding the lock is finishing it already, and a read-only
    /// command (e.g. a monitoring user's `check-expiry`) must not fail because of it.
    fn finish_interrupted_promotion(&self, paths: &ProfilePaths) {
        if !renewal::needs_recovery(paths) && !store::needs_recovery(&paths.dir) {
            return;
        }
        let Ok(_lock) = store::lock(&paths.lock()) else {
            return;
        };
        match renewal::recover(paths) {
            Ok(Some(dir)) => self.out.note(format!(
                "finished an interrupted certificate renewal; the replaced key, CSR and certificate are in {}",
                dir.display()
            )),
            Ok(None) => {}
            Err(e) => self.out.warn(e.to_string()),
        }
    }

    /// The full command line of a recommended step (see [`Fix`]).
    pub fn fix(&self, f: Fix) -> String {
        self.cmd(f.args())
    }

    /// The fix line with the file this run was given instead of the documented name: a
    /// certificate handed to the wrong command is one paste away from the right one
    /// (standard input keeps the documented name).
    pub fn with_file(&self, f: Fix, file: &std::path::Path) -> String {
        if crate::input::is_stdin(file) {
            return self.fix(f);
        }
        let verb = f.args().split(' ').next().unwrap_or_default();
        self.cmd(&format!(
            "{verb} {}",
            shell_quote(&file.display().to_string())
        ))
    }

    /// [`Ctx::fix`] for another profile (`check-expiry --all` names each one's fix).
    pub fn fix_for(&self, profile: &str, f: Fix) -> String {
        self.cmd_for(profile, f.args())
    }

    /// A command line the user can paste, carrying this run's --home and --profile.
    pub fn cmd(&self, rest: &str) -> String {
        self.cmd_for(&self.profile, rest)
    }

    /// Like [`Ctx::cmd`] for another profile (`check-expiry --all` names each one's fix).
    pub fn cmd_for(&self, profile: &str, rest: &str) -> String {
        let mut s = String::from("centiloc-cert");
        if let Some(h) = &self.home_flag {
            s.push_str(&format!(
                " --home {}",
                shell_quote(&h.display().to_string())
            ));
        }
        if profile != "default" {
            s.push_str(&format!(" --profile {}", shell_quote(profile)));
        }
        s.push(' ');
        s.push_str(rest);
        s
    }
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_only_when_needed() {
        assert_eq!(shell_quote("/tmp/x"), "/tmp/x");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
