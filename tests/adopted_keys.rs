//! `init --key` adopts only keys that can sign (issue 14 item 6): a SEC1 key carrying
//! another key's public half, or a public point that is not on the curve, is refused
//! with 65 naming the file, and nothing is written. The forged keys are assembled by
//! `openssl asn1parse -genconf` from the halves of two keys openssl made.

mod support;

use std::path::Path;

use base64::Engine;
use support::{TestHome, ec_key, openssl};

/// The hex of one field (`priv:` or `pub:`) of `openssl ec -text`.
fn field_hex(dir: &Path, key: &str, field: &str) -> String {
    let text = openssl(dir, &["ec", "-in", key, "-text", "-noout"]);
    let mut lines = text.lines().skip_while(|l| l.trim() != field).skip(1);
    let mut hex = String::new();
    for l in lines.by_ref() {
        if !l.starts_with(' ') {
            break;
        }
        hex.extend(l.trim().split(':').filter(|h| !h.is_empty()));
    }
    hex
}

/// A SEC1 `EC PRIVATE KEY` PEM with the private scalar `priv_hex` and public point
/// `pub_hex`, written to `out` in `dir`.
fn sec1_pem(dir: &Path, priv_hex: &str, pub_hex: &str, out: &str) {
    let conf = format!(
        "asn1=SEQUENCE:ec\n[ec]\nversion=INTEGER:1\npriv=FORMAT:HEX,OCTETSTRING:{priv_hex}\n\
         params=EXPLICIT:0,OID:prime256v1\npub=EXPLICIT:1,FORMAT:HEX,BITSTRING:{pub_hex}\n"
    );
    std::fs::write(dir.join("k.cnf"), conf).unwrap();
    openssl(
        dir,
        &["asn1parse", "-genconf", "k.cnf", "-out", "k.der", "-noout"],
    );
    let der = std::fs::read(dir.join("k.der")).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let body: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN EC PRIVATE KEY-----\n{}\n-----END EC PRIVATE KEY-----\n",
        body.join("\n")
    );
    std::fs::write(dir.join(out), pem).unwrap();
}

fn init_with_key(h: &TestHome, key: &Path) -> (i32, String) {
    let out = h
        .cmd()
        .args([
            "init", "--tenant", "t1", "--org", "O", "--email", "a@b.co", "--key",
        ])
        .arg(key)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The fix a refused `--key` file gets: `init` with this run's --home.
fn fix(h: &TestHome) -> String {
    format!(
        "make a new one with `centiloc-cert --home {} init` (or `openssl ecparam -name prime256v1 -genkey -noout -out private-key.pem`)",
        h.path().display()
    )
}

/// `init --key key` exits 65 with the whole sentence `ERROR: KEY: why; FIX`, and no
/// profile is written.
fn refused(h: &TestHome, key: &Path, why: &str) {
    let (code, err) = init_with_key(h, key);
    assert_eq!(code, 65, "{err}");
    assert_eq!(
        err,
        format!("ERROR: {}: {why}; {}\n", key.display(), fix(h))
    );
    assert!(!h.profile_dir("default").join("profile.toml").exists());
}

#[test]
fn a_key_carrying_another_keys_public_half_is_refused_before_anything_is_written() {
    let h = TestHome::new();
    let d = h.path();
    ec_key(d, "prime256v1", "a.pem");
    ec_key(d, "prime256v1", "b.pem");
    let (priv_a, pub_a) = (
        field_hex(d, "a.pem", "priv:"),
        field_hex(d, "a.pem", "pub:"),
    );
    let pub_b = field_hex(d, "b.pem", "pub:");
    assert_eq!((priv_a.len(), pub_a.len()), (64, 130));

    // Sanity check of the forging: A's own halves make a key that is adopted.
    sec1_pem(d, &priv_a, &pub_a, "own.pem");
    openssl(d, &["ec", "-in", "own.pem", "-check", "-noout"]);

    sec1_pem(d, &priv_a, &pub_b, "forged.pem");
    refused(
        &h,
        &d.join("forged.pem"),
        "the public key stored in it belongs to another key, not to its private key, so it cannot sign",
    );

    // A point off the curve: A's point with its last coordinate byte changed.
    let mut off = pub_a.clone();
    let last = if off.ends_with("00") { "01" } else { "00" };
    off.replace_range(128..130, last);
    sec1_pem(d, &priv_a, &off, "off.pem");
    refused(
        &h,
        &d.join("off.pem"),
        "the public key stored in it is not a point on P-256 (prime256v1): the file is damaged",
    );

    let (code, err) = init_with_key(&h, &d.join("own.pem"));
    assert_eq!(code, 0, "{err}");
}
