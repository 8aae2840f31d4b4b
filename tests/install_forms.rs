//! `install-cert FILE|-` takes every form Centiloc support may send (issue 11, item 3):
//! PKCS#7 bundles (PEM and DER, made by `openssl crl2pkcs7`), and support's e-mail reply
//! itself, built by Python's `email` package (tests/fixtures/mail/make_reply.py) or
//! written by hand (tests/fixtures/mail/*.eml.in). openssl plays support's CA. Every
//! refusal is checked to leave the home byte-identical.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use predicates::prelude::*;
use serde_json::json;
use support::mosquitto::make_key_csr;
use support::{Ca, TestHome, assert_install_refused, mail, openssl, require};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A profile `demo` with key and CSR, and a CA playing support.
fn setup() -> (TestHome, Ca, PathBuf) {
    let h = TestHome::new();
    let csr = h.init_with_csr("demo");
    (h, Ca::new("Centiloc Test CA"), csr)
}

/// DER of the first certificate in a PEM file, by openssl.
fn der(file: &Path) -> Vec<u8> {
    let out = Command::new(require("openssl", "openssl"))
        .args(["x509", "-in", s(file), "-outform", "DER"])
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

/// The certificates stored in the profile's tls-cert.pem, as DER.
fn stored(h: &TestHome) -> Vec<Vec<u8>> {
    let text = std::fs::read(h.profile_dir("default").join("tls-cert.pem")).unwrap();
    pem::parse_many(text)
        .unwrap()
        .into_iter()
        .map(|p| p.into_contents())
        .collect()
}

/// `openssl crl2pkcs7 -nocrl -certfile A -certfile B ...` (PEM, or DER with `der`).
fn p7b(dir: &Path, files: &[&Path], der: bool) -> PathBuf {
    let out = dir.join(if der { "bundle.p7c" } else { "bundle.p7b" });
    let mut args = vec!["crl2pkcs7", "-nocrl", "-out", s(&out)];
    for f in files {
        args.extend(["-certfile", s(f)]);
    }
    if der {
        args.extend(["-outform", "DER"]);
    }
    openssl(dir, &args);
    out
}

/// Installs `bytes` from a file named `name` (or from stdin when `name` is `-`) and
/// checks that the stored leaf is `leaf`; returns stderr.
fn installs(h: &TestHome, name: &str, bytes: &[u8], leaf: &Path) -> String {
    let mut c = h.cmd();
    c.arg("install-cert");
    if name == "-" {
        c.arg("-").write_stdin(bytes.to_vec());
    } else {
        let f = h.path().join(name);
        std::fs::write(&f, bytes).unwrap();
        c.arg(f);
    }
    let out = c.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{name}: {err}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Installed"),
        "{name}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        stored(h)[0],
        der(leaf),
        "{name}: another certificate stored"
    );
    err
}

#[test]
fn pkcs7_bundles_in_pem_and_der_install_the_leaf_with_its_chain() {
    let (h, ca, csr) = setup();
    let d = h.path();
    // The CA first: a PKCS#7 bundle is a SET, its order means nothing.
    let leaf = ca.sign_days_from_now(&csr, 365);
    let bundle = p7b(d, &[&ca.cert, &leaf], false);
    assert!(
        std::fs::read_to_string(&bundle)
            .unwrap()
            .starts_with("-----BEGIN PKCS7-----")
    );
    let err = installs(&h, "reply.p7b", &std::fs::read(&bundle).unwrap(), &leaf);
    assert!(
        err.contains("Note: took the certificate for this key from the PKCS#7 bundle (PEM)"),
        "{err}"
    );
    assert_eq!(
        stored(&h),
        vec![der(&leaf), der(&ca.cert)],
        "leaf, then its CA"
    );

    // DER (.p7c), from a file and from stdin.
    let leaf = ca.sign_days_from_now(&csr, 365);
    let bundle = p7b(d, &[&leaf, &ca.cert], true);
    let bytes = std::fs::read(&bundle).unwrap();
    installs(&h, "reply.p7c", &bytes, &leaf);
    let leaf = ca.sign_days_from_now(&csr, 365);
    let bytes = std::fs::read(p7b(d, &[&leaf], true)).unwrap();
    let err = installs(&h, "-", &bytes, &leaf);
    assert!(err.contains("from the PKCS#7 bundle (DER)"), "{err}");

    // Damaged bundles are refused, naming the input.
    let cut = &bytes[..bytes.len() / 2];
    std::fs::write(d.join("cut.p7b"), cut).unwrap();
    assert_install_refused(
        &h,
        &[s(&d.join("cut.p7b"))],
        None,
        65,
        &["cut.p7b: not a valid PKCS#7 bundle"],
    );
    assert_install_refused(
        &h,
        &["-"],
        Some(cut),
        65,
        &["standard input: not a valid PKCS#7 bundle"],
    );
}

/// The attachment forms support desks and mail clients use (issue 11's list).
#[test]
fn a_reply_with_the_certificate_attached_under_any_usual_type_installs() {
    let (h, ca, csr) = setup();
    let d = h.path().to_path_buf();
    let cases: &[(&str, &str, &str)] = &[
        ("application/x-x509-user-cert", "tls-cert.crt", "der"),
        ("application/pkix-cert", "tls-cert.cer", "der"),
        ("application/x-pem-file", "tls-cert.pem", "pem"),
        ("application/pkcs7-mime", "tls-cert.p7c", "p7c"),
        ("application/octet-stream", "tls-cert.pem", "pem"),
        ("application/octet-stream", "tls-cert.crt", "pem"),
        ("application/octet-stream", "tls-cert.cer", "der"),
        ("application/octet-stream", "tls-cert.der", "der"),
        ("application/octet-stream", "tls-cert.p7b", "p7b"),
        ("text/plain", "tls-cert.pem", "pem"),
    ];
    for (i, (mime, name, form)) in cases.iter().enumerate() {
        let leaf = ca.sign_days_from_now(&csr, 365);
        let file = match *form {
            "pem" => leaf.clone(),
            "der" => {
                let f = d.join(format!("leaf{i}.der"));
                std::fs::write(&f, der(&leaf)).unwrap();
                f
            }
            "p7b" => p7b(&d, &[&leaf, &ca.cert], false),
            _ => p7b(&d, &[&leaf, &ca.cert], true),
        };
        let bytes = mail(json!({
            "subject": format!("Re: CSR for demo ({i})"),
            "attachments": [{"file": s(&file), "type": mime, "name": name}],
        }));
        // Half from a saved .eml, half piped on stdin as a mail filter does.
        let input = if i % 2 == 0 {
            format!("reply{i}.eml")
        } else {
            "-".into()
        };
        let err = installs(&h, &input, &bytes, &leaf);
        assert!(
            err.contains(&format!(
                "Note: took the certificate for this key from the e-mail \"Re: CSR for demo ({i})\" from support@centiloc.example: attachment \"{name}\" ({mime})"
            )),
            "{mime} {name}: {err}"
        );
    }
}

#[test]
fn pem_pasted_in_the_body_in_any_encoding_nested_or_forwarded_installs() {
    let (h, ca, csr) = setup();
    let pem_of = |p: &Path| std::fs::read_to_string(p).unwrap();

    // Plain text body, quoted-printable.
    let leaf = ca.sign_days_from_now(&csr, 365);
    let text = format!(
        "Hello,\n\nhere it is:\n\n{}\nRegards,\nSupport\n",
        pem_of(&leaf)
    );
    let bytes = mail(json!({"text": text, "text_cte": "quoted-printable"}));
    assert!(String::from_utf8_lossy(&bytes).contains("quoted-printable"));
    let err = installs(&h, "qp.eml", &bytes, &leaf);
    assert!(err.contains(": the text body"), "{err}");

    // HTML alternative (base64), lines broken by <br>: nested multipart/alternative.
    let leaf = ca.sign_days_from_now(&csr, 365);
    let html = format!(
        "<html><body><p>Your certificate:</p><p style=\"font-family:monospace\">{}</p></body></html>",
        pem_of(&leaf).trim_end().replace('\n', "<br>\n")
    );
    let bytes = mail(json!({"text": "See the HTML part.\n", "html": html, "html_cte": "base64"}));
    assert!(String::from_utf8_lossy(&bytes).contains("multipart/alternative"));
    let err = installs(&h, "-", &bytes, &leaf);
    assert!(err.contains(": the HTML body"), "{err}");

    // Nested: multipart/mixed holding multipart/alternative and the certificate attached.
    let leaf = ca.sign_days_from_now(&csr, 365);
    let bytes = mail(json!({
        "text": "Attached.\n", "html": "<p>Attached.</p>",
        "attachments": [{"file": s(&leaf), "type": "application/x-pem-file", "name": "tls-cert.pem"}],
    }));
    assert!(String::from_utf8_lossy(&bytes).contains("multipart/mixed"));
    installs(&h, "nested.eml", &bytes, &leaf);

    // Forwarded by a colleague (message/rfc822), with the mbox line procmail passes on.
    let leaf = ca.sign_days_from_now(&csr, 365);
    let bytes = mail(json!({
        "subject": "Fwd: Re: CSR for demo", "from": "colleague@example.com", "mbox": true,
        "text": "FYI, the certificate from Centiloc.\n",
        "forward": {
            "subject": "Re: CSR for demo",
            "attachments": [{"file": s(&leaf), "type": "application/pkix-cert", "name": "demo.crt", "cte": "base64"}],
        },
    }));
    assert!(String::from_utf8_lossy(&bytes).contains("message/rfc822"));
    let err = installs(&h, "-", &bytes, &leaf);
    assert!(
        err.contains("e-mail \"Fwd: Re: CSR for demo\" from colleague@example.com: forwarded e-mail \"Re: CSR for demo\" from support@centiloc.example: attachment \"demo.crt\" (application/pkix-cert)"),
        "{err}"
    );

    // Quoted in a reply ("> " before every line).
    let leaf = ca.sign_days_from_now(&csr, 365);
    let quoted: String = pem_of(&leaf).lines().map(|l| format!("> {l}\n")).collect();
    let bytes = mail(json!({"text": format!("On Monday support wrote:\n{quoted}")}));
    installs(&h, "quoted.eml", &bytes, &leaf);
}

#[test]
fn among_several_certificates_ours_is_taken_with_its_chain() {
    let (h, ca, csr) = setup();
    let d = h.path().to_path_buf();
    make_key_csr(
        &d,
        "other",
        "/O=Demo Corp/CN=demo/emailAddress=ops@example.com",
    );
    let other = ca.sign_days_from_now(&d.join("other.csr"), 365);
    let leaf = ca.sign_days_from_now(&csr, 365);
    let att =
        |f: &Path, n: &str| json!({"file": s(f), "type": "application/x-pem-file", "name": n});
    let bytes = mail(json!({
        "attachments": [att(&ca.cert, "ca.pem"), att(&other, "other.pem"), att(&leaf, "tls-cert.pem")],
    }));
    let err = installs(&h, "several.eml", &bytes, &leaf);
    assert_eq!(stored(&h), vec![der(&leaf), der(&ca.cert)]);
    assert!(
        err.contains("Note: left out 1 certificate not in its chain: O=Demo Corp, CN=demo, Email=ops@example.com"),
        "{err}"
    );

    // During a renewal, a reply holding both the current and the renewed certificate
    // installs the renewed one and promotes the pending key.
    h.cmd().arg("renew").assert().success();
    let pending_csr = h
        .profile_dir("default")
        .join("pending/certificate-request.csr");
    let renewed = ca.sign_days_from_now(&pending_csr, 365);
    let bytes = mail(json!({
        "text": format!("Old and new:\n{}{}", std::fs::read_to_string(&leaf).unwrap(), std::fs::read_to_string(&renewed).unwrap()),
    }));
    h.cmd()
        .args(["install-cert", "-"])
        .write_stdin(bytes)
        .assert()
        .success()
        .stdout(predicate::str::contains("promoted the renewal key"));
    assert_eq!(stored(&h)[0], der(&renewed));
}

#[test]
fn a_reply_without_our_certificate_is_refused_naming_what_it_held() {
    let (h, ca, csr) = setup();
    let d = h.path().to_path_buf();
    std::fs::write(d.join("invoice.pdf"), b"%PDF-1.4 not a certificate").unwrap();
    let bytes = mail(json!({
        "subject": "Re: your request",
        "text": "We will sign it tomorrow.\n",
        "attachments": [{"file": s(&d.join("invoice.pdf")), "type": "application/pdf", "name": "invoice.pdf"}],
    }));
    std::fs::write(d.join("reply.eml"), &bytes).unwrap();
    let err = assert_install_refused(&h, &[s(&d.join("reply.eml"))], None, 65, &[]);
    assert_eq!(
        err.trim_end(),
        format!(
            "ERROR: {}: the e-mail \"Re: your request\" from support@centiloc.example holds no certificate (it contains: the text body, attachment \"invoice.pdf\" (application/pdf)); ask Centiloc support to attach the signed certificate (tls-cert.pem), or save the certificate from the reply and install that file",
            s(&d.join("reply.eml"))
        )
    );
    // Our own CSR coming back is not a certificate either.
    let bytes = mail(json!({
        "subject": "Re: CSR",
        "attachments": [{"file": s(&csr), "type": "application/pkcs10", "name": "certificate-request.csr"}],
    }));
    assert_install_refused(
        &h,
        &["-"],
        Some(&bytes),
        65,
        &[
            "standard input: the e-mail \"Re: CSR\"",
            "attachment \"certificate-request.csr\" (application/pkcs10)",
        ],
    );
    // A certificate for another key: refused with both fingerprints, nothing changed.
    make_key_csr(
        &d,
        "other",
        "/O=Demo Corp/CN=demo/emailAddress=ops@example.com",
    );
    let other = ca.sign_days_from_now(&d.join("other.csr"), 365);
    let bytes = mail(json!({
        "attachments": [{"file": s(&other), "type": "application/x-pem-file", "name": "tls-cert.pem"}],
    }));
    let err = assert_install_refused(&h, &["-"], Some(&bytes), 65, &[]);
    assert!(
        err.starts_with(
            "ERROR: the certificate on standard input refused, nothing was changed: the e-mail \"Re: certificate request\" from support@centiloc.example holds 1 certificate (O=Demo Corp, CN=demo, Email=ops@example.com in attachment \"tls-cert.pem\" (application/x-pem-file)) but none for this profile's key (SHA-256 "
        ),
        "{err}"
    );
    assert!(
        err.contains("check the profile (--profile), or send support the CSR from this profile"),
        "{err}"
    );
    // A mail that is not one: headers and nothing else.
    assert_install_refused(
        &h,
        &["-"],
        Some(b"Subject: hello\r\n\r\n"),
        65,
        &["holds no certificate"],
    );
}

/// Hand-written messages shaped as real clients write them, the certificate put in by
/// the test (`@@CERT_PEM@@`, `@@CERT_B64@@`, `@@CERT_QP@@`); each file's header comment
/// records where its shape comes from.
#[test]
fn hand_written_replies_install() {
    let (h, ca, csr) = setup();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".eml.in"))
        .collect();
    names.sort();
    assert!(names.len() >= 3, "{names:?}");
    for template in names {
        let leaf = ca.sign_days_from_now(&csr, 365);
        let pem = std::fs::read_to_string(&leaf).unwrap();
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der(&leaf));
        let b64_lines: String = b64
            .as_bytes()
            .chunks(76)
            .map(|c| format!("{}\r\n", std::str::from_utf8(c).unwrap()))
            .collect();
        let text = std::fs::read_to_string(&template).unwrap();
        // The comment lines (`#`) before the message say how it was made.
        let body: String = text
            .lines()
            .skip_while(|l| l.starts_with('#'))
            .map(|l| format!("{l}\r\n"))
            .collect();
        let msg = body
            .replace("@@CERT_PEM@@\r\n", &pem.replace('\n', "\r\n"))
            .replace("@@CERT_B64@@\r\n", &b64_lines)
            .replace(
                "@@CERT_QP@@\r\n",
                &pem.replace('=', "=3D").replace('\n', "\r\n"),
            );
        let name = template
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".in", "");
        installs(&h, &name, msg.as_bytes(), &leaf);
    }
}

#[test]
fn a_reply_with_a_large_logo_attached_installs() {
    // Support desks' signatures carry images: a 3 MB e-mail is an ordinary reply, far
    // over the 1 MiB a bare certificate file may be.
    let (h, ca, csr) = setup();
    let leaf = ca.sign_days_from_now(&csr, 365);
    let logo = h.path().join("logo.png");
    let noise: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&logo, noise).unwrap();
    let bytes = mail(json!({
        "subject": "Re: CSR for demo",
        "attachments": [
            {"file": s(&logo), "type": "image/png", "name": "logo.png"},
            {"file": s(&leaf), "type": "application/x-pem-file", "name": "tls-cert.pem"},
        ],
    }));
    assert!(bytes.len() > 3 * 1024 * 1024, "{} bytes", bytes.len());
    installs(&h, "-", &bytes, &leaf);
}
