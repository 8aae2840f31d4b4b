//! `csr` and `csr --mail` know the profile's state (issue 11, item 5): a key Centiloc has
//! signed already gets no second request without --force (73, pointing at `renew`); during
//! a renewal they concern the pending CSR and say so.

mod support;

use predicates::prelude::*;
use support::smtp::Smtp;
use support::{Ca, TestHome, snapshot};

/// A profile `acme` with e-mail set up and a certificate installed for its key.
fn certified(smtp: &Smtp) -> TestHome {
    let h = TestHome::new();
    h.notify_config(&smtp.url());
    let csr = h.init_with_csr("acme");
    let ca = Ca::new("Centiloc Test CA");
    let cert = ca.sign_days_from_now(&csr, 365);
    h.cmd().arg("install-cert").arg(&cert).assert().success();
    h
}

#[test]
fn a_certified_key_gets_no_second_request_without_force() {
    let smtp = Smtp::start();
    let h = certified(&smtp);
    let dir = h.profile_dir("default");
    let before = snapshot(h.path());
    for args in [&["csr"][..], &["csr", "--mail"], &["csr", "--out", "-"]] {
        let out = h.cmd().args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(73), "{args:?}: {err}");
        let expected_start = format!(
            "ERROR: a certificate for this key is already installed ({}, serial ",
            dir.join("tls-cert.pem").display()
        );
        assert!(err.starts_with(&expected_start), "{err}");
        assert!(
            err.trim_end().ends_with(&format!(
                "to get a new one start a renewal with `centiloc-cert --home {} renew` (new key, no downtime), or pass --force to make a CSR for the same key again",
                h.path().display()
            )),
            "{err}"
        );
        assert!(out.stdout.is_empty());
    }
    assert_eq!(snapshot(h.path()), before, "refusals change nothing");
    assert!(smtp.messages().is_empty(), "no second request mailed");

    // --force makes it anyway, and mails it.
    h.cmd()
        .args(["csr", "--mail", "--force"])
        .assert()
        .success()
        .stderr(predicate::str::contains("e-mailed the CSR"));
    assert_eq!(smtp.messages().len(), 1);
}

#[test]
fn during_a_renewal_csr_concerns_the_pending_request() {
    let smtp = Smtp::start();
    let h = certified(&smtp);
    let dir = h.profile_dir("default");
    h.cmd().arg("renew").assert().success();
    let pending_csr = dir.join("pending/certificate-request.csr");
    let pending_text = std::fs::read_to_string(&pending_csr).unwrap();
    let before = snapshot(h.path());

    h.cmd()
        .arg("csr")
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "Wrote {}",
            pending_csr.display()
        )))
        .stderr(predicate::str::contains(format!(
            "Note: a renewal is pending: this is its CSR ({}) for the new key; the current certificate keeps working until `centiloc-cert --home {} install-cert tls-cert.pem` installs the new one",
            pending_csr.display(),
            h.path().display()
        )));
    assert_eq!(
        snapshot(h.path()),
        before,
        "the pending CSR is reused as is"
    );

    let out = h.cmd().args(["csr", "--out", "-"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), pending_text);

    let out = h.cmd().args(["csr", "--format", "json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["pending_renewal"], true, "{v}");
    assert_eq!(v["csr_file"], pending_csr.display().to_string(), "{v}");

    h.cmd().args(["csr", "--mail"]).assert().success();
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].attachments[0].content, pending_text);
    assert_eq!(snapshot(h.path()), before);
}
