//! No SMTP password in clear text (issue 14 item 7): credentials go only over TLS; a
//! relay on this machine may be allowed in clear by `[notify] allow_plaintext_auth`,
//! with a warning; that opt-in is refused for any other host. The server is a real
//! aiosmtpd without TLS.

mod support;

use support::TestHome;
use support::smtp::Smtp;

fn config(h: &TestHome, url: &str, extra: &str) {
    h.write_config(&format!(
        "[notify]\nsmtp_url = \"{url}\"\nfrom = \"certs@example.com\"\n{extra}"
    ));
}

#[test]
fn a_password_over_plain_smtp_is_refused_before_connecting() {
    let smtp = Smtp::start();
    let h = TestHome::new();
    h.profile_due_for_notice();
    let file = h.path().join("config.toml");
    for url in [
        format!("smtp://mailer@127.0.0.1:{}", smtp.port),
        format!("smtp://mailer@127.0.0.1:{}?tls=opportunistic", smtp.port),
    ] {
        config(&h, &url, "");
        let (code, out, err) = h.notify_with_password();
        assert_eq!(code, 78, "{url}: {out}{err}");
        assert_eq!(
            err,
            format!(
                "ERROR: refusing to send the SMTP password to 127.0.0.1:{} without TLS: in {} set [notify] smtp_url to smtps://… or smtp://…?tls=required (for a relay on this machine only, allow_plaintext_auth = true in [notify] allows it)\n",
                url.rsplit_once(':').unwrap().1.split('?').next().unwrap(),
                file.display()
            )
        );
        assert!(!format!("{out}{err}").contains("hunter2"));
    }
    assert!(smtp.messages().is_empty());
}

#[test]
fn a_loopback_relay_may_be_allowed_in_clear_with_a_warning_never_another_host() {
    let smtp = Smtp::start();
    let h = TestHome::new();
    h.profile_due_for_notice();
    config(
        &h,
        &format!("smtp://mailer@127.0.0.1:{}", smtp.port),
        "allow_plaintext_auth = true\n",
    );
    let (_, out, err) = h.notify_with_password();
    assert!(
        err.contains(&format!(
            "sending the SMTP password to 127.0.0.1:{} without TLS, as [notify] allow_plaintext_auth allows for this relay on this machine",
            smtp.port
        )),
        "{out}{err}"
    );
    assert!(!format!("{out}{err}").contains("hunter2"));

    config(
        &h,
        "smtp://mailer@mail.example.com:25",
        "allow_plaintext_auth = true\n",
    );
    let (code, _, err) = h.notify_with_password();
    assert_eq!(code, 78, "{err}");
    assert!(
        err.contains("line 4: [notify] allow_plaintext_auth = true is only for a mail relay on this machine (localhost, 127.0.0.1, ::1), not mail.example.com; remove it and use smtps:// or ?tls=required"),
        "{err}"
    );
}

#[test]
fn no_credentials_no_tls_needed() {
    let smtp = Smtp::start();
    let h = TestHome::new();
    h.profile_due_for_notice();
    config(&h, &smtp.url(), "");
    let out = h.cmd().args(["check-expiry", "--notify"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(smtp.messages().len(), 1);
}
