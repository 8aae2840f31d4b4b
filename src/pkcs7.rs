//! PKCS#7 / CMS certificate bundles (`.p7b`, `.p7c`; RFC 5652 SignedData with no
//! content), as Windows CAs, `openssl crl2pkcs7 -nocrl` and many support desks export a
//! certificate with its chain. Only the `certificates` field is read: a bundle is a bag
//! of certificates, never a signature we rely on.
//!
//! The ASN.1 is RustCrypto's `cms` types (the crate `p12-keystore` already brings in for
//! `export`), so no hand-written DER walking; each certificate found is then parsed by
//! x509-parser like every other certificate of the tool.

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use der::{Decode, Encode};

use crate::cert::Certificate;

/// `1.2.840.113549.1.7.2` (signedData) as DER: its presence near the start tells a DER
/// PKCS#7 bundle from a DER certificate without parsing either.
const SIGNED_DATA_OID: &[u8] = &[
    0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02,
];

/// PEM labels of a PKCS#7 bundle (RFC 7468 §8 says `PKCS7`; `CMS` is the newer name).
pub fn is_pem_label(label: &str) -> bool {
    matches!(label, "PKCS7" | "CMS" | "PKCS #7 SIGNED DATA")
}

/// Does `der` look like a DER ContentInfo of type signedData?
pub fn looks_like(der: &[u8]) -> bool {
    der.first() == Some(&0x30)
        && der.get(..24.min(der.len())).is_some_and(|head| {
            head.windows(SIGNED_DATA_OID.len())
                .any(|w| w == SIGNED_DATA_OID)
        })
}

/// The certificates of a DER PKCS#7 bundle, in the bundle's order. The error text says
/// what is wrong, for the caller to wrap with the file name.
pub fn certificates(der: &[u8]) -> Result<Vec<Certificate>, String> {
    let info = ContentInfo::from_der(der).map_err(|_| {
        "not a valid PKCS#7 bundle (the data is truncated, damaged, or BER rather than DER)"
            .to_string()
    })?;
    if info.content_type != der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2") {
        return Err(format!(
            "a PKCS#7 message of type {}, not a certificate bundle (signedData)",
            info.content_type
        ));
    }
    let signed = info
        .content
        .decode_as::<SignedData>()
        .map_err(|_| "a damaged PKCS#7 bundle (its signedData does not parse)".to_string())?;
    let mut out = Vec::new();
    for (i, choice) in signed
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .enumerate()
    {
        let CertificateChoices::Certificate(c) = choice else {
            continue;
        };
        let bytes = c
            .to_der()
            .map_err(|_| format!("certificate #{} of the bundle cannot be read", i + 1))?;
        out.push(
            Certificate::from_der(&bytes)
                .map_err(|e| format!("certificate #{} of the bundle: {e}", i + 1))?,
        );
    }
    if out.is_empty() {
        return Err("a PKCS#7 bundle without any certificate".into());
    }
    Ok(out)
}
