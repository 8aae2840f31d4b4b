//! `check-expiry --check-broker` (issue 15): the broker's side of the mTLS connection.
//! A TLS handshake only (no client certificate, no MQTT login), with a short timeout,
//! to read the certificate the broker presents and to ask whether the installed
//! `ca-cert.pem` still verifies it for the profile's host name. When Centiloc rotates its
//! broker certificate under a new CA, this is the warning that comes before the data stops.
//!
//! The verifier records webpki's verdict instead of acting on it, so a broker the CA no
//! longer verifies is still read (its dates are reported too) and the handshake goes on
//! far enough to be polite; nothing is sent over the connection.

use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::cert::{self, Certificate};

/// How long the whole probe may take per address (connect, then the handshake).
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// What the broker showed.
#[derive(Debug)]
pub enum Probe {
    /// No TLS handshake: DNS, refused, timeout, or not TLS. The sentence says which.
    Unreachable(String),
    /// The broker's certificate, and why the installed CA does not accept it for this
    /// host name (`None`: it does, or there is no CA file to ask).
    Presented {
        leaf: Box<Certificate>,
        distrust: Option<Distrust>,
    },
}

/// Why the installed CA file does not accept the broker's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Distrust {
    /// Not signed by a CA in ca-cert.pem.
    UnknownIssuer,
    /// Signed, but for another name than the profile's broker host.
    NameMismatch,
    /// Anything else webpki refuses (the words say what); dates are not in here: they
    /// are the expiry verdict's.
    Other(String),
}

/// Connects to `host:port` and reads its certificate, verifying it against `ca_file`.
pub fn probe(host: &str, port: u16, ca_file: &Path, timeout: Duration) -> Probe {
    let addrs = match (host, port).to_socket_addrs() {
        Ok(a) => a.collect::<Vec<_>>(),
        Err(e) => return Probe::Unreachable(format!("cannot resolve {host} ({e})")),
    };
    let mut last = format!("{host} has no address");
    for addr in addrs {
        let sock = match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => s,
            Err(e) => {
                last = format!("cannot connect to {addr}: {}", io_words(&e, timeout));
                continue;
            }
        };
        return handshake(sock, host, ca_file, timeout);
    }
    Probe::Unreachable(last)
}

fn io_words(e: &io::Error, timeout: Duration) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused (nothing listens there)".into(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            format!("no answer within {} s", timeout.as_secs())
        }
        _ => crate::error::io_reason(e),
    }
}

fn handshake(mut sock: TcpStream, host: &str, ca_file: &Path, timeout: Duration) -> Probe {
    let _ = sock.set_read_timeout(Some(timeout));
    let _ = sock.set_write_timeout(Some(timeout));
    let capture = Arc::new(Capture::new(ca_file));
    let provider = capture.provider.clone();
    let config =
        match ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions() {
            Ok(b) => b
                .dangerous()
                .with_custom_certificate_verifier(capture.clone())
                .with_no_client_auth(),
            Err(e) => return Probe::Unreachable(format!("TLS setup failed: {e}")),
        };
    let name = match ServerName::try_from(host.to_owned()) {
        Ok(n) => n,
        Err(_) => return Probe::Unreachable(format!("{host:?} is not a valid host name")),
    };
    let mut conn = match rustls::ClientConnection::new(Arc::new(config), name) {
        Ok(c) => c,
        Err(e) => return Probe::Unreachable(format!("TLS setup failed: {e}")),
    };
    let mut why = None;
    while conn.is_handshaking() && capture.seen().is_none() {
        if let Err(e) = conn.complete_io(&mut sock) {
            why = Some(e);
            break;
        }
    }
    // Say goodbye without waiting for an answer: the probe's time is spent.
    conn.send_close_notify();
    let _ = conn.write_tls(&mut sock);
    match capture.seen() {
        Some((der, distrust)) => match leaf(&der) {
            Ok(leaf) => Probe::Presented {
                leaf: Box::new(leaf),
                distrust,
            },
            Err(e) => Probe::Unreachable(format!("the broker's certificate cannot be read: {e}")),
        },
        None => Probe::Unreachable(match why {
            Some(e)
                if e.kind() == io::ErrorKind::TimedOut || e.kind() == io::ErrorKind::WouldBlock =>
            {
                format!(
                    "the TLS handshake got no answer within {} s",
                    timeout.as_secs()
                )
            }
            Some(e) => format!(
                "the TLS handshake failed ({}); is this the broker's TLS port?",
                tls_words(&e)
            ),
            None => "the broker closed the connection before showing a certificate".into(),
        }),
    }
}

fn tls_words(e: &io::Error) -> String {
    match super::tls::rustls_error(e) {
        Some(r) => super::tls::describe(r),
        None => crate::error::io_reason(e),
    }
}

fn leaf(der: &[u8]) -> Result<Certificate, String> {
    Certificate::from_der(der).or_else(|_| Certificate::from_der_dates_only(der))
}

/// A verifier that records the broker's certificate and webpki's verdict, and lets the
/// handshake go on (signatures are still checked, so the peer holds the key).
#[derive(Debug)]
struct Capture {
    provider: Arc<CryptoProvider>,
    /// `None` when ca-cert.pem is missing or unusable: its own line says so.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    seen: Mutex<Option<(Vec<u8>, Option<Distrust>)>>,
}

impl Capture {
    fn new(ca_file: &Path) -> Capture {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let webpki = cert::load_chain(ca_file).ok().and_then(|cas| {
            let mut roots = RootCertStore::empty();
            for c in &cas {
                roots.add(CertificateDer::from(c.der().to_vec())).ok()?;
            }
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .ok()
        });
        Capture {
            provider,
            webpki,
            seen: Mutex::new(None),
        }
    }

    fn seen(&self) -> Option<(Vec<u8>, Option<Distrust>)> {
        self.seen.lock().ok().and_then(|s| s.clone())
    }
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self.webpki.as_ref().map(|v| {
            v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        });
        let distrust = match verdict {
            None | Some(Ok(_)) => None,
            Some(Err(rustls::Error::InvalidCertificate(c))) => distrust(&c),
            Some(Err(e)) => Some(Distrust::Other(super::tls::describe(&e))),
        };
        if let Ok(mut s) = self.seen.lock() {
            *s = Some((end_entity.to_vec(), distrust));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// webpki's refusal in our terms; dates are left to the expiry verdict.
fn distrust(c: &CertificateError) -> Option<Distrust> {
    match c {
        CertificateError::Expired
        | CertificateError::ExpiredContext { .. }
        | CertificateError::NotValidYet
        | CertificateError::NotValidYetContext { .. } => None,
        CertificateError::UnknownIssuer | CertificateError::BadSignature => {
            Some(Distrust::UnknownIssuer)
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            Some(Distrust::NameMismatch)
        }
        other => Some(Distrust::Other(super::tls::cert_words(other))),
    }
}
