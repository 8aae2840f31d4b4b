//! `export --format pkcs12` (issue 11, item 4): read back by `openssl pkcs12` (key and
//! certificates compared with the profile's) and by Java's `keytool`.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use predicates::prelude::*;
use support::{Ca, TestHome, openssl, require, snapshot};

const PASSWORD: &str = "p12-Secret-42";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A profile `demo` whose tls-cert.pem holds the leaf and the CA that signed it.
fn ready() -> (TestHome, Ca, PathBuf) {
    let h = TestHome::new();
    let csr = h.init_with_csr("demo");
    let ca = Ca::new("Centiloc Test CA");
    let leaf = ca.sign_days_from_now(&csr, 365);
    let chain = h.path().join("chain.pem");
    let text =
        std::fs::read_to_string(&leaf).unwrap() + &std::fs::read_to_string(&ca.cert).unwrap();
    std::fs::write(&chain, text).unwrap();
    h.cmd().args(["install-cert", s(&chain)]).assert().success();
    (h, ca, leaf)
}

fn export(h: &TestHome, out: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    h.cmd()
        .args([
            "export",
            "--format",
            "pkcs12",
            "--out",
            s(out),
            "--password-stdin",
        ])
        .args(extra)
        .write_stdin(format!("{PASSWORD}\n"))
        .assert()
}

fn pwfile(dir: &Path) -> PathBuf {
    let f = dir.join("pw.txt");
    std::fs::write(&f, format!("{PASSWORD}\n")).unwrap();
    f
}

#[test]
fn the_pkcs12_file_reads_back_in_openssl_and_keytool() {
    let (h, ca, leaf) = ready();
    let d = h.path();
    let out = d.join("demo.p12");
    export(&h, &out, &[])
        .success()
        .stdout(predicate::str::contains(format!(
            "Wrote {} (PKCS#12, mode 0600): the private key, 2 certificates, friendly name \"demo\"",
            s(&out)
        )));
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let pass = format!("file:{}", s(&pwfile(d)));

    // Key and certificates, as openssl reads them, equal the profile's.
    let pem = openssl(d, &["pkcs12", "-in", s(&out), "-nodes", "-passin", &pass]);
    std::fs::write(d.join("back.pem"), &pem).unwrap();
    let key = h.profile_dir("default").join("private-key.pem");
    let pubkey = |f: &Path| openssl(d, &["pkey", "-in", s(f), "-pubout"]);
    assert_eq!(pubkey(&d.join("back.pem")), pubkey(&key));
    let ours = |f: &Path| {
        openssl(
            d,
            &["x509", "-in", s(f), "-noout", "-fingerprint", "-sha256"],
        )
    };
    assert!(pem.contains("friendlyName: demo"), "{pem}");
    let certs: Vec<&str> = pem
        .match_indices("-----BEGIN CERTIFICATE-----")
        .map(|(i, _)| &pem[i..])
        .collect();
    assert_eq!(certs.len(), 2, "{pem}");
    std::fs::write(d.join("first.pem"), certs[0]).unwrap();
    assert_eq!(ours(&d.join("first.pem")), ours(&leaf));
    assert!(
        pem.contains(&std::fs::read_to_string(&ca.cert).unwrap()),
        "{pem}"
    );

    // Encrypted as OpenSSL 3 does.
    let info = Command::new(require("openssl", "openssl"))
        .args([
            "pkcs12",
            "-in",
            s(&out),
            "-info",
            "-noout",
            "-passin",
            &pass,
        ])
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stderr);
    assert!(info.contains("MAC: sha256"), "{info}");
    assert!(
        info.contains("PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256"),
        "{info}"
    );
    // The wrong password does not open it.
    let wrong = Command::new("openssl")
        .args(["pkcs12", "-in", s(&out), "-nodes", "-passin", "pass:wrong"])
        .output()
        .unwrap();
    assert!(!wrong.status.success());

    // Java's keytool sees one private key entry under the tenant's name.
    let keytool = require("keytool", "default-jdk-headless");
    let list = Command::new(keytool)
        .args(["-list", "-v", "-storetype", "PKCS12", "-keystore", s(&out)])
        .args(["-storepass:file", s(&pwfile(d))])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&list.stderr)
    );
    assert!(text.contains("Your keystore contains 1 entry"), "{text}");
    assert!(text.contains("Alias name: demo"), "{text}");
    assert!(text.contains("Entry type: PrivateKeyEntry"), "{text}");
    assert!(text.contains("Certificate chain length: 2"), "{text}");
}

#[test]
fn an_existing_file_is_kept_without_force_and_json_reports() {
    let (h, _ca, _leaf) = ready();
    let out = h.path().join("demo.p12");
    std::fs::write(&out, b"someone else's file").unwrap();
    let before = snapshot(h.path());
    export(&h, &out, &[])
        .code(73)
        .stderr(predicate::str::diff(format!(
            "ERROR: {} already exists: pass --force to replace it, or choose another file\n",
            s(&out)
        )));
    assert_eq!(snapshot(h.path()), before);

    let o = h
        .cmd()
        .args([
            "export",
            "--format",
            "pkcs12",
            "--format",
            "json",
            "--out",
            s(&out),
        ])
        .args(["--password-stdin", "--force"])
        .write_stdin(format!("{PASSWORD}\n"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["format_version"], 1, "{doc}");
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["friendly_name"], "demo");
    assert_eq!(doc["chain_length"], 2);
    assert!(!String::from_utf8_lossy(&o.stdout).contains(PASSWORD));
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_ne!(std::fs::read(&out).unwrap(), b"someone else's file");

    // Failures are one JSON document too.
    let o = h
        .cmd()
        .args([
            "export",
            "--format",
            "json",
            "--out",
            s(&out),
            "--password-stdin",
        ])
        .write_stdin(format!("{PASSWORD}\n"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(73));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (doc["ok"].clone(), doc["exit_code"].clone()),
        (false.into(), 73.into())
    );
}

#[test]
fn no_password_or_no_certificate_writes_nothing() {
    let (h, _ca, _leaf) = ready();
    let out = h.path().join("demo.p12");
    h.cmd()
        .args(["export", "--out", s(&out), "--password-stdin"])
        .write_stdin("\n")
        .assert()
        .code(66)
        .stderr(predicate::str::contains(
            "the export password is the first line of standard input, and it was empty",
        ));
    // No terminal to ask on and no --password-stdin.
    h.cmd()
        .args(["export", "--out", s(&out)])
        .assert()
        .code(66)
        .stderr(predicate::str::contains(
            "the PKCS#12 file needs a password: pass --password-stdin",
        ));
    assert!(!out.exists());

    let fresh = TestHome::new();
    fresh.init("demo");
    fresh
        .cmd()
        .args(["export", "--out", s(&out), "--password-stdin"])
        .write_stdin(format!("{PASSWORD}\n"))
        .assert()
        .code(66)
        .stderr(predicate::str::contains("install-cert tls-cert.pem"));
    assert!(!out.exists());
}

#[test]
fn on_a_terminal_the_password_is_asked_twice_without_echo() {
    let (h, _ca, _leaf) = ready();
    let out = h.path().join("tty.p12");
    let args = format!("export --out {}", s(&out));
    const PW: &str = "Password for the PKCS#12 file (hidden): ";
    const AGAIN: &str = "Same password again: ";
    let secret = "Tty-P12-secret";
    let (code, seen) = support::on_terminal(&h, &args, &[(PW, secret), (AGAIN, secret)]);
    assert_eq!(code, Some(0), "{seen}");
    assert!(!seen.contains(secret), "the password was echoed: {seen}");
    assert!(seen.contains("Wrote "), "{seen}");
    let pem = openssl(
        h.path(),
        &[
            "pkcs12",
            "-in",
            s(&out),
            "-nodes",
            "-passin",
            &format!("pass:{secret}"),
        ],
    );
    assert!(pem.contains("PRIVATE KEY"));

    // Empty, or two different entries: nothing written.
    let other = h.path().join("other.p12");
    let args = format!("export --out {}", s(&other));
    let (code, seen) = support::on_terminal(&h, &args, &[(PW, "")]);
    assert_eq!(code, Some(66), "{seen}");
    assert!(seen.contains("the password was empty"), "{seen}");
    let (code, seen) = support::on_terminal(&h, &args, &[(PW, "aaa"), (AGAIN, "bbb")]);
    assert_eq!(code, Some(66), "{seen}");
    assert!(
        seen.contains("the two entries differed, so nothing was written"),
        "{seen}"
    );
    assert!(!other.exists());
}
