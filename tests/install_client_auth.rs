//! Issue 11, items 1 and 2, against a real mosquitto with `require_certificate true`:
//! the version 1 certificate that Centiloc's plain openssl recipe makes installs and
//! connects everywhere; a certificate whose extended key usage excludes clientAuth is
//! refused, as the broker refuses it.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use predicates::prelude::*;
use support::mosquitto::Mosquitto;
use support::{TestHome, asn1_time, assert_install_refused, openssl, require, snapshot};

const PASSWORD: &str = "pw-client-auth-7";
const TENANT: &str = "acme";
const TOPIC: &str = "centiloc/acme/json/item/v1/update";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A profile for `m` with key, CSR, CA and credentials, but no certificate yet.
fn profile_without_cert(m: &Mosquitto) -> TestHome {
    let h = TestHome::new();
    h.cmd()
        .args(["init", "--tenant", TENANT, "--org", "Demo Corp"])
        .args(["--email", "ops@example.com", "--username", "acme-user"])
        .args(["--broker", &m.broker_arg()])
        .assert()
        .success();
    h.cmd().arg("csr").assert().success();
    h.cmd()
        .args(["install-ca", s(&m.broker_ca.cert)])
        .assert()
        .success();
    h.cmd()
        .args(["credentials", "--password-stdin"])
        .write_stdin(format!("{PASSWORD}\n"))
        .assert()
        .success();
    h
}

fn csr(h: &TestHome) -> std::path::PathBuf {
    h.profile_dir("default").join("certificate-request.csr")
}

#[test]
fn a_version_1_certificate_installs_with_a_note_and_connects_everywhere() {
    let m = Mosquitto::start(TENANT, "acme-user", PASSWORD);
    let h = profile_without_cert(&m);
    // Centiloc's recipe, verbatim: openssl x509 -req ... -days 365 (no extension file).
    let v1 = m.client_ca.sign(&csr(&h), 365);
    assert!(
        openssl(Path::new("/"), &["x509", "-in", s(&v1), "-noout", "-text"])
            .contains("Version: 1 (0x0)")
    );
    h.cmd()
        .args(["install-cert", s(&v1)])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "Note: it is an X.509 version 1 certificate (no extensions), as `openssl x509 -req` makes without an extension file; the broker, this tool, mosquitto and paho accept it",
        ))
        .stderr(predicate::str::contains("Warning").not());
    let out = h.cmd().arg("status").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("✓ X.509 version   it is an X.509 version 1"),
        "{text}"
    );
    h.cmd()
        .arg("list")
        .assert()
        .success()
        .stdout(predicate::str::contains(" ready"));

    // A real mutual-TLS connection with it: CONNECT and SUBSCRIBE accepted.
    m.publish(TOPIC, br#"{"uid":"v1-works"}"#, true);
    h.cmd()
        .args(["test-connect", "--topics", "item", "--encoding", "json"])
        .args(["--timeout", "10"])
        .assert()
        .success()
        .stdout(predicate::str::contains("✓ SUBSCRIBE"))
        .stdout(predicate::str::contains("v1-works"));
    let line = watch_first_line(&h);
    assert!(line.contains("v1-works"), "{line}");

    // A renewal signed the same plain way passes install-cert --test and is promoted.
    h.cmd().arg("renew").assert().success();
    let pending = h
        .profile_dir("default")
        .join("pending/certificate-request.csr");
    let renewed = m.client_ca.sign(&pending, 365);
    h.cmd()
        .args(["install-cert", "--test", s(&renewed)])
        .assert()
        .success()
        .stdout(predicate::str::contains("✓ SUBSCRIBE"))
        .stdout(predicate::str::contains("promoted"));
}

/// `watch --format json` until its first message line, then SIGTERM.
fn watch_first_line(h: &TestHome) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_centiloc-cert"))
        .arg("--home")
        .arg(h.path())
        .args(["watch", "--format", "json", "--topics", "item"])
        .args(["--encoding", "json"])
        .env_remove("CENTILOC_MQTT_PASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(15));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    line.unwrap_or_else(|_| {
        panic!(
            "watch printed no message: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn a_certificate_without_client_auth_is_refused_as_the_broker_refuses_it() {
    let m = Mosquitto::start(TENANT, "acme-user", PASSWORD);
    let h = profile_without_cert(&m);
    let now = chrono::Utc::now().timestamp();
    // Signed for TLS servers only: extendedKeyUsage = serverAuth.
    let server_only = m.client_ca.sign_ext(
        &csr(&h),
        &asn1_time(now - 60),
        &asn1_time(now + 365 * 86_400),
        "server_ext",
    );
    let reason = "its extended key usage (serverAuth) does not include clientAuth, so the broker refuses it as a client certificate; ask Centiloc support to sign the CSR again for TLS client authentication";
    let err = assert_install_refused(&h, &[s(&server_only)], None, 65, &[]);
    assert_eq!(
        err.trim_end(),
        format!(
            "ERROR: {} refused, nothing was changed: {reason}; pass --force to install it anyway",
            s(&server_only)
        )
    );

    // The broker agrees: mosquitto_sub (OpenSSL) presenting it is turned away, where the
    // same key with a certificate without extendedKeyUsage receives the message.
    m.publish(TOPIC, br#"{"uid":"control"}"#, true);
    let sub = mosquitto_sub(&m, &h, &server_only);
    assert!(!sub.status.success(), "the broker accepted it");
    assert!(m.log().contains("certificate verify failed"), "{}", m.log());
    let control = mosquitto_sub(&m, &h, &m.client_ca.sign_v3(&csr(&h), 365));
    assert!(
        String::from_utf8_lossy(&control.stdout).contains("control"),
        "{}",
        String::from_utf8_lossy(&control.stderr)
    );

    // --force installs it; status and list then say why it cannot work, and the
    // connection pre-flight stops with the same reason.
    h.cmd()
        .args(["install-cert", "--force", s(&server_only)])
        .assert()
        .success()
        .stderr(predicate::str::contains(format!(
            "Warning: {reason}; installed anyway (--force)"
        )));
    let out = h.cmd().arg("status").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(65), "{text}");
    assert!(
        text.contains(&format!("✗ key usage       {reason}")),
        "{text}"
    );
    h.cmd()
        .arg("list")
        .assert()
        .stdout(predicate::str::contains(
            "wrong certificate: not for client authentication",
        ));
    let before = snapshot(h.path());
    h.cmd()
        .arg("test-connect")
        .assert()
        .code(65)
        .stderr(predicate::str::contains(reason));
    assert_eq!(snapshot(h.path()), before);

    // No extendedKeyUsage at all allows every use: installed and ready.
    let plain_v3 = m.client_ca.sign_v3(&csr(&h), 365);
    h.cmd()
        .args(["install-cert", s(&plain_v3)])
        .assert()
        .success();
    h.cmd().arg("status").assert().success();
    h.cmd()
        .args(["test-connect", "--count", "0"])
        .assert()
        .success();
}

/// One message through `mosquitto_sub` presenting `cert` with the profile's key.
fn mosquitto_sub(m: &Mosquitto, h: &TestHome, cert: &Path) -> std::process::Output {
    let key = h.profile_dir("default").join("private-key.pem");
    Command::new(require("mosquitto_sub", "mosquitto-clients"))
        .args(["-h", "127.0.0.1", "-p", &m.port.to_string()])
        .args(["--cafile", s(&m.broker_ca.cert)])
        .args(["--cert", s(cert), "--key", s(&key)])
        .args(["-u", "acme-user", "-P", PASSWORD, "-t", TOPIC])
        .args(["-C", "1", "-W", "5"])
        .output()
        .unwrap()
}
