//! The renewal autopilot end to end (issue 15): `check-expiry --notify` with
//! `[renewal] request_days` makes the new key and CSR, e-mails the CSR to a real SMTP
//! server (aiosmtpd) as support's address, reminds support at the next threshold (time
//! moved on with libfaketime), and the certificate openssl signs from the mailed CSR is
//! promoted by `install-cert`.

mod support;

use std::path::Path;

use support::smtp::{Mail, Smtp};
use support::{Ca, TestHome, openssl, require};

const SUPPORT: &str = "support@centiloc.example";
const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// `check-expiry --notify`, `days` days from now (libfaketime moves this run's clock).
fn notify_at(h: &TestHome, days: u32, extra: &[&str]) -> std::process::Output {
    let mut c = h.cmd();
    c.args(["check-expiry", "--notify"]).args(extra);
    if days > 0 {
        require("faketime", "faketime");
        assert!(
            Path::new(FAKETIME_LIB).is_file(),
            "{FAKETIME_LIB} is missing: run `apt-get install faketime`"
        );
        c.env("LD_PRELOAD", FAKETIME_LIB)
            .env("FAKETIME", format!("+{days}d"))
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
    }
    c.output().unwrap()
}

fn to_support(mails: &[Mail]) -> Vec<&Mail> {
    mails.iter().filter(|m| m.to == SUPPORT).collect()
}

/// The public key of a PEM file (`openssl pkey` / `openssl req`), for comparison.
fn public_key(dir: &Path, args: &[&str]) -> String {
    openssl(dir, args)
}

fn setup(days_left: i64) -> (Smtp, TestHome, Ca) {
    let smtp = Smtp::start();
    let h = TestHome::new();
    h.notify_config(&smtp.url());
    let ca = Ca::new("Centiloc Test CA");
    h.profile_expiring_in(&ca, "default", "acme", days_left);
    let toml = h.profile_dir("default").join("profile.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text.push_str("\n[renewal]\nrequest_days = 45\n");
    std::fs::write(&toml, text).unwrap();
    (smtp, h, ca)
}

#[test]
fn renewal_requested_once_reminded_then_installed() {
    let (smtp, h, ca) = setup(40);
    let dir = h.profile_dir("default");
    let pending = dir.join("pending");

    let out = notify_at(&h, 0, &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(pending.join("private-key.pem").is_file(), "{out:?}");
    let csr = pending.join("certificate-request.csr");
    assert!(csr.is_file());
    let mails = smtp.messages();
    let sent = to_support(&mails);
    assert_eq!(sent.len(), 1, "{mails:#?}");
    assert_eq!(mails.len(), 1, "no user notice at 40 days: {mails:#?}");
    let m = sent[0];
    assert!(
        m.subject
            .starts_with("Certificate renewal for Centiloc User-MQTT, tenant acme (Demo Corp)"),
        "{}",
        m.subject
    );
    assert_eq!(m.reply_to.as_deref(), Some("ops-acme@example.com"));
    let serial = openssl(&dir, &["x509", "-in", "tls-cert.pem", "-noout", "-serial"]);
    let serial = serial.trim().trim_start_matches("serial=");
    assert!(m.text.replace(':', "").contains(serial), "{}", m.text);
    for fact in [
        "Tenant ID     acme",
        "Contact       ops-acme@example.com",
        "Not after ",
    ] {
        assert!(m.text.contains(fact), "{fact:?} in:\n{}", m.text);
    }
    assert_eq!(m.attachments.len(), 1, "{m:#?}");
    let mailed = h.path().join("mailed.csr");
    std::fs::write(&mailed, &m.attachments[0].content).unwrap();
    let mailed_key = public_key(
        h.path(),
        &["req", "-in", mailed.to_str().unwrap(), "-noout", "-pubkey"],
    );
    let pending_key = public_key(&pending, &["pkey", "-in", "private-key.pem", "-pubout"]);
    assert_eq!(
        mailed_key, pending_key,
        "the mailed CSR is the pending key's"
    );
    let record = std::fs::read_to_string(dir.join("renewal-request.toml")).unwrap();
    assert!(
        record.contains(SUPPORT) && record.contains("message_id = \"<"),
        "{record}"
    );
    // The report says so.
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("renewal requested on "), "{text}");
    assert!(text.contains("(today), no certificate yet"), "{text}");

    // The next day's run: nothing new, no second key.
    let key_before = std::fs::read(pending.join("private-key.pem")).unwrap();
    assert_eq!(notify_at(&h, 1, &[]).status.code(), Some(0));
    assert_eq!(smtp.messages().len(), 1);
    assert_eq!(
        std::fs::read(pending.join("private-key.pem")).unwrap(),
        key_before
    );

    // Eleven days later the certificate has 29 days left: the 30-day threshold is crossed,
    // support is reminded once and the user's notice says the renewal was requested.
    let out = notify_at(&h, 11, &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let mails = smtp.messages();
    let sent = to_support(&mails);
    assert_eq!(sent.len(), 2, "{mails:#?}");
    assert!(
        sent[1].subject.starts_with("Reminder: "),
        "{}",
        sent[1].subject
    );
    assert!(
        sent[1].text.contains("This is a reminder: on "),
        "{}",
        sent[1].text
    );
    let user: Vec<&Mail> = mails.iter().filter(|m| m.to != SUPPORT).collect();
    assert_eq!(user.len(), 1, "{mails:#?}");
    assert!(
        user[0].text.contains("Renewal requested on ")
            && user[0].text.contains("no certificate yet"),
        "{}",
        user[0].text
    );
    assert_eq!(notify_at(&h, 12, &[]).status.code(), Some(1));
    assert_eq!(smtp.messages().len(), 3, "once per threshold");

    // Support signs the mailed CSR; install-cert promotes the pending key.
    let signed = ca.sign_v3(&mailed, 365);
    h.cmd()
        .args(["install-cert", signed.to_str().unwrap()])
        .assert()
        .success();
    assert!(!pending.join("private-key.pem").exists());
    let installed_key = public_key(&dir, &["pkey", "-in", "private-key.pem", "-pubout"]);
    assert_eq!(installed_key, pending_key);
    h.cmd()
        .args(["credentials", "--username", "u", "--password-stdin"])
        .write_stdin("pw\n")
        .assert()
        .success();
    let out = h.cmd().arg("status").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains("renewal"), "{text}");
    // And the autopilot is quiet with a fresh certificate.
    assert_eq!(notify_at(&h, 0, &[]).status.code(), Some(0));
    assert_eq!(smtp.messages().len(), 3);
}

#[test]
fn dry_run_shows_the_request_and_changes_nothing() {
    let (smtp, h, _ca) = setup(40);
    let before = support::snapshot(h.path());
    let out = notify_at(&h, 0, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("--- dry run: renewal for profile default ([renewal] request_days = 45): would run `centiloc-cert --home"),
        "{text}"
    );
    assert!(text.contains(&format!("To: {SUPPORT}")), "{text}");
    assert!(
        text.contains("Please sign the attached certificate signing request"),
        "{text}"
    );
    assert_eq!(support::snapshot(h.path()), before);
    assert!(smtp.messages().is_empty());
}

#[test]
fn a_failed_send_keeps_the_key_and_is_retried() {
    let (smtp, h, _ca) = setup(40);
    let url = smtp.url();
    drop(smtp);
    let out = notify_at(&h, 0, &[]);
    assert_eq!(out.status.code(), Some(0), "the expiry state: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the renewal e-mail was not sent")
            && err.contains("sent again on the next run"),
        "{err}"
    );
    let pending_key = h.profile_dir("default").join("pending/private-key.pem");
    let key = std::fs::read(&pending_key).unwrap();
    // The server is back on the same port: the next run sends, with the same key.
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let smtp = Smtp::start_on(port);
    assert_eq!(notify_at(&h, 0, &[]).status.code(), Some(0));
    assert_eq!(
        std::fs::read(&pending_key).unwrap(),
        key,
        "never a second key"
    );
    let mails = smtp.messages();
    assert_eq!(to_support(&mails).len(), 1, "{mails:#?}");
    assert_eq!(notify_at(&h, 0, &[]).status.code(), Some(0));
    assert_eq!(smtp.messages().len(), 1);
}

#[test]
fn off_unless_set_and_a_manual_renewal_is_left_alone() {
    let smtp = Smtp::start();
    let h = TestHome::new();
    h.notify_config(&smtp.url());
    let ca = Ca::new("CA");
    h.profile_expiring_in(&ca, "default", "acme", 40);
    assert_eq!(notify_at(&h, 0, &[]).status.code(), Some(0));
    assert!(!h.profile_dir("default").join("pending").exists());
    // config.toml's [renewal] is the default for every profile.
    let cfg = h.path().join("config.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("\n[renewal]\nrequest_days = 45\n");
    std::fs::write(&cfg, text).unwrap();
    // A renewal someone started by hand is theirs: no e-mail.
    h.cmd().arg("renew").assert().success();
    assert_eq!(notify_at(&h, 0, &[]).status.code(), Some(0));
    assert!(smtp.messages().is_empty());
}

#[test]
fn smtp_login_with_the_stored_secret_from_a_bare_environment() {
    const SECRET: &str = "s3cret-Relay-pw";
    let smtp = Smtp::start_with_auth("mailer", SECRET);
    let h = TestHome::new();
    h.write_config(&format!(
        // A relay on this machine, without TLS: the opt-in names it.
        "[notify]\nsmtp_url = \"smtp://mailer@127.0.0.1:{}\"\nallow_plaintext_auth = true\nfrom = \"certs@example.com\"\nsupport_to = \"{SUPPORT}\"\n",
        smtp.port
    ));
    h.profile_due_for_notice();
    // Without the secret: the error says how to store it.
    let out = h.cmd().args(["check-expiry", "--notify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("credentials --smtp-password-stdin"), "{err}");
    // Stored once, 0600, from stdin; never echoed.
    let out = h
        .cmd()
        .args(["credentials", "--smtp-password-stdin"])
        .write_stdin(format!("{SECRET}\n"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let file = h.path().join("smtp-password");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), SECRET);
    // A cron-like environment: no CENTILOC_SMTP_PASSWORD (h.cmd() removes it).
    let out = h
        .cmd()
        .args(["-v", "check-expiry", "--notify"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "{out:?}");
    for o in [&out.stdout, &out.stderr] {
        assert!(!String::from_utf8_lossy(o).contains(SECRET));
    }
    // A wrong stored secret is refused by the server, and still not printed.
    h.cmd()
        .args(["credentials", "--smtp-password-stdin"])
        .write_stdin("wrong\n")
        .assert()
        .success();
    std::fs::remove_file(h.profile_dir("default").join("notices.toml")).unwrap();
    let out = h.cmd().args(["check-expiry", "--notify"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("was not sent"), "{err}");
    assert!(!err.contains("wrong") && !err.contains(SECRET), "{err}");
    assert_eq!(smtp.messages().len(), 1);
}

#[test]
fn renew_mail_and_csr_mail_send_the_pending_csr_and_record_it() {
    let (smtp, h, _ca) = setup(60);
    let dir = h.profile_dir("default");
    let out = h.cmd().args(["renew", "--mail"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "E-mailed the new CSR to Centiloc support at {SUPPORT}"
        )),
        "{text}"
    );
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    let pending_csr = std::fs::read_to_string(dir.join("pending/certificate-request.csr")).unwrap();
    assert_eq!(mails[0].attachments[0].content, pending_csr);
    assert!(
        mails[0].text.contains("The certificate being replaced:"),
        "{}",
        mails[0].text
    );
    assert!(dir.join("renewal-request.toml").is_file());
    // The autopilot sees the request: at 45 days it neither starts nor re-sends.
    assert_eq!(notify_at(&h, 16, &[]).status.code(), Some(0));
    assert_eq!(smtp.messages().len(), 1);

    // csr --mail during the renewal sends the pending CSR, and says so.
    let out = h.cmd().args(["csr", "--mail"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("e-mailed the pending renewal CSR")
            && err.contains("pending/certificate-request.csr"),
        "{err}"
    );
    let mails = smtp.messages();
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[1].attachments[0].content, pending_csr);

    // status and list show the request.
    let out = h.cmd().arg("status").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("renewal requested on ") && text.contains("(today)"),
        "{text}"
    );
    let out = h.cmd().arg("list").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("renewal requested on "), "{text}");
    let out = h.cmd().args(["list", "--format", "json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // `list` is becoming an object (`profiles`); accept the array it was.
    let p = v.get("profiles").map_or(&v[0], |p| &p[0]);
    assert!(
        p["renewal_requested_at"].as_str().unwrap().ends_with('Z'),
        "{v}"
    );
    assert_eq!(p["renewal_requested_to"], SUPPORT);
    let out = h
        .cmd()
        .args(["check-expiry", "--format", "prometheus"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().any(|l| l.starts_with(
            "centiloc_cert_renewal_requested_timestamp_seconds{profile=\"default\",tenant=\"acme\""
        )),
        "{text}"
    );
}

/// scripts/year-sim: three simulated years, the tool once a day under libfaketime and a
/// script as support (about 3 minutes, so not in the default run):
/// `cargo test --test autopilot -- --ignored`.
#[test]
#[ignore]
fn three_simulated_years_need_no_person() {
    require("faketime", "faketime");
    let out = std::process::Command::new("scripts/year-sim")
        .env("BIN", env!("CARGO_BIN_EXE_centiloc-cert"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "days with an expired certificate:  0",
        "CRITICAL days:                     0",
        "manual steps:                      0",
    ] {
        assert!(text.contains(line), "{line:?} in:\n{text}");
    }
}
