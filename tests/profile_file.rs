//! `profile.toml` is a file people edit (issue 10 item 8, issue 14 item 11): every command
//! that updates the profile keeps their comments, key order and layout, and what they
//! wrote is validated at load exactly as the command line is.

mod support;

use std::io::Write;
use std::path::PathBuf;

use support::smtp::Smtp;
use support::{Ca, TestHome};

/// What an operator made of the file `init` wrote: comments everywhere, an inline broker
/// table, an `[expiry]` section, single quotes, a trailing comment.
const WRITTEN: &str = r#"# ACME's User-MQTT connection; owner: ops team (ticket OPS-1234).
tenant = "acme"   # from Centiloc's welcome e-mail
organization = 'Demo Corp'
email = "ops-acme@example.com"

# Production broker, see the runbook.
broker = { host = "mqtt-client.centiloc.com", port = 8883 }

[expiry]
# Our change window is two weeks: warn early.
warn_days = 45
critical_days = 14   # pager from here
"#;

fn commented_profile(h: &TestHome) -> PathBuf {
    h.profile_with_csr("default", "acme");
    let file = h.profile_dir("default").join("profile.toml");
    std::fs::write(&file, WRITTEN).unwrap();
    file
}

fn read(file: &PathBuf) -> String {
    std::fs::read_to_string(file).unwrap()
}

#[test]
fn credentials_edits_the_username_in_place_and_keeps_the_rest() {
    let h = TestHome::new();
    let file = commented_profile(&h);
    h.cmd()
        .args(["credentials", "--username", "acme-mqtt", "--password-stdin"])
        .write_stdin("pw\n")
        .assert()
        .success();
    let expected = WRITTEN.replace(
        "email = \"ops-acme@example.com\"\n",
        "email = \"ops-acme@example.com\"\nusername = \"acme-mqtt\"\n",
    );
    assert_eq!(read(&file), expected);

    h.cmd()
        .args(["credentials", "--username", "acme-ops"])
        .assert()
        .success();
    assert_eq!(
        read(&file),
        expected.replace("username = \"acme-mqtt\"", "username = \"acme-ops\"")
    );
}

#[test]
fn notices_renewal_and_promotion_leave_the_written_file_alone() {
    let h = TestHome::new();
    let file = commented_profile(&h);
    let ca = Ca::new("Centiloc Test CA");
    let csr = h.profile_dir("default").join("certificate-request.csr");
    h.install("default", &ca.sign_days_from_now(&csr, 10), &ca.cert);

    let smtp = Smtp::start();
    h.notify_config(&smtp.url());
    let out = h
        .cmd()
        .args(["check-expiry", "--notify", "--quiet"])
        .output()
        .unwrap();
    // CRITICAL (2) at 10 days: the critical_days = 14 written in the file is in force.
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(smtp.messages().len(), 1, "the notice was not sent");
    assert_eq!(
        read(&file),
        WRITTEN,
        "check-expiry --notify touched profile.toml"
    );

    h.cmd().arg("renew").assert().success();
    assert_eq!(read(&file), WRITTEN, "renew touched profile.toml");
    let pending_csr = h
        .profile_dir("default")
        .join("pending/certificate-request.csr");
    let renewed = ca.sign_v3(&pending_csr, 365);
    h.cmd().arg("install-cert").arg(&renewed).assert().success();
    assert!(
        !h.profile_dir("default").join("pending").exists(),
        "the renewal was not promoted"
    );
    assert_eq!(read(&file), WRITTEN, "the promotion touched profile.toml");
}

/// Writes `text` as `profile.toml`, then runs `snippet mosquitto-sub`, which prints the
/// broker host and username; returns (exit code, stderr).
fn load_with(h: &TestHome, text: &[u8]) -> (Option<i32>, String) {
    let file = h.profile_dir("default").join("profile.toml");
    std::fs::File::create(&file)
        .unwrap()
        .write_all(text)
        .unwrap();
    let out = h.cmd().args(["snippet", "mosquitto-sub"]).output().unwrap();
    assert!(out.stdout.is_empty(), "a refused profile printed a snippet");
    (out.status.code(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn hand_edited_values_are_validated_at_load() {
    let h = TestHome::new();
    h.init("acme");
    let file = h.profile_dir("default").join("profile.toml");
    let base = "tenant = \"acme\"\norganization = \"Demo Corp\"\nemail = \"ops@example.com\"\n";
    let refusal = |reason: &str| {
        format!(
            "ERROR: {} is not valid: {reason}; correct that line (README describes every field)\n",
            file.display()
        )
    };
    for (added, reason) in [
        (
            "username = \"acme\\u001b[2J\"\n",
            "invalid username \"acme\\u{1b}[2J\": it contains control characters: use the username Centiloc support gave you",
        ),
        (
            "[broker]\nhost = \"evil\\u001b]0;pwned\\u0007\"\nport = 8883\n",
            "invalid broker \"evil\\u{1b}]0;pwned\\u{7}:8883\": [broker] host must be a host name or address without spaces or control characters, e.g. mqtt-client.centiloc.com",
        ),
        (
            "[broker]\nhost = \"\"\nport = 8883\n",
            "invalid broker \":8883\": [broker] host must be a host name or address without spaces or control characters, e.g. mqtt-client.centiloc.com",
        ),
        (
            "[broker]\nhost = \"localhost\"\nport = 0\n",
            "invalid broker \"localhost:0\": [broker] port must be a number from 1 to 65535",
        ),
        (
            "client_id = \"other-1\"\n",
            "invalid client ID \"other-1\": Centiloc requires it to start with the tenant ID \"acme\"",
        ),
    ] {
        let (code, err) = load_with(&h, format!("{base}{added}").as_bytes());
        assert_eq!((code, err), (Some(78), refusal(reason)), "{added}");
    }

    let mut bytes = base.as_bytes().to_vec();
    bytes.extend_from_slice(b"username = \"caf\xe9\"\n");
    let (code, err) = load_with(&h, &bytes);
    assert_eq!(
        (code, err),
        (
            Some(78),
            refusal("line 4 is not UTF-8 text; save the file as UTF-8")
        )
    );

    // A 10 MB value is named, not echoed whole.
    let huge = base.replace("Demo Corp", &"D".repeat(10_000_000));
    let (code, err) = load_with(&h, huge.as_bytes());
    assert_eq!(code, Some(78));
    assert!(err.len() < 400, "{} bytes of error", err.len());
    assert!(err.contains("(10000000 characters)"), "{err}");
}
