//! `test-connect`: pre-flight, then the staged connection report (issue 5). Also the
//! settings and signal handling `watch` shares.

use std::io::IsTerminal;

use chrono::{DateTime, Utc};
use rumqttc::Publish;
use serde_json::{Value, json};

use super::Ctx;
use super::message::{decode_message, message_json};
use crate::cli::{ConnectArgs, TestConnectArgs};
use crate::credentials;
use crate::error::{Error, Result};
use crate::exit_codes::ExitCode;
use crate::mqtt::topics::{self, TopicChoice};
use crate::mqtt::{self, ConnectSettings, Hints, Observer, StageReport, Subscription, TlsFiles};
use crate::output::{Format, Output, safe};
use crate::profile::{Broker, Profile};

/// Warn about expiry this many days ahead unless the profile says otherwise (SPEC).
const DEFAULT_WARN_DAYS: i64 = 30;

/// Validated settings for a session with this profile: pre-flight passed.
pub struct Prepared {
    pub settings: ConnectSettings,
    pub subs: Vec<Subscription>,
}

/// Pre-flight (files, key match, expiry, credentials) and the subscription list.
pub fn prepare(ctx: &Ctx, a: &ConnectArgs, clean_session: bool) -> Result<Prepared> {
    prepare_with(ctx, a, clean_session, None)
}

/// [`prepare`] with other key and certificate files than the profile's (for
/// `install-cert --test`, which proves a certificate before installing it).
pub fn prepare_with(
    ctx: &Ctx,
    a: &ConnectArgs,
    clean_session: bool,
    key_and_cert: Option<(std::path::PathBuf, std::path::PathBuf)>,
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
        install_ca: ctx.cmd("install-ca FILE"),
        ca_flag: !testing_new,
        broker_flag: !testing_new,
        check_cert: (!testing_new).then(|| ctx.cmd("status")),
    };
    let (key, cert) = key_and_cert.unwrap_or_else(|| (paths.key(), paths.cert()));
    let files = TlsFiles {
        key,
        cert,
        ca: a.ca.clone().unwrap_or_else(|| paths.ca()),
    };
    let now = Utc::now();
    let id = mqtt::preflight(&files, now, &|rest| ctx.cmd(rest), hints.ca_flag)?;
    warn_expiry(ctx, &profile, &id.leaf, now);
    let username = profile
        .username
        .clone()
        .ok_or_else(|| Error::NotInstalled {
            what: "the MQTT username",
            path: paths.settings(),
            fix: format!(
                "set the username Centiloc support gave you with `{}`",
                ctx.cmd("credentials --username NAME")
            ),
        })?;
    let (password, _) = credentials::read_password(&paths)?.ok_or_else(|| Error::NotInstalled {
        what: "the MQTT password",
        path: paths.password(),
        fix: format!(
            "store it with `{}` or set CENTILOC_MQTT_PASSWORD",
            ctx.cmd("credentials")
        ),
    })?;
    let client_id = mqtt::client_id(
        &profile.tenant,
        a.client_id.as_deref().or(profile.client_id.as_deref()),
    )?;
    let choice = TopicChoice {
        kinds: a.topics.clone(),
        encodings: a.encoding.clone(),
        custom: a.topic.clone(),
        share: a.share.clone(),
    };
    let subs = topics::subscriptions(&profile.tenant, &choice)?;
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
            hints,
        },
        subs,
    })
}

fn warn_expiry(ctx: &Ctx, profile: &Profile, leaf: &crate::cert::Certificate, now: DateTime<Utc>) {
    let warn_days = profile
        .expiry
        .warn_days
        .map(i64::from)
        .unwrap_or(DEFAULT_WARN_DAYS);
    let left = leaf.days_left(now);
    if left <= warn_days {
        ctx.out.warn(format!(
            "the client certificate expires {}, on {}: renew now with `{}`",
            expires_in_words(left),
            leaf.not_after.format("%Y-%m-%d %H:%M UTC"),
            ctx.cmd("renew")
        ));
    }
    if leaf.is_not_yet_valid(now) {
        ctx.out.warn(format!(
            "the client certificate is valid only from {}: the broker will refuse it until then",
            leaf.not_before.format("%Y-%m-%d %H:%M UTC")
        ));
    }
}

/// "within 24 hours", "in 1 day", "in 12 days" (whole days left, truncated).
fn expires_in_words(days_left: i64) -> String {
    match days_left {
        i64::MIN..=0 => "within 24 hours".into(),
        1 => "in 1 day".into(),
        n => format!("in {n} days"),
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
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the network runtime: {e}")))
}

pub fn run(ctx: &Ctx, a: TestConnectArgs) -> Result<ExitCode> {
    let format = a.conn.format;
    if a.count > 0 && a.timeout.is_zero() {
        return json_error(
            ctx,
            format,
            Error::Usage(format!(
                "--timeout 0 leaves no time for the {} message(s) of --count: give a timeout (e.g. --timeout 30s), or --count 0 to stop after SUBSCRIBE",
                a.count
            )),
        );
    }
    let p = match prepare(ctx, &a.conn, true) {
        Ok(p) => p,
        Err(e) => return json_error(ctx, format, e),
    };
    let mut report = Report::new(ctx.out, format, &p);
    let rt = runtime()?;
    let result = rt.block_on(mqtt::check(
        &p.settings,
        &p.subs,
        a.count,
        a.timeout,
        shutdown_signal(),
        &mut report,
    ));
    report.finish(&p.settings, &result);
    match result.failure {
        None => Ok(ExitCode::Ok),
        Some(f) => Err(f.into()),
    }
}

/// `--format json` is one document even when the command fails before connecting: it
/// says so (ok false, the exit code and the error) on stdout; the error sentence still
/// goes to stderr. Returns `Err(e)` for `main` to print and exit with.
fn json_error(ctx: &Ctx, format: Format, e: Error) -> Result<ExitCode> {
    if format == Format::Json {
        ctx.out.json(&json!({
            "ok": false,
            "exit_code": e.exit_code().code(),
            "error": e.to_string(),
            "failed_stage": "preflight",
            "stages": [],
            "messages": [],
        }));
    }
    Err(e)
}

/// Connects and subscribes with `key` and `cert` (count 0: no message needed), printing
/// the stages unless `quiet`; every stage that ran is pushed to `stages`. Err is the
/// pre-flight error or the connection failure with its SPEC exit code.
pub fn probe(
    ctx: &Ctx,
    key: std::path::PathBuf,
    cert: std::path::PathBuf,
    quiet: bool,
    stages: &mut Vec<StageReport>,
) -> Result<()> {
    let a = ConnectArgs::defaults();
    let p = prepare_with(ctx, &a, true, Some((key, cert)))?;
    let out = Output {
        quiet: quiet || ctx.out.quiet,
        ..ctx.out
    };
    let mut report = Report::new(out, Format::Text, &p);
    let result = runtime()?.block_on(mqtt::check(
        &p.settings,
        &p.subs,
        0,
        std::time::Duration::ZERO,
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

/// Prints stages and messages as they happen (text), or gathers them (JSON).
struct Report<'a> {
    out: Output,
    format: Format,
    subs: &'a [Subscription],
    stages: Vec<StageReport>,
    messages: Vec<Value>,
    spinner: bool,
}

impl<'a> Report<'a> {
    fn new(out: Output, format: Format, p: &'a Prepared) -> Self {
        let spinner = format == Format::Text && !out.quiet && std::io::stderr().is_terminal();
        if format == Format::Text {
            out.line(format!(
                "Connecting to {} as {} (user {:?})",
                p.settings.broker,
                p.settings.client_id,
                safe(&p.settings.username)
            ));
        }
        Report {
            out,
            format,
            subs: &p.subs,
            stages: Vec::new(),
            messages: Vec::new(),
            spinner,
        }
    }

    fn finish(&self, s: &ConnectSettings, r: &mqtt::CheckResult) {
        match self.format {
            Format::Text => {
                if r.failure.is_none() {
                    self.out.line(format!(
                        "✓ the connection to {} works: mutual TLS, login and subscriptions accepted",
                        s.broker
                    ));
                }
            }
            Format::Json => {
                let code = r.failure.as_ref().map_or(0, |f| f.code.code());
                self.out.json(&json!({
                    "broker": s.broker.to_string(),
                    "client_id": s.client_id,
                    "username": s.username,
                    "ok": r.failure.is_none(),
                    "exit_code": code,
                    "error": r.failure.as_ref().map(|f| f.message.clone()),
                    "failed_stage": r.failure.as_ref().map(|f| f.stage),
                    "stages": self.stages,
                    "messages": self.messages,
                }));
            }
        }
    }
}

impl Observer for Report<'_> {
    fn stage(&mut self, r: &StageReport) {
        if self.format == Format::Text {
            let mark = if r.ok { "✓" } else { "✗" };
            self.out.line(format!(
                "{mark} {:<14} {:>8.1} ms  {}",
                r.stage.label(),
                r.duration_ms,
                safe(&r.detail)
            ));
            if r.ok && r.stage == mqtt::Stage::Subscribe && self.spinner {
                eprintln!("  waiting for messages (Ctrl-C to stop)…");
            }
        }
        self.stages.push(r.clone());
    }

    fn message(&mut self, p: &Publish, received: DateTime<Utc>) {
        let encoding = encoding_for(self.subs, &p.topic);
        let decoded = decode_message(encoding, &p.payload);
        match self.format {
            Format::Text => {
                let body = match &decoded {
                    Ok(d) => d.summary(),
                    Err(e) => format!("cannot decode: {e}"),
                };
                self.out.line(format!(
                    "  message on {} ({} bytes{}): {body}",
                    safe(&p.topic),
                    p.payload.len(),
                    if p.retain { ", retained" } else { "" }
                ));
            }
            Format::Json => {
                self.messages.push(message_json(
                    &p.topic, &p.payload, p.retain, received, &decoded,
                ));
            }
        }
    }
}

/// The encoding of a message: the topic's, else the one given for its subscription.
pub fn encoding_for(subs: &[Subscription], topic: &str) -> Option<mqtt::Encoding> {
    topics::encoding_of(topic).or_else(|| match subs {
        [one] => one.encoding,
        _ => subs
            .iter()
            .find(|s| s.filter == topic || s.filter.ends_with(&format!("/{topic}")))
            .and_then(|s| s.encoding),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_in_words() {
        assert_eq!(expires_in_words(0), "within 24 hours");
        assert_eq!(expires_in_words(1), "in 1 day");
        assert_eq!(expires_in_words(12), "in 12 days");
    }
}
