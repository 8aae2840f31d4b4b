//! `install-cert`, `install-ca`, `credentials`, `status`, `list` and `renew` end to end,
//! with openssl playing Centiloc support (issue 3). Every refusal is checked to leave the
//! profile byte-identical.

mod support;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use predicates::prelude::*;
use support::{Ca, TestHome, asn1_time, openssl, snapshot};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The DER bytes of the first certificate in `file`, as openssl reads it.
fn der(file: &Path) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(["x509", "-in", s(file), "-outform", "DER"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl cannot read {}",
        file.display()
    );
    out.stdout
}

fn sha256_fingerprint(file: &Path) -> String {
    let text = openssl(
        Path::new("/"),
        &["x509", "-in", s(file), "-noout", "-fingerprint", "-sha256"],
    );
    text.trim().split('=').nth(1).unwrap().to_uppercase()
}

fn profile(h: &TestHome) -> PathBuf {
    h.profile_dir("default")
}

fn install(h: &TestHome, file: &Path) -> assert_cmd::assert::Assert {
    h.cmd().args(["install-cert", s(file)]).assert()
}

/// A profile with key and CSR, and a CA to play support.
fn setup(tenant: &str) -> (TestHome, Ca, PathBuf) {
    let h = TestHome::new();
    let csr = h.init_with_csr(tenant);
    (h, Ca::new("Centiloc Test CA"), csr)
}

/// A CSR made by openssl from the profile's own key, with any subject.
fn csr_for_our_key(h: &TestHome, subject: &str) -> PathBuf {
    let name: String = subject
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let out = h.path().join(format!("{name}.csr"));
    openssl(
        &profile(h),
        &[
            "req",
            "-new",
            "-key",
            "private-key.pem",
            "-subj",
            subject,
            "-out",
            s(&out),
        ],
    );
    out
}

/// A CSR for a key that is not the profile's.
fn csr_for_another_key(h: &TestHome) -> PathBuf {
    csr_for_new_key(
        h,
        "other",
        "/O=Demo Corp/CN=demo/emailAddress=ops@example.com",
    )
}

/// A CSR with `subject` for a new P-256 key `NAME.key` in the home; returns `NAME.csr`.
fn csr_for_new_key(h: &TestHome, name: &str, subject: &str) -> PathBuf {
    let d = h.path();
    let (key, csr) = (format!("{name}.key"), format!("{name}.csr"));
    support::ec_key(d, "prime256v1", &key);
    openssl(
        d,
        &["req", "-new", "-key", &key, "-subj", subject, "-out", &csr],
    );
    d.join(csr)
}

/// Everything needed to connect, with a certificate valid `days` more days.
fn ready(h: &TestHome, ca: &Ca, csr: &Path, days: i64) -> PathBuf {
    let cert = ca.sign_days_from_now(csr, days);
    install(h, &cert).success();
    h.cmd().args(["install-ca", s(&ca.cert)]).assert().success();
    h.cmd()
        .args(["credentials", "--username", "demo-mqtt", "--password-stdin"])
        .write_stdin("pa55word\n")
        .assert()
        .success();
    cert
}

fn archived(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    snapshot(dir)
        .into_iter()
        .filter(|(p, _)| p.starts_with("archive"))
        .collect()
}

// ---------------------------------------------------------------- from reply to ready

#[test]
fn support_reply_to_status_all_green() {
    let (h, ca, csr) = setup("demo");
    // The simple way support might sign: openssl x509 -req -days 365 (made version 3 with
    // an extension file; plain, it makes version 1: tests/install_client_auth.rs).
    let cert = ca.sign_v3(&csr, 365);
    install(&h, &cert).success().stdout(
        predicate::str::contains("Installed")
            .and(predicate::str::contains("CN=demo"))
            .and(predicate::str::contains(sha256_fingerprint(&cert)))
            .and(predicate::str::contains("days left")),
    );
    let dir = profile(&h);
    assert_eq!(der(&dir.join("tls-cert.pem")), der(&cert));
    h.cmd().arg("status").assert().code(66).stdout(
        predicate::str::contains("install-ca").and(predicate::str::contains("credentials")),
    );
    h.cmd().args(["install-ca", s(&ca.cert)]).assert().success();
    assert_eq!(der(&dir.join("ca-cert.pem")), der(&ca.cert));
    h.cmd()
        .args(["credentials", "--username", "demo-mqtt", "--password-stdin"])
        .write_stdin("pa55word\n")
        .assert()
        .success();
    let out = h.cmd().arg("status").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains('✗'), "{text}");
    assert!(text.contains("Ready to connect"), "{text}");
    let (_, v) = status_json(&h);
    assert_eq!(v["ready"], true);
    assert_eq!(
        v["certificate"]["fingerprint_sha256"],
        sha256_fingerprint(&cert)
    );
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["state"] == "ok"),
        "{v}"
    );
}

#[test]
fn openssl_ca_certificate_with_extensions_is_installed_with_its_facts() {
    let (h, ca, csr) = setup("demo");
    let cert = ca.sign_days_from_now(&csr, 365);
    let out = h
        .cmd()
        .args([
            "install-cert",
            s(&cert),
            "--issuer",
            s(&ca.cert),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&support::success_stdout(out)).unwrap();
    assert_eq!(v["fingerprint_sha256"], sha256_fingerprint(&cert));
    let serial = openssl(h.path(), &["x509", "-in", s(&cert), "-noout", "-serial"]);
    // We print it colon-separated, openssl -serial without colons.
    assert_eq!(
        v["serial"].as_str().unwrap().replace(':', ""),
        serial.trim().trim_start_matches("serial=").to_uppercase()
    );
    assert_eq!(v["days_left"], 364);
    assert_eq!(v["warnings"].as_array().unwrap().len(), 0, "{v}");
    assert_eq!(v["promoted_renewal"], false);
    // The stored certificate verifies with openssl against the CA, for clientAuth.
    let dir = profile(&h);
    let verify = openssl(
        &dir,
        &[
            "verify",
            "-CAfile",
            s(&ca.cert),
            "-purpose",
            "sslclient",
            "tls-cert.pem",
        ],
    );
    assert!(verify.contains("OK"), "{verify}");
}

// ---------------------------------------------------------------- input forms

#[test]
fn der_stdin_chain_and_messy_pem_are_accepted() {
    let (h, ca, csr) = setup("demo");
    let cert = ca.sign_v3(&csr, 365);
    let d = h.path();
    let dir = profile(&h);
    // DER.
    openssl(
        d,
        &[
            "x509",
            "-in",
            s(&cert),
            "-outform",
            "DER",
            "-out",
            "cert.der",
        ],
    );
    install(&h, &d.join("cert.der")).success();
    assert!(
        std::fs::read_to_string(dir.join("tls-cert.pem"))
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----\n")
    );
    assert_eq!(der(&dir.join("tls-cert.pem")), der(&cert));

    // stdin, PEM with a BOM, CRLF and text around it, as pasted from an e-mail.
    let second = ca.sign_v3(&csr, 365);
    let pem = std::fs::read_to_string(&second).unwrap();
    let messy = format!(
        "\u{feff}Hello, here is your certificate:\r\n{}\r\nRegards, support\r\n",
        pem.replace('\n', "\r\n")
    );
    h.cmd()
        .args(["install-cert", "-"])
        .write_stdin(messy)
        .assert()
        .success();
    assert_eq!(der(&dir.join("tls-cert.pem")), der(&second));

    // A chain, leaf first: both are stored, leaf first.
    let third = ca.sign_v3(&csr, 365);
    let chain = d.join("chain.pem");
    let text =
        std::fs::read_to_string(&third).unwrap() + &std::fs::read_to_string(&ca.cert).unwrap();
    std::fs::write(&chain, &text).unwrap();
    install(&h, &chain)
        .success()
        .stdout(predicate::str::contains("2 certificates, leaf first"));
    let stored = std::fs::read_to_string(dir.join("tls-cert.pem")).unwrap();
    assert_eq!(stored.matches("BEGIN CERTIFICATE").count(), 2);
    assert_eq!(der(&dir.join("tls-cert.pem")), der(&third));

    // The chain in the wrong order: stored leaf first, with a warning.
    let fourth = ca.sign_v3(&csr, 365);
    let reversed = d.join("reversed.pem");
    std::fs::write(
        &reversed,
        std::fs::read_to_string(&ca.cert).unwrap() + &std::fs::read_to_string(&fourth).unwrap(),
    )
    .unwrap();
    install(&h, &reversed)
        .success()
        .stderr(predicate::str::contains(
            "Warning: the certificate for this key was #2",
        ));
    assert_eq!(der(&dir.join("tls-cert.pem")), der(&fourth));
}

// ---------------------------------------------------------------- refusals

/// Runs `install-cert` with `args`, expecting `code` and every message in `says`, and the
/// profile (key, CSR, certificate, archive, everything) byte-identical afterwards.
fn refused(h: &TestHome, args: &[&str], code: i32, says: &[&str]) {
    support::assert_install_refused(h, args, None, code, says);
}

#[test]
fn every_refusal_names_both_values_and_changes_nothing() {
    let (h, ca, csr) = setup("demo");
    // With a certificate already installed, so that "nothing changed" covers it too.
    let good = ca.sign_v3(&csr, 365);
    install(&h, &good).success();
    let d = h.path().to_path_buf();
    let dir = profile(&h);

    std::fs::write(d.join("garbage.pem"), "not a certificate at all").unwrap();
    refused(
        &h,
        &[s(&d.join("garbage.pem"))],
        65,
        &["garbage.pem", "expected a PEM or DER certificate"],
    );
    std::fs::write(d.join("empty.pem"), "").unwrap();
    refused(&h, &[s(&d.join("empty.pem"))], 65, &["the file is empty"]);
    refused(
        &h,
        &[s(&dir.join("private-key.pem"))],
        65,
        &["no CERTIFICATE block"],
    );
    refused(
        &h,
        &[s(&d.join("missing.pem"))],
        66,
        &["missing.pem", "no such file"],
    );

    // Signed for another key: both key fingerprints.
    let foreign = ca.sign_v3(&csr_for_another_key(&h), 365);
    let key_fp = {
        let (_, v) = status_json(&h);
        v["checks"][0]["detail"]
            .as_str()
            .unwrap()
            .rsplit(' ')
            .next()
            .unwrap()
            .to_owned()
    };
    openssl(
        &d,
        &[
            "pkey",
            "-in",
            "other.key",
            "-pubout",
            "-outform",
            "DER",
            "-out",
            "other.pub",
        ],
    );
    let other_fp = openssl(&d, &["dgst", "-sha256", "-c", "other.pub"]);
    let other_fp = other_fp.split("= ").nth(1).unwrap().trim().to_uppercase();
    refused(
        &h,
        &[s(&foreign)],
        65,
        &["is not this profile's key", &key_fp, &other_fp],
    );

    // Expired: both dates.
    let expired = ca.sign_dates(
        &csr,
        &asn1_time(now() - 400 * 86_400),
        &asn1_time(now() - 86_400),
    );
    refused(&h, &[s(&expired)], 65, &["expired on", "now ", "renew"]);

    // CN is not the tenant: both names.
    let wrong_cn = ca.sign_v3(
        &csr_for_our_key(
            &h,
            "/O=Demo Corp/CN=someone-else/emailAddress=ops@example.com",
        ),
        365,
    );
    refused(
        &h,
        &[s(&wrong_cn)],
        65,
        &["CN is \"someone-else\"", "tenant is \"demo\""],
    );

    // --issuer: signed by another CA.
    let other_ca = Ca::new("Other CA");
    let fresh = ca.sign_v3(&csr, 365);
    refused(
        &h,
        &[s(&fresh), "--issuer", s(&other_ca.cert)],
        65,
        &["not signed by the --issuer certificate", "Other CA"],
    );
    refused(
        &h,
        &[s(&fresh), "--issuer", s(&d.join("nope.pem"))],
        66,
        &["nope.pem"],
    );

    // A CA certificate handed to install-cert.
    refused(&h, &[s(&ca.cert)], 65, &["install-ca"]);

    // Nothing installed yet in another profile: no profile at all.
    let out = h
        .cmd()
        .args(["--profile", "ghost", "install-cert", s(&good)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(66));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no profile \"ghost\""));
}

// ---------------------------------------------------------------- warnings

#[test]
fn odd_but_usable_certificates_install_with_warnings() {
    let (h, ca, csr) = setup("demo");
    let dir = profile(&h);
    // Not yet valid: starts tomorrow.
    let future = ca.sign_dates(
        &csr,
        &asn1_time(now() + 86_400),
        &asn1_time(now() + 366 * 86_400),
    );
    install(&h, &future)
        .success()
        .stderr(predicate::str::contains(
            "Warning: the certificate is not valid before",
        ));
    assert_eq!(der(&dir.join("tls-cert.pem")), der(&future));

    // O and emailAddress differ from the profile.
    let other_subject = csr_for_our_key(&h, "/O=Someone Else/CN=demo/emailAddress=x@other.example");
    install(&h, &ca.sign_v3(&other_subject, 365))
        .success()
        .stderr(
            predicate::str::contains(
                "its O (organization) is \"Someone Else\" but the profile says \"Demo Corp\"",
            )
            .and(predicate::str::contains(
                "its emailAddress is \"x@other.example\"",
            )),
        );

    // Far from the documented year.
    install(&h, &ca.sign_v3(&csr, 30))
        .success()
        .stderr(predicate::str::contains("valid for 30 days"));
}

// ---------------------------------------------------------------- archive

#[test]
fn replacing_a_certificate_archives_the_old_one_and_reinstall_is_a_no_op() {
    let (h, ca, csr) = setup("demo");
    let dir = profile(&h);
    let first = ca.sign_v3(&csr, 365);
    install(&h, &first).success();
    let first_stored = std::fs::read(dir.join("tls-cert.pem")).unwrap();
    let before = snapshot(&dir);
    install(&h, &first)
        .success()
        .stdout(predicate::str::contains("nothing changed"));
    assert_eq!(snapshot(&dir), before);

    let second = ca.sign_v3(&csr, 365);
    install(&h, &second)
        .success()
        .stderr(predicate::str::contains("previous certificate is kept in"));
    assert_eq!(der(&dir.join("tls-cert.pem")), der(&second));
    let arch = archived(&dir);
    assert_eq!(arch.len(), 1, "{arch:?}");
    assert!(arch[0].0.ends_with("tls-cert.pem"));
    assert_eq!(arch[0].1, first_stored);
    // Key and CSR are untouched by a certificate replacement.
    assert_eq!(
        snapshot(&dir)[Path::new("private-key.pem")],
        before[Path::new("private-key.pem")]
    );
}

// ---------------------------------------------------------------- renew and promotion

#[test]
fn renew_then_install_promotes_key_csr_and_certificate_together() {
    let (h, ca, csr) = setup("demo");
    let dir = profile(&h);
    let old_cert = ready(&h, &ca, &csr, 20);
    let before = snapshot(&dir);

    h.cmd().arg("renew").assert().success().stdout(
        predicate::str::contains("pending/certificate-request.csr")
            .and(predicate::str::contains("install-cert tls-cert.pem")),
    );
    let pending = dir.join("pending");
    assert_eq!(mode(&pending), 0o700);
    assert_eq!(mode(&pending.join("private-key.pem")), 0o600);
    // The current files are untouched, and still what every command uses.
    let during = snapshot(&dir);
    for f in ["private-key.pem", "certificate-request.csr", "tls-cert.pem"] {
        assert_eq!(during[Path::new(f)], before[Path::new(f)], "{f}");
    }
    // The pending CSR verifies, has the same subject, and carries the pending key.
    let subject = |f: &Path| openssl(&dir, &["req", "-in", s(f), "-verify", "-noout", "-subject"]);
    assert_eq!(
        subject(&pending.join("certificate-request.csr")),
        subject(&dir.join("certificate-request.csr"))
    );
    assert_eq!(
        openssl(&dir, &["pkey", "-in", "pending/private-key.pem", "-pubout"]),
        openssl(
            &dir,
            &[
                "req",
                "-in",
                "pending/certificate-request.csr",
                "-noout",
                "-pubkey"
            ]
        )
    );
    h.cmd()
        .arg("status")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("renewal").and(predicate::str::contains("pending since")));
    h.cmd()
        .arg("list")
        .assert()
        .success()
        .stdout(predicate::str::contains("renewal pending"));

    // A second renew refuses.
    let pending_snapshot = snapshot(&dir);
    h.cmd().arg("renew").assert().code(73).stderr(
        predicate::str::contains("already pending").and(predicate::str::contains("--force")),
    );
    assert_eq!(snapshot(&dir), pending_snapshot);

    // A certificate for neither key names both of ours, and changes nothing.
    let foreign = ca.sign_v3(&csr_for_another_key(&h), 365);
    refused(
        &h,
        &[s(&foreign)],
        65,
        &["is not this profile's key", "nor the pending renewal key"],
    );

    // Support signs the pending CSR; installing it promotes all three.
    let new_cert = ca.sign_days_from_now(&pending.join("certificate-request.csr"), 365);
    install(&h, &new_cert)
        .success()
        .stdout(predicate::str::contains("promoted the renewal key"));
    let after = snapshot(&dir);
    assert!(!pending.exists());
    assert_eq!(
        after[Path::new("private-key.pem")],
        pending_snapshot[Path::new("pending/private-key.pem")]
    );
    assert_eq!(
        after[Path::new("certificate-request.csr")],
        pending_snapshot[Path::new("pending/certificate-request.csr")]
    );
    assert_eq!(der(&dir.join("tls-cert.pem")), der(&new_cert));
    assert_eq!(mode(&dir.join("private-key.pem")), 0o600);
    // One archive folder holds the old key, CSR and certificate, byte for byte.
    let arch = archived(&dir);
    assert_eq!(arch.len(), 3, "{arch:?}");
    let folder = arch[0].0.parent().unwrap().to_path_buf();
    for f in ["private-key.pem", "certificate-request.csr", "tls-cert.pem"] {
        assert_eq!(after[&folder.join(f)], before[Path::new(f)], "{f}");
    }
    assert_eq!(
        der(&folder_abs(&dir, &folder).join("tls-cert.pem")),
        der(&old_cert)
    );
    // The promoted key and certificate belong together, says openssl.
    assert_eq!(
        openssl(&dir, &["pkey", "-in", "private-key.pem", "-pubout"]),
        openssl(&dir, &["x509", "-in", "tls-cert.pem", "-noout", "-pubkey"])
    );
    h.cmd().arg("status").assert().code(0);
}

fn folder_abs(dir: &Path, rel: &Path) -> PathBuf {
    dir.join(rel)
}

#[test]
fn renew_force_archives_the_abandoned_pending_key_and_curve_is_kept_or_chosen() {
    let (h, ca, csr) = setup("demo");
    let dir = profile(&h);
    // Renewal needs an installed certificate.
    install(&h, &ca.sign_v3(&csr, 365)).success();
    h.cmd()
        .args(["renew", "--curve", "p384"])
        .assert()
        .success();
    let first = snapshot(&dir);
    let text = openssl(
        &dir,
        &["ec", "-in", "pending/private-key.pem", "-noout", "-text"],
    );
    assert!(text.contains("secp384r1"), "{text}");
    h.cmd()
        .args(["renew", "--force"])
        .assert()
        .success()
        .stderr(predicate::str::contains("abandoned pending key"));
    let after = snapshot(&dir);
    assert_ne!(
        after[Path::new("pending/private-key.pem")],
        first[Path::new("pending/private-key.pem")]
    );
    let kept = archived(&dir);
    assert!(
        kept.iter().any(|(p, v)| p.ends_with("private-key.pem")
            && *v == first[Path::new("pending/private-key.pem")]),
        "{kept:?}"
    );
    // Without --curve, the current key's curve (P-256 here).
    let text = openssl(
        &dir,
        &["ec", "-in", "pending/private-key.pem", "-noout", "-text"],
    );
    assert!(text.contains("prime256v1"), "{text}");
}

#[test]
fn an_interrupted_promotion_is_finished_by_the_next_command() {
    let (h, ca, csr) = setup("demo");
    let dir = profile(&h);
    ready(&h, &ca, &csr, 20);
    h.cmd().arg("renew").assert().success();
    let pending_key = std::fs::read(dir.join("pending/private-key.pem")).unwrap();
    let new_cert = ca.sign_v3(&dir.join("pending/certificate-request.csr"), 365);
    // A crash right after the commit point: the certificate reached pending/, nothing moved.
    std::fs::copy(&new_cert, dir.join("pending/tls-cert.pem")).unwrap();
    h.cmd()
        .arg("status")
        .assert()
        .code(0)
        .stderr(predicate::str::contains(
            "finished an interrupted certificate renewal",
        ));
    assert_eq!(
        std::fs::read(dir.join("private-key.pem")).unwrap(),
        pending_key
    );
    assert_eq!(der(&dir.join("tls-cert.pem")), der(&new_cert));
    assert!(!dir.join("pending").exists());
}

// ---------------------------------------------------------------- concurrency

#[test]
fn two_install_cert_runs_on_one_profile_one_wins_the_other_is_told_locked() {
    let (h, ca, csr) = setup("demo");
    let dir = profile(&h);
    let a = ca.sign_v3(&csr, 365);
    let b = ca.sign_v3(&csr, 365);
    // Run A reads its certificate from stdin, which the test holds open: A has taken the
    // profile lock and waits in the middle of its install when B starts.
    let mut run_a = Command::new(env!("CARGO_BIN_EXE_centiloc-cert"))
        .args(["--home", s(h.path()), "install-cert", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_lock(run_a.id());
    let run_b = h.cmd().args(["install-cert", s(&b)]).output().unwrap();
    let err = String::from_utf8_lossy(&run_b.stderr);
    assert_eq!(run_b.status.code(), Some(74), "{err}");
    assert!(
        err.contains("is locked by another centiloc-cert run; wait for it to finish and retry"),
        "{err}"
    );
    run_a
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(&a).unwrap())
        .unwrap();
    let out_a = run_a.wait_with_output().unwrap();
    assert!(
        out_a.status.success(),
        "{}",
        String::from_utf8_lossy(&out_a.stderr)
    );
    // A's certificate is installed, B left no trace, no temporary file remains.
    assert_eq!(der(&dir.join("tls-cert.pem")), der(&a));
    assert!(archived(&dir).is_empty());
    let names: Vec<_> = snapshot(&dir).into_keys().collect();
    assert!(
        names.iter().all(|p| !p.to_string_lossy().contains(".tmp")),
        "{names:?}"
    );
    h.cmd()
        .arg("status")
        .assert()
        .stdout(predicate::str::contains("✓ matches key"));
}

/// Waits until process `pid` holds a file lock (Linux /proc/locks), at most 10 s.
fn wait_for_lock(pid: u32) {
    let needle = format!(" {pid} ");
    for _ in 0..1000 {
        let locks = std::fs::read_to_string("/proc/locks").unwrap_or_default();
        if locks
            .lines()
            .any(|l| l.contains("FLOCK") && l.contains(&needle))
        {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("process {pid} never took the profile lock");
}

// ---------------------------------------------------------------- install-ca

#[test]
fn install_ca_accepts_a_ca_and_refuses_the_rest_unchanged() {
    let (h, ca, csr) = setup("demo");
    let dir = profile(&h);
    let client = ca.sign_v3(&csr, 365);
    let d = h.path();
    let refuse = |file: &Path, says: &str| {
        let before = snapshot(d);
        h.cmd()
            .args(["install-ca", s(file)])
            .assert()
            .code(65)
            .stderr(predicate::str::contains(says));
        assert_eq!(snapshot(d), before);
    };
    refuse(
        &client,
        "refused, nothing was changed: it is not a CA certificate",
    );
    std::fs::write(d.join("junk.pem"), "junk").unwrap();
    refuse(&d.join("junk.pem"), "expected a PEM or DER certificate");
    // An expired CA (CA:TRUE, dates in the past), signed by openssl ca.
    std::fs::write(
        ca.dir.path().join("ca_ext.cnf"),
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n",
    )
    .unwrap();
    openssl(
        ca.dir.path(),
        &[
            "req",
            "-new",
            "-key",
            "ca.key",
            "-subj",
            "/O=Old/CN=Old CA",
            "-out",
            "old.csr",
        ],
    );
    openssl(
        ca.dir.path(),
        &[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-extfile",
            "ca_ext.cnf",
            "-notext",
            "-in",
            "old.csr",
            "-out",
            "old.pem",
            "-startdate",
            &asn1_time(now() - 800 * 86_400),
            "-enddate",
            &asn1_time(now() - 400 * 86_400),
        ],
    );
    refuse(
        &ca.dir.path().join("old.pem"),
        "refused, nothing was changed: it expired on",
    );
    h.cmd()
        .args(["install-ca", "missing.pem"])
        .assert()
        .code(66);

    h.cmd()
        .args(["install-ca", s(&ca.cert)])
        .assert()
        .success()
        .stdout(predicate::str::contains("Centiloc Test CA"));
    assert_eq!(der(&dir.join("ca-cert.pem")), der(&ca.cert));
    // DER from stdin, a different CA: the old one is archived.
    let other = Ca::new("Next CA");
    openssl(
        d,
        &[
            "x509",
            "-in",
            s(&other.cert),
            "-outform",
            "DER",
            "-out",
            "next.der",
        ],
    );
    h.cmd()
        .args(["install-ca", "-"])
        .write_stdin(std::fs::read(d.join("next.der")).unwrap())
        .assert()
        .success();
    assert_eq!(der(&dir.join("ca-cert.pem")), der(&other.cert));
    let arch = archived(&dir);
    assert_eq!(arch.len(), 1);
    assert!(arch[0].0.ends_with("ca-cert.pem"));
}

// ---------------------------------------------------------------- credentials

#[test]
fn credentials_store_the_password_0600_and_never_show_it() {
    let h = TestHome::new();
    h.init("demo");
    let dir = profile(&h);
    let secret = "S3cr3t-do-not-print";
    let out = h
        .cmd()
        .args([
            "credentials",
            "--username",
            "demo-mqtt",
            "--password-stdin",
            "-v",
        ])
        .write_stdin(format!("{secret}\r\n"))
        .output()
        .unwrap();
    assert!(out.status.success());
    for stream in [&out.stdout, &out.stderr] {
        assert!(!String::from_utf8_lossy(stream).contains(secret));
    }
    let file = dir.join("mqtt-password");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), secret);
    assert_eq!(mode(&file), 0o600);
    assert!(
        std::fs::read_to_string(dir.join("profile.toml"))
            .unwrap()
            .contains("username = \"demo-mqtt\"")
    );

    // --username alone changes only the username.
    h.cmd()
        .args(["credentials", "--username", "renamed"])
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(dir.join("profile.toml"))
            .unwrap()
            .contains("username = \"renamed\"")
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), secret);

    // The environment overrides the file at use time, and the user is told.
    h.cmd()
        .env("CENTILOC_MQTT_PASSWORD", "from-env")
        .args(["credentials", "--password-stdin"])
        .write_stdin("other\n")
        .assert()
        .success()
        .stderr(predicate::str::contains("CENTILOC_MQTT_PASSWORD is set"));
    h.cmd()
        .env("CENTILOC_MQTT_PASSWORD", "from-env")
        .args(["status", "--format", "json"])
        .assert()
        .stdout(predicate::str::contains("from CENTILOC_MQTT_PASSWORD"));

    let before = snapshot(&dir);
    h.cmd()
        .args(["credentials", "--password-stdin"])
        .write_stdin("")
        .assert()
        .code(66)
        .stderr(predicate::str::contains("no password given"));
    h.cmd()
        .arg("credentials")
        .write_stdin("")
        .assert()
        .code(64)
        .stderr(predicate::str::contains("--password-stdin"));
    h.cmd()
        .args(["credentials", "--username", "bad\u{7}name"])
        .assert()
        .code(78)
        .stderr(predicate::str::contains("invalid username"));
    assert_eq!(snapshot(&dir), before);
}

// ---------------------------------------------------------------- status

#[test]
fn status_names_the_fixing_command_and_tells_missing_from_wrong() {
    let h = TestHome::new();
    h.init("demo");
    // Missing CSR and everything after it: 66, hints with the exact commands.
    h.cmd()
        .args(["--profile", "default", "status"])
        .assert()
        .code(66)
        .stdout(
            predicate::str::contains("✗ CSR")
                .and(predicate::str::contains(format!(
                    "→ centiloc-cert --home {} csr",
                    h.path().display()
                )))
                .and(predicate::str::contains("credentials --username NAME")),
        );
    h.cmd().arg("csr").assert().success();
    let ca = Ca::new("Centiloc Test CA");
    let dir = profile(&h);
    ready(&h, &ca, &dir.join("certificate-request.csr"), 10);
    // Expiring soon is a warning, not a failure.
    h.cmd()
        .arg("status")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("! validity").and(predicate::str::contains("renew")));
    // Secrets readable by others: wrong (65), with the chmod that fixes it.
    for f in ["private-key.pem", "mqtt-password"] {
        let p = dir.join(f);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        h.cmd()
            .arg("status")
            .assert()
            .code(65)
            .stdout(predicate::str::contains(format!(
                "chmod 600 {}",
                p.display()
            )));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // An expired certificate is wrong, and the hint is renew.
    let expired = ca.sign_dates(
        &dir.join("certificate-request.csr"),
        &asn1_time(now() - 400 * 86_400),
        &asn1_time(now() - 86_400),
    );
    std::fs::copy(&expired, dir.join("tls-cert.pem")).unwrap();
    let (code, v) = status_json(&h);
    assert_eq!(code, Some(65));
    let validity = support::status_check(&v, "certificate_validity");
    assert_eq!(validity["state"], "wrong");
    assert!(
        validity["hint"].as_str().unwrap().contains("renew"),
        "{validity}"
    );
    assert_eq!(v["ready"], false);
}

// ---------------------------------------------------------------- list

/// Installs the CA and credentials in profile `name`.
fn complete(h: &TestHome, name: &str, ca: &Ca) {
    h.cmd()
        .args(["--profile", name, "install-ca", s(&ca.cert)])
        .assert()
        .success();
    h.cmd()
        .args([
            "--profile",
            name,
            "credentials",
            "--username",
            "u",
            "--password-stdin",
        ])
        .write_stdin("p\n")
        .assert()
        .success();
}

#[test]
fn list_shows_every_profile_with_expiry_and_state() {
    let h = TestHome::new();
    h.cmd()
        .arg("list")
        .assert()
        .success()
        .stderr(predicate::str::contains("no profiles"));
    let ca = Ca::new("Centiloc Test CA");
    let init = |name: &str, tenant: &str| h.init_named_with_csr(name, tenant);
    let install_in = |name: &str, cert: &Path| {
        h.cmd()
            .args(["--profile", name, "install-cert", s(cert)])
            .assert()
            .success();
    };
    init("waiting", "t-wait");
    let csr = init("ready", "t-ready");
    install_in("ready", &ca.sign_days_from_now(&csr, 100));
    complete(&h, "ready", &ca);
    let csr = init("old", "t-old");
    let expired = ca.sign_dates(
        &csr,
        &asn1_time(now() - 400 * 86_400),
        &asn1_time(now() - 3 * 86_400),
    );
    std::fs::copy(&expired, h.profile_dir("old").join("tls-cert.pem")).unwrap();
    let csr = init("renewing", "t-renew");
    install_in("renewing", &ca.sign_days_from_now(&csr, 100));
    complete(&h, "renewing", &ca);
    h.cmd()
        .args(["--profile", "renewing", "renew"])
        .assert()
        .success();

    let out = h.cmd().arg("list").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let line = |p: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{p} ")))
            .unwrap_or_else(|| panic!("{p}: {text}"))
            .to_owned()
    };
    assert!(
        line("waiting").contains("t-wait") && line("waiting").ends_with("waiting for certificate"),
        "{text}"
    );
    assert!(
        line("ready").ends_with("ready") && line("ready").contains(" 99 "),
        "{text}"
    );
    assert!(line("old").ends_with("expired"), "{text}");
    assert!(line("renewing").ends_with("renewal pending"), "{text}");

    let out = h.cmd().args(["list", "--format", "json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["format_version"], 1);
    let rows = v["profiles"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let ready = rows.iter().find(|r| r["profile"] == "ready").unwrap();
    assert_eq!(ready["tenant"], "t-ready");
    assert_eq!(ready["days_left"], 99);
    assert_eq!(ready["state"], "ready");
    let expected_not_after = openssl(
        h.path(),
        &[
            "x509",
            "-in",
            s(&h.profile_dir("ready").join("tls-cert.pem")),
            "-noout",
            "-enddate",
        ],
    );
    let parsed =
        chrono::DateTime::parse_from_rfc3339(ready["not_after"].as_str().unwrap()).unwrap();
    assert_eq!(
        parsed.format("%b %e %H:%M:%S %Y GMT").to_string(),
        expected_not_after.trim().trim_start_matches("notAfter=")
    );
    let old = rows.iter().find(|r| r["profile"] == "old").unwrap();
    assert!(old["days_left"].as_i64().unwrap() < 0, "{old}");
    let waiting = rows.iter().find(|r| r["profile"] == "waiting").unwrap();
    assert_eq!(waiting["days_left"], serde_json::Value::Null);
}

/// Runs `credentials` on a real terminal, answering each prompt as a person would.
fn credentials_on_terminal(h: &TestHome, replies: &[(&str, &str)]) -> (Option<i32>, String) {
    support::on_terminal(h, "credentials", replies)
}

const USER: &str = "MQTT username: ";
const PW: &str = "MQTT password (hidden): ";
const AGAIN: &str = "Same password again: ";

/// The hidden prompt, on a real terminal.
#[test]
fn credentials_on_a_terminal_ask_without_echo() {
    let h = TestHome::new();
    h.init("demo");
    let secret = "Hunter2-on-a-tty";
    let (code, seen) =
        credentials_on_terminal(&h, &[(USER, "tty-user"), (PW, secret), (AGAIN, secret)]);
    assert_eq!(code, Some(0), "{seen}");
    assert!(seen.contains("Password saved"), "{seen}");
    assert!(!seen.contains(secret), "the password was echoed: {seen}");
    let dir = profile(&h);
    assert_eq!(
        std::fs::read_to_string(dir.join("mqtt-password")).unwrap(),
        secret
    );
    assert!(
        std::fs::read_to_string(dir.join("profile.toml"))
            .unwrap()
            .contains("username = \"tty-user\"")
    );
}

#[test]
fn a_password_confirmation_mismatch_asks_again_then_gives_up_clearly() {
    let h = TestHome::new();
    h.init("demo");
    let dir = profile(&h);
    // One slip, then right: saved.
    let (code, seen) = credentials_on_terminal(
        &h,
        &[
            (USER, "tty-user"),
            (PW, "first-try"),
            (AGAIN, "first-tyr"),
            (PW, "second-try"),
            (AGAIN, "second-try"),
        ],
    );
    assert_eq!(code, Some(0), "{seen}");
    assert!(
        seen.contains("The two entries differ; try again (2 tries left)"),
        "{seen}"
    );
    assert!(!seen.contains("no password given"), "{seen}");
    assert_eq!(
        std::fs::read_to_string(dir.join("mqtt-password")).unwrap(),
        "second-try"
    );
    // Three slips: one clear sentence, exit 66, nothing saved (not even the username).
    let before = snapshot(&dir);
    let mut replies = vec![("MQTT username, now \"tty-user\" (optional): ", "other-user")];
    for _ in 0..3 {
        replies.extend([(PW, "aaa"), (AGAIN, "bbb")]);
    }
    let (code, seen) = credentials_on_terminal(&h, &replies);
    assert_eq!(code, Some(66), "{seen}");
    assert!(
        seen.contains("the password was not confirmed after 3 tries (the two entries differed), so nothing was saved"),
        "{seen}"
    );
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn credentials_say_exactly_what_is_wrong_with_the_input() {
    let h = TestHome::new();
    h.init("demo");
    let dir = profile(&h);
    let before = snapshot(&dir);
    h.cmd()
        .args(["credentials", "--password-stdin"])
        .write_stdin("\nsecond-line\n")
        .assert()
        .code(66)
        .stderr(
            predicate::str::contains("the first line of standard input was empty")
                .and(predicate::str::contains("standard input was empty;").not()),
        );
    h.cmd()
        .args(["credentials", "--password-stdin"])
        .write_stdin("")
        .assert()
        .code(66)
        .stderr(predicate::str::contains("standard input was empty"));
    for empty in ["", "   "] {
        h.cmd()
            .args(["credentials", "--username", empty])
            .assert()
            .code(78)
            .stderr(
                predicate::str::contains("the username must not be empty")
                    .and(predicate::str::contains("control").not()),
            );
    }
    assert_eq!(snapshot(&dir), before);
    // Spaces around a pasted username: trimmed, with a warning saying what was saved.
    h.cmd()
        .args(["credentials", "--username", "  acme-mqtt \t"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "Warning: removed the spaces around the username: saved \"acme-mqtt\"",
        ));
    assert!(
        std::fs::read_to_string(dir.join("profile.toml"))
            .unwrap()
            .contains("username = \"acme-mqtt\"")
    );
}

/// A self-signed CA certificate valid over exactly `start`..`end` (`YYYYMMDDHHMMSSZ`),
/// made with `openssl ca -selfsign` (OpenSSL 3.0's `req -x509` cannot set the start date).
fn dated_ca(dir: &Path, name: &str, start: &str, end: &str) -> PathBuf {
    let d = dir.join(format!("ca-{name}"));
    std::fs::create_dir_all(d.join("newcerts")).unwrap();
    std::fs::write(
        d.join("ca.cnf"),
        "[ ca ]\ndefault_ca = d\n[ d ]\ndatabase = ./index.txt\nnew_certs_dir = ./newcerts\n\
         serial = ./serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n\
         [ p ]\norganizationName = optional\ncommonName = supplied\n\
         [ ca_ext ]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n",
    )
    .unwrap();
    std::fs::write(d.join("index.txt"), "").unwrap();
    std::fs::write(d.join("serial"), "1000\n").unwrap();
    support::ec_key(&d, "prime256v1", "ca.key");
    let subj = format!("/O=Test CA/CN={name}");
    openssl(
        &d,
        &[
            "req", "-new", "-key", "ca.key", "-subj", &subj, "-out", "ca.csr",
        ],
    );
    openssl(
        &d,
        &[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-selfsign",
            "-keyfile",
            "ca.key",
            "-in",
            "ca.csr",
            "-extensions",
            "ca_ext",
            "-notext",
            "-startdate",
            start,
            "-enddate",
            end,
            "-out",
            "ca.pem",
        ],
    );
    d.join("ca.pem")
}

/// What `status --format json` exits with, and its document.
fn status_json(h: &TestHome) -> (Option<i32>, serde_json::Value) {
    let out = h
        .cmd()
        .args(["status", "--format", "json"])
        .output()
        .unwrap();
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

/// What `status` exits with, and its text, for profile `name`.
fn status_of(h: &TestHome, name: &str) -> (i32, String) {
    let out = h
        .cmd()
        .args(["--profile", name, "status"])
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[test]
fn list_states_come_from_the_same_checks_as_status() {
    let h = TestHome::new();
    let ca = Ca::new("Centiloc Test CA");
    let init = |name: &str| h.init_named_with_csr(name, "demo");
    // Profile `name` with a certificate from `ca` installed by install-cert.
    let installed = |name: &str| {
        let cert = ca.sign_v3(&init(name), 365);
        h.cmd()
            .args(["--profile", name, "install-cert", s(&cert)])
            .assert()
            .success();
    };
    let put = |name: &str, file: &str, from: &Path| {
        std::fs::copy(from, h.profile_dir(name).join(file)).unwrap();
    };
    // Everything there, but the certificate only starts tomorrow.
    let csr = init("future");
    complete(&h, "future", &ca);
    let future = ca.sign_dates(
        &csr,
        &asn1_time(now() + 86_400),
        &asn1_time(now() + 366 * 86_400),
    );
    put("future", "tls-cert.pem", &future);
    // A certificate for another key and another CN.
    let csr_other = csr_for_new_key(&h, "x", "/O=Demo Corp/CN=someone-else");
    init("foreign");
    complete(&h, "foreign", &ca);
    put("foreign", "tls-cert.pem", &ca.sign_v3(&csr_other, 365));
    // A good certificate, but the CA is not valid yet / has expired.
    let future_ca = dated_ca(h.path(), "Future CA", "20991231000000Z", "21001231000000Z");
    let old_ca = dated_ca(
        h.path(),
        "Old CA",
        &asn1_time(now() - 800 * 86_400),
        &asn1_time(now() - 2 * 86_400),
    );
    for (name, ca_file) in [("futureca", &future_ca), ("oldca", &old_ca)] {
        installed(name);
        complete(&h, name, &ca);
        put(name, "ca-cert.pem", ca_file);
    }
    // A good certificate and nothing else.
    installed("bare");
    // Ready, for contrast.
    installed("fine");
    complete(&h, "fine", &ca);

    let out = h.cmd().args(["list", "--format", "json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let state = |p: &str| {
        v["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["profile"] == p)
            .unwrap()["summary"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let expect = [
        ("future", "not yet valid", 65, "✗ validity"),
        ("foreign", "wrong certificate", 65, "✗ matches key"),
        ("futureca", "not ready", 65, "not valid before 2099-12-31"),
        ("oldca", "not ready", 65, "expired on"),
        ("bare", "incomplete", 66, "✗ CA certificate"),
        ("fine", "ready", 0, "✓ CA certificate"),
    ];
    for (name, list_state, code, says) in expect {
        let (got, text) = status_of(&h, name);
        assert_eq!(state(name), list_state, "{name}: {v}");
        assert_eq!(got, code, "{name}: {text}");
        assert!(text.contains(says), "{name}: {says:?} not in {text}");
    }
    let (_, text) = status_of(&h, "foreign");
    assert!(text.contains("✗ CN"), "{text}");
    let (_, text) = status_of(&h, "futureca");
    assert!(text.contains("✗ CA certificate"), "{text}");
    // The text view shows the same words.
    let out = h.cmd().arg("list").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("foreign ") && l.ends_with("wrong certificate")),
        "{text}"
    );
}

#[test]
fn json_carries_raw_text_and_the_terminal_gets_it_escaped() {
    let (h, ca, _csr) = setup("demo");
    // O with an escape sequence (a warning at install), then a CN with one (wrong in status).
    let odd_o = ca.sign_v3(
        &csr_for_our_key(
            &h,
            "/O=Evil\x1b[31mCorp/CN=demo/emailAddress=ops@example.com",
        ),
        365,
    );
    let out = h
        .cmd()
        .args(["install-cert", s(&odd_o), "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let w = v["warnings"].as_array().unwrap();
    assert!(
        w.iter()
            .any(|w| w.as_str().unwrap().contains("\"Evil\x1b[31mCorp\"")),
        "{v}"
    );
    assert!(!v.to_string().contains("u{1b}"), "{v}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("Evil\\u{1b}[31mCorp") && !err.contains('\x1b'),
        "{err}"
    );

    let odd_cn = ca.sign_v3(
        &csr_for_our_key(
            &h,
            "/O=Demo Corp/CN=de\x1b[2Jmo/emailAddress=ops@example.com",
        ),
        365,
    );
    std::fs::copy(&odd_cn, profile(&h).join("tls-cert.pem")).unwrap();
    let (_, v) = status_json(&h);
    let cn = support::status_check(&v, "certificate_cn");
    assert_eq!(
        cn["detail"],
        "CN is \"de\x1b[2Jmo\", the tenant is \"demo\""
    );
    let (code, text) = status_of(&h, "default");
    assert_eq!(code, 65);
    assert!(
        text.contains("CN is \"de\\u{1b}[2Jmo\"") && !text.contains('\x1b'),
        "{text}"
    );
}

#[test]
fn a_broken_key_gets_the_exact_init_force_and_renew_tells_the_truth() {
    let (h, ca, csr) = setup("demo");
    ready(&h, &ca, &csr, 365);
    let dir = profile(&h);
    let broken = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
    std::fs::write(dir.join("private-key.pem"), broken).unwrap();
    let (code, text) = status_of(&h, "default");
    assert_eq!(code, 65, "{text}");
    let init_force = format!(
        "centiloc-cert --home {} init --force --tenant demo --org 'Demo Corp' --email ops@example.com --username demo-mqtt",
        h.path().display()
    );
    assert!(text.contains("✗ private key"), "{text}");
    assert!(text.contains(&init_force), "{text}");
    assert!(text.contains("archived, not deleted"), "{text}");
    assert!(
        !text.contains("make a new one with `centiloc-cert init`"),
        "{text}"
    );

    // The hint works as printed (in a copy of the home, to go on with renew here).
    let copy = TestHome::new();
    let status = Command::new("cp")
        .args(["-a", &format!("{}/.", h.path().display()), s(copy.path())])
        .status()
        .unwrap();
    assert!(status.success());
    let line = init_force
        .replace(&h.path().display().to_string(), s(copy.path()))
        .replacen("centiloc-cert", env!("CARGO_BIN_EXE_centiloc-cert"), 1);
    let out = Command::new("sh").args(["-c", &line]).output().unwrap();
    assert!(
        out.status.success(),
        "{line}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let copied = copy.profile_dir("default");
    assert!(
        snapshot(&copied.join("archive"))
            .values()
            .any(|v| v == broken.as_bytes()),
        "the broken key is archived"
    );

    // renew is still useful (it makes the replacing key), and says nothing false.
    let out = h.cmd().arg("renew").output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(!stdout.contains("stay in use"), "{stdout}");
    assert!(
        stderr.contains("Warning: the current key cannot be used")
            && stderr.contains("cannot connect until the new certificate is installed"),
        "{stderr}"
    );
    assert!(stdout.contains("is archived then"), "{stdout}");
    // Support signs the pending CSR; installing it promotes the new key over the broken one.
    let signed = ca.sign_v3(&dir.join("pending/certificate-request.csr"), 365);
    install(&h, &signed)
        .success()
        .stdout(predicate::str::contains("promoted the renewal key"));
    assert_eq!(status_of(&h, "default").0, 0);
    assert!(
        archived(&dir).iter().any(|(_, v)| v == broken.as_bytes()),
        "the broken key is archived, not deleted"
    );
}

#[test]
fn renew_before_any_certificate_is_refused_with_the_way_on() {
    let (h, _ca, _csr) = setup("demo");
    let dir = profile(&h);
    let before = snapshot(h.path());
    let out = h.cmd().arg("renew").output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(66), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one sentence: {err}");
    for says in [
        "no certificate is installed yet",
        &format!(
            "send the existing {}",
            dir.join("certificate-request.csr").display()
        ),
        "install-cert tls-cert.pem",
        "init --force --tenant demo --org 'Demo Corp' --email ops@example.com",
    ] {
        assert!(err.contains(says), "{says:?} not in {err}");
    }
    assert_eq!(snapshot(h.path()), before);
    assert!(!dir.join("pending").exists());
    // With an unusable key too, only starting over helps, and that is all it says.
    std::fs::write(dir.join("private-key.pem"), "junk").unwrap();
    h.cmd().arg("renew").assert().code(66).stderr(
        predicate::str::contains("cannot be used either, so start over with")
            .and(predicate::str::contains("send the existing").not()),
    );
}

#[test]
fn install_cert_nits_duplicates_hours_and_a_working_certificate_kept() {
    let (h, ca, csr) = setup("demo");
    let dir = profile(&h);
    // The leaf twice, then the CA: the copy is dropped with a note, no order warning.
    let leaf = ca.sign_v3(&csr, 365);
    let doubled = h.path().join("doubled.pem");
    let mut text = std::fs::read_to_string(&leaf).unwrap();
    text.push_str(&std::fs::read_to_string(&leaf).unwrap());
    text.push_str(&std::fs::read_to_string(&ca.cert).unwrap());
    std::fs::write(&doubled, text).unwrap();
    install(&h, &doubled).success().stderr(
        predicate::str::contains("Note: dropped 1 exact duplicate certificate")
            .and(predicate::str::contains("wrong order").not())
            .and(predicate::str::contains("Warning").not()),
    );
    let stored = std::fs::read_to_string(dir.join("tls-cert.pem")).unwrap();
    assert_eq!(stored.matches("BEGIN CERTIFICATE").count(), 2, "{stored}");

    // Valid for 5 hours: said in hours, not "0 days".
    let short = ca.sign_dates(&csr, &asn1_time(now()), &asn1_time(now() + 5 * 3600));
    install(&h, &short)
        .success()
        .stderr(
            predicate::str::contains("it is valid for 5 hours")
                .and(predicate::str::contains("0 days").not()),
        )
        .stdout(predicate::str::contains("hours left"));

    // A working certificate is not replaced by one that starts tomorrow, unless --force.
    ready(&h, &ca, &csr, 365);
    let tomorrow = ca.sign_dates(
        &csr,
        &asn1_time(now() + 86_400),
        &asn1_time(now() + 366 * 86_400),
    );
    let before = snapshot(h.path());
    let out = h
        .cmd()
        .args(["install-cert", s(&tomorrow)])
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(73), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one sentence: {err}");
    assert!(
        err.contains("not valid before")
            && err.contains("would replace the working certificate")
            && err.contains("--force"),
        "{err}"
    );
    assert_eq!(snapshot(h.path()), before);
    // Nor through a renewal's promotion.
    h.cmd().arg("renew").assert().success();
    let pending_tomorrow = ca.sign_dates(
        &dir.join("pending/certificate-request.csr"),
        &asn1_time(now() + 86_400),
        &asn1_time(now() + 366 * 86_400),
    );
    let before = snapshot(h.path());
    install(&h, &pending_tomorrow).code(73);
    assert_eq!(snapshot(h.path()), before);
    // --force installs it, with the warning.
    h.cmd()
        .args(["install-cert", s(&tomorrow), "--force"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "Warning: the certificate is not valid before",
        ));
    assert_eq!(der(&dir.join("tls-cert.pem")), der(&tomorrow));
    // With no working certificate (this one is not valid yet), it installs with the warning.
    let later = ca.sign_dates(
        &csr,
        &asn1_time(now() + 2 * 86_400),
        &asn1_time(now() + 367 * 86_400),
    );
    install(&h, &later)
        .success()
        .stderr(predicate::str::contains("not valid before"));
}

#[test]
fn a_ca_certificate_given_to_install_cert_points_at_install_ca_with_this_run_s_flags() {
    let (h, ca, _csr) = setup("acme");
    let file = ca.cert.display().to_string();
    let before = snapshot(h.path());
    let out = h.cmd().args(["install-cert", &file]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{err}");
    assert_eq!(
        err,
        format!(
            "ERROR: {file} refused, nothing was changed: it is a CA certificate (O=Test CA, CN=Centiloc Test CA), not the certificate for this profile's key; install it with `centiloc-cert --home {} install-ca {file}`\n",
            h.path().display()
        )
    );
    assert_eq!(snapshot(h.path()), before);
}
