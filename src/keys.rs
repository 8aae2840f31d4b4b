//! The private key: made fresh (P-256 by default), or adopted from a file the openssl
//! recipe made. Centiloc accepts "only elliptic curves with at least 256 bits"; we take
//! the two curves its broker and rustls both support, P-256 (documented default) and
//! P-384, and name anything else precisely when refusing it.

use std::fmt;
use std::path::Path;

use pkcs8::der::Decode;
use pkcs8::der::pem::LineEnding;
use pkcs8::{EncodePrivateKey, EncodePublicKey, ObjectIdentifier};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
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

const FIX: &str = "make a new one with `centiloc-cert init` (or `openssl ecparam -name prime256v1 -genkey -noout -out private-key.pem`)";

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
    format!("the key uses {name} ({oid}); use P-256 or P-384: {FIX}")
}

fn algorithm_refusal(oid: &str) -> String {
    let name = match oid {
        "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => "an RSA key",
        "1.3.101.112" => "an Ed25519 (EdDSA) key",
        "1.3.101.113" => "an Ed448 (EdDSA) key",
        "1.2.840.10040.4.1" => "a DSA key",
        _ => "not an elliptic-curve key",
    };
    format!("{name} ({oid}); Centiloc accepts ECDSA keys on P-256 or P-384 only: {FIX}")
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
    /// A fresh key from the operating system's random number generator.
    pub fn generate(curve: Curve) -> Result<PrivateKey> {
        let mut buf = zeroize::Zeroizing::new(vec![0u8; curve_len(curve)]);
        loop {
            getrandom::fill(&mut buf).map_err(|e| Error::Random(e.to_string()))?;
            // Rejection sampling: the scalar must be in [1, n). Almost always first try.
            let made = match curve {
                Curve::P256 => p256::SecretKey::from_slice(&buf).ok().map(|k| {
                    from_secret(
                        curve,
                        k.to_pkcs8_der(),
                        k.public_key().to_public_key_der(),
                        k.to_sec1_pem(LineEnding::LF),
                    )
                }),
                Curve::P384 => p384::SecretKey::from_slice(&buf).ok().map(|k| {
                    from_secret(
                        curve,
                        k.to_pkcs8_der(),
                        k.public_key().to_public_key_der(),
                        k.to_sec1_pem(LineEnding::LF),
                    )
                }),
            };
            if let Some(k) = made {
                return k;
            }
        }
    }

    /// Reads a key file (SEC1 `EC PRIVATE KEY` or PKCS#8 `PRIVATE KEY`, PEM).
    pub fn from_file(path: &Path) -> Result<PrivateKey> {
        let bytes = std::fs::read(path).map_err(|e| Error::read(path, e))?;
        Self::parse(path, &bytes)
    }

    /// Parses key PEM; `path` only names the source in errors.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<PrivateKey> {
        let refuse = |reason: String| Error::KeyRefused {
            path: path.to_path_buf(),
            reason,
        };
        if !pem_input::looks_like_pem(bytes) {
            return Err(refuse(format!(
                "not a PEM private key (no -----BEGIN line); {FIX}"
            )));
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
                    "a {other} block is not a key this tool can use; {FIX}"
                )));
            }
        };
        let mut key = Self::from_pkcs8(curve, &pkcs8).map_err(refuse)?;
        key.pem = zeroize::Zeroizing::new(pem_input::encode(block));
        Ok(key)
    }

    fn from_pkcs8(curve: Curve, der: &[u8]) -> std::result::Result<PrivateKey, String> {
        let bad = |e: pkcs8::Error| format!("the key data is damaged ({e}); {FIX}");
        match curve {
            Curve::P256 => {
                use pkcs8::DecodePrivateKey;
                let k = p256::SecretKey::from_pkcs8_der(der).map_err(bad)?;
                from_secret(
                    curve,
                    k.to_pkcs8_der(),
                    k.public_key().to_public_key_der(),
                    k.to_sec1_pem(LineEnding::LF),
                )
                .map_err(|e| e.to_string())
            }
            Curve::P384 => {
                use pkcs8::DecodePrivateKey;
                let k = p384::SecretKey::from_pkcs8_der(der).map_err(bad)?;
                from_secret(
                    curve,
                    k.to_pkcs8_der(),
                    k.public_key().to_public_key_der(),
                    k.to_sec1_pem(LineEnding::LF),
                )
                .map_err(|e| e.to_string())
            }
        }
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
        rcgen::KeyPair::try_from(self.pkcs8_der.as_slice())
            .map_err(|e| Error::Csr(format!("the signing library refused the key: {e}")))
    }
}

/// Colon-separated upper-case hex SHA-256 of a DER SubjectPublicKeyInfo.
pub fn spki_fingerprint(spki_der: &[u8]) -> String {
    colon_hex(&Sha256::digest(spki_der))
}

pub fn colon_hex(bytes: &[u8]) -> String {
    let parts: Vec<String> = bytes.iter().map(|b| format!("{b:02X}")).collect();
    parts.join(":")
}

fn curve_len(curve: Curve) -> usize {
    match curve {
        Curve::P256 => 32,
        Curve::P384 => 48,
    }
}

type Encoded<T> = std::result::Result<T, pkcs8::Error>;
type SpkiEncoded = std::result::Result<pkcs8::Document, pkcs8::spki::Error>;

fn from_secret(
    curve: Curve,
    pkcs8: Encoded<pkcs8::SecretDocument>,
    spki: SpkiEncoded,
    sec1_pem: std::result::Result<zeroize::Zeroizing<String>, p256::elliptic_curve::Error>,
) -> Result<PrivateKey> {
    let internal = |what: &str| Error::Csr(format!("cannot encode the new key as {what}"));
    Ok(PrivateKey {
        curve,
        pkcs8_der: zeroize::Zeroizing::new(
            pkcs8.map_err(|_| internal("PKCS#8"))?.as_bytes().to_vec(),
        ),
        spki_der: spki
            .map_err(|_| internal("SubjectPublicKeyInfo"))?
            .as_bytes()
            .to_vec(),
        pem: sec1_pem.map_err(|_| internal("SEC1 PEM"))?,
    })
}

/// SEC1 (`EC PRIVATE KEY`, RFC 5915): the curve is in its optional parameters, or in an
/// `EC PARAMETERS` block before it (what `openssl ecparam -genkey` without `-noout` writes).
fn sec1_to_pkcs8(
    der: &[u8],
    params_block: Option<ObjectIdentifier>,
) -> std::result::Result<(Curve, Vec<u8>), String> {
    let ec = sec1::EcPrivateKey::from_der(der)
        .map_err(|e| format!("the EC PRIVATE KEY block is damaged ({e}); {FIX}"))?;
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
                    "the key's curve is not named and its {n}-byte size fits no accepted curve; {FIX}"
                ));
            }
        },
    };
    let wrap = |e: p256::elliptic_curve::Error| format!("the key data is damaged ({e}); {FIX}");
    let pkcs8 = match curve {
        Curve::P256 => p256::SecretKey::from_slice(ec.private_key)
            .map_err(wrap)?
            .to_pkcs8_der(),
        Curve::P384 => p384::SecretKey::from_slice(ec.private_key)
            .map_err(wrap)?
            .to_pkcs8_der(),
    }
    .map_err(|e| format!("cannot re-encode the key ({e})"))?;
    Ok((curve, pkcs8.as_bytes().to_vec()))
}

/// PKCS#8 (`PRIVATE KEY`, RFC 5958): algorithm and curve are in its AlgorithmIdentifier.
fn pkcs8_curve(der: &[u8]) -> std::result::Result<(Curve, Vec<u8>), String> {
    let info = pkcs8::PrivateKeyInfoRef::from_der(der)
        .map_err(|e| format!("the PRIVATE KEY block is damaged ({e}); {FIX}"))?;
    let alg = info.algorithm.oid.to_string();
    if alg != OID_EC_PUBLIC_KEY {
        return Err(algorithm_refusal(&alg));
    }
    let curve_oid = info
        .algorithm
        .parameters_oid()
        .map_err(|_| format!("the EC key does not name its curve; {FIX}"))?;
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
