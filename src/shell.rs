//! What the tool hands to the operator's shell and `man`: completion scripts, man pages
//! and the profile names the completion scripts ask for. All made from the clap
//! definition in `cli.rs`, so they cannot drift from the real options.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::error::{Error, Result};
use crate::paths::Home;
use crate::store;

const BIN: &str = "centiloc-cert";

/// The completion script for `shell`, with `--profile` completing profile names.
pub fn completion_script(shell: Shell) -> String {
    let mut cmd = Cli::command();
    // Into a buffer first: clap_complete panics when stdout fails mid-write.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, BIN, &mut script);
    let hidden: Vec<&str> = cmd
        .get_subcommands()
        .filter(|s| s.is_hide_set())
        .map(|s| s.get_name())
        .collect();
    let script = without_hidden(&String::from_utf8_lossy(&script), &hidden);
    match shell {
        Shell::Bash => bash(&script),
        Shell::Zsh => zsh(&script),
        Shell::Fish => fish(&script),
        _ => script,
    }
}

/// clap_complete offers hidden subcommands (`manpages`, `profile-names`) like any other;
/// they are for packagers and the scripts themselves, so their entries in the command
/// lists of bash (`opts`), zsh (`'name:about'`) and fish (`-a "name"`) are taken out.
fn without_hidden(script: &str, hidden: &[&str]) -> String {
    let mut out = String::with_capacity(script.len());
    for line in script.lines() {
        let t = line.trim_start();
        let listed = |n: &&str| {
            t.starts_with(&format!("'{n}:")) || line.contains(&format!(" -f -a \"{n}\" "))
        };
        if hidden.iter().any(listed) {
            continue;
        }
        if t.starts_with("opts=\"") {
            let words: Vec<&str> = line.split(' ').filter(|w| !hidden.contains(w)).collect();
            out.push_str(&words.join(" "));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// clap_complete's bash generator names the per-subcommand cases of a hyphenated binary
/// `centiloc__subcmd__cert__…` but steps into `centiloc__cert__…`, so nothing after the
/// subcommand ever completes (clap-rs/clap#6421, open upstream). Renaming the cases back
/// is a no-op once the generator is fixed. Then `--profile` gets the profile names.
fn bash(script: &str) -> String {
    let fixed = script.replace("centiloc__subcmd__cert", "centiloc__cert");
    let names = r#"COMPREPLY=($(compgen -W "$(_centiloc_cert_profiles)" -- "${cur}"))"#;
    let mut out = replace_after_option(&fixed, "--profile)", "COMPREPLY=(", names);
    out.push_str(
        r#"
# The profile names of the home typed so far (--home DIR, else CENTILOC_CERT_HOME or the
# platform's directories), from the binary being completed.
_centiloc_cert_profiles() {
    command "${COMP_WORDS[0]}" profile-names -- "${COMP_WORDS[@]:0:COMP_CWORD}" 2>/dev/null
}
"#,
    );
    out
}

fn zsh(script: &str) -> String {
    let fixed = script.replace(":PROFILE:_default'", ":PROFILE:_centiloc_cert_profiles'");
    let helper = r#"# The profile names of the home typed so far (--home DIR, else CENTILOC_CERT_HOME or
# the platform's directories), from the binary being completed.
(( $+functions[_centiloc_cert_profiles] )) ||
_centiloc_cert_profiles() {
    local -a names
    names=(${(f)"$(command ${words[1]} profile-names -- ${words[1,CURRENT-1]} 2>/dev/null)"})
    compadd -a names
}

"#;
    match fixed.rfind("if [ \"$funcstack[1]\"") {
        Some(at) => format!("{}{helper}{}", &fixed[..at], &fixed[at..]),
        None => format!("{fixed}\n{helper}"),
    }
}

fn fish(script: &str) -> String {
    let mut out = String::with_capacity(script.len() + 512);
    for line in script.lines() {
        out.push_str(line);
        if line.starts_with("complete -c centiloc-cert ") && line.contains(" -l profile ") {
            out.push_str(" -f -a '(__fish_centiloc_cert_profiles)'");
        }
        out.push('\n');
    }
    out.push_str(
        r#"
# The profile names of the home typed so far (--home DIR, else CENTILOC_CERT_HOME or the
# platform's directories), from the binary being completed.
function __fish_centiloc_cert_profiles
    set -l words (commandline -opc)
    command $words[1] profile-names -- $words 2>/dev/null
end
"#,
    );
    out
}

/// In `script`, the first line starting with `action` after each line that is exactly
/// `option` (trimmed) becomes `replacement`, with the same indentation.
fn replace_after_option(script: &str, option: &str, action: &str, replacement: &str) -> String {
    let mut out = String::with_capacity(script.len() + 1024);
    let mut armed = false;
    for line in script.lines() {
        let trimmed = line.trim_start();
        if armed && trimmed.starts_with(action) {
            out.push_str(&line[..line.len() - trimmed.len()]);
            out.push_str(replacement);
            armed = false;
        } else {
            armed |= trimmed == option;
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// Writes `centiloc-cert.1` and one `centiloc-cert-COMMAND.1` per visible command into
/// `dir`; returns the files written.
pub fn write_manpages(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
    let mut cmd = Cli::command();
    cmd.build();
    let mut pages = vec![(BIN.to_owned(), cmd.clone())];
    // After build(), clap names each subcommand `centiloc-cert-init` (the page's NAME
    // and file, as git's pages are named) with `centiloc-cert init` as its SYNOPSIS.
    let visible = |s: &&clap::Command| !s.is_hide_set() && s.get_name() != "help";
    for sub in cmd.get_subcommands().filter(visible) {
        let name = sub.get_display_name().unwrap_or(sub.get_name()).to_owned();
        pages.push((name, sub.clone()));
    }
    let mut written = Vec::new();
    for (name, page) in pages {
        let mut roff = Vec::new();
        clap_mangen::Man::new(page)
            .render(&mut roff)
            .map_err(|e| Error::write(dir.join(&name), e))?;
        let path = dir.join(format!("{name}.1"));
        store::write_atomic(&path, &roff, store::Mode::Public)?;
        written.push(path);
    }
    Ok(written)
}

/// The profile names of the home named in `words` (`--home DIR` or `--home=DIR`, as typed
/// on the command line being completed), else of `default_home`.
pub fn profile_names(default_home: Option<&Path>, words: &[String]) -> Result<Vec<String>> {
    let typed = home_in(words);
    let home = Home::resolve(typed.as_deref().or(default_home))?;
    home.profile_names()
}

/// The last `--home` value among `words`, with a leading `~/` expanded as the shell would
/// once the line runs.
fn home_in(words: &[String]) -> Option<PathBuf> {
    let mut found = None;
    let mut iter = words.iter();
    while let Some(w) = iter.next() {
        if w == "--home" {
            found = iter.next().cloned();
        } else if let Some(v) = w.strip_prefix("--home=") {
            found = Some(v.to_owned());
        }
    }
    let found = found?;
    match (found.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Some(PathBuf::from(home).join(rest)),
        _ => Some(PathBuf::from(found)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_is_taken_from_the_typed_words() {
        let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            home_in(&w(&["c", "--home", "/h", "status"])),
            Some("/h".into())
        );
        assert_eq!(
            home_in(&w(&["c", "--home=/x", "status"])),
            Some("/x".into())
        );
        assert_eq!(home_in(&w(&["c", "status", "--profile"])), None);
    }

    #[test]
    fn hidden_commands_are_not_offered() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let s = completion_script(shell);
            let offered = s.lines().any(|l| {
                l.contains("'manpages:")
                    || l.contains("-a \"profile-names\" ")
                    || (l.trim_start().starts_with("opts=") && l.contains(" manpages "))
            });
            assert!(!offered, "{shell} offers a hidden command");
            assert!(
                s.contains("completions"),
                "{shell} lost the visible commands"
            );
        }
    }

    #[test]
    fn bash_fix_for_hyphenated_names_applies() {
        let s = completion_script(Shell::Bash);
        assert!(
            !s.contains("centiloc__subcmd__cert"),
            "clap-rs/clap#6421 fix not applied"
        );
        assert!(
            s.contains("_centiloc_cert_profiles)\" -- "),
            "--profile not rewired"
        );
    }
}
