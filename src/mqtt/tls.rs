//! The rustls side of the connection: the client configuration from the profile's three
//! files (Centiloc's CA, our certificate chain, our key), and what a TLS failure means in
//! the user's terms.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{AlertDescription, CertificateError, ClientConfig, RootCertStore};

use crate::cert::Certificate;
use crate::keys::PrivateKey;

/// TLS client settings: trust only `ca` (never the system store: the broker is Centiloc's
/// own PKI), present `chain` signed for `key`.
pub fn client_config(
    ca: &[Certificate],
    chain: &[Certificate],
    key: &PrivateKey,
) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    for c in ca {
        roots
            .add(CertificateDer::from(c.der().to_vec()))
            .map_err(|e| format!("the CA certificate cannot be used as a trust anchor ({e})"))?;
    }
    let chain: Vec<CertificateDer<'static>> = chain
        .iter()
        .map(|c| CertificateDer::from(c.der().to_vec()))
        .collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.pkcs8_der().to_vec()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| format!("the TLS library refused the certificate and key ({e})"))?;
    Ok(Arc::new(config))
}

/// Who a TLS failure points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// Our side does not trust the broker (CA file, hostname, broker certificate dates).
    BrokerCertificate,
    /// The broker refused our certificate (wrong CA, expired, not for this key).
    ClientCertificate,
    /// Anything else in the handshake (versions, ciphers, garbage).
    Handshake,
}

/// The rustls error inside an I/O error from tokio-rustls, if any.
pub fn rustls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

/// What a rustls error means, and a sentence for the user. `host` is the broker name the
/// certificate must match; `ca` the CA file it must chain to.
pub fn explain(err: &rustls::Error, host: &str, ca: &str) -> (Blame, String) {
    use rustls::Error as E;
    match err {
        E::InvalidCertificate(c) => (Blame::BrokerCertificate, broker_cert(c, host, ca)),
        E::AlertReceived(a) if client_cert_alert(*a) => (
            Blame::ClientCertificate,
            format!(
                "the broker {host} rejected the client certificate (TLS alert {a:?}): was it signed by Centiloc for this key, and is it still valid? Check with `centiloc-cert status`"
            ),
        ),
        E::AlertReceived(a) => (
            Blame::Handshake,
            format!(
                "the TLS handshake with {host} failed: the broker sent alert {a:?}; check that the port is the broker's TLS port (8883)"
            ),
        ),
        E::InvalidMessage(_) | E::InappropriateMessage { .. } => (
            Blame::Handshake,
            format!("{host} does not speak TLS on this port: check the port (--broker HOST:8883)"),
        ),
        other => (
            Blame::Handshake,
            format!("the TLS handshake with {host} failed: {other}"),
        ),
    }
}

fn broker_cert(c: &CertificateError, host: &str, ca: &str) -> String {
    match c {
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!(
                "the broker's certificate is not valid for the name {host:?} (hostname mismatch): connect with the name the certificate was issued for (--broker)"
            )
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => format!(
            "the broker {host} presented an expired certificate: tell Centiloc support, or check this machine's clock"
        ),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => format!(
            "the broker {host} presented a certificate that is not valid yet: check this machine's clock"
        ),
        CertificateError::UnknownIssuer | CertificateError::BadSignature => format!(
            "the broker's certificate is not trusted by the CA file {ca}: install Centiloc's current CA with `centiloc-cert install-ca FILE`, or pass --ca FILE"
        ),
        other => format!("the broker {host} presented a certificate we cannot accept ({other:?})"),
    }
}

/// Alerts a server sends when it does not accept the client certificate (RFC 8446 §6.2).
fn client_cert_alert(a: AlertDescription) -> bool {
    matches!(
        a,
        AlertDescription::BadCertificate
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateRevoked
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnknownCA
            | AlertDescription::AccessDenied
            | AlertDescription::CertificateRequired
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_issuer_names_the_ca_file() {
        let (b, m) = explain(
            &rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
            "h",
            "/p/ca-cert.pem",
        );
        assert_eq!(b, Blame::BrokerCertificate);
        assert!(m.contains("/p/ca-cert.pem"), "{m}");
    }

    #[test]
    fn unknown_ca_alert_blames_the_client_certificate() {
        let (b, _) = explain(
            &rustls::Error::AlertReceived(AlertDescription::UnknownCA),
            "h",
            "ca",
        );
        assert_eq!(b, Blame::ClientCertificate);
    }
}
