//! The rustls side of the connection: the client configuration from the profile's three
//! files (Centiloc's CA, our certificate chain, our key), and what a TLS failure means in
//! the user's terms.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{AlertDescription, CertificateError, ClientConfig, RootCertStore};

use crate::cert::Certificate;
use crate::keys::PrivateKey;

pub use super::Hints;

/// TLS client settings: trust only `ca` (never the system store: the broker is Centiloc's
/// own PKI), present `chain` signed for `key`.
///
/// The chain goes through a fixed client-certificate resolver rather than
/// `with_client_auth_cert`: that one checks the key against the certificate by parsing
/// it with webpki, which rejects X.509 version 1 certificates, what the plain
/// `openssl x509 -req` recipe makes (issue 11). Presenting a certificate needs no parse,
/// and brokers (mosquitto/OpenSSL) accept version 1; the key match is checked by our own
/// code instead, here and in the pre-flight.
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
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let identity = certified_key(&provider, chain, key)?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(identity)));
    Ok(Arc::new(config))
}

/// The chain and the signing key rustls presents, after our own check that the leaf
/// holds `key` (the check rustls would do through webpki).
fn certified_key(
    provider: &CryptoProvider,
    chain: &[Certificate],
    key: &PrivateKey,
) -> Result<CertifiedKey, String> {
    match chain.first() {
        Some(leaf) if leaf.holds_key(key.public_key_der()) => {}
        Some(_) => {
            return Err("the private key does not belong to the certificate".into());
        }
        None => return Err("there is no certificate to present".into()),
    }
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.pkcs8_der().to_vec()));
    let signer = provider
        .key_provider
        .load_private_key(der)
        .map_err(|e| format!("the TLS library refused the private key: {}", describe(&e)))?;
    let chain = chain
        .iter()
        .map(|c| CertificateDer::from(c.der().to_vec()))
        .collect();
    Ok(CertifiedKey::new(chain, signer))
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
/// certificate must match; `ca` the CA file it must chain to; `hints` what the command
/// that prints the sentence can suggest.
pub fn explain(err: &rustls::Error, host: &str, ca: &str, hints: &Hints) -> (Blame, String) {
    use rustls::Error as E;
    match err {
        E::InvalidCertificate(c) => (Blame::BrokerCertificate, broker_cert(c, host, ca, hints)),
        E::AlertReceived(a) if client_cert_alert(*a) => (
            Blame::ClientCertificate,
            format!(
                "the broker {host} rejected the client certificate (TLS alert \"{}\"): was it signed by Centiloc for this key, and is it still valid?{}",
                alert_words(*a),
                hints
                    .check_cert
                    .as_ref()
                    .map(|c| format!(" Check with `{c}`"))
                    .unwrap_or_default()
            ),
        ),
        E::AlertReceived(a) => (
            Blame::Handshake,
            format!(
                "the TLS handshake with {host} failed: the broker sent the alert \"{}\"; check that the port is the broker's TLS port (8883)",
                alert_words(*a)
            ),
        ),
        E::InvalidMessage(_) | E::InappropriateMessage { .. } => (
            Blame::Handshake,
            format!(
                "{host} does not speak TLS on this port: check the port ({}; Centiloc's is 8883)",
                hints.broker_where()
            ),
        ),
        other => (
            Blame::Handshake,
            format!("the TLS handshake with {host} failed: {}", describe(other)),
        ),
    }
}

/// A rustls error as a plain phrase. rustls's own Display prints some variants with
/// Debug (`invalid peer certificate: Other(OtherError(UnsupportedCertVersion))`), which
/// must never reach a user.
pub fn describe(err: &rustls::Error) -> String {
    use rustls::Error as E;
    match err {
        E::InvalidCertificate(c) => format!("the certificate cannot be used: {}", cert_words(c)),
        E::AlertReceived(a) => format!("the peer sent the TLS alert \"{}\"", alert_words(*a)),
        E::PeerIncompatible(_) => {
            "the broker and this tool have no TLS version, cipher suite or signature scheme in common".into()
        }
        E::PeerMisbehaved(_) => "the broker broke the TLS protocol".into(),
        // rustls prints these with its enum names ("InvalidContentType").
        E::InvalidMessage(_) | E::InappropriateMessage { .. } => {
            "the peer does not speak TLS there, or sent damaged TLS data".into()
        }
        E::InvalidCertRevocationList(_) => "a certificate revocation list is invalid".into(),
        E::InconsistentKeys(_) => {
            "the private key does not belong to the certificate (or the TLS library cannot use it)"
                .into()
        }
        E::General(s) => s.clone(),
        E::Other(o) => o.to_string(),
        other => other.to_string(),
    }
}

/// A certificate problem as a phrase ("it has expired"). Unknown ones keep rustls's or
/// webpki's name inside a plain sentence.
pub fn cert_words(c: &CertificateError) -> String {
    match c {
        CertificateError::BadEncoding => "it is not a valid DER certificate".into(),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "it has expired".into()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "it is not valid yet".into()
        }
        CertificateError::Revoked => "it has been revoked".into(),
        CertificateError::UnknownIssuer => "it was not signed by a trusted CA".into(),
        CertificateError::BadSignature => "its signature does not verify".into(),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "it is not valid for this host name".into()
        }
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "its extended key usage does not allow this use".into()
        }
        CertificateError::UnhandledCriticalExtension => {
            "it has a critical extension the TLS library does not support".into()
        }
        CertificateError::Other(o) => webpki_words(&o.to_string()),
        other => format!("the TLS library refused it ({})", plain(&other.to_string())),
    }
}

/// webpki's errors print as their variant names.
fn webpki_words(name: &str) -> String {
    match name {
        "UnsupportedCertVersion" => "it is not an X.509 version 3 certificate, which the TLS library (rustls/webpki) requires of the certificate it verifies".into(),
        "UnsupportedCriticalExtension" => {
            "it has a critical extension the TLS library does not support".into()
        }
        n if n.starts_with("UnsupportedSignatureAlgorithm") => {
            "it is signed with an algorithm the TLS library does not support".into()
        }
        n if n.starts_with("MissingOrMalformedExtensions") => {
            "its extensions are missing or malformed".into()
        }
        n if n.starts_with("BadDer") => "it is not a valid DER certificate".into(),
        other => format!("the TLS library refused it ({})", plain(other)),
    }
}

/// Debug-looking text made plain: `Other(OtherError(X))` becomes `X`.
fn plain(text: &str) -> String {
    let mut t = text;
    for wrapper in ["Other(", "OtherError("] {
        if let Some(rest) = t.strip_prefix(wrapper) {
            t = rest.strip_suffix(')').unwrap_or(rest);
        }
    }
    t.to_owned()
}

fn broker_cert(c: &CertificateError, host: &str, ca: &str, hints: &Hints) -> String {
    match c {
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!(
                "the broker's certificate is not valid for the name {host:?} (hostname mismatch): connect with the name the certificate was issued for ({})",
                hints.broker_where()
            )
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => format!(
            "the broker {host} presented an expired certificate: tell Centiloc support, or check this machine's clock"
        ),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => format!(
            "the broker {host} presented a certificate that is not valid yet: check this machine's clock"
        ),
        CertificateError::UnknownIssuer | CertificateError::BadSignature if hints.ca_given => {
            format!(
                "the broker's certificate is not signed by the CA in {ca} (given with --ca): pass the CA file that signed the broker's certificate, or leave out --ca to use the profile's"
            )
        }
        CertificateError::UnknownIssuer | CertificateError::BadSignature => format!(
            "the broker's certificate is not trusted by the CA file {ca}: install Centiloc's current CA with `{}`{}",
            hints.install_ca,
            if hints.ca_flag {
                ", or pass --ca FILE"
            } else {
                ""
            }
        ),
        other => format!(
            "the broker {host} presented a certificate we cannot accept: {}",
            cert_words(other)
        ),
    }
}

/// A TLS alert in words, as RFC 8446 §6 names it: `UnknownCA` is "unknown CA",
/// `BadCertificate` "bad certificate" (rustls only offers its enum names).
pub fn alert_words(a: AlertDescription) -> String {
    let name = format!("{a:?}");
    if name.contains('(') {
        return format!("number {}", u8::from(a));
    }
    let mut out = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
        let prev_lower = i > 0 && chars[i - 1].is_lowercase();
        if i > 0 && c.is_uppercase() && (prev_lower || next_lower) {
            out.push(' ');
        }
        out.push(c);
    }
    // Words stay capitalised only when they are acronyms (CA, SCT).
    out.split(' ')
        .map(|w| match w.chars().nth(1) {
            Some(c) if c.is_uppercase() => w.to_owned(),
            _ => w.to_lowercase(),
        })
        .collect::<Vec<_>>()
        .join(" ")
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
    fn alerts_in_words() {
        assert_eq!(alert_words(AlertDescription::UnknownCA), "unknown CA");
        assert_eq!(
            alert_words(AlertDescription::BadCertificate),
            "bad certificate"
        );
        assert_eq!(alert_words(AlertDescription::Unknown(200)), "number 200");
    }

    #[test]
    fn unknown_issuer_names_the_ca_file() {
        let (b, m) = explained(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert_eq!(b, Blame::BrokerCertificate);
        assert!(m.contains("/p/ca-cert.pem"), "{m}");
    }

    #[test]
    fn unknown_ca_alert_blames_the_client_certificate() {
        let (b, _) = explained(rustls::Error::AlertReceived(AlertDescription::UnknownCA));
        assert_eq!(b, Blame::ClientCertificate);
    }

    /// What [`explain`] tells about `err` from host `h`, with CA file `/p/ca-cert.pem`.
    fn explained(err: rustls::Error) -> (Blame, String) {
        explain(&err, "h", "/p/ca-cert.pem", &hints())
    }

    fn hints() -> Hints {
        Hints {
            install_ca: "centiloc-cert --profile p install-ca FILE".into(),
            ca_flag: false,
            ca_given: false,
            broker_flag: false,
            check_cert: None,
        }
    }

    #[test]
    fn hints_fit_the_command() {
        let (_, m) = explained(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert!(
            m.contains("`centiloc-cert --profile p install-ca FILE`"),
            "{m}"
        );
        assert!(!m.contains("--ca"), "{m}");
        let (_, m) = explained(rustls::Error::AlertReceived(AlertDescription::UnknownCA));
        assert!(!m.contains("status"), "{m}");
    }

    #[derive(Debug)]
    struct Named(&'static str);
    impl std::fmt::Display for Named {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Named {}

    #[test]
    fn no_debug_text_reaches_the_user() {
        let other = |n| {
            rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(
                std::sync::Arc::new(Named(n)),
            )))
        };
        let d = describe(&other("UnsupportedCertVersion"));
        assert!(d.contains("version 3") && !d.contains("Other"), "{d}");
        let d = describe(&other("SomethingNew"));
        assert_eq!(
            d,
            "the certificate cannot be used: the TLS library refused it (SomethingNew)"
        );
        let (_, m) = explained(other("SomethingNew"));
        assert!(!m.contains("Other("), "{m}");
        assert!(!describe(&rustls::Error::General("x".into())).contains("unexpected"));
    }
}
