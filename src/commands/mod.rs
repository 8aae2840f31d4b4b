//! One module per command. Each takes the shared [`Ctx`] and its own clap args, and
//! returns the exit code for success paths that are not plain 0 (e.g. `check-expiry`).

use std::path::PathBuf;

use crate::cli::{Cli, Command};
use crate::error::Result;
use crate::exit_codes::ExitCode;
use crate::output::Output;
use crate::paths::{self, Home, ProfilePaths};
use crate::profile::Profile;

mod check_expiry;
mod csr;
mod expiry_notify;
mod expiry_report;
mod init;

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

    /// The profile's paths and validated settings; [`crate::error::Error::NoProfile`] if absent.
    pub fn load(&self) -> Result<(ProfilePaths, Profile)> {
        let paths = self.paths();
        let profile = Profile::load(&paths)?;
        Ok((paths, profile))
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

pub fn run(cli: Cli) -> Result<ExitCode> {
    let g = cli.global;
    paths::validate_profile_name(&g.profile)?;
    let ctx = Ctx {
        home: Home::resolve(g.home.as_deref())?,
        home_flag: g.home,
        profile: g.profile,
        out: Output {
            quiet: g.quiet,
            verbose: g.verbose,
        },
    };
    match cli.command {
        Command::Init(a) => init::run(&ctx, a),
        Command::Csr(a) => csr::run(&ctx, a),
        Command::CheckExpiry(a) => check_expiry::run(&ctx, a),
        Command::Completions(a) => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            clap_complete::generate(a.shell, &mut cmd, "centiloc-cert", &mut std::io::stdout());
            Ok(ExitCode::Ok)
        }
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
