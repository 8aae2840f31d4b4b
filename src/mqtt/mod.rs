//! The connection to Centiloc's User-MQTT broker: pre-flight checks of the TLS files, then
//! a staged session (DNS, TCP, TLS, CONNECT, SUBSCRIBE, messages) whose every stage is
//! timed and whose every failure is one sentence with the SPEC's exit code.
//!
//! [`check`] is the reusable probe: `test-connect` is a report around it, and
//! `install-cert --test` can run it with the pending key and certificate.

pub mod broker_check;
pub mod message;
pub mod metrics;
pub mod report;
pub mod session;
pub mod setup;
pub mod tls;
pub mod topics;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rumqttc::Publish;
use zeroize::Zeroizing;

use crate::cert::{self, Certificate};
use crate::error::{Error, Result};
use crate::exit_codes::ExitCode;
use crate::fix::Fix;
use crate::keys::PrivateKey;
use crate::profile::Broker;

pub use session::Session;
pub use topics::{Encoding, Subscription};

/// Everything needed to open a session, validated.
pub struct ConnectSettings {
    pub broker: Broker,
    /// The CA file the broker's certificate must chain to (named in trust errors).
    pub ca_file: PathBuf,
    pub tls: Arc<rustls::ClientConfig>,
    pub username: String,
    pub password: Zeroizing<String>,
    /// Tenant-prefixed, as Centiloc requires.
    pub client_id: String,
    /// Off only for `watch --keep-session`.
    pub clean_session: bool,
    /// Limit for each of DNS, TCP, TLS, CONNECT and SUBSCRIBE.
    pub stage_timeout: Duration,
    /// Largest message handed on; a larger one is read past and acknowledged (issue 14).
    pub max_message_size: usize,
    /// What failure sentences may suggest, for the command that prints them.
    pub hints: Hints,
}

/// What a failure sentence may suggest: only what the command that prints it has, with
/// this run's --home and --profile.
#[derive(Debug, Clone)]
pub struct Hints {
    /// The full command line that installs another CA (`centiloc-cert … install-ca FILE`).
    pub install_ca: String,
    /// The command has `--ca FILE` (test-connect, watch; not install-cert --test).
    pub ca_flag: bool,
    /// This run was given `--ca FILE`: the installed CA is not the one that failed.
    pub ca_given: bool,
    /// The command has `--broker HOST[:PORT]`.
    pub broker_flag: bool,
    /// The command line that checks the client certificate in use (`status`), when that
    /// certificate is the installed one (not after install-cert --test refused a new one).
    pub check_cert: Option<String>,
}

impl Hints {
    /// Where the broker address is changed, for "check the name (…)" hints.
    pub fn broker_where(&self) -> &'static str {
        if self.broker_flag {
            "--broker HOST:PORT"
        } else {
            "the broker in profile.toml"
        }
    }
}

/// The stages of a connection, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Dns,
    Tcp,
    Tls,
    Connect,
    Subscribe,
    Messages,
}

impl Stage {
    pub fn label(self) -> &'static str {
        match self {
            Stage::Dns => "DNS",
            Stage::Tcp => "TCP connect",
            Stage::Tls => "TLS handshake",
            Stage::Connect => "MQTT CONNECT",
            Stage::Subscribe => "SUBSCRIBE",
            Stage::Messages => "messages",
        }
    }
}

/// How one stage ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageReport {
    pub stage: Stage,
    pub ok: bool,
    pub duration_ms: f64,
    pub detail: String,
}

impl StageReport {
    pub fn ok(stage: Stage, d: Duration, detail: String) -> Self {
        StageReport {
            stage,
            ok: true,
            duration_ms: ms(d),
            detail,
        }
    }
    pub fn failed(stage: Stage, d: Duration, message: &str) -> Self {
        StageReport {
            stage,
            ok: false,
            duration_ms: ms(d),
            detail: message.to_owned(),
        }
    }
}

pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// Why a session ended or could not start: the stage, one sentence, the exit code.
#[derive(Debug, Clone)]
pub struct Failure {
    pub stage: Stage,
    pub code: ExitCode,
    pub message: String,
    /// Worth retrying as is: the broker unreachable, or a stage that timed out (a broker
    /// that accepts TCP but never speaks TLS, issue 14). Not a refusal or a trust error.
    pub transient: bool,
}

impl Failure {
    pub fn new(stage: Stage, code: ExitCode, message: String) -> Self {
        Failure {
            stage,
            code,
            message,
            transient: code == ExitCode::Unavailable,
        }
    }

    fn timed_out(stage: Stage, limit: Duration) -> Self {
        let (code, why) = match stage {
            Stage::Dns => (ExitCode::Unavailable, "name resolution"),
            Stage::Tcp => (
                ExitCode::Unavailable,
                "TCP connect (a firewall may drop the packets)",
            ),
            Stage::Tls => (ExitCode::Protocol, "the TLS handshake"),
            Stage::Connect => (ExitCode::Protocol, "the broker's CONNACK"),
            _ => (ExitCode::Protocol, "the broker's SUBACK"),
        };
        Failure {
            transient: true,
            ..Failure::new(
                stage,
                code,
                format!(
                    "timed out after {} s waiting for {why}",
                    limit.as_secs_f64()
                ),
            )
        }
    }
}

impl From<Failure> for Error {
    fn from(f: Failure) -> Error {
        Error::Connection {
            message: f.message,
            code: f.code,
        }
    }
}

/// What a probe wants to hear about as it happens.
pub trait Observer {
    fn stage(&mut self, report: &StageReport);
    fn message(&mut self, publish: &Publish, received: DateTime<Utc>);
    /// A message larger than `--max-message-size`, read past and acknowledged.
    fn skipped(&mut self, _skipped: &session::Skipped) {}
}

/// The result of [`check`]: `None` when connected, subscribed and `count` messages came.
pub struct CheckResult {
    pub failure: Option<Failure>,
    pub received: usize,
}

/// Connects, subscribes, waits for `count` messages up to `wait`, and always disconnects.
/// `count == 0` stops after SUBACK (enough to prove a new certificate works).
/// `interrupt` ends the wait early (Ctrl-C); what arrived so far is kept.
pub async fn check(
    s: &ConnectSettings,
    subs: &[Subscription],
    count: usize,
    wait: Duration,
    interrupt: impl Future<Output = ()>,
    obs: &mut dyn Observer,
) -> CheckResult {
    let mut on = |r: &StageReport| obs.stage(r);
    let mut session = match session::open(s, s.tls.clone(), &mut on).await {
        Ok(v) => v,
        Err(f) => {
            return CheckResult {
                failure: Some(f),
                received: 0,
            };
        }
    };
    let filters: Vec<String> = subs.iter().map(|x| x.filter.clone()).collect();
    let t = std::time::Instant::now();
    let sub = tokio::time::timeout(s.stage_timeout, session.subscribe(&filters, s)).await;
    let sub = sub.unwrap_or_else(|_| Err(Failure::timed_out(Stage::Subscribe, s.stage_timeout)));
    match &sub {
        Ok(granted) => {
            let detail = filters
                .iter()
                .zip(granted)
                .map(|(f, q)| format!("{f} (QoS {})", *q as u8))
                .collect::<Vec<_>>()
                .join(", ");
            obs.stage(&StageReport::ok(Stage::Subscribe, t.elapsed(), detail));
        }
        Err(f) => obs.stage(&StageReport::failed(
            Stage::Subscribe,
            t.elapsed(),
            &f.message,
        )),
    }
    if let Err(f) = sub {
        session.disconnect().await;
        return CheckResult {
            failure: Some(f),
            received: 0,
        };
    }
    let t = std::time::Instant::now();
    let mut received = 0;
    let outcome = tokio::select! {
        r = receive(&mut session, count, &mut received, obs) => r,
        _ = tokio::time::sleep(wait) => Err(None),
        _ = interrupt => Err(None),
    };
    let failure = match outcome {
        Ok(()) => None,
        Err(Some(f)) => Some(f),
        Err(None) => Some(Failure::new(
            Stage::Messages,
            ExitCode::TempFail,
            format!(
                "connected and subscribed to {}, but {received} of {count} message(s) arrived within {} s: normal when no item moved; retry with a longer --timeout or when items move",
                s.broker,
                wait.as_secs_f64()
            ),
        )),
    };
    if count > 0 {
        let detail = match &failure {
            None => format!("{received} of {count}"),
            Some(f) => f.message.clone(),
        };
        let report = if failure.is_none() {
            StageReport::ok(Stage::Messages, t.elapsed(), detail)
        } else {
            StageReport::failed(Stage::Messages, t.elapsed(), &detail)
        };
        obs.stage(&report);
    }
    session.disconnect().await;
    CheckResult { failure, received }
}

async fn receive(
    session: &mut Session,
    count: usize,
    received: &mut usize,
    obs: &mut dyn Observer,
) -> std::result::Result<(), Option<Failure>> {
    while *received < count {
        while let Some(p) = session.try_next().map_err(Some)? {
            for s in session.take_skipped() {
                obs.skipped(&s);
            }
            obs.message(&p, Utc::now());
            session.ack(&p);
            *received += 1;
            if *received >= count {
                return Ok(());
            }
        }
        for s in session.take_skipped() {
            obs.skipped(&s);
        }
        session.fill().await.map_err(Some)?;
    }
    Ok(())
}

/// The three TLS files a connection uses: normally the profile's, but `install-cert
/// --test` passes the pending key and certificate, and `--ca` another CA.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub key: PathBuf,
    pub cert: PathBuf,
    pub ca: PathBuf,
}

/// What to do about an expired certificate: with a renewal already pending (its CSR in
/// `pending/` beside the certificate), mail that CSR and install the answer; otherwise
/// start one. A new user who followed "renew, then renew --mail" met "a renewal is
/// already pending" (73) on the day things broke.
fn renewal_steps(cert: &std::path::Path, fix: &dyn Fn(&str) -> String) -> String {
    let pending = cert
        .parent()
        .map(|dir| {
            dir.join(crate::paths::PENDING_DIR)
                .join(crate::paths::CSR_FILE)
        })
        .is_some_and(|csr| csr.exists());
    let install = fix(Fix::InstallCert.args());
    if pending {
        format!(
            "a renewal is already pending: send its CSR to Centiloc support with `{}` (if not sent yet) and install their answer with `{install}`",
            fix(Fix::CsrMail.args())
        )
    } else {
        format!(
            "start a renewal and e-mail its CSR to Centiloc support with `{}` (or `{}` to send it yourself), then install their answer with `{install}`",
            fix(Fix::RenewMail.args()),
            fix(Fix::Renew.args())
        )
    }
}

/// The pre-flight verdict: a TLS configuration and the leaf certificate it presents.
pub struct Identity {
    pub tls: Arc<rustls::ClientConfig>,
    pub leaf: Certificate,
}

/// Checks, before any network traffic, that the files exist and fit together: key matches
/// certificate, certificate not expired (issue 5, item 1). `fix` turns a subcommand into
/// the command line to paste (it carries --home/--profile); `ca_flag` says whether the
/// command has `--ca FILE` to suggest.
pub fn preflight(
    files: &TlsFiles,
    now: DateTime<Utc>,
    fix: &dyn Fn(&str) -> String,
    ca_flag: bool,
) -> Result<Identity> {
    require(&files.key, "the private key", fix("init --force"))?;
    require(
        &files.cert,
        "the client certificate",
        format!(
            "install the certificate Centiloc support sent with `{}`",
            fix(Fix::InstallCert.args())
        ),
    )?;
    require(
        &files.ca,
        "Centiloc's CA certificate",
        format!(
            "download ca-cert.pem from Centiloc and run `{}`{}",
            fix(Fix::InstallCa.args()),
            if ca_flag { ", or pass --ca FILE" } else { "" }
        ),
    )?;
    let key = PrivateKey::from_file(&files.key)?;
    let chain = cert::load_chain(&files.cert)?;
    let ca = cert::load_chain(&files.ca)?;
    let Some(leaf) = chain.first().cloned() else {
        return Err(Error::BadData {
            path: files.cert.clone(),
            reason: "holds no certificate".into(),
        });
    };
    if !leaf.holds_key(key.public_key_der()) {
        return Err(Error::CertKeyMismatch {
            cert: files.cert.clone(),
            key: files.key.clone(),
        });
    }
    if leaf.is_expired(now) {
        return Err(Error::CertExpired {
            path: files.cert.clone(),
            date: crate::time::when(leaf.not_after),
            steps: renewal_steps(&files.cert, fix),
        });
    }
    if let Some(reason) = leaf.client_auth_problem() {
        return Err(Error::BadData {
            path: files.cert.clone(),
            reason,
        });
    }
    let tls = tls::client_config(&ca, &chain, &key).map_err(|reason| Error::BadData {
        path: files.cert.clone(),
        reason,
    })?;
    Ok(Identity { tls, leaf })
}

fn require(path: &Path, what: &'static str, fix: String) -> Result<()> {
    if path.is_file() {
        Ok(())
    } else {
        Err(Error::NotInstalled {
            what,
            path: path.to_path_buf(),
            fix,
        })
    }
}

/// `<tenant>-<8 hex digits>`: unique per run, prefixed as Centiloc requires.
pub fn random_client_id(tenant: &str) -> String {
    let mut b = [0u8; 4];
    // A failing RNG only makes the suffix less unique; the connection still works.
    let _ = getrandom::fill(&mut b);
    format!("{tenant}-{:02x}{:02x}{:02x}{:02x}", b[0], b[1], b[2], b[3])
}

/// The client ID to use: `explicit` (flag or profile) when it passes the one client-ID
/// rule ([`crate::profile::validate_client_id`]: the tenant prefix Centiloc requires, no
/// spaces, at most 128 characters), else a random one with the prefix.
pub fn client_id(tenant: &str, explicit: Option<&str>) -> Result<String> {
    match explicit {
        None => Ok(random_client_id(tenant)),
        Some(id) => {
            crate::profile::validate_client_id(id, tenant)?;
            Ok(id.to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_carry_the_tenant() {
        let a = client_id("acme", None).unwrap();
        assert!(a.starts_with("acme-") && a.len() == 13, "{a}");
        assert_ne!(a, client_id("acme", None).unwrap());
        assert_eq!(client_id("acme", Some("acme-x")).unwrap(), "acme-x");
        assert!(client_id("acme", Some("other")).is_err());
        assert!(client_id("acme", Some("acme x")).is_err());
        assert!(client_id("acme", Some(&format!("acme{}", "x".repeat(125)))).is_err());
    }
}
