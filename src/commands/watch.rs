//! `watch`: the `test-connect` session kept open, as a service (issue 12, item 4). Every
//! message printed as it arrives; reconnection with capped exponential backoff and jitter,
//! the cause logged in words; the key, certificate, CA, password and profile read again
//! before every reconnect and on SIGHUP, so a promoted renewal is used without a restart;
//! a local certificate that has expired ends it with 77 and the renewal steps; clean
//! DISCONNECT on SIGINT/SIGTERM; with `--metrics FILE`, a Prometheus textfile of what
//! arrived, for alerting when data stops flowing.

use std::pin::Pin;
use std::time::Duration;

use chrono::Utc;
use rumqttc::Publish;
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::cli::WatchArgs;
use crate::context::Ctx;
use crate::decode::Schemas;
use crate::error::{Error, Result};
use crate::exit_codes::ExitCode;
use crate::mqtt::message::{
    decode_message, schema_for, stamp, write_message_json, write_undecodable,
};
use crate::mqtt::metrics::Metrics;
use crate::mqtt::setup::{Prepared, Request, prepare, runtime, shutdown_signal};
use crate::mqtt::topics::encoding_for;
use crate::mqtt::{self, Failure, Session, Subscription};
use crate::output::{Format, Output, safe};

const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub fn run(ctx: &Ctx, a: WatchArgs) -> Result<ExitCode> {
    let w = Watch {
        ctx,
        request: super::session_request(&a.conn),
        clean_session: !a.keep_session,
        format: a.conn.format,
        count: a.count,
    };
    let mut metrics = a
        .metrics
        .map(|file| Metrics::new(file, &ctx.profile, Utc::now()));
    // A metrics file that cannot be written is said at start, before anything else.
    if let Some(m) = &mut metrics {
        m.write()?;
    }
    let ran = w
        .prepare(ctx)
        .and_then(|p| runtime()?.block_on(w.run(p, &mut metrics)));
    if let Some(m) = &mut metrics {
        m.disconnected();
        refresh(m);
    }
    ran.map(|()| ExitCode::Ok)
}

/// What `watch` was asked for; the files behind it are read again by [`Watch::prepare`].
struct Watch<'a> {
    ctx: &'a Ctx,
    request: Request,
    clean_session: bool,
    format: Format,
    count: u64,
}

type Shutdown = Pin<Box<dyn Future<Output = ()>>>;

/// SIGHUP, when it can be listened to (it always can on Linux).
async fn hangup(hup: &mut Option<Signal>) {
    match hup {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// What ended one connection.
enum Ended {
    /// `--count` reached, or a signal.
    Stop,
    /// Standard output failed (its reader went away, or a full disk): nothing more can be
    /// handed on. `main` reports it (74), or nothing when the reader left.
    OutputGone,
    /// SIGHUP: read the files again and reconnect now.
    Reload,
    /// The connection failed: wait, then read the files again and reconnect.
    Lost(Failure),
}

impl Watch<'_> {
    /// Pre-flight with the files as they are now. A certificate that has expired is 77
    /// with the renewal steps, so that systemd's `Restart=on-failure` tries again later
    /// rather than a loop the broker refuses forever (issue 12).
    fn prepare(&self, ctx: &Ctx) -> Result<Prepared> {
        prepare(ctx, &self.request, self.clean_session).map_err(|e| match e {
            Error::CertExpired { .. } => Error::Connection {
                message: format!(
                    "{e}; watch stops (exit 77) so that systemd's Restart=on-failure starts it again later, with the new certificate once it is installed"
                ),
                code: ExitCode::NoPerm,
            },
            e => e,
        })
    }

    /// Reads the files again before a reconnect. Expiry warnings were said at start: not
    /// again at every reconnect. A profile caught half-changed (another command writing
    /// it) keeps the previous settings for this attempt.
    fn reload(&self, p: &mut Prepared) -> Result<()> {
        let quiet = Ctx {
            home: self.ctx.home.clone(),
            home_flag: self.ctx.home_flag.clone(),
            profile: self.ctx.profile.clone(),
            out: Output {
                quiet: true,
                ..self.ctx.out
            },
        };
        match self.prepare(&quiet) {
            Ok(fresh) => *p = fresh,
            Err(e) if e.exit_code() == ExitCode::NoPerm => return Err(e),
            Err(e) => self
                .ctx
                .out
                .warn(format!("{e}; reconnecting with the files read before")),
        }
        Ok(())
    }

    async fn run(&self, mut p: Prepared, metrics: &mut Option<Metrics>) -> Result<()> {
        let mut shutdown: Shutdown = Box::pin(shutdown_signal());
        let mut hup = signal(SignalKind::hangup()).ok();
        let mut printer = Printer::new(self.format, self.count);
        let mut connected_once = false;
        let mut attempt: u32 = 0;
        loop {
            let filters: Vec<String> = p.subs.iter().map(|x| x.filter.clone()).collect();
            let s = &p.settings;
            let opened = tokio::select! {
                r = open_and_subscribe(s, &filters) => r,
                _ = &mut shutdown => return Ok(()),
            };
            let why = match opened {
                Ok(mut session) => {
                    attempt = 0;
                    self.connected(s, &session, filters.len(), connected_once);
                    if let Some(m) = metrics {
                        m.connected(connected_once);
                        refresh(m);
                    }
                    connected_once = true;
                    let on = Decoding {
                        subs: &p.subs,
                        schemas: p.schemas.as_ref(),
                    };
                    let ended = pump(
                        &mut session,
                        &mut printer,
                        &on,
                        metrics,
                        &mut shutdown,
                        &mut hup,
                    )
                    .await;
                    if let Some(m) = metrics {
                        m.disconnected();
                        refresh(m);
                    }
                    match self.close(session, ended, s, &mut printer).await {
                        Next::Exit => return Ok(()),
                        Next::Reload => {
                            self.reload(&mut p)?;
                            continue;
                        }
                        Next::Retry(f) => f,
                    }
                }
                // Before the first success, a refusal or a TLS/config problem will not
                // fix itself: stop with its exit code. A broker that is down, or that
                // accepts TCP but stalls (issue 14), is waited for. Afterwards, keep
                // trying: the broker may be restarting, or waiting for our renewal.
                Err(f) if !connected_once && !f.transient => return Err(f.into()),
                Err(f) => f,
            };
            let wait = backoff(attempt);
            attempt = attempt.saturating_add(1);
            self.ctx.out.warn(format!(
                "{}; reconnecting in {:.1} s",
                why.message,
                wait.as_secs_f64()
            ));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {},
                _ = hangup(&mut hup) => {},
                _ = &mut shutdown => return Ok(()),
            }
            self.reload(&mut p)?;
        }
    }

    /// Closes the connection as `ended` asks; what the loop does next.
    async fn close(
        &self,
        session: Session,
        ended: Ended,
        s: &mqtt::ConnectSettings,
        printer: &mut Printer,
    ) -> Next {
        match ended {
            Ended::Stop => {
                session.disconnect().await;
                self.ctx.out.note(format!("disconnected from {}", s.broker));
                Next::Exit
            }
            Ended::OutputGone => {
                session.disconnect().await;
                Next::Exit
            }
            Ended::Reload => {
                session.disconnect().await;
                self.ctx.out.note(format!(
                    "SIGHUP: disconnected from {}, reading the key, certificate, CA, password and profile again",
                    s.broker
                ));
                Next::Reload
            }
            Ended::Lost(f) => {
                printer.connection_lost();
                Next::Retry(f)
            }
        }
    }

    fn connected(&self, s: &mqtt::ConnectSettings, session: &Session, topics: usize, again: bool) {
        let verb = if again {
            "reconnected to"
        } else {
            "connected to"
        };
        self.ctx.out.note(format!(
            "{verb} {} as {}, subscribed to {topics} topic(s){}",
            s.broker,
            s.client_id,
            if session.session_present {
                ", session resumed"
            } else {
                ""
            }
        ));
    }
}

/// What the connection loop does after a connection ended.
enum Next {
    Exit,
    /// SIGHUP: read the files again and reconnect at once.
    Reload,
    /// Wait (backoff), read the files again and reconnect.
    Retry(Failure),
}

/// How to decode what arrives: the encoding by topic, the schema by topic kind.
struct Decoding<'a> {
    subs: &'a [Subscription],
    schemas: Option<&'a Schemas>,
}

async fn open_and_subscribe(
    s: &mqtt::ConnectSettings,
    filters: &[String],
) -> Result<Session, Failure> {
    let mut session = mqtt::session::open(s, s.tls.clone(), &mut |_| {}).await?;
    match tokio::time::timeout(s.stage_timeout, session.subscribe(filters, s)).await {
        Ok(Ok(_)) => Ok(session),
        Ok(Err(f)) => {
            session.disconnect().await;
            Err(f)
        }
        Err(_) => {
            session.disconnect().await;
            Err(Failure::new(
                mqtt::Stage::Subscribe,
                ExitCode::Protocol,
                format!("{} did not answer SUBSCRIBE in time", s.broker),
            ))
        }
    }
}

/// Prints messages until the connection fails, a signal arrives or the output fails. A
/// message is acknowledged only once its line reached stdout: one that could not be
/// handed on is redelivered to the next `watch --keep-session` (issue 14).
async fn pump(
    session: &mut Session,
    printer: &mut Printer,
    on: &Decoding<'_>,
    metrics: &mut Option<Metrics>,
    shutdown: &mut Shutdown,
    hup: &mut Option<Signal>,
) -> Ended {
    match pump_until(session, printer, on, metrics, shutdown, hup).await {
        Ok(e) => e,
        Err(f) => Ended::Lost(f),
    }
}

async fn pump_until(
    session: &mut Session,
    printer: &mut Printer,
    on: &Decoding<'_>,
    metrics: &mut Option<Metrics>,
    shutdown: &mut Shutdown,
    hup: &mut Option<Signal>,
) -> Result<Ended, Failure> {
    loop {
        while let Some(p) = session.try_next()? {
            report_skipped(session);
            printer.print(p, on, metrics.as_mut());
            if printer.done() {
                if printer.flush(session).is_err() {
                    return Ok(Ended::OutputGone);
                }
                // Send the PUBACKs of what was printed before DISCONNECT.
                session.fill_acks().await?;
                return Ok(Ended::Stop);
            }
        }
        report_skipped(session);
        // Flush once per batch read from the socket, not per message: output keeps up
        // with the broker, and a pipe reader still sees each batch at once. A failed
        // write ends the run: `main` reports it (74), or nothing when the reader left.
        if printer.flush(session).is_err() {
            return Ok(Ended::OutputGone);
        }
        // Checked per batch as well as by the timer below: under a steady flow of
        // messages the timer's branch may never be the one chosen.
        let next_write = match metrics {
            Some(m) if m.next_write() <= std::time::Instant::now() => {
                refresh(m);
                Some(m.next_write())
            }
            Some(m) => Some(m.next_write()),
            None => None,
        };
        tokio::select! {
            r = session.fill() => r?,
            _ = until(next_write) => {},
            _ = &mut *shutdown => return Ok(Ended::Stop),
            _ = hangup(hup) => return Ok(Ended::Reload),
            _ = reader_gone() => return Ok(Ended::OutputGone),
        }
    }
}

/// Writes the metrics file; a failure is a warning (said once), never the end of the
/// service.
fn refresh(m: &mut Metrics) {
    if let Some(e) = m.refresh() {
        crate::output::write_stderr(&format!(
            "Warning: {e}; watch goes on and tries again every {} s",
            crate::mqtt::metrics::INTERVAL.as_secs()
        ));
    }
}

/// Resolves at `t`; never without one.
async fn until(t: Option<std::time::Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending::<()>().await,
    }
}

/// Resolves once stdout's reader has gone, checked every second while no message
/// comes (a write would find out too, but only with the next message).
async fn reader_gone() {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if crate::output::stdout_reader_gone() {
            return;
        }
    }
}

/// Says on stderr which messages were larger than --max-message-size (read past and
/// acknowledged by the session).
fn report_skipped(session: &mut Session) {
    for skipped in session.take_skipped() {
        crate::output::write_stderr(&format!(
            "Warning: skipped a message of {} bytes on {}: larger than --max-message-size ({} bytes); it was acknowledged so that the session goes on",
            skipped.size,
            safe(&skipped.topic),
            skipped.limit
        ));
    }
}

/// 0.5 s doubling to 30 s, times a random factor in [0.5, 1) so that many clients cut
/// off together do not reconnect together.
fn backoff(attempt: u32) -> Duration {
    let base = FIRST_BACKOFF
        .saturating_mul(1u32 << attempt.min(10))
        .min(MAX_BACKOFF);
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    let jitter = 0.5 + f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX) / 2.0;
    base.mul_f64(jitter)
}

/// Message output, buffered per batch. A message that cannot be decoded is printed too,
/// as hex or base64 with the reason (issue 12: nothing dropped).
struct Printer {
    format: Format,
    /// The lines of this batch, written to stdout by [`Printer::flush`].
    buf: Vec<u8>,
    /// The messages of this batch, acknowledged once their lines are written.
    unacked: Vec<Publish>,
    /// Messages printed so far, and the --count to stop at (0: never).
    printed: u64,
    count: u64,
}

impl Printer {
    fn new(format: Format, count: u64) -> Self {
        Printer {
            format,
            buf: Vec::with_capacity(64 * 1024),
            unacked: Vec::new(),
            printed: 0,
            count,
        }
    }

    fn done(&self) -> bool {
        self.count > 0 && self.printed >= self.count
    }

    fn print(&mut self, p: Publish, on: &Decoding<'_>, metrics: Option<&mut Metrics>) {
        self.printed += 1;
        let now = Utc::now();
        let schema = schema_for(on.schemas, &p.topic);
        let decoded = decode_message(encoding_for(on.subs, &p.topic), schema, &p.payload);
        if let Some(m) = metrics {
            m.message(&p.topic, now, decoded.is_ok());
        }
        match self.format {
            // Writing to a Vec cannot fail.
            Format::Json => {
                let _ = write_message_json(
                    &mut self.buf,
                    &p.topic,
                    &p.payload,
                    p.retain,
                    now,
                    &decoded,
                );
                self.buf.push(b'\n');
            }
            Format::Text => {
                let header = format!("{} {}", stamp(now), safe(&p.topic));
                match &decoded {
                    Ok(d) => d.write_text(&mut self.buf, &header, " ", "  "),
                    Err(e) => {
                        let header = format!("{header} ({} bytes)", p.payload.len());
                        write_undecodable(&mut self.buf, &header, ": ", "  ", &p.payload, &e.reason)
                    }
                }
            }
        }
        if let Err(e) = &decoded {
            // Also said on stderr, where a service's log (the journal) keeps it.
            crate::output::write_stderr(&format!(
                "Warning: a message on {} ({} bytes) cannot be decoded: {e}; printed as {}",
                safe(&p.topic),
                p.payload.len(),
                if self.format == Format::Json {
                    "payload_base64"
                } else {
                    "hex"
                }
            ));
        }
        self.unacked.push(p);
    }

    /// After a lost connection: the lines already made are still handed on, but their
    /// PUBACKs would name packet IDs of the old connection (a persistent session
    /// redelivers those messages instead).
    fn connection_lost(&mut self) {
        let _ = crate::output::try_write_stdout(&self.buf);
        self.buf.clear();
        self.unacked.clear();
    }

    /// Writes the batch to stdout and acknowledges its messages; on failure nothing of
    /// the batch is acknowledged (part of it may have been written: a redelivered
    /// duplicate is what QoS 1 allows, a lost message is not).
    fn flush(&mut self, session: &mut Session) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            crate::output::try_write_stdout(&self.buf)?;
            self.buf.clear();
        }
        for p in self.unacked.drain(..) {
            session.ack(&p);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let b0 = backoff(0);
        assert!(
            b0 >= Duration::from_millis(250) && b0 <= FIRST_BACKOFF,
            "{b0:?}"
        );
        let b3 = backoff(3);
        assert!(
            b3 >= Duration::from_secs(2) && b3 <= Duration::from_secs(4),
            "{b3:?}"
        );
        assert!(backoff(40) <= MAX_BACKOFF);
    }
}
