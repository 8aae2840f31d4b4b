//! The private key: made fresh (P-256 by default), or adopted from a file the openssl
//! recipe made. Centiloc accepts "only elliptic curves with at least 256 bits"; we take
//! the two curves its broker and rustls both support, P-256 (documented default) and
//! P-384, and name anything else precisely when refusing it.

use std::fmt;
use std::path::Path;

use pkcs8::der::asn1::{AnyRef, BitStringRef, OctetStringRef};
use pkcs8::der::{Decode, Encode};
use pkcs8::{EncodePrivateKey, ObjectIdentifier};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::input;
use crate::pem_input;

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";

/// The curves we make and accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Curve {
    /// prime256v1 / secp256r1, Centiloc's documented default.
    P256,
    /// secp384r1, also accepted by Centiloc.
    P384,
}

impl Curve {
    /// The name openssl prints (`openssl ec -text`: "ASN1 OID: prime256v1").
    pub fn openssl_name(self) -> &'static str {
        match self {
            Curve::P256 => "prime256v1",
            Curve::P384 => "secp384r1",
        }
    }

    fn oid(self) -> ObjectIdentifier {
        match self {
            Curve::P256 => ObjectIdentifier::new_unwrap(OID_P256),
            Curve::P384 => ObjectIdentifier::new_unwrap(OID_P384),
        }
    }

    fn signature_algorithm(self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            Curve::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            Curve::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        }
    }

    fn from_oid(oid: &ObjectIdentifier) -> std::result::Result<Curve, String> {
        match oid.to_string().as_str() {
            OID_P256 => Ok(Curve::P256),
            OID_P384 => Ok(Curve::P384),
            other => Err(curve_refusal(other)),
        }
    }
}

impl fmt::Display for Curve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Curve::P256 => f.write_str("P-256 (prime256v1)"),
            Curve::P384 => f.write_str("P-384 (secp384r1)"),
        }
    }
}

/// What [`Error::KeyRefused`] recommends where this run's flags are unknown; the command
/// layer replaces it with the line for this run.
pub const FIX: &str = "make a new one with `centiloc-cert init` (or `openssl ecparam -name prime256v1 -genkey -noout -out private-key.pem`)";

fn curve_refusal(oid: &str) -> String {
    let name = match oid {
        "1.3.132.0.33" => "P-224 (secp224r1), too small: Centiloc requires at least 256 bits",
        "1.2.840.10045.3.1.1" => {
            "P-192 (prime192v1/secp192r1), too small: Centiloc requires at least 256 bits"
        }
        "1.3.132.0.10" => "secp256k1, which TLS brokers do not accept",
        "1.3.132.0.35" => "P-521 (secp521r1), which this tool does not support",
        _ => "an elliptic curve this tool does not support",
    };
    format!("the key uses {name} ({oid}); use P-256 or P-384")
}

fn algorithm_refusal(oid: &str) -> String {
    let name = match oid {
        "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => "an RSA key",
        "1.3.101.112" => "an Ed25519 (EdDSA) key",
        "1.3.101.113" => "an Ed448 (EdDSA) key",
        "1.2.840.10040.4.1" => "a DSA key",
        _ => "not an elliptic-curve key",
    };
    format!("{name} ({oid}); Centiloc accepts ECDSA keys on P-256 or P-384 only")
}

/// A private key on an accepted curve, with the PEM text we store for it.
pub struct PrivateKey {
    curve: Curve,
    /// Normalised PKCS#8 DER, the form rcgen signs with.
    pkcs8_der: zeroize::Zeroizing<Vec<u8>>,
    /// DER SubjectPublicKeyInfo of the public half.
    spki_der: Vec<u8>,
    /// What goes into `private-key.pem`: SEC1 for new keys (what the openssl recipe
    /// makes), the original block unchanged for adopted ones.
    pem: zeroize::Zeroizing<String>,
}

/// Shows the curve and public fingerprint only: a key must never reach a log.
impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({}, {})", self.curve, self.fingerprint())
    }
}

impl PrivateKey {
    /// A fresh key from the operating system's random number generator (ring's
    /// `SystemRandom`, i.e. getrandom). ring does the point multiplication in constant-time
    /// assembly; the p256 crate's table set-up alone cost more than the whole `init`.
    pub fn generate(curve: Curve) -> Result<PrivateKey> {
        let pair =
            rcgen::KeyPair::generate_for(curve.signature_algorithm()).map_err(|_| Error::Random)?;
        let pkcs8 = pair.serialized_der().to_vec();
        let pem = sec1_pem(curve, &pkcs8).map_err(Error::Csr)?;
        Ok(Self::assemble(curve, &pair, pkcs8, pem))
    }

    fn assemble(curve: Curve, pair: &rcgen::KeyPair, pkcs8: Vec<u8>, pem: String) -> PrivateKey {
        use rcgen::PublicKeyData;
        PrivateKey {
            curve,
            spki_der: pair.subject_public_key_info(),
            pkcs8_der: zeroize::Zeroizing::new(pkcs8),
            pem: zeroize::Zeroizing::new(pem),
        }
    }

    /// Reads a key file (SEC1 `EC PRIVATE KEY` or PKCS#8 `PRIVATE KEY`, PEM).
    pub fn from_file(path: &Path) -> Result<PrivateKey> {
        let bytes = zeroize::Zeroizing::new(input::read(path, input::Kind::Key)?);
        Self::parse(path, &bytes)
    }

    /// Reads a key file to adopt it (`init --key`): besides what [`Self::from_file`]
    /// checks, the public half the file carries must be a point on the curve and the
    /// private scalar's own, before anything is written (issue 14 item 6: a file with
    /// another key's public half was adopted, showed that key's fingerprint, and `csr`
    /// failed later).
    pub fn adopt(path: &Path) -> Result<PrivateKey> {
        let bytes = zeroize::Zeroizing::new(input::read(path, input::Kind::Key)?);
        Self::adopt_bytes(path, &bytes)
    }

    /// [`Self::adopt`] on bytes already read; `path` only names the source in errors.
    pub fn adopt_bytes(path: &Path, bytes: &[u8]) -> Result<PrivateKey> {
        let key = Self::parse(path, bytes)?;
        key.check_halves().map_err(|reason| Error::KeyRefused {
            path: path.to_path_buf(),
            reason,
            fix: FIX.into(),
        })?;
        Ok(key)
    }

    /// The private scalar is valid and the stored public point is on the curve and is
    /// the scalar times the generator (the p256/p384 crates, not the signing library,
    /// so the check does not depend on what ring happens to verify).
    fn check_halves(&self) -> std::result::Result<(), String> {
        let damaged = |e: pkcs8::der::Error| format!("the key data is damaged ({e})");
        let info = pkcs8::PrivateKeyInfoRef::from_der(&self.pkcs8_der).map_err(damaged)?;
        let ec = sec1::EcPrivateKey::from_der(info.private_key.as_bytes()).map_err(damaged)?;
        let (scalar_ok, point) = match self.curve {
            Curve::P256 => halves!(p256, ec),
            Curve::P384 => halves!(p384, ec),
        };
        if !scalar_ok {
            return Err(format!(
                "its private value is not a valid {} key",
                self.curve
            ));
        }
        match point {
            Some(false) => Err(format!(
                "the public key stored in it is not a point on {}: the file is damaged",
                self.curve
            )),
            Some(true) => Err(
                "the public key stored in it belongs to another key, not to its private key, so it cannot sign".into(),
            ),
            None => Ok(()),
        }
    }

    /// Parses key PEM; `path` only names the source in errors.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<PrivateKey> {
        let refuse = |reason: String| Error::KeyRefused {
            path: path.to_path_buf(),
            reason,
            fix: FIX.into(),
        };
        if !pem_input::looks_like_pem(bytes) {
            return Err(refuse("not a PEM private key (no -----BEGIN line)".into()));
        }
        let blocks = pem_input::blocks(path, bytes)?;
        let params_oid = blocks
            .iter()
            .find(|b| b.tag() == "EC PARAMETERS")
            .and_then(|b| ObjectIdentifier::from_der(b.contents()).ok());
        let Some(block) = blocks.iter().find(|b| b.tag().ends_with("PRIVATE KEY")) else {
            let found: Vec<&str> = blocks.iter().map(|b| b.tag()).collect();
            return Err(refuse(format!(
                "holds {} but no private key; give the private-key.pem you generated, not a certificate or CSR",
                found.join(", ")
            )));
        };
        let encrypted = block.tag() == "ENCRYPTED PRIVATE KEY"
            || block
                .headers()
                .get("Proc-Type")
                .is_some_and(|v| v.contains("ENCRYPTED"));
        if encrypted {
            return Err(refuse(format!(
                "the key is encrypted with a passphrase; decrypt it first with `openssl pkey -in {} -out plain-key.pem` and give plain-key.pem",
                path.display()
            )));
        }
        let (curve, pkcs8) = match block.tag() {
            "EC PRIVATE KEY" => sec1_to_pkcs8(block.contents(), params_oid).map_err(refuse)?,
            "PRIVATE KEY" => pkcs8_curve(block.contents()).map_err(refuse)?,
            "RSA PRIVATE KEY" => return Err(refuse(algorithm_refusal("1.2.840.113549.1.1.1"))),
            other => {
                return Err(refuse(format!(
                    "a {other} block is not a key this tool can use"
                )));
            }
        };
        let pem = pem_input::encode(block);
        // The public half the file carries (the openssl recipe always writes it) gives the
        // fingerprint without any curve arithmetic; `list` reads thousands of keys. Whether
        // it really belongs to the private half is [`PrivateKey::verify`]'s job.
        if let Some(spki) = embedded_spki(curve, &pkcs8) {
            return Ok(PrivateKey {
                curve,
                spki_der: spki,
                pkcs8_der: zeroize::Zeroizing::new(pkcs8),
                pem: zeroize::Zeroizing::new(pem),
            });
        }
        let (pair, pkcs8) = signing_pair(curve, pkcs8).map_err(refuse)?;
        Ok(Self::assemble(curve, &pair, pkcs8, pem))
    }

    /// Checks that the private and public halves belong together and that the signing
    /// library accepts the key (what `status` and every signing use rely on).
    pub fn verify(&self) -> Result<()> {
        self.signing_key().map(drop)
    }

    pub fn curve(&self) -> Curve {
        self.curve
    }

    /// The PEM text to store in `private-key.pem`.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// DER SubjectPublicKeyInfo of the public key.
    pub fn public_key_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// SHA-256 of the public key's SubjectPublicKeyInfo, the same value as
    /// `openssl pkey -pubout -outform DER | openssl dgst -sha256`.
    pub fn fingerprint(&self) -> String {
        spki_fingerprint(&self.spki_der)
    }

    /// Normalised PKCS#8 DER, for TLS client authentication (`mqtt::tls`).
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8_der
    }

    /// The key in the form rcgen signs with.
    pub fn signing_key(&self) -> Result<rcgen::KeyPair> {
        rcgen::KeyPair::try_from(self.pkcs8_der.as_slice()).map_err(|_| Error::KeyUnusable)
    }
}

/// For one curve crate: (is the scalar valid, what is wrong with the stored public point:
/// `None` nothing or absent, `Some(false)` not on the curve, `Some(true)` another key's).
macro_rules! halves {
    ($curve:ident, $ec:expr) => {{
        let secret = $curve::SecretKey::from_slice($ec.private_key).ok();
        let stored = $ec
            .public_key
            .map(|bytes| $curve::PublicKey::from_sec1_bytes(bytes).ok());
        match (&secret, stored) {
            (None, _) => (false, None),
            (Some(_), None) => (true, None),
            (Some(_), Some(None)) => (true, Some(false)),
            (Some(s), Some(Some(p))) => (true, (p != s.public_key()).then_some(true)),
        }
    }};
}
use halves;

/// Colon-separated upper-case hex SHA-256 of a DER SubjectPublicKeyInfo.
pub fn spki_fingerprint(spki_der: &[u8]) -> String {
    colon_hex(&Sha256::digest(spki_der))
}

pub fn colon_hex(bytes: &[u8]) -> String {
    let parts: Vec<String> = bytes.iter().map(|b| format!("{b:02X}")).collect();
    parts.join(":")
}

/// SEC1 (`EC PRIVATE KEY`, RFC 5915): the curve is in its optional parameters, or in an
/// `EC PARAMETERS` block before it (what `openssl ecparam -genkey` without `-noout` writes).
fn sec1_to_pkcs8(
    der: &[u8],
    params_block: Option<ObjectIdentifier>,
) -> std::result::Result<(Curve, Vec<u8>), String> {
    let ec = sec1::EcPrivateKey::from_der(der)
        .map_err(|e| format!("the EC PRIVATE KEY block is damaged ({e})"))?;
    let oid = match ec.parameters {
        Some(sec1::EcParameters::NamedCurve(oid)) => Some(oid),
        None => params_block,
    };
    let curve = match oid {
        Some(oid) => Curve::from_oid(&oid)?,
        // No curve named anywhere: the scalar length tells P-256 from P-384.
        None => match ec.private_key.len() {
            32 => Curve::P256,
            48 => Curve::P384,
            n => {
                return Err(format!(
                    "the key's curve is not named and its {n}-byte size fits no accepted curve"
                ));
            }
        },
    };
    Ok((curve, wrap_pkcs8(curve, der)?))
}

/// ring (behind rcgen) signs and derives the public key; it needs the public key inside
/// the private key, which the openssl recipe always writes. For a key without it, the
/// p256/p384 crates compute it once.
fn signing_pair(
    curve: Curve,
    pkcs8: Vec<u8>,
) -> std::result::Result<(rcgen::KeyPair, Vec<u8>), String> {
    if let Ok(pair) = rcgen::KeyPair::try_from(pkcs8.as_slice()) {
        return Ok((pair, pkcs8));
    }
    use pkcs8::DecodePrivateKey;
    let bad = |e: String| format!("the key data is damaged ({e})");
    let full = match curve {
        Curve::P256 => p256::SecretKey::from_pkcs8_der(&pkcs8)
            .map_err(|e| bad(e.to_string()))?
            .to_pkcs8_der(),
        Curve::P384 => p384::SecretKey::from_pkcs8_der(&pkcs8)
            .map_err(|e| bad(e.to_string()))?
            .to_pkcs8_der(),
    }
    .map_err(|e| bad(e.to_string()))?
    .as_bytes()
    .to_vec();
    let pair = rcgen::KeyPair::try_from(full.as_slice()).map_err(|e| bad(e.to_string()))?;
    Ok((pair, full))
}

/// The SubjectPublicKeyInfo (RFC 5480) of the public key stored inside a PKCS#8 EC key,
/// if it carries one.
fn embedded_spki(curve: Curve, pkcs8: &[u8]) -> Option<Vec<u8>> {
    let info = pkcs8::PrivateKeyInfoRef::from_der(pkcs8).ok()?;
    let inner = sec1::EcPrivateKey::from_der(info.private_key.as_bytes()).ok()?;
    let curve_oid = curve.oid();
    let spki = pkcs8::SubjectPublicKeyInfoRef {
        algorithm: ec_algorithm(&curve_oid),
        subject_public_key: BitStringRef::from_bytes(inner.public_key?).ok()?,
    };
    spki.to_der().ok()
}

/// id-ecPublicKey with the named curve (RFC 5480 section 2.1.1), the algorithm of both
/// the PKCS#8 key and the SubjectPublicKeyInfo.
fn ec_algorithm(curve_oid: &ObjectIdentifier) -> pkcs8::AlgorithmIdentifierRef<'_> {
    pkcs8::AlgorithmIdentifierRef {
        oid: ObjectIdentifier::new_unwrap(OID_EC_PUBLIC_KEY),
        parameters: Some(AnyRef::from(curve_oid)),
    }
}

/// RFC 5208 PrivateKeyInfo around an RFC 5915 ECPrivateKey: version 0, the algorithm
/// (id-ecPublicKey with the named curve), the SEC1 structure as the private key octets.
fn wrap_pkcs8(curve: Curve, sec1_der: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let bad = |e: pkcs8::der::Error| format!("the EC PRIVATE KEY block is damaged ({e})");
    let curve_oid = curve.oid();
    let info = pkcs8::PrivateKeyInfoRef::new(
        ec_algorithm(&curve_oid),
        OctetStringRef::new(sec1_der).map_err(bad)?,
    );
    info.to_der().map_err(bad)
}

/// The SEC1 `EC PRIVATE KEY` PEM openssl's recipe writes (curve named in [0], public
/// key in [1]), from a PKCS#8 key.
fn sec1_pem(curve: Curve, pkcs8: &[u8]) -> std::result::Result<String, String> {
    let bad = |e: pkcs8::der::Error| format!("cannot encode the new key as SEC1 ({e})");
    let info = pkcs8::PrivateKeyInfoRef::from_der(pkcs8).map_err(bad)?;
    let inner = sec1::EcPrivateKey::from_der(info.private_key.as_bytes()).map_err(bad)?;
    let named = sec1::EcPrivateKey {
        private_key: inner.private_key,
        parameters: Some(sec1::EcParameters::NamedCurve(curve.oid())),
        public_key: inner.public_key,
    };
    let der = named.to_der().map_err(bad)?;
    Ok(pem_input::encode(&::pem::Pem::new("EC PRIVATE KEY", der)))
}

/// PKCS#8 (`PRIVATE KEY`, RFC 5958): algorithm and curve are in its AlgorithmIdentifier.
fn pkcs8_curve(der: &[u8]) -> std::result::Result<(Curve, Vec<u8>), String> {
    let info = pkcs8::PrivateKeyInfoRef::from_der(der)
        .map_err(|e| format!("the PRIVATE KEY block is damaged ({e})"))?;
    let alg = info.algorithm.oid.to_string();
    if alg != OID_EC_PUBLIC_KEY {
        return Err(algorithm_refusal(&alg));
    }
    let curve_oid = info
        .algorithm
        .parameters_oid()
        .map_err(|_| "the EC key does not name its curve".to_string())?;
    Ok((Curve::from_oid(&curve_oid)?, der.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip_through_their_pem() {
        for curve in [Curve::P256, Curve::P384] {
            let k = PrivateKey::generate(curve).unwrap();
            assert!(k.pem().starts_with("-----BEGIN EC PRIVATE KEY-----\n"));
            let back = PrivateKey::parse(Path::new("k"), k.pem().as_bytes()).unwrap();
            assert_eq!(back.curve(), curve);
            assert_eq!(back.fingerprint(), k.fingerprint());
            k.signing_key().unwrap();
        }
    }

    #[test]
    fn a_key_file_whose_public_half_is_not_its_own_fails_verify() {
        use pkcs8::der::Encode;
        let a = PrivateKey::generate(Curve::P256).unwrap();
        let b = PrivateKey::generate(Curve::P256).unwrap();
        let der_of = |k: &PrivateKey| {
            pem_input::blocks(Path::new("k"), k.pem().as_bytes()).unwrap()[0]
                .contents()
                .to_vec()
        };
        let (da, db) = (der_of(&a), der_of(&b));
        let ka = sec1::EcPrivateKey::from_der(&da).unwrap();
        let kb = sec1::EcPrivateKey::from_der(&db).unwrap();
        let forged = sec1::EcPrivateKey {
            public_key: kb.public_key,
            ..ka
        };
        let pem = pem_input::encode(&::pem::Pem::new("EC PRIVATE KEY", forged.to_der().unwrap()));
        let k = PrivateKey::parse(Path::new("k"), pem.as_bytes()).unwrap();
        // The cheap fingerprint reports what the file claims; verify catches the lie.
        assert_eq!(k.fingerprint(), b.fingerprint());
        assert!(k.verify().is_err());
        assert!(
            k.check_halves()
                .unwrap_err()
                .contains("belongs to another key")
        );
        a.verify().unwrap();
        a.check_halves().unwrap();
    }

    /// What the `key_file` fuzz target checks, on a thousand mutations of a real key
    /// (its PEM text and its DER inside), so `cargo test` covers it without a fuzzer:
    /// adopted or refused, never a panic, and an adopted key can sign.
    #[test]
    fn mutated_keys_are_adopted_only_when_they_can_sign() {
        let k = PrivateKey::generate(Curve::P256).unwrap();
        let der = pem_input::blocks(Path::new("k"), k.pem().as_bytes()).unwrap()[0]
            .contents()
            .to_vec();
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..1000 {
            let mut d = der.clone();
            for _ in 0..1 + next() % 3 {
                let i = (next() as usize) % d.len();
                d[i] ^= 1 << (next() % 8);
            }
            let pem = pem_input::encode(&::pem::Pem::new("EC PRIVATE KEY", d));
            if let Ok(adopted) = PrivateKey::adopt_bytes(Path::new("k"), pem.as_bytes()) {
                adopted.verify().expect("an adopted key can sign");
            }
        }
    }

    #[test]
    fn two_keys_differ() {
        let a = PrivateKey::generate(Curve::P256).unwrap();
        let b = PrivateKey::generate(Curve::P256).unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn certificate_is_not_a_key() {
        let cert = "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";
        let e = PrivateKey::parse(Path::new("c.pem"), cert.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("no private key"), "{e}");
    }
}
