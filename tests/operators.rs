//! The operator's tools, for real (issue 13): the shipped Prometheus rules under
//! `promtool`, the systemd snippet under `systemd-analyze verify`, the python snippet
//! without paho-mqtt, cron lines as cron runs them.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{TestHome, require};

fn contrib(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("contrib/prometheus")
        .join(file)
}

/// Runs promtool with `args` in contrib/prometheus; returns (success, stdout + stderr).
fn promtool(args: &[&str]) -> (bool, String) {
    let bin = require("promtool", "prometheus");
    let out = Command::new(bin)
        .args(args)
        .current_dir(contrib(""))
        .output()
        .expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn shipped_rules_pass_promtool_check_rules() {
    let (ok, out) = promtool(&["check", "rules", "centiloc-cert.rules.yml"]);
    assert!(ok, "promtool check rules failed:\n{out}");
    assert!(out.contains("SUCCESS: 8 rules found"), "{out}");
}

/// contrib/prometheus/tests.yml: the dead-cron case (the cron job died on day 0 and the
/// alerts still escalate to critical before expiry), per-profile thresholds, the CA,
/// UNKNOWN, absent metrics and an unanswered renewal.
#[test]
fn shipped_rules_pass_their_promtool_unit_tests() {
    let (ok, out) = promtool(&["test", "rules", "tests.yml"]);
    assert!(ok, "promtool test rules failed:\n{out}");
    assert!(out.contains("SUCCESS"), "{out}");
}

/// The units `snippet systemd` prints, cut at their `# /path/NAME` header comments:
/// (file name, text).
fn units(snippet: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in snippet.lines() {
        let header = line
            .strip_prefix("# /etc/systemd/system/")
            .or_else(|| line.strip_prefix("# ~/.config/systemd/user/"));
        match (header, out.last_mut()) {
            (Some(name), _) => out.push((name.to_owned(), String::new())),
            (None, Some((_, text))) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

/// A server nobody logs into runs a system unit with `User=`, not a user timer
/// (issue 13, item 8); both sets pass `systemd-analyze verify`.
#[test]
fn systemd_snippet_offers_a_system_unit_with_user_and_explains_linger() {
    let analyze = require("systemd-analyze", "systemd");
    let h = TestHome::new();
    let out = h.cmd().args(["snippet", "systemd"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let units = units(&text);
    let names: Vec<&str> = units.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "centiloc-cert-check.service",
            "centiloc-cert-check.timer",
            "centiloc-cert-check.service",
            "centiloc-cert-check.timer"
        ],
        "{text}"
    );
    let me = Command::new("id").arg("-un").output().unwrap();
    let me = String::from_utf8_lossy(&me.stdout).trim().to_owned();
    let (system, user) = (&units[0].1, &units[2].1);
    assert!(system.contains(&format!("\nUser={me}\n")), "{system}");
    assert!(!user.contains("User="), "{user}");
    assert!(
        text.contains(&format!("sudo loginctl enable-linger {me}"))
            && text.contains("systemctl enable --now centiloc-cert-check.timer")
            && text.contains("systemctl --user daemon-reload"),
        "{text}"
    );
    for (i, set) in [&units[..2], &units[2..]].into_iter().enumerate() {
        let dir = h.path().join(format!("units{i}"));
        std::fs::create_dir(&dir).unwrap();
        for (name, body) in set {
            std::fs::write(dir.join(name), body).unwrap();
        }
        let check = Command::new(&analyze)
            .args(["verify", "--man=no"])
            .arg(dir.join("centiloc-cert-check.timer"))
            .arg(dir.join("centiloc-cert-check.service"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&check.stderr);
        assert!(check.status.success() && err.is_empty(), "{err}\n{text}");
    }
}

/// The python first on PATH may lack paho-mqtt: the script says which interpreter and how
/// to install it, instead of a bare ModuleNotFoundError. `python3 -S` leaves out Debian's
/// dist-packages, where python3-paho-mqtt lives, as a venv would.
#[test]
fn python_snippet_explains_a_missing_paho() {
    // Debian's interpreter, whose sys.executable is this very path (a pyenv shim's is not).
    let python = PathBuf::from("/usr/bin/python3");
    assert!(
        python.is_file(),
        "/usr/bin/python3 is missing: run `apt-get install python3`"
    );
    let h = TestHome::new();
    h.init("acme");
    let out = h.cmd().args(["snippet", "python"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Tested with Debian 12's /usr/bin/python3 (Python 3.11)"),
        "{text}"
    );
    let script = h.path().join("sub.py");
    std::fs::write(&script, &out.stdout).unwrap();
    let run = Command::new(&python)
        .arg("-S")
        .arg(&script)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(78), "{err}");
    let exe = python.display().to_string();
    assert!(
        err.starts_with(&format!(
            "error: paho-mqtt is not installed for {exe} (Python 3."
        )) && err.contains(&format!("install it with `{exe} -m pip install paho-mqtt`"))
            && !err.contains("Traceback"),
        "{err}"
    );
}

/// Cron runs with PATH=/usr/bin:/bin: a bare `centiloc-cert` in a crontab line fails
/// there (issue 13). Every cron line in the README, docs/ and `--help` starts its command
/// with an absolute path.
#[test]
fn every_cron_line_in_docs_and_help_uses_an_absolute_path() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts = vec![(
        "README.md".to_owned(),
        std::fs::read_to_string(root.join("README.md")).unwrap(),
    )];
    for e in std::fs::read_dir(root.join("docs")).unwrap() {
        let p = e.unwrap().path();
        texts.push((
            p.display().to_string(),
            std::fs::read_to_string(&p).unwrap(),
        ));
    }
    for args in [
        &["--help"][..],
        &["check-expiry", "--help"],
        &["snippet", "--help"],
    ] {
        let out = TestHome::new().cmd().args(args).output().unwrap();
        texts.push((
            format!("{args:?}"),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ));
    }
    let mut seen = 0;
    for (name, text) in &texts {
        for line in text.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let schedule = fields.len() > 5
                && fields[..5]
                    .iter()
                    .all(|f| f.chars().all(|c| c.is_ascii_digit() || "*/,-".contains(c)));
            if schedule && fields[5].contains("centiloc-cert") {
                seen += 1;
                assert!(fields[5].starts_with('/'), "{name}: {line}");
            }
        }
    }
    assert!(seen >= 3, "only {seen} cron lines found");
}
