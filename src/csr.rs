//! The certificate signing request Centiloc support signs. Subject rules from Centiloc's
//! User-MQTT documentation: O = company, CN = tenant ID, emailAddress = life-cycle contact;
//! C, ST, L, OU optional. String types follow what `openssl req` writes: C as
//! PrintableString (RFC 5280: countryName is PrintableString), emailAddress as IA5String
//! (PKCS#9), the rest UTF8String.

use rcgen::{CertificateParams, DistinguishedName, DnType, DnValue};

use crate::error::{Error, Result};
use crate::keys::PrivateKey;
use crate::profile::Profile;

/// PKCS#9 emailAddress, 1.2.840.113549.1.9.1.
const OID_EMAIL_ADDRESS: [u64; 7] = [1, 2, 840, 113549, 1, 9, 1];

/// The subject fields, in the order openssl prints them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub country: Option<String>,
    pub state: Option<String>,
    pub locality: Option<String>,
    pub organization: String,
    pub org_unit: Option<String>,
    pub common_name: String,
    pub email: String,
}

impl Subject {
    pub fn of(profile: &Profile) -> Subject {
        Subject {
            country: profile.country.as_ref().map(|c| c.to_ascii_uppercase()),
            state: profile.state.clone(),
            locality: profile.locality.clone(),
            organization: profile.organization.clone(),
            org_unit: profile.org_unit.clone(),
            common_name: profile.tenant.clone(),
            email: profile.email.clone(),
        }
    }

    /// `/C=FR/O=Centiloc/CN=centiloc/emailAddress=me@example.com`, openssl's one-line form.
    pub fn openssl_line(&self) -> String {
        self.fields()
            .iter()
            .map(|(k, v)| format!("/{k}={}", v.replace('\\', "\\\\").replace('/', "\\/")))
            .collect()
    }

    fn fields(&self) -> Vec<(&'static str, &str)> {
        let present = |v: &Option<String>| -> bool { v.as_deref().is_some_and(|v| !v.is_empty()) };
        let mut out = Vec::new();
        for (k, v) in [
            ("C", &self.country),
            ("ST", &self.state),
            ("L", &self.locality),
        ] {
            if present(v) {
                out.push((k, v.as_deref().unwrap_or_default()));
            }
        }
        out.push(("O", self.organization.as_str()));
        if present(&self.org_unit) {
            out.push(("OU", self.org_unit.as_deref().unwrap_or_default()));
        }
        out.push(("CN", self.common_name.as_str()));
        out.push(("emailAddress", self.email.as_str()));
        out
    }

    fn distinguished_name(&self) -> Result<DistinguishedName> {
        let mut dn = DistinguishedName::new();
        for (k, v) in self.fields() {
            let bad = |e: rcgen::Error| Error::Csr(format!("subject field {k} {v:?}: {e}"));
            let (ty, value) = match k {
                "C" => (
                    DnType::CountryName,
                    DnValue::PrintableString(v.try_into().map_err(bad)?),
                ),
                "ST" => (DnType::StateOrProvinceName, DnValue::Utf8String(v.into())),
                "L" => (DnType::LocalityName, DnValue::Utf8String(v.into())),
                "O" => (DnType::OrganizationName, DnValue::Utf8String(v.into())),
                "OU" => (
                    DnType::OrganizationalUnitName,
                    DnValue::Utf8String(v.into()),
                ),
                "CN" => (DnType::CommonName, DnValue::Utf8String(v.into())),
                _ => (
                    DnType::CustomDnType(OID_EMAIL_ADDRESS.to_vec()),
                    DnValue::Ia5String(v.try_into().map_err(bad)?),
                ),
            };
            dn.push(ty, value);
        }
        Ok(dn)
    }
}

/// A PEM CSR for `subject`, signed by `key` (ecdsa-with-SHA256 for P-256, SHA384 for P-384,
/// as rcgen picks from the key's curve).
pub fn build(key: &PrivateKey, subject: &Subject) -> Result<String> {
    let mut params = CertificateParams::default();
    // The default params carry a placeholder CN; start from an empty subject.
    params.distinguished_name = subject.distinguished_name()?;
    let signing = key.signing_key()?;
    let csr = params
        .serialize_request(&signing)
        .map_err(|e| Error::Csr(e.to_string()))?;
    csr.pem().map_err(|e| Error::Csr(e.to_string()))
}

/// The DER SubjectPublicKeyInfo a PEM CSR file carries, to tell whether it was made
/// from a given key; `path` only names the file in errors.
pub fn public_key_of(path: &std::path::Path, bytes: &[u8]) -> Result<Vec<u8>> {
    use x509_parser::prelude::FromDer;
    let bad = |reason: String| Error::BadData {
        path: path.to_path_buf(),
        reason,
    };
    let blocks = crate::pem_input::blocks(path, bytes)?;
    let block = blocks
        .iter()
        .find(|b| b.tag() == "CERTIFICATE REQUEST" || b.tag() == "NEW CERTIFICATE REQUEST")
        .ok_or_else(|| bad("no CERTIFICATE REQUEST block".into()))?;
    let (_, csr) =
        x509_parser::certification_request::X509CertificationRequest::from_der(block.contents())
            .map_err(|e| bad(format!("not a valid CSR ({e})")))?;
    Ok(csr.certification_request_info.subject_pki.raw.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Curve;
    use x509_parser::prelude::*;

    fn subject() -> Subject {
        Subject {
            country: Some("FR".into()),
            state: None,
            locality: Some("Paris".into()),
            organization: "Demo Corp".into(),
            org_unit: None,
            common_name: "demo".into(),
            email: "me@example.com".into(),
        }
    }

    #[test]
    fn openssl_line_orders_fields_like_openssl() {
        assert_eq!(
            subject().openssl_line(),
            "/C=FR/L=Paris/O=Demo Corp/CN=demo/emailAddress=me@example.com"
        );
    }

    #[test]
    fn csr_parses_back_with_x509_parser_and_verifies() {
        let key = PrivateKey::generate(Curve::P256).unwrap();
        let pem = build(&key, &subject()).unwrap();
        let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
        let (_, csr) = X509CertificationRequest::from_der(&block.contents).unwrap();
        csr.verify_signature().unwrap();
        let info = &csr.certification_request_info;
        assert_eq!(
            info.subject.to_string(),
            "C=FR, L=Paris, O=Demo Corp, CN=demo, Email=me@example.com"
        );
        assert_eq!(info.subject_pki.raw, key.public_key_der());
    }
}
