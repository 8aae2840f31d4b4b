//! Certificates: reading what support sends back (PEM chain or DER), and the facts every
//! command asks of one: subject fields, validity, serial, fingerprints, whether it holds
//! a given public key, whether an issuer signed it. Parsing is x509-parser's; this module
//! keeps the owned facts so callers never juggle its lifetimes.

use std::path::Path;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use x509_parser::prelude::*;

use crate::error::{Error, Result};
use crate::keys::{colon_hex, spki_fingerprint};
use crate::pem_input;

/// The facts of one X.509 certificate, owned.
#[derive(Debug, Clone)]
pub struct Certificate {
    der: Vec<u8>,
    /// RFC 4514-style subject, e.g. `O=Demo Corp, CN=demo, Email=me@example.com`.
    pub subject: String,
    pub issuer: String,
    pub common_name: Option<String>,
    pub organization: Option<String>,
    pub email: Option<String>,
    /// Serial number, colon-separated hex as openssl prints it.
    pub serial: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// DER SubjectPublicKeyInfo, compared with the key's to tell whether they match.
    pub spki_der: Vec<u8>,
    /// basicConstraints CA:TRUE.
    pub is_ca: bool,
    /// `Some(false)` when an extendedKeyUsage extension exists without clientAuth.
    pub client_auth: Option<bool>,
    /// The purposes the extendedKeyUsage extension names (`serverAuth`, ...), empty when
    /// there is none: to say what the certificate is for when it is not for us.
    pub usages: Vec<String>,
    /// The X.509 version as people say it: 1, 2 or 3 (the DER field holds 0, 1 or 2).
    pub version: u32,
    /// The OIDs of critical extensions outside [`KNOWN_EXTENSIONS`] (empty on a
    /// dates-only read).
    pub unknown_critical: Vec<String>,
}

/// The extensions TLS stacks understand in a client certificate (RFC 5280 §4.2.1):
/// subject and authority key IDs, key usage, subject alternative name, basic
/// constraints, name constraints, extended key usage. A verifier must refuse a
/// certificate with a critical extension it does not know (RFC 5280 §4.2).
const KNOWN_EXTENSIONS: [&str; 7] = [
    "2.5.29.14",
    "2.5.29.15",
    "2.5.29.17",
    "2.5.29.19",
    "2.5.29.30",
    "2.5.29.35",
    "2.5.29.37",
];

impl Certificate {
    /// Parses one DER certificate. The error text says what is wrong, for the caller to
    /// wrap with the file name.
    pub fn from_der(der: &[u8]) -> std::result::Result<Certificate, String> {
        Self::parse_der(der, true)
    }

    /// Like [`Certificate::from_der`] without decoding the extensions or formatting the
    /// issuer: `is_ca` is false, `client_auth` None and `issuer` empty. For `check-expiry`, which reads thousands of certificates and
    /// needs only names, serial and dates (the extensions were a large share of the cost).
    pub fn from_der_dates_only(der: &[u8]) -> std::result::Result<Certificate, String> {
        Self::parse_der(der, false)
    }

    fn parse_der(der: &[u8], extensions: bool) -> std::result::Result<Certificate, String> {
        use x509_parser::nom::Parser;
        // x509-parser's own text ("Parsing Error: NomError(Eof)") means nothing to a
        // user; what they can act on is that the bytes are not a whole certificate.
        let mut parser = x509_parser::certificate::X509CertificateParser::new()
            .with_deep_parse_extensions(extensions);
        let (rest, x) = parser.parse(der).map_err(|_| {
            "not a valid X.509 certificate (the data is truncated, damaged or something else)"
                .to_string()
        })?;
        if !rest.is_empty() {
            return Err(format!(
                "{} bytes of unexpected data follow the certificate",
                rest.len()
            ));
        }
        fn first<'a>(
            mut it: impl Iterator<Item = &'a AttributeTypeAndValue<'a>>,
        ) -> Option<String> {
            it.next().and_then(|a| a.as_str().ok()).map(str::to_owned)
        }
        let subject = x.subject();
        let time =
            |t: ASN1Time| DateTime::<Utc>::from_timestamp(t.timestamp(), 0).unwrap_or_default();
        let (is_ca, client_auth, usages) = if extensions {
            extensions_of(&x)?
        } else {
            (false, None, Vec::new())
        };
        Ok(Certificate {
            subject: subject.to_string(),
            // Formatting the issuer name is a sizeable share of a dates-only read, and
            // check-expiry never shows it.
            issuer: if extensions {
                x.issuer().to_string()
            } else {
                String::new()
            },
            common_name: first(subject.iter_common_name()),
            organization: first(subject.iter_organization()),
            email: first(subject.iter_email()),
            serial: x.raw_serial_as_string().to_ascii_uppercase(),
            not_before: time(x.validity().not_before),
            not_after: time(x.validity().not_after),
            spki_der: x.public_key().raw.to_vec(),
            is_ca,
            client_auth,
            usages,
            version: x.version().0 + 1,
            unknown_critical: if extensions {
                unknown_critical(&x)
            } else {
                Vec::new()
            },
            der: der.to_vec(),
        })
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// PEM text with LF line ends, as openssl writes it.
    pub fn to_pem(&self) -> String {
        pem_input::encode(&::pem::Pem::new("CERTIFICATE", self.der.clone()))
    }

    /// SHA-256 of the whole certificate (`openssl x509 -fingerprint -sha256`).
    pub fn fingerprint(&self) -> String {
        colon_hex(&Sha256::digest(&self.der))
    }

    /// SHA-256 of its public key, comparable with [`crate::keys::PrivateKey::fingerprint`].
    pub fn key_fingerprint(&self) -> String {
        spki_fingerprint(&self.spki_der)
    }

    /// Whole days until notAfter, truncated toward zero: 29.9 days left is 29, and a
    /// certificate that expired 3.5 days ago is -3 ("expired 3 days ago"). Whether it has
    /// expired is [`Certificate::is_expired`], not the sign of this number.
    pub fn days_left(&self, now: DateTime<Utc>) -> i64 {
        (self.not_after - now).num_days()
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now > self.not_after
    }

    pub fn is_not_yet_valid(&self, now: DateTime<Utc>) -> bool {
        now < self.not_before
    }

    /// What to know about an X.509 version 1 certificate (what `openssl x509 -req`
    /// without an extension file makes, as in Centiloc's openssl-style recipe): it works
    /// with the broker and with this tool, but it has no extensions (issue 11). One
    /// sentence shared by `install-cert` and `status`.
    pub fn version_note(&self) -> Option<String> {
        (self.version < 3).then(|| {
            format!(
                "it is an X.509 version {} certificate (no extensions), as `openssl x509 -req` makes without an extension file; the broker, this tool, mosquitto and paho accept it, though a few TLS libraries (e.g. those built on webpki) do not",
                self.version
            )
        })
    }

    /// Why the broker will refuse this certificate as a client certificate: its extended
    /// key usage names purposes but not clientAuth (nor anyExtendedKeyUsage), and TLS
    /// servers check that (RFC 5280 §4.2.1.12). No extension at all allows every use.
    pub fn client_auth_problem(&self) -> Option<String> {
        (self.client_auth == Some(false)).then(|| {
            format!(
                "its extended key usage ({}) does not include clientAuth, so the broker refuses it as a client certificate; ask Centiloc support to sign the CSR again for TLS client authentication",
                self.usages.join(", ")
            )
        })
    }

    /// Does this certificate carry the public key whose SPKI is `spki_der`?
    pub fn holds_key(&self, spki_der: &[u8]) -> bool {
        self.spki_der == spki_der
    }

    /// Checks that `issuer`'s key signed this certificate.
    pub fn verify_signed_by(&self, issuer: &Certificate) -> std::result::Result<(), String> {
        let (_, me) = X509Certificate::from_der(&self.der).map_err(|e| e.to_string())?;
        let (_, ca) = X509Certificate::from_der(&issuer.der).map_err(|e| e.to_string())?;
        me.verify_signature(Some(ca.public_key()))
            .map_err(|e| format!("the signature does not verify with that issuer's key ({e})"))
    }
}

fn unknown_critical(x: &X509Certificate<'_>) -> Vec<String> {
    x.extensions()
        .iter()
        .filter(|e| e.critical)
        .map(|e| e.oid.to_id_string())
        .filter(|oid| !KNOWN_EXTENSIONS.contains(&oid.as_str()))
        .collect()
}

/// What [`extensions_of`] reads: CA flag, clientAuth allowed, named purposes.
type ExtensionFacts = (bool, Option<bool>, Vec<String>);

fn extensions_of(x: &X509Certificate<'_>) -> std::result::Result<ExtensionFacts, String> {
    let bad = |e: X509Error| format!("a certificate extension is malformed ({e})");
    let is_ca = x
        .basic_constraints()
        .map_err(bad)?
        .is_some_and(|b| b.value.ca);
    let Some(eku) = x.extended_key_usage().map_err(bad)? else {
        return Ok((is_ca, None, Vec::new()));
    };
    let e = eku.value;
    let named = [
        (e.any, "anyExtendedKeyUsage"),
        (e.server_auth, "serverAuth"),
        (e.client_auth, "clientAuth"),
        (e.code_signing, "codeSigning"),
        (e.email_protection, "emailProtection"),
        (e.time_stamping, "timeStamping"),
        (e.ocsp_signing, "OCSPSigning"),
    ];
    let mut usages: Vec<String> = named
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| (*n).to_owned())
        .collect();
    usages.extend(e.other.iter().map(|oid| oid.to_id_string()));
    Ok((is_ca, Some(e.client_auth || e.any), usages))
}

/// Reads a certificate file: PEM (one or more CERTIFICATE blocks, leaf first; BOM, CRLF
/// and text around the blocks tolerated) or DER. `-` is stdin.
pub fn load_chain(path: &Path) -> Result<Vec<Certificate>> {
    let bytes = read_input(path)?;
    parse_chain(crate::input::display_name(path), &bytes)
}

/// The bytes of a certificate file the user gives (or support's e-mail reply), `-`
/// being stdin.
pub fn read_input(path: &Path) -> Result<Vec<u8>> {
    crate::input::read(path, crate::input::Kind::Reply)
}

/// The base64 text of a PEM body without its line breaks and blanks, line by line (a
/// byte-by-byte filter was the largest single cost of `check-expiry --all`).
fn base64_lines(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    for line in body.split(|&b| b == b'\n') {
        out.extend_from_slice(line.trim_ascii());
    }
    out
}

/// The first certificate of a file, without decoding the rest of a chain: what
/// `check-expiry` needs, at thousands of files per run. Anything unusual (DER, no
/// CERTIFICATE block, broken PEM) goes through [`parse_chain`] for its precise errors.
/// Extensions are not decoded on the fast path (see [`Certificate::from_der_dates_only`]).
pub fn parse_leaf(path: &Path, bytes: &[u8]) -> Result<Certificate> {
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    const END: &[u8] = b"-----END CERTIFICATE-----";
    // The base64 between the markers, decoded directly: the general PEM parser was a
    // third of the cost of reading a certificate (benches/expiry.rs).
    if let Some(start) = memchr::memmem::find(bytes, BEGIN)
        && let Some(len) = memchr::memmem::find(&bytes[start..], END)
        && let b64 = base64_lines(&bytes[start + BEGIN.len()..start + len])
        && let Ok(der) = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &b64)
        && let Ok(cert) = Certificate::from_der_dates_only(&der)
    {
        return Ok(cert);
    }
    parse_chain(path, bytes)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::BadData {
            path: path.to_path_buf(),
            reason: "no certificate in the file".into(),
        })
}

/// Parses certificate bytes; `path` only names the source in errors.
pub fn parse_chain(path: &Path, bytes: &[u8]) -> Result<Vec<Certificate>> {
    let bad = |reason: String| Error::BadData {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.is_empty() {
        return Err(bad(
            "the file is empty; expected a PEM or DER certificate".into()
        ));
    }
    if !pem_input::looks_like_pem(bytes) {
        return Certificate::from_der(bytes)
            .map(|c| vec![c])
            .map_err(|e| bad(format!("{e}; expected a PEM or DER certificate")));
    }
    let blocks = pem_input::blocks(path, bytes)?;
    let certs: Vec<&::pem::Pem> = blocks.iter().filter(|b| b.tag() == "CERTIFICATE").collect();
    if certs.is_empty() {
        let tags: Vec<&str> = blocks.iter().map(|b| b.tag()).collect();
        return Err(bad(format!(
            "holds {} but no CERTIFICATE block; expected a certificate (PEM or DER)",
            tags.join(", ")
        )));
    }
    certs
        .iter()
        .enumerate()
        .map(|(i, b)| {
            Certificate::from_der(b.contents())
                .map_err(|e| bad(format!("certificate #{} in the file: {e}", i + 1)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Curve, PrivateKey};

    fn self_signed() -> (PrivateKey, Certificate) {
        let key = PrivateKey::generate(Curve::P256).unwrap();
        let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "demo");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Demo");
        params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        params.not_after = rcgen::date_time_ymd(2027, 1, 1);
        let c = params.self_signed(&key.signing_key().unwrap()).unwrap();
        (key, Certificate::from_der(c.der()).unwrap())
    }

    #[test]
    fn facts_of_a_certificate() {
        let (key, c) = self_signed();
        assert_eq!(c.common_name.as_deref(), Some("demo"));
        assert_eq!(c.organization.as_deref(), Some("Demo"));
        assert_eq!(c.version, 3);
        assert!(c.version_note().is_none());
        assert!(c.client_auth_problem().is_none());
        assert!(c.holds_key(key.public_key_der()));
        assert_eq!(c.key_fingerprint(), key.fingerprint());
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(c.days_left(now), 365);
        assert!(!c.is_expired(now) && !c.is_not_yet_valid(now));
        c.verify_signed_by(&c).unwrap();
        let again = parse_chain(Path::new("x"), c.to_pem().as_bytes()).unwrap();
        assert_eq!(again[0].der(), c.der());
        let der = parse_chain(Path::new("x"), c.der()).unwrap();
        assert_eq!(der[0].fingerprint(), c.fingerprint());
    }

    #[test]
    fn parse_leaf_takes_the_first_of_a_chain() {
        let (_, a) = self_signed();
        let (_, b) = self_signed();
        let chain = format!("text before\r\n{}{}", a.to_pem(), b.to_pem());
        let leaf = parse_leaf(Path::new("x"), chain.as_bytes()).unwrap();
        assert_eq!(leaf.fingerprint(), a.fingerprint());
        assert_eq!(
            parse_leaf(Path::new("x"), a.der()).unwrap().fingerprint(),
            a.fingerprint()
        );
        assert!(
            parse_leaf(
                Path::new("x"),
                b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
            )
            .is_err()
        );
    }

    #[test]
    fn garbage_is_bad_data() {
        assert!(parse_chain(Path::new("x"), b"\x30\x03\x02\x01\x00").is_err());
        assert!(parse_chain(Path::new("x"), b"").is_err());
    }
}
