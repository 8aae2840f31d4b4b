//! `credentials`: the MQTT username (in `profile.toml`) and password (in `mqtt-password`,
//! 0600, atomic). The password comes from stdin (`--password-stdin`) or a hidden prompt,
//! never from argv, and is never printed, logged or put into an error (SPEC).

use std::io::BufRead;
use std::path::PathBuf;

use zeroize::Zeroizing;

use crate::cli::CredentialsArgs;
use crate::config::SMTP_PASSWORD_ENV;
use crate::context::Ctx;
use crate::credentials::{PASSWORD_ENV, store_password, store_smtp_password};
use crate::error::{Error, Result};
use crate::exit_codes::ExitCode;
use crate::fix::Fix;
use crate::output::Format;
use crate::profile::validate_username;
use crate::{prompt, store};

/// What to change, decided before anything is written.
struct Change {
    username: Option<String>,
    password: Option<Zeroizing<String>>,
}

pub fn run(ctx: &Ctx, args: CredentialsArgs) -> Result<ExitCode> {
    if args.smtp_password_stdin || args.smtp_password {
        return smtp_password(ctx, &args);
    }
    let (paths, mut profile) = ctx.load()?;
    let mut change = gather(&args, profile.username.as_deref())?;
    let mut warnings = Vec::new();
    if let Some(u) = &mut change.username {
        warnings.extend(tidy_username(u)?);
    }
    {
        let _lock = store::lock(&paths.lock())?;
        if let Some(u) = &change.username
            && profile.username.as_deref() != Some(u)
        {
            profile.username = Some(u.clone());
            profile.save(&paths)?;
        }
        if let Some(pw) = &change.password {
            store_password(&paths, pw)?;
        }
    }
    let report = Report {
        profile: &paths.name,
        username: profile.username.as_deref(),
        username_changed: change.username.is_some(),
        password_stored: change.password.is_some(),
        password_file: paths.password(),
        password_overridden_by_environment: std::env::var_os(PASSWORD_ENV)
            .is_some_and(|v| !v.is_empty()),
        warnings,
        settings_file: paths.settings(),
    };
    for w in &report.warnings {
        ctx.out.warn(crate::output::safe(w));
    }
    match args.format {
        Format::Json => ctx.out.report(&report),
        Format::Text => report.print_text(ctx),
    }
    Ok(ExitCode::Ok)
}

/// Spaces around a username are a copy-paste accident (the interactive prompt trims
/// them too); the broker would compare them. Trimmed, and said so in the warning.
fn tidy_username(u: &mut String) -> Result<Option<String>> {
    let trimmed = u.trim();
    let mut warning = None;
    if trimmed.len() != u.len() && !trimmed.is_empty() {
        warning = Some(format!(
            "removed the spaces around the username: saved \"{trimmed}\""
        ));
        *u = trimmed.to_owned();
    }
    validate_username(u)?;
    Ok(warning)
}

/// What `credentials` saved: the JSON document, and what the text is made from. The
/// password itself is never in it.
#[derive(serde::Serialize)]
struct Report<'a> {
    profile: &'a str,
    /// The username now in profile.toml.
    username: Option<&'a str>,
    /// A username was given this run (and saved, when it differed).
    username_changed: bool,
    password_stored: bool,
    #[serde(serialize_with = "crate::output::path")]
    password_file: PathBuf,
    password_overridden_by_environment: bool,
    warnings: Vec<String>,
    #[serde(skip)]
    settings_file: PathBuf,
}

impl Report<'_> {
    fn print_text(&self, ctx: &Ctx) {
        let o = &ctx.out;
        if let (true, Some(u)) = (self.username_changed, self.username) {
            o.line(format!(
                "Username \"{}\" saved in {}",
                crate::output::safe(u),
                self.settings_file.display()
            ));
        }
        if self.password_stored {
            o.line(format!(
                "Password saved in {} (mode 0600)",
                self.password_file.display()
            ));
            if self.password_overridden_by_environment {
                o.warn(format!(
                    "{PASSWORD_ENV} is set in this environment: it overrides the saved password whenever it is set"
                ));
            }
        }
        o.line(format!("Next: {}", ctx.fix(Fix::Status)));
    }
}

/// `--smtp-password-stdin` / `--smtp-password`: the SMTP secret at rest, beside
/// config.toml (shared by every profile, so no profile is needed).
fn smtp_password(ctx: &Ctx, args: &CredentialsArgs) -> Result<ExitCode> {
    let pw = if args.smtp_password_stdin {
        password_from_stdin()?
    } else if prompt::stdin_is_terminal() {
        password_from_terminal("SMTP password (hidden): ")?
    } else {
        return Err(Error::Usage(
            "--smtp-password asks on a terminal, and standard input is not one; pipe the password in with --smtp-password-stdin instead".into(),
        ));
    };
    let config = ctx.home.config_file();
    let report = SmtpReport {
        smtp_password_stored: true,
        smtp_password_file: store_smtp_password(&config, &pw)?,
        smtp_password_overridden_by_environment: std::env::var_os(SMTP_PASSWORD_ENV)
            .is_some_and(|v| !v.is_empty()),
        config_exists: config.exists(),
        config_file: config,
    };
    match args.format {
        Format::Json => ctx.out.report(&report),
        Format::Text => report.print_text(ctx),
    }
    Ok(ExitCode::Ok)
}

/// What `credentials --smtp-password…` saved: the JSON document and the text's source.
#[derive(serde::Serialize)]
struct SmtpReport {
    smtp_password_stored: bool,
    #[serde(serialize_with = "crate::output::path")]
    smtp_password_file: PathBuf,
    smtp_password_overridden_by_environment: bool,
    #[serde(skip)]
    config_file: PathBuf,
    #[serde(skip)]
    config_exists: bool,
}

impl SmtpReport {
    fn print_text(&self, ctx: &Ctx) {
        ctx.out.line(format!(
            "SMTP password saved in {} (mode 0600); e-mail from cron and systemd jobs now logs in with it",
            self.smtp_password_file.display()
        ));
        if self.smtp_password_overridden_by_environment {
            ctx.out.warn(format!(
                "{SMTP_PASSWORD_ENV} is set in this environment: it overrides the saved SMTP password whenever it is set"
            ));
        }
        if !self.config_exists {
            ctx.out.note(format!(
                "{} does not exist yet: add its [notify] section (see docs/expiry.md)",
                self.config_file.display()
            ));
        }
    }
}

/// Flags first; a terminal is asked for what the flags leave out: both with no flag, the
/// password with `--username` alone.
fn gather(args: &CredentialsArgs, current: Option<&str>) -> Result<Change> {
    if args.password_stdin {
        return Ok(Change {
            username: args.username.clone(),
            password: Some(password_from_stdin()?),
        });
    }
    if args.username.is_some() {
        // On a terminal the password is asked next, as README and --help say (issue 10);
        // a script that only renames the user keeps the stored password.
        if let Some(u) = &args.username {
            // Refused before the password is typed, not after.
            validate_username(u.trim())?;
        }
        let password = match prompt::stdin_is_terminal() {
            true => Some(password_from_terminal("MQTT password (hidden): ")?),
            false => None,
        };
        return Ok(Change {
            username: args.username.clone(),
            password,
        });
    }
    if !prompt::stdin_is_terminal() {
        return Err(Error::Usage(
            "nothing to set: pass --username NAME and/or --password-stdin (password on standard input), or run `credentials` in a terminal to be asked".into(),
        ));
    }
    let question = match current {
        Some(u) => format!("MQTT username, now {:?}", crate::output::safe(u)),
        None => "MQTT username".into(),
    };
    let username = prompt::ask(&question, current.is_some(), validate_username)?;
    Ok(Change {
        username,
        password: Some(password_from_terminal("MQTT password (hidden): ")?),
    })
}

/// The first line of stdin, without its line end.
fn password_from_stdin() -> Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    let n = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::read("standard input", e))?;
    let pw = line.trim_end_matches(['\n', '\r']);
    if n == 0 {
        return Err(Error::NoPassword(
            "standard input was empty; give the password on its first line, e.g. add `< file-with-the-password` to this command".into(),
        ));
    }
    if pw.is_empty() {
        return Err(Error::NoPassword(
            "the first line of standard input was empty, and the password is that first line; put it there, e.g. `printf '%s\\n' \"$PASSWORD\" |` before this command".into(),
        ));
    }
    Ok(Zeroizing::new(pw.to_owned()))
}

/// How many times the hidden prompt asks before giving up.
const PASSWORD_TRIES: u32 = 3;

/// Asked twice, without echo, on the terminal; asked again (up to [`PASSWORD_TRIES`]
/// times) when the entry is empty or the two entries differ.
fn password_from_terminal(question: &str) -> Result<Zeroizing<String>> {
    let ask = |q: &str| {
        rpassword::prompt_password(q)
            .map(Zeroizing::new)
            .map_err(|e| Error::read("the terminal", e))
    };
    let mut mismatches = 0;
    for attempt in 1..=PASSWORD_TRIES {
        let left = PASSWORD_TRIES - attempt;
        let first = ask(question)?;
        if first.is_empty() {
            if left > 0 {
                crate::output::write_stderr(
                    "  The password is empty: type the one Centiloc support gave you.",
                );
            }
            continue;
        }
        let again = ask("Same password again: ")?;
        if *first == *again {
            return Ok(first);
        }
        mismatches += 1;
        if left > 0 {
            crate::output::write_stderr(&format!(
                "  The two entries differ; try again ({left} {} left).",
                if left == 1 { "try" } else { "tries" }
            ));
        }
    }
    let why = if mismatches > 0 {
        format!(
            "the password was not confirmed after {PASSWORD_TRIES} tries (the two entries differed)"
        )
    } else {
        format!("every one of the {PASSWORD_TRIES} entries was empty")
    };
    Err(Error::NoPassword(format!(
        "{why}, so nothing was saved; run `credentials` again, or pipe the password in with --password-stdin"
    )))
}
