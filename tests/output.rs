//! Output failures are failures (issue 10 item 2, issue 14): every printing command, with
//! its reader gone before it writes (`| true`), gone after one line (`| head -1`) and
//! with a full disk behind stdout (`> /dev/full`). A closed pipe ends quietly with the
//! command's own exit code; any other write failure exits 74 naming standard output and
//! the reason in words; nothing ever panics (101, "internal error").

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use support::{Ca, TestHome};

const FULL: &str = "ERROR: cannot write to standard output: the disk is full; check where the output is redirected\n";

/// Where the command's stdout goes.
#[derive(Debug, Clone, Copy)]
enum Sink {
    /// Captured: the reference run.
    Captured,
    /// A pipe whose reader is already gone (`| true`).
    Closed,
    /// A pipe whose reader takes one line and leaves (`| head -1`).
    HeadOne,
    /// `/dev/full`: every write fails with ENOSPC.
    Full,
}

fn bin(home: &Path) -> Command {
    let mut c = support::bin(home);
    c.stdin(Stdio::null()).stderr(Stdio::piped());
    c
}

fn run(home: &Path, args: &[String], sink: Sink) -> Output {
    let mut c = bin(home);
    c.args(args);
    match sink {
        Sink::Captured => c.stdout(Stdio::piped()).output().unwrap(),
        Sink::Closed => {
            let (r, w) = std::io::pipe().unwrap();
            drop(r);
            c.stdout(w).output().unwrap()
        }
        Sink::Full => {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap();
            c.stdout(f).output().unwrap()
        }
        Sink::HeadOne => {
            let mut child = c.stdout(Stdio::piped()).spawn().unwrap();
            let mut first = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut first)
                .unwrap();
            child.wait_with_output().unwrap()
        }
    }
}

/// A profile with a key, a CSR, its signed certificate and the CA installed; returns the
/// home, the CA (kept alive) and a second certificate signed for the same key.
fn ready() -> (TestHome, Ca, PathBuf) {
    let h = TestHome::new();
    let csr = h.init_with_csr("acme");
    let ca = Ca::new("Test CA");
    let cert = ca.sign_days_from_now(&csr, 365);
    h.cmd()
        .args(["install-ca"])
        .arg(&ca.cert)
        .assert()
        .success();
    h.cmd().args(["install-cert"]).arg(&cert).assert().success();
    let again = ca.sign_days_from_now(&csr, 300);
    (h, ca, again)
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

/// The commands that print on stdout, each run on a fresh ready profile (some change it).
fn cases(again: &Path, ca: &Path, payload: &Path) -> Vec<Vec<String>> {
    let mut v: Vec<Vec<String>> = [
        "status",
        "status --format json",
        "list",
        "list --format json",
        "check-expiry",
        "check-expiry --format json",
        "check-expiry --format prometheus",
        "check-expiry --all",
        "snippet systemd",
        "snippet cron",
        "snippet python",
        "snippet mosquitto-sub",
        "completions bash",
        "--help",
        "csr --force",
        "renew",
        "credentials --username bob",
    ]
    .iter()
    .map(|s| words(s))
    .collect();
    v.push(vec!["install-cert".into(), again.display().to_string()]);
    v.push(vec!["install-ca".into(), ca.display().to_string()]);
    v.push(vec!["decode".into(), payload.display().to_string()]);
    v.push(vec![
        "decode".into(),
        "--format".into(),
        "json".into(),
        payload.display().to_string(),
    ]);
    v
}

#[test]
fn every_printing_command_survives_a_closed_pipe_head_and_a_full_disk() {
    let scratch = tempfile::tempdir().unwrap();
    let payload = scratch.path().join("item.bin");
    // Protobuf: field 1 "E004015012345678", field 2 varint 1; enough lines for head.
    std::fs::write(&payload, b"\x0a\x10E004015012345678\x10\x01").unwrap();
    let (_, ca0, again0) = ready();
    let n = cases(&again0, &ca0.cert, &payload).len();
    let mut failures = Vec::new();
    for i in 0..n {
        let mut reference = None;
        for sink in [Sink::Captured, Sink::Closed, Sink::HeadOne, Sink::Full] {
            let (h, ca, again) = ready();
            let args = cases(&again, &ca.cert, &payload).swap_remove(i);
            let out = run(h.path(), &args, sink);
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            let code = out.status.code();
            let name = format!("{} ({sink:?})", args.join(" "));
            if err.contains("internal error") || code == Some(101) {
                failures.push(format!("{name}: panicked: {err}"));
                continue;
            }
            match sink {
                Sink::Captured => {
                    if out.stdout.is_empty() {
                        failures.push(format!("{name} prints nothing: {err}"));
                    }
                    reference = Some(code);
                }
                Sink::Closed | Sink::HeadOne => {
                    if Some(code) != reference || err.contains("standard output") {
                        failures.push(format!(
                            "{name}: exit {code:?} (expected {reference:?}): {err}"
                        ));
                    }
                }
                Sink::Full => {
                    if code != Some(74) || !err.ends_with(FULL) {
                        failures.push(format!("{name}: exit {code:?}: {err}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn init_survives_a_closed_pipe_and_reports_a_full_disk() {
    let args = words("init --tenant acme --org Demo --email ops@example.com");
    let h = TestHome::new();
    let out = run(h.path(), &args, Sink::Closed);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    let h = TestHome::new();
    let out = run(h.path(), &args, Sink::Full);
    assert_eq!(out.status.code(), Some(74));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        FULL,
        "the profile is made; only the report is lost"
    );
    assert!(h.profile_dir("default").join("private-key.pem").exists());
}

/// SPEC "JSON contract": every `--format json` report is one object with
/// `format_version: 1` and RFC 3339 `Z` timestamps, on success and on failure.
#[test]
fn every_json_report_carries_format_version_and_z_times() {
    let reports = [
        "status --format json",
        "list --format json",
        "check-expiry --format json",
        "check-expiry --all --format json",
        "csr --force --format json",
        "renew --format json",
        "credentials --username bob --format json",
    ];
    let mut bad = Vec::new();
    for r in reports {
        let (h, _ca, _) = ready();
        let out = run(h.path(), &words(r), Sink::Captured);
        check_document(r, &out.stdout, &mut bad);
    }
    let (h, ca, again) = ready();
    for args in [
        vec![
            "install-cert".into(),
            again.display().to_string(),
            "--format".into(),
            "json".into(),
        ],
        vec![
            "install-ca".into(),
            ca.cert.display().to_string(),
            "--format".into(),
            "json".into(),
        ],
    ] {
        let out = run(h.path(), &args, Sink::Captured);
        check_document(&args.join(" "), &out.stdout, &mut bad);
    }
    let fresh = TestHome::new();
    let out = run(
        fresh.path(),
        &words("init --tenant acme --org Demo --email ops@example.com --format json"),
        Sink::Captured,
    );
    check_document("init", &out.stdout, &mut bad);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

fn check_document(what: &str, stdout: &[u8], bad: &mut Vec<String>) {
    let text = String::from_utf8_lossy(stdout);
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) if v["format_version"] == 1 && !text.contains("+00:00") => {}
        _ => bad.push(format!("{what}: {text}")),
    }
}

/// A `--format json` command that fails prints the error document (and the sentence on
/// stderr): here every one of them in a home without a profile (66).
#[test]
fn every_json_command_fails_with_a_json_error_document() {
    let h = TestHome::new();
    for r in [
        "status --format json",
        "check-expiry --format json",
        "csr --format json",
        "renew --format json",
        "credentials --username bob --format json",
        "test-connect --format json",
        "watch --format json",
        "install-ca /nonexistent/ca.pem --format json",
        "install-cert /nonexistent/c.pem --format json",
    ] {
        let out = run(h.path(), &words(r), Sink::Captured);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{r}: {e}: {}", String::from_utf8_lossy(&out.stdout)));
        let code = out.status.code().unwrap();
        assert_eq!(v["format_version"], 1, "{r}: {v}");
        assert_eq!(v["ok"], false, "{r}: {v}");
        assert_eq!(v["exit_code"], code, "{r}: {v}");
        assert!(code == 66 || code == 64, "{r}: {code} {err}");
        let sentence = v["error"].as_str().unwrap();
        assert_eq!(err, format!("ERROR: {sentence}\n"), "{r}");
    }
}
