//! Setting up a session for a profile: pre-flight (files, key match, expiry,
//! credentials), the settings and subscriptions, the runtime and the signals that end
//! it. Shared by `test-connect`, `watch` and `install-cert --test`.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::report::Report;
use super::topics::{self, TopicChoice};
use super::{ConnectSettings, Hints, StageReport, Subscription, TlsFiles};
use crate::context::Ctx;
use crate::credentials;
use crate::decode::Schemas;
use crate::decode::options::SchemaRequest;
use crate::error::{Error, Result};
use crate::fix::Fix;
use crate::output::{Format, Output};
use crate::profile::{Broker, Profile};
use crate::{expiry, time};

/// What the command line asks of a session (`--broker`, `--ca`, topics, `--client-id`,
/// `--connect-timeout`), before [`prepare`] checks it against the profile.
#[derive(Debug, Clone)]
pub struct Request {
    /// Overrides the profile's broker.
    pub broker: Option<String>,
    /// Overrides the profile's CA certificate file.
    pub ca: Option<PathBuf>,
    pub topics: TopicChoice,
    /// Overrides the profile's client ID.
    pub client_id: Option<String>,
    pub connect_timeout: Duration,
    /// `--proto`, `-I`, `--message`, `--raw`; resolved against the profile's `[decode]`.
    pub schema: SchemaRequest,
    /// `--max-message-size`.
    pub max_message_size: usize,
}

/// Validated settings for a session with this profile: pre-flight passed.
pub struct Prepared {
    pub settings: ConnectSettings,
    pub subs: Vec<Subscription>,
    /// The schema of each topic kind; `None`: protobuf decoded without one.
    pub schemas: Option<Schemas>,
}

/// Pre-flight (files, key match, expiry, credentials) and the subscription list.
pub fn prepare(ctx: &Ctx, a: &Request, clean_session: bool) -> Result<Prepared> {
    prepare_with(ctx, a, clean_session, None)
}

/// [`prepare`] with other key and certificate files than the profile's (for
/// `install-cert --test`, which proves a certificate before installing it).
pub fn prepare_with(
    ctx: &Ctx,
    a: &Request,
    clean_session: bool,
    key_and_cert: Option<(PathBuf, PathBuf)>,
) -> Result<Prepared> {
    let (paths, profile) = ctx.load()?;
    let broker = match &a.broker {
        Some(b) => Broker::parse(b)?,
        None => profile.broker.clone(),
    };
    // install-cert --test has neither --ca nor --broker, and a failure there is about the
    // new certificate, not the installed one `status` checks.
    let testing_new = key_and_cert.is_some();
    let hints = Hints {
        install_ca: ctx.fix(Fix::InstallCa),
        ca_flag: !testing_new,
        ca_given: a.ca.is_some(),
        broker_flag: !testing_new,
        check_cert: (!testing_new).then(|| ctx.fix(Fix::Status)),
    };
    let (key, cert) = key_and_cert.unwrap_or_else(|| (paths.key(), paths.cert()));
    let files = TlsFiles {
        key,
        cert,
        ca: a.ca.clone().unwrap_or_else(|| paths.ca()),
    };
    let now = Utc::now();
    let id = super::preflight(&files, now, &|rest| ctx.cmd(rest), hints.ca_flag)?;
    warn_expiry(ctx, &profile, &id.leaf, now);
    let username = profile
        .username
        .clone()
        .ok_or_else(|| Error::NotInstalled {
            what: "the MQTT username",
            path: paths.settings(),
            fix: format!(
                "set the username Centiloc support gave you with `{}`",
                ctx.fix(Fix::Username)
            ),
        })?;
    let (password, _) = credentials::read_password(&paths)?.ok_or_else(|| Error::NotInstalled {
        what: "the MQTT password",
        path: paths.password(),
        fix: format!(
            "store it with `{}` or set CENTILOC_MQTT_PASSWORD",
            ctx.fix(Fix::Credentials)
        ),
    })?;
    let client_id = super::client_id(
        &profile.tenant,
        a.client_id.as_deref().or(profile.client_id.as_deref()),
    )?;
    let subs = topics::subscriptions(&profile.tenant, &a.topics)?;
    let schemas = a.schema.resolve(&profile.decode, &paths.dir)?;
    Ok(Prepared {
        settings: ConnectSettings {
            broker,
            ca_file: files.ca,
            tls: id.tls,
            username,
            password,
            client_id,
            clean_session,
            stage_timeout: a.connect_timeout,
            max_message_size: a.max_message_size,
            hints,
        },
        subs,
        schemas,
    })
}

/// The same limits and verdict as `check-expiry` and `status` (the profile's
/// `[expiry] warn_days`, else the default): all three agree on what is "soon".
fn warn_expiry(ctx: &Ctx, profile: &Profile, leaf: &crate::cert::Certificate, now: DateTime<Utc>) {
    let limits = expiry::Limits::for_profile(profile);
    let v = expiry::verdict(leaf.not_before, leaf.not_after, now, limits);
    if v.days_left <= i64::from(limits.warn_days) {
        let soon = if v.days_left <= 0 {
            format!(
                "within 24 hours ({} left)",
                time::distance(leaf.not_after, now)
            )
        } else {
            format!("in {}", time::distance(leaf.not_after, now))
        };
        ctx.out.warn(format!(
            "the client certificate expires {soon}, on {}: renew now with `{}`",
            time::when(leaf.not_after),
            ctx.fix(Fix::Renew)
        ));
    }
    if v.not_yet_valid {
        ctx.out.warn(format!(
            "the client certificate is valid only from {}: the broker will refuse it until then",
            time::when(leaf.not_before)
        ));
    }
}

/// Resolves on Ctrl-C or SIGTERM, whichever comes first.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
    }
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    fd_headroom().map_err(Error::Runtime)?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}

/// tokio's runtime needs about five file descriptors and panics (instead of returning an
/// error) when the one for its signal pipe cannot be had: a user's low `ulimit -n` must
/// get a sentence, not "internal error", so make sure six can be opened first.
fn fd_headroom() -> std::io::Result<()> {
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(std::os::unix::net::UnixStream::pair()?);
    }
    Ok(())
}

/// Connects and subscribes with `key` and `cert` (count 0: no message needed), printing
/// the stages unless `quiet`; every stage that ran is pushed to `stages`. Err is the
/// pre-flight error or the connection failure with its SPEC exit code.
pub fn probe(
    ctx: &Ctx,
    a: &Request,
    key: PathBuf,
    cert: PathBuf,
    quiet: bool,
    stages: &mut Vec<StageReport>,
) -> Result<()> {
    let p = prepare_with(ctx, a, true, Some((key, cert)))?;
    let out = Output {
        quiet: quiet || ctx.out.quiet,
        ..ctx.out
    };
    let mut report = Report::new(out, Format::Text, &p);
    let result = runtime()?.block_on(super::check(
        &p.settings,
        &p.subs,
        0,
        Duration::ZERO,
        shutdown_signal(),
        &mut report,
    ));
    report.finish(&p.settings, &result);
    stages.append(&mut report.stages);
    match result.failure {
        None => Ok(()),
        Some(f) => Err(f.into()),
    }
}
