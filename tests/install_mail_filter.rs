//! The mail-filter recipes of README.md, run as written (issue 11): procmail hands
//! support's reply to `install-cert --test -`, which installs the renewed certificate only
//! after a real mosquitto (require_certificate) accepted it; the `.forward` command line
//! does the same through /bin/sh and never fails the delivery.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use support::mosquitto::renewing_profile;
use support::{Ca, TestHome, require, snapshot};

const PASSWORD: &str = "pw-mail-filter-3";

/// The fenced block of README.md that starts with `first_line`.
fn readme_block(first_line: &str) -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find(&format!("```\n{first_line}"))
        .expect("recipe in README")
        + 4;
    let len = readme[start..].find("```").unwrap();
    readme[start..start + len].to_string()
}

/// The README's command made to use the test binary and home.
fn localized(text: &str, h: &TestHome, log: &Path) -> String {
    let bin = format!(
        "{} --home {}",
        env!("CARGO_BIN_EXE_centiloc-cert"),
        h.path().display()
    );
    text.replace("$HOME/.cargo/bin/centiloc-cert", &bin)
        .replace("/home/certs/.cargo/bin/centiloc-cert", &bin)
        .replace(
            "$HOME/centiloc-cert-install.log",
            &log.display().to_string(),
        )
        .replace(
            "/home/certs/centiloc-cert-install.log",
            &log.display().to_string(),
        )
}

/// Support's reply with `cert` attached, made by Python's `email` package.
fn reply(cert: &Path) -> Vec<u8> {
    support::mail(serde_json::json!({
        "from": "Centiloc Support <support@centiloc.com>",
        "subject": "Re: certificate renewal for acme",
        "attachments": [{"file": cert.to_str().unwrap(), "type": "application/x-x509-user-cert", "name": "tls-cert.crt"}],
    }))
}

fn run_with_stdin(mut c: Command, input: &[u8]) -> std::process::Output {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn procmail_installs_support_reply_only_when_the_broker_accepts_it() {
    let h = TestHome::new();
    let m = renewing_profile(&h, PASSWORD);
    let dir = h.profile_dir("default");
    let pending_csr = dir.join("pending/certificate-request.csr");
    let log = h.path().join("install.log");
    let rc = h.path().join("procmailrc");
    let recipe = localized(&readme_block(":0 c"), &h, &log);
    // Whatever the recipe copies on falls off into /dev/null here (the mailbox).
    std::fs::write(&rc, format!("{recipe}\n:0\n/dev/null\n")).unwrap();
    let procmail = || {
        let mut c = Command::new(require("procmail", "procmail"));
        c.arg("-m").arg(&rc);
        c
    };

    // Signed by a CA the broker does not trust: the test fails, nothing changes, and the
    // mail is still delivered.
    let stranger = Ca::new("Not Centiloc");
    let before = snapshot(&dir);
    let out = run_with_stdin(
        procmail(),
        &reply(&stranger.sign_days_from_now(&pending_csr, 365)),
    );
    support::success_stdout(out);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("the certificate was not installed, nothing was changed"),
        "{text}"
    );
    assert_eq!(snapshot(&dir), before);

    // The real reply: tested against the broker, installed, the renewal key promoted.
    let good = m.client_ca.sign_days_from_now(&pending_csr, 365);
    let out = run_with_stdin(procmail(), &reply(&good));
    assert!(out.status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("✓ SUBSCRIBE"), "{text}");
    assert!(text.contains("promoted the renewal key"), "{text}");
    assert!(
        text.contains("from the e-mail \"Re: certificate renewal for acme\" from support@centiloc.com: attachment \"tls-cert.crt\""),
        "{text}"
    );
    assert!(!dir.join("pending").join("private-key.pem").exists());
    h.cmd()
        .args(["test-connect", "--count", "0"])
        .assert()
        .success();
}

#[test]
fn the_forward_line_never_fails_the_delivery() {
    let h = TestHome::new();
    let m = renewing_profile(&h, PASSWORD);
    let dir = h.profile_dir("default");
    let log = h.path().join("install.log");
    let line = localized(&readme_block("\\certs,"), &h, &log);
    // `\certs, "|command"`: the MTA runs `command` with /bin/sh -c.
    let command = line
        .split("\"|")
        .nth(1)
        .unwrap()
        .trim_end()
        .trim_end_matches('"');
    let sh = || {
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(command);
        c
    };
    let before = snapshot(&dir);
    let stranger = Ca::new("Not Centiloc");
    let bad = stranger.sign_days_from_now(&dir.join("pending/certificate-request.csr"), 365);
    let out = run_with_stdin(sh(), &reply(&bad));
    assert_eq!(
        out.status.code(),
        Some(0),
        "a refusal must not bounce the mail"
    );
    assert!(std::fs::read_to_string(&log).unwrap().contains("ERROR: "));
    assert_eq!(snapshot(&dir), before);
    let good = m
        .client_ca
        .sign_days_from_now(&dir.join("pending/certificate-request.csr"), 365);
    let out = run_with_stdin(sh(), &reply(&good));
    assert_eq!(out.status.code(), Some(0));
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("promoted the renewal key")
    );
}
