//! `credentials`: the MQTT username (in `profile.toml`) and password (in `mqtt-password`,
//! 0600, atomic). The password comes from stdin (`--password-stdin`) or a hidden prompt,
//! never from argv, and is never printed, logged or put into an error (SPEC).

use std::io::BufRead;

use serde_json::json;
use zeroize::Zeroizing;

use super::Ctx;
use crate::cli::CredentialsArgs;
use crate::credentials::{PASSWORD_ENV, store_password};
use crate::error::{Error, Result};
use crate::exit_codes::ExitCode;
use crate::output::Format;
use crate::{prompt, store};

/// What to change, decided before anything is written.
struct Change {
    username: Option<String>,
    password: Option<Zeroizing<String>>,
}

pub fn run(ctx: &Ctx, args: CredentialsArgs) -> Result<ExitCode> {
    let (paths, mut profile) = ctx.load()?;
    let change = gather(&args, profile.username.as_deref())?;
    if let Some(u) = &change.username {
        validate_username(u)?;
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
    let env_overrides = std::env::var_os(PASSWORD_ENV).is_some_and(|v| !v.is_empty());
    if args.format == Format::Json {
        ctx.out.json(&json!({
            "profile": paths.name,
            "username": profile.username,
            "username_changed": change.username.is_some(),
            "password_stored": change.password.is_some(),
            "password_file": paths.password(),
            "password_overridden_by_environment": env_overrides,
        }));
        return Ok(ExitCode::Ok);
    }
    let o = &ctx.out;
    if let Some(u) = &change.username {
        o.line(format!(
            "Username {u:?} saved in {}",
            paths.settings().display()
        ));
    }
    if change.password.is_some() {
        o.line(format!(
            "Password saved in {} (mode 0600)",
            paths.password().display()
        ));
        if env_overrides {
            o.warn(format!(
                "{PASSWORD_ENV} is set in this environment: it overrides the saved password whenever it is set"
            ));
        }
    }
    o.line(format!("Next: {}", ctx.cmd("status")));
    Ok(ExitCode::Ok)
}

/// Flags first; with no flag at all, a terminal is asked for both.
fn gather(args: &CredentialsArgs, current: Option<&str>) -> Result<Change> {
    if args.password_stdin {
        return Ok(Change {
            username: args.username.clone(),
            password: Some(password_from_stdin()?),
        });
    }
    if args.username.is_some() {
        return Ok(Change {
            username: args.username.clone(),
            password: None,
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
        password: Some(password_from_terminal()?),
    })
}

/// The first line of stdin, without its line end.
fn password_from_stdin() -> Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::read("standard input", e))?;
    let pw = line.trim_end_matches(['\n', '\r']);
    if pw.is_empty() {
        return Err(Error::NoPassword(
            "standard input was empty; pipe it in, e.g. `centiloc-cert credentials --password-stdin < file-with-the-password`".into(),
        ));
    }
    Ok(Zeroizing::new(pw.to_owned()))
}

/// Asked twice, without echo, on the terminal.
fn password_from_terminal() -> Result<Zeroizing<String>> {
    let ask = |q: &str| {
        rpassword::prompt_password(q)
            .map(Zeroizing::new)
            .map_err(|e| Error::read("the terminal", e))
    };
    let first = ask("MQTT password (hidden): ")?;
    if first.is_empty() {
        return Err(Error::NoPassword(
            "the entry was empty; run `credentials` again and type the password Centiloc support gave you".into(),
        ));
    }
    let again = ask("Same password again: ")?;
    if *first != *again {
        return Err(Error::NoPassword(
            "the two entries differ; run `credentials` again".into(),
        ));
    }
    Ok(first)
}

/// MQTT 3.1.1 §1.5.3: a UTF-8 string of at most 65535 bytes; control characters would
/// only be typing accidents.
fn validate_username(u: &str) -> Result<()> {
    if u.is_empty() || u.len() > 65_535 || u.chars().any(char::is_control) {
        return Err(Error::invalid(
            "username",
            u,
            "use the username Centiloc support gave you (no control characters)",
        ));
    }
    Ok(())
}
