//! The command line itself (issues 10 and 13): usage errors, help, `--version`, man pages,
//! shell completion driven through real bash, zsh and fish, and the hidden password prompt
//! on a real pseudo-terminal.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{TestHome, require};

const BIN: &str = env!("CARGO_BIN_EXE_centiloc-cert");

/// The binary with no --home, and our variables cleared.
fn bare() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::new(BIN);
    for var in ["CENTILOC_CERT_HOME", "CENTILOC_CERT_PROFILE"] {
        c.env_remove(var);
    }
    c
}

fn stderr_of(args: &[&str]) -> (String, i32) {
    let out = bare().args(args).output().unwrap();
    assert!(out.stdout.is_empty(), "{args:?} printed on stdout");
    (
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap(),
    )
}

#[test]
fn no_command_prints_the_short_help_not_an_error() {
    let (err, code) = stderr_of(&[]);
    assert_eq!(code, 64);
    let help = bare().arg("-h").output().unwrap().stdout;
    assert_eq!(err, String::from_utf8(help).unwrap());
    assert!(!err.contains("ERROR"), "{err}");
    assert!(
        err.contains("Usage: centiloc-cert [OPTIONS] <COMMAND>"),
        "{err}"
    );
    // Global options but no command: the same short help, not clap's `error:` block
    // that lists the hidden commands (a new user's second look).
    let (with_home, code) = stderr_of(&["--home", "/nonexistent/centiloc-home"]);
    assert_eq!(code, 64);
    assert_eq!(with_home, err);
}

#[test]
fn invalid_values_list_the_valid_ones_and_the_subcommands_help() {
    for (args, message) in [
        (
            &["snippet", "go"][..],
            "ERROR: invalid value 'go' for '<KIND>' (valid values: mosquitto-sub, python, cron, systemd); see `centiloc-cert snippet --help`\n",
        ),
        (
            &["check-expiry", "--format", "yaml"][..],
            "ERROR: invalid value 'yaml' for '--format <FORMAT>' (valid values: text, json, prometheus, nagios); see `centiloc-cert check-expiry --help`\n",
        ),
        (
            &["completions", "tcsh"][..],
            "ERROR: invalid value 'tcsh' for '<SHELL>' (valid values: bash, elvish, fish, powershell, zsh) (a similar value exists: 'zsh'); see `centiloc-cert completions --help`\n",
        ),
        (
            &["--profile", "x", "init", "--curve", "p521"][..],
            "ERROR: invalid value 'p521' for '--curve <CURVE>' (valid values: p256, p384) (a similar value exists: 'p256'); see `centiloc-cert init --help`\n",
        ),
        (
            &["init", "--tennant", "x"][..],
            "ERROR: unexpected argument '--tennant' found (a similar argument exists: '--tenant'); see `centiloc-cert init --help`\n",
        ),
    ] {
        let (err, code) = stderr_of(args);
        assert_eq!((err.as_str(), code), (message, 64), "{args:?}");
    }
}

/// The visible commands, from the top-level help's command list.
fn commands() -> Vec<String> {
    let help = String::from_utf8(bare().arg("--help").output().unwrap().stdout).unwrap();
    let list = help.split("Commands:\n").nth(1).unwrap();
    list.lines()
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_help_opens_with_its_purpose_and_shows_pasteable_examples() {
    let all = commands();
    assert!(all.len() >= 14, "{all:?}");
    let top = String::from_utf8(bare().arg("--help").output().unwrap().stdout).unwrap();
    for c in &all {
        // The one-line purpose the command list shows is the help's first line.
        let listed = top
            .lines()
            .find(|l| l.split_whitespace().next() == Some(c))
            .unwrap();
        let purpose = listed.trim_start()[c.len()..].trim();
        let out = bare()
            .env("COLUMNS", "80")
            .args([c, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8(out.stdout).unwrap();
        let first = help.lines().next().unwrap();
        assert!(
            purpose.starts_with(first.trim_end_matches('.')) || first.starts_with(purpose),
            "`{c} --help` opens with {first:?}, its purpose is {purpose:?}"
        );
        let examples = help.split("Examples:\n").nth(1);
        let examples = examples.unwrap_or_else(|| panic!("`{c} --help` shows no example"));
        let lines: Vec<&str> = examples.lines().take_while(|l| !l.is_empty()).collect();
        assert!(!lines.is_empty(), "`{c} --help`: empty Examples");
        for l in lines {
            // Wrapped at 80 columns, a continuation would be indented further.
            assert!(
                l.starts_with("  ") && !l.starts_with("   "),
                "`{c} --help` example wraps at 80 columns: {l:?}"
            );
        }
    }
}

#[test]
fn version_names_commit_date_and_target() {
    let out = bare().arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!("centiloc-cert {}", env!("CARGO_PKG_VERSION"))
    );
    let commit = lines[1].strip_prefix("commit: ").unwrap();
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{commit}"
    );
    let date = lines[2].strip_prefix("build date: ").unwrap();
    assert!(chrono_like_date(date), "{date}");
    let target = lines[3].strip_prefix("target: ").unwrap();
    assert!(target.starts_with(std::env::consts::ARCH), "{target}");
    assert!(target.ends_with(" (dynamically linked)") || target.ends_with(" (statically linked)"));

    let out = bare()
        .args(["--version", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["commit"], commit);
    assert_eq!(v["build_date"], date);
}

fn chrono_like_date(d: &str) -> bool {
    let parts: Vec<&str> = d.split('-').collect();
    parts.len() == 3
        && parts
            .iter()
            .zip([4, 2, 2])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_digit()))
}

#[test]
fn man_pages_one_per_command_render_without_warnings() {
    let groff = require("groff", "groff");
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("man1");
    bare().arg("manpages").arg(&out_dir).assert().success();
    let mut expected: Vec<String> = commands()
        .iter()
        .map(|c| format!("centiloc-cert-{c}.1"))
        .collect();
    expected.push("centiloc-cert.1".into());
    expected.sort();
    let mut found: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    found.sort();
    assert_eq!(found, expected);
    for page in &found {
        let out = Command::new(&groff)
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .arg(out_dir.join(page))
            .output()
            .unwrap();
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && warnings.is_empty(),
            "{page}: {warnings}"
        );
    }
    let init = std::fs::read_to_string(out_dir.join("centiloc-cert-init.1")).unwrap();
    assert!(
        init.contains("centiloc\\-cert\\-init \\- Create a profile"),
        "{init}"
    );
    assert!(
        init.contains("\\-\\-tenant"),
        "options missing from the init page"
    );
}

/// A home with profiles `alpha` and `beta`, for `--profile` completion.
fn home_with_two_profiles() -> TestHome {
    let home = TestHome::new();
    home.init_named("alpha", "alpha");
    home.init_named("beta", "beta");
    home
}

/// A directory holding the completion script for `shell` as the shell expects it.
fn script(shell: &str, dir: &Path, file: &str) -> PathBuf {
    let out = bare().args(["completions", shell]).output().unwrap();
    assert!(out.status.success());
    let path = dir.join(file);
    std::fs::write(&path, out.stdout).unwrap();
    path
}

/// PATH with the binary's directory first, as an installed binary would be.
fn path_with_binary() -> String {
    let dir = Path::new(BIN).parent().unwrap().display().to_string();
    format!("{dir}:{}", std::env::var("PATH").unwrap_or_default())
}

/// Completes `words` (the last one being completed) with bash's real completion
/// machinery, as a TAB would: COMP_WORDS/COMP_CWORD in, COMPREPLY out.
fn bash_complete(words: &[&str]) -> Vec<String> {
    let bash = require("bash", "bash");
    let bc = Path::new("/usr/share/bash-completion/bash_completion");
    assert!(
        bc.is_file(),
        "install bash-completion: apt-get install bash-completion"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = script("bash", dir.path(), "centiloc-cert");
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        r#"source {bc}; source {file}
COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE="${{COMP_WORDS[*]}}"; COMP_POINT=${{#COMP_LINE}}
spec=$(complete -p centiloc-cert); fn=${{spec#*-F }}; fn=${{fn%% *}}
"$fn" centiloc-cert "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        bc = bc.display(),
        file = file.display(),
        words = quoted.join(" "),
        cword = words.len() - 1,
    );
    let out = Command::new(bash)
        .args(["--norc", "--noprofile", "-c", &program])
        .env("PATH", path_with_binary())
        .env_remove("CENTILOC_CERT_HOME")
        .output()
        .unwrap();
    let mut reply: Vec<String> = String::from_utf8(support::success_stdout(out))
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    reply.sort();
    reply
}

#[test]
fn bash_completes_subcommand_flags_values_and_profiles() {
    assert_eq!(
        bash_complete(&["centiloc-cert", "check-expiry", "--format", ""]),
        ["json", "nagios", "prometheus", "text"]
    );
    assert_eq!(
        bash_complete(&["centiloc-cert", "check-expiry", "--wa"]),
        ["--warn-days"]
    );
    assert_eq!(
        bash_complete(&["centiloc-cert", "snippet", "mo"]),
        ["mosquitto-sub"]
    );
    assert_eq!(
        bash_complete(&["centiloc-cert", "install-c"]),
        ["install-ca", "install-cert"]
    );
    let home = home_with_two_profiles();
    let h = home.path().to_str().unwrap();
    assert_eq!(
        bash_complete(&["centiloc-cert", "--home", h, "status", "--profile", ""]),
        ["alpha", "beta"]
    );
    assert_eq!(
        bash_complete(&["centiloc-cert", "--home", h, "--profile", "b"]),
        ["beta"]
    );
}

#[test]
fn fish_completes_subcommand_values_and_profiles() {
    let fish = require("fish", "fish");
    let dir = tempfile::tempdir().unwrap();
    let file = script("fish", dir.path(), "centiloc-cert.fish");
    let home = home_with_two_profiles();
    let complete = |line: &str| -> Vec<String> {
        let program = format!("source {}; complete -C '{line}'", file.display());
        let out = Command::new(&fish)
            .args(["--no-config", "-c", &program])
            .env("PATH", path_with_binary())
            .output()
            .unwrap();
        let mut v: Vec<String> = String::from_utf8(support::success_stdout(out))
            .unwrap()
            .lines()
            .map(|l| l.split('\t').next().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        complete("centiloc-cert check-expiry --format "),
        ["json", "nagios", "prometheus", "text"]
    );
    let h = home.path().display();
    assert_eq!(
        complete(&format!("centiloc-cert --home {h} status --profile ")),
        ["alpha", "beta"]
    );
}

/// Types `line` and a TAB into an interactive zsh with compinit and the script in its
/// fpath, on a real terminal; returns what the terminal showed after the TAB, once
/// `shown` (a regex) appeared there (the test fails when it does not within 10 s).
fn zsh_complete(line: &str, shown: &str) -> String {
    let zsh = require("zsh", "zsh");
    let python = require("python3", "python3");
    let dir = tempfile::tempdir().unwrap();
    script("zsh", dir.path(), "_centiloc-cert");
    let zdotdir = tempfile::tempdir().unwrap();
    std::fs::write(
        zdotdir.path().join(".zshrc"),
        format!(
            "fpath=({} $fpath)\nautoload -Uz compinit && compinit -u -D\nPS1='READY> '\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let steps = serde_json::json!([
        ["expect", "READY> "],
        ["send", format!("{line}\t")],
        ["expect", shown],
        // Ctrl-U empties the line, then the shell ends.
        ["send", "\u{15}exit\n"],
    ]);
    let out = Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/pty_session.py"))
        .arg(steps.to_string())
        .args(["--", zsh.to_str().unwrap(), "-i"])
        .env("ZDOTDIR", zdotdir.path())
        .env("PATH", path_with_binary())
        .env("TERM", "dumb")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.code().is_some_and(|c| c != 124), "{text}");
    text.split_once(line)
        .map(|(_, after)| after.to_owned())
        .unwrap_or(text)
}

#[test]
fn zsh_completes_subcommand_values_and_profiles() {
    let shown = zsh_complete("centiloc-cert check-expiry --format ", "prometheus");
    for v in ["json", "nagios", "prometheus", "text"] {
        assert!(shown.contains(v), "zsh offered no {v}: {shown:?}");
    }
    let home = home_with_two_profiles();
    let line = format!(
        "centiloc-cert --home {} status --profile ",
        home.path().display()
    );
    let shown = zsh_complete(&line, "beta");
    assert!(
        shown.contains("alpha") && shown.contains("beta"),
        "{shown:?}"
    );
}

#[test]
fn credentials_with_username_asks_for_the_password_hidden_on_a_terminal() {
    let python = require("python3", "python3");
    let home = TestHome::new();
    home.init("acme");
    let steps = serde_json::json!([
        ["expect", "MQTT password \\(hidden\\): "],
        ["noecho", ""],
        ["send", "s3cret-pw\n"],
        ["expect", "Same password again: "],
        ["noecho", ""],
        ["send", "s3cret-pw\n"],
    ]);
    let out = Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/pty_session.py"))
        .arg(steps.to_string())
        .args(["--", BIN, "--home", home.path().to_str().unwrap()])
        .args(["credentials", "--username", "acme-mqtt"])
        .env_remove("CENTILOC_MQTT_PASSWORD")
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    assert_eq!(out.status.code(), Some(0), "{shown}");
    let dir = home.profile_dir("default");
    assert_eq!(
        shown,
        format!(
            "MQTT password (hidden): \nSame password again: \nUsername \"acme-mqtt\" saved in {}\nPassword saved in {} (mode 0600)\nNext: centiloc-cert --home {} status\n",
            dir.join("profile.toml").display(),
            dir.join("mqtt-password").display(),
            home.path().display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("mqtt-password")).unwrap(),
        "s3cret-pw"
    );
    let settings = std::fs::read_to_string(dir.join("profile.toml")).unwrap();
    assert!(settings.contains("username = \"acme-mqtt\""), "{settings}");
}
