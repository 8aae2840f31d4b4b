//! `install-cert --test`: a renewed certificate is proven against a real mosquitto before
//! it replaces the working one (issue 5, item 6).

mod support;

use predicates::prelude::*;
use support::mosquitto::renewing_profile;
use support::{Ca, TestHome, snapshot};

const PASSWORD: &str = "pw-for-install-test-42";

#[test]
fn a_renewed_certificate_is_installed_only_when_the_broker_accepts_it() {
    let h = TestHome::new();
    let m = renewing_profile(&h, PASSWORD);
    let dir = h.profile_dir("default");
    let pending_csr = dir.join("pending/certificate-request.csr");

    // Signed by a CA the broker does not trust: refused with the broker's verdict (77),
    // and nothing changes.
    let stranger = Ca::new("Not Centiloc");
    let bad = stranger.sign_days_from_now(&pending_csr, 365);
    let before = snapshot(&dir);
    h.cmd()
        .args(["install-cert", "--test"])
        .arg(&bad)
        .assert()
        .code(77)
        .stderr(predicate::str::contains(
            "the certificate was not installed, nothing was changed",
        ))
        .stderr(predicate::str::contains(PASSWORD).not())
        // `status` checks the installed certificate, not the one just refused.
        .stderr(predicate::str::contains("status").not());
    assert_eq!(snapshot(&dir), before, "a failed test must change nothing");

    // --format json: one document saying what failed, with the stages that ran.
    let out = h
        .cmd()
        .args(["install-cert", "--test", "--format", "json"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(77));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ok"], false, "{doc}");
    assert_eq!(doc["exit_code"], 77, "{doc}");
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .contains("the certificate was not installed"),
        "{doc}"
    );
    let stages = doc["test"]["stages"].as_array().unwrap();
    assert!(stages.len() >= 3, "{doc}");
    assert_eq!(stages.last().unwrap()["ok"], false, "{doc}");
    assert_eq!(snapshot(&dir), before, "a failed test must change nothing");

    // A broker the profile's CA does not vouch for: the hint fits install-cert (it has
    // no --ca) and carries this run's --home.
    let good_ca = std::fs::read(dir.join("ca-cert.pem")).unwrap();
    std::fs::copy(&stranger.cert, dir.join("ca-cert.pem")).unwrap();
    let signed = m.client_ca.sign_days_from_now(&pending_csr, 365);
    let out = h
        .cmd()
        .args(["install-cert", "--test"])
        .arg(&signed)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(76), "{err}");
    assert!(
        err.contains(&format!(
            "`centiloc-cert --home {} install-ca ca-cert.pem`",
            h.path().display()
        )),
        "{err}"
    );
    assert!(
        !err.contains("--ca FILE") && !err.contains("status"),
        "{err}"
    );
    std::fs::write(dir.join("ca-cert.pem"), good_ca).unwrap();

    // Signed by the CA the broker trusts: the test passes and the renewal is promoted.
    let good = m.client_ca.sign_days_from_now(&pending_csr, 365);
    h.cmd()
        .args(["install-cert", "--test"])
        .arg(&good)
        .assert()
        .success()
        .stdout(predicate::str::contains("✓ SUBSCRIBE"))
        .stdout(predicate::str::contains("promoted"));
    assert!(!dir.join("pending/private-key.pem").exists());
    h.cmd()
        .args(["test-connect", "--count", "0"])
        .assert()
        .success();
}
