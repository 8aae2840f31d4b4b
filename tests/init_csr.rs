//! `init` and `csr` end to end, with openssl as the independent judge of what we write.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use predicates::prelude::*;
use support::{TestHome, openssl, openssl_line, snapshot};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_then_csr_makes_a_csr_openssl_verifies_with_exact_subject() {
    let h = TestHome::new();
    h.cmd()
        .args([
            "init",
            "--tenant",
            "centiloc",
            "--org",
            "Centiloc",
            "--email",
            "me@example.com",
        ])
        .args([
            "--country",
            "fr",
            "--state",
            "Isère",
            "--locality",
            "Grenoble",
            "--org-unit",
            "R&D",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("Next: centiloc-cert --home"));
    h.cmd()
        .arg("csr")
        .assert()
        .success()
        .stdout(predicate::str::contains("Centiloc support"));
    let dir = h.profile_dir("default");
    let csr = dir.join("certificate-request.csr");
    let subject = openssl(
        &dir,
        &[
            "req",
            "-in",
            csr.to_str().unwrap(),
            "-verify",
            "-noout",
            "-subject",
            "-nameopt",
            "RFC2253,-esc_msb",
        ],
    );
    assert_eq!(
        subject.trim(),
        "subject=emailAddress=me@example.com,CN=centiloc,OU=R&D,O=Centiloc,L=Grenoble,ST=Isère,C=FR"
    );
    let text = openssl(
        &dir,
        &["req", "-in", csr.to_str().unwrap(), "-noout", "-text"],
    );
    assert!(text.contains("ecdsa-with-SHA256"), "{text}");
    assert!(text.contains("ASN1 OID: prime256v1"), "{text}");
    // The CSR carries the key file's public key.
    let from_key = openssl(&dir, &["pkey", "-in", "private-key.pem", "-pubout"]);
    let from_csr = openssl(
        &dir,
        &["req", "-in", "certificate-request.csr", "-noout", "-pubkey"],
    );
    assert_eq!(from_key, from_csr);
    // String types as openssl writes them: C PrintableString, emailAddress IA5String.
    let asn1 = openssl(&dir, &["asn1parse", "-in", "certificate-request.csr"]);
    assert!(asn1.contains("PRINTABLESTRING   :FR"), "{asn1}");
    assert!(asn1.contains("IA5STRING         :me@example.com"), "{asn1}");
}

#[test]
fn new_key_is_sec1_prime256v1_0600_in_a_0700_profile() {
    let h = TestHome::new();
    h.init("demo");
    let dir = h.profile_dir("default");
    let key = dir.join("private-key.pem");
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .starts_with("-----BEGIN EC PRIVATE KEY-----\n")
    );
    let text = openssl(&dir, &["ec", "-in", "private-key.pem", "-noout", "-text"]);
    assert!(text.contains("ASN1 OID: prime256v1"), "{text}");
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&h.path().join("profiles")), 0o700);
}

#[test]
fn p384_key_signs_with_sha384() {
    let h = TestHome::new();
    h.cmd()
        .args([
            "init", "--tenant", "t", "--org", "O", "--email", "a@b.co", "--curve", "p384",
        ])
        .assert()
        .success();
    h.cmd().arg("csr").assert().success();
    let dir = h.profile_dir("default");
    let text = openssl_line(&dir, "req -in certificate-request.csr -verify -noout -text");
    assert!(
        text.contains("secp384r1") && text.contains("ecdsa-with-SHA384"),
        "{text}"
    );
}

#[test]
fn fingerprint_printed_is_openssl_sha256_of_the_public_key() {
    let h = TestHome::new();
    h.init("demo");
    let dir = h.profile_dir("default");
    let out = h.cmd().args(["csr", "--format", "json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    openssl_line(
        &dir,
        "pkey -in private-key.pem -pubout -outform DER -out pub.der",
    );
    let dgst = openssl(&dir, &["dgst", "-sha256", "-c", "pub.der"]);
    let expected = dgst.split("= ").nth(1).unwrap().trim().to_uppercase();
    assert_eq!(v["key_fingerprint_sha256"], expected);
}

#[test]
fn csr_out_dash_prints_only_the_csr() {
    let h = TestHome::new();
    h.init("demo");
    let out = h.cmd().args(["csr", "--out", "-"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("-----BEGIN CERTIFICATE REQUEST-----\n"));
    assert!(text.ends_with("-----END CERTIFICATE REQUEST-----\n"));
    assert!(
        !h.profile_dir("default")
            .join("certificate-request.csr")
            .exists()
    );
}

#[test]
fn csr_out_file_is_not_overwritten_without_force() {
    let h = TestHome::new();
    h.init("demo");
    let f = h.path().join("req.csr");
    std::fs::write(&f, "keep me").unwrap();
    h.cmd()
        .args(["csr", "--out", f.to_str().unwrap()])
        .assert()
        .code(73)
        .stderr(predicate::str::contains("already exists: pass --force"));
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "keep me");
    h.cmd()
        .args(["csr", "--force", "--out", f.to_str().unwrap()])
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(&f)
            .unwrap()
            .contains("CERTIFICATE REQUEST")
    );
}

fn adopt(h: &TestHome, key: &Path) -> assert_cmd::assert::Assert {
    h.cmd()
        .args([
            "init",
            "--tenant",
            "demo",
            "--org",
            "Demo",
            "--email",
            "a@b.co",
            "--key",
            key.to_str().unwrap(),
        ])
        .assert()
}

fn der_of_key(dir: &Path, pem: &Path) -> String {
    openssl(
        dir,
        &[
            "pkey",
            "-in",
            pem.to_str().unwrap(),
            "-outform",
            "DER",
            "-out",
            "k.der",
        ],
    );
    openssl(dir, &["dgst", "-sha256", "k.der"])
}

#[test]
fn keys_from_the_openssl_recipe_are_adopted_unchanged() {
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    // The documented recipe (SEC1), and a PKCS#8 conversion of it.
    support::ec_key(d, "prime256v1", "sec1.pem");
    openssl_line(d, "pkcs8 -topk8 -nocrypt -in sec1.pem -out pkcs8.pem");
    for file in ["sec1.pem", "pkcs8.pem"] {
        let h = TestHome::new();
        adopt(&h, &d.join(file))
            .success()
            .stdout(predicate::str::contains("adopted"));
        let stored = h.profile_dir("default").join("private-key.pem");
        assert_eq!(
            std::fs::read(&stored).unwrap(),
            std::fs::read(d.join(file)).unwrap(),
            "{file}"
        );
        assert_eq!(mode(&stored), 0o600);
        h.cmd().arg("csr").assert().success();
    }
}

#[test]
fn messy_pem_is_adopted() {
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    // `ecparam -genkey` without -noout writes an EC PARAMETERS block first.
    openssl_line(d, "ecparam -name prime256v1 -genkey -out with-params.pem");
    let plain = std::fs::read_to_string(d.join("with-params.pem")).unwrap();
    let messy = format!(
        "\u{feff}{}\r\nsome trailing text\r\n",
        plain.replace('\n', "\r\n")
    );
    std::fs::write(d.join("messy.pem"), messy).unwrap();
    let h = TestHome::new();
    adopt(&h, &d.join("messy.pem")).success();
    let stored = h.profile_dir("default").join("private-key.pem");
    assert_eq!(
        der_of_key(d, &stored),
        der_of_key(d, &d.join("with-params.pem"))
    );
}

#[test]
fn unusable_keys_are_refused_with_65_and_leave_no_profile() {
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    openssl_line(
        d,
        "genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem",
    );
    support::ec_key(d, "secp224r1", "p224.pem");
    support::ec_key(d, "prime192v1", "p192.pem");
    support::ec_key(d, "prime256v1", "good.pem");
    openssl_line(
        d,
        "pkcs8 -topk8 -in good.pem -passout pass:secret -out encrypted.pem",
    );
    openssl_line(
        d,
        "ec -in good.pem -aes128 -passout pass:secret -out legacy-enc.pem",
    );
    openssl_line(
        d,
        "req -x509 -new -key good.pem -subj /CN=x -days 1 -out cert.pem",
    );
    std::fs::write(d.join("garbage.pem"), "this is not a key\n").unwrap();
    let cases = [
        ("rsa.pem", "RSA"),
        ("p224.pem", "P-224"),
        ("p192.pem", "P-192"),
        ("encrypted.pem", "encrypted"),
        ("legacy-enc.pem", "encrypted"),
        ("cert.pem", "no private key"),
        ("garbage.pem", "not a PEM private key"),
    ];
    for (file, why) in cases {
        let h = TestHome::new();
        adopt(&h, &d.join(file))
            .code(65)
            .stderr(predicate::str::contains(why));
        assert!(
            snapshot(h.path()).is_empty(),
            "{file} left files behind: {:?}",
            snapshot(h.path())
        );
    }
    let h = TestHome::new();
    adopt(&h, &d.join("missing.pem"))
        .code(66)
        .stderr(predicate::str::contains("missing.pem"));
}

#[test]
fn invalid_values_are_refused_with_78_before_anything_is_written() {
    let long = "t".repeat(65);
    let tenants = ["a/b", "a+b", "#", "$x", "a b", "", long.as_str()];
    for t in tenants {
        let h = TestHome::new();
        h.cmd()
            .args(["init", "--tenant", t, "--org", "O", "--email", "a@b.co"])
            .assert()
            .code(78)
            .stderr(predicate::str::contains("invalid tenant ID"));
        assert!(snapshot(h.path()).is_empty());
    }
    for (flag, value, msg) in [
        ("--email", "not-an-address", "invalid e-mail"),
        ("--email", "a@localhost", "invalid e-mail"),
        ("--country", "FRA", "invalid country"),
        ("--org", " ", "invalid organization"),
    ] {
        let h = TestHome::new();
        let mut args = vec!["init", "--tenant", "t"];
        for (f, default) in [("--org", "O"), ("--email", "a@b.co"), ("--country", "FR")] {
            args.extend([f, if f == flag { value } else { default }]);
        }
        h.cmd()
            .args(&args)
            .assert()
            .code(78)
            .stderr(predicate::str::contains(msg));
        assert!(snapshot(h.path()).is_empty());
    }
}

#[test]
fn missing_values_without_a_terminal_name_every_flag() {
    let h = TestHome::new();
    h.cmd()
        .args(["init", "--tenant", "t"])
        .write_stdin("")
        .assert()
        .code(64)
        .stderr(predicate::str::contains(
            "missing org, email: pass --org --email",
        ));
}

#[test]
fn missing_values_are_named_before_an_existing_profile() {
    // Told only "exists, pass --force", a user would add --force and then be told the
    // flags: without a terminal, the missing flags come first.
    let h = TestHome::new();
    h.init_with_csr("demo");
    let before = snapshot(h.path());
    let out = h
        .cmd()
        .args(["init", "--tenant", "x"])
        .write_stdin("")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{err}");
    assert!(
        err.contains("missing org, email: pass --org --email"),
        "{err}"
    );
    assert_eq!(snapshot(h.path()), before);
}

#[test]
fn existing_profile_needs_force_and_force_archives_the_old_key() {
    let h = TestHome::new();
    h.init_with_csr("demo");
    let dir = h.profile_dir("default");
    let before = snapshot(&dir);
    h.cmd()
        .args([
            "init", "--tenant", "other", "--org", "O", "--email", "a@b.co",
        ])
        .assert()
        .code(73)
        .stderr(predicate::str::contains("pass --force"));
    assert_eq!(snapshot(&dir), before);
    h.cmd()
        .args([
            "init", "--force", "--tenant", "other", "--org", "O", "--email", "a@b.co",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains("archive"));
    let after = snapshot(&dir);
    let archived_key = after
        .iter()
        .find(|(p, _)| p.starts_with("archive") && p.ends_with("private-key.pem"))
        .map(|(_, v)| v.clone())
        .expect("old key archived");
    assert_eq!(archived_key, before[Path::new("private-key.pem")]);
    assert_ne!(
        after[Path::new("private-key.pem")],
        before[Path::new("private-key.pem")]
    );
}

#[test]
fn csr_without_profile_is_66_and_names_init() {
    let h = TestHome::new();
    h.cmd().arg("csr").assert().code(66).stderr(
        predicate::str::contains("no profile \"default\"").and(predicate::str::contains(format!(
            "create it with `centiloc-cert --home {} init --tenant ID",
            h.path().display()
        ))),
    );
}

#[test]
fn usage_errors_exit_64_with_one_sentence_and_help_exits_0() {
    let h = TestHome::new();
    h.cmd().arg("--bogus").assert().code(64);
    h.cmd()
        .args(["init", "--tennant", "x"])
        .assert()
        .code(64)
        .stderr("ERROR: unexpected argument '--tennant' found (a similar argument exists: '--tenant'); see `centiloc-cert init --help`\n");
    h.cmd().args(["init", "--curve", "p521"]).assert().code(64);
    h.cmd()
        .args(["--profile", "../etc", "csr"])
        .assert()
        .code(64)
        .stderr(predicate::str::contains(
            "invalid value '../etc' for '--profile",
        ));
    h.cmd()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Examples:"));
    h.cmd().arg("--version").assert().success();
    h.cmd().args(["csr", "--version"]).assert().success();
}

#[test]
fn a_password_typed_as_an_argument_is_not_echoed() {
    let h = TestHome::new();
    h.cmd()
        .args(["credentials", "S3cr3t-typed"])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("S3cr3t").not());
}

#[test]
fn a_full_disk_on_stdout_is_an_io_error_not_a_panic() {
    let h = TestHome::new();
    h.init("demo");
    for args in [
        vec!["csr", "--out", "-"],
        vec!["completions", "bash"],
        vec!["csr", "--format", "json"],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("centiloc-cert"))
            .arg("--home")
            .arg(h.path())
            .args(&args)
            .stdout(full)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(74), "{args:?}: {err}");
        assert!(
            err.contains("cannot write to standard output") && !err.contains("panicked"),
            "{err}"
        );
    }
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let h = TestHome::new();
    h.init("demo");
    let bin = assert_cmd::cargo::cargo_bin("centiloc-cert");
    // The reader exits at once; the writer must not panic or complain.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{} --home {} completions bash | true",
            bin.display(),
            h.path().display()
        ))
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked") && !err.contains("ERROR"), "{err}");
}

#[test]
fn csr_to_stdout_as_json_carries_the_pem() {
    let h = TestHome::new();
    h.init("demo");
    let out = h
        .cmd()
        .args(["csr", "--out", "-", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["csr"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE REQUEST-----")
    );
}

#[test]
fn writing_into_a_missing_directory_says_so() {
    let h = TestHome::new();
    h.init("demo");
    h.cmd()
        .args(["csr", "--out", "/nonexistent-dir/x.csr"])
        .assert()
        .code(74)
        .stderr(predicate::str::contains("its directory does not exist"));
}

#[test]
fn profile_from_environment_and_flag_after_subcommand() {
    let h = TestHome::new();
    h.cmd()
        .env("CENTILOC_CERT_PROFILE", "eu")
        .args(["init", "--tenant", "t", "--org", "O", "--email", "a@b.co"])
        .assert()
        .success();
    assert!(h.profile_dir("eu").join("profile.toml").is_file());
    h.cmd().args(["csr", "--profile", "eu"]).assert().success();
    assert!(
        h.profile_dir("eu")
            .join("certificate-request.csr")
            .is_file()
    );
}

#[test]
fn broken_profile_toml_is_a_configuration_error() {
    let h = TestHome::new();
    h.init("demo");
    let settings = h.profile_dir("default").join("profile.toml");
    // An invalid tenant, then text that is not TOML.
    for text in [
        "tenant = \"a/b\"\norganization = \"O\"\nemail = \"a@b.co\"\n",
        "this is = = not toml",
    ] {
        std::fs::write(&settings, text).unwrap();
        h.cmd()
            .arg("csr")
            .assert()
            .code(78)
            .stderr(predicate::str::contains("profile.toml"));
    }
}

#[test]
fn completions_are_printed() {
    let h = TestHome::new();
    h.cmd()
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("centiloc-cert"));
}

#[test]
fn on_a_terminal_init_asks_and_validates_each_answer() {
    // `script` gives the binary a real pseudo-terminal, as a person typing would.
    let script = support::require("script", "bsdutils");
    let h = TestHome::new();
    let bin = assert_cmd::cargo::cargo_bin("centiloc-cert");
    let cmd = format!("{} --home {} init", bin.display(), h.path().display());
    let answers = "a/b\ndemo\nDemo Corp\nbad\nme@example.com\nFRA\nfr\n\nLyon\n\n";
    let out = std::process::Command::new(script)
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(answers.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("invalid tenant ID \"a/b\""), "{text}");
    assert!(text.contains("invalid e-mail \"bad\""), "{text}");
    assert!(text.contains("invalid country \"FRA\""), "{text}");
    let settings = std::fs::read_to_string(h.profile_dir("default").join("profile.toml")).unwrap();
    assert_eq!(
        settings,
        "tenant = \"demo\"\norganization = \"Demo Corp\"\nemail = \"me@example.com\"\ncountry = \"FR\"\nlocality = \"Lyon\"\n\n[broker]\nhost = \"mqtt-client.centiloc.com\"\nport = 8883\n"
    );
}

#[test]
fn force_also_archives_a_pending_renewal() {
    let h = TestHome::new();
    let csr = h.init_with_csr("demo");
    let ca = support::Ca::new("Centiloc test CA");
    let cert = ca.sign_days_from_now(&csr, 365);
    h.cmd().arg("install-cert").arg(&cert).assert().success();
    h.cmd().arg("renew").assert().success();
    let dir = h.profile_dir("default");
    let pending_key = std::fs::read(dir.join("pending/private-key.pem")).unwrap();
    h.cmd()
        .args([
            "init", "--force", "--tenant", "demo", "--org", "O", "--email", "a@b.co",
        ])
        .assert()
        .success();
    assert!(!dir.join("pending").exists());
    let archived = snapshot(&dir)
        .into_iter()
        .find(|(p, _)| p.starts_with("archive") && p.ends_with("pending/private-key.pem"))
        .expect("pending key archived");
    assert_eq!(archived.1, pending_key);
}

#[test]
fn keys_without_their_public_half_and_p384_keys_are_adopted() {
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    support::ec_key(d, "prime256v1", "full.pem");
    // Some tools write SEC1 without the optional public key ([1]); it must still work.
    openssl(
        d,
        &["ec", "-in", "full.pem", "-no_public", "-out", "nopub.pem"],
    );
    support::ec_key(d, "secp384r1", "p384.pem");
    for file in ["nopub.pem", "p384.pem"] {
        let h = TestHome::new();
        adopt(&h, &d.join(file)).success();
        h.cmd().arg("csr").assert().success();
        let dir = h.profile_dir("default");
        let from_key = openssl(d, &["pkey", "-in", file, "-pubout"]);
        let from_csr = openssl_line(
            &dir,
            "req -in certificate-request.csr -verify -noout -pubkey",
        );
        assert_eq!(from_key, from_csr, "{file}");
    }
}
