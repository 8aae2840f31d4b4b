//! `watch`: the `test-connect` session kept open. Every message printed as it arrives,
//! reconnection with exponential backoff and jitter, clean DISCONNECT on SIGINT/SIGTERM.

use std::io::Write;
use std::pin::Pin;
use std::time::Duration;

use chrono::Utc;
use rumqttc::Publish;

use crate::cli::WatchArgs;
use crate::context::Ctx;
use crate::error::Result;
use crate::exit_codes::ExitCode;
use crate::mqtt::message::{decode_message, stamp, write_message_json};
use crate::mqtt::setup::{prepare, runtime, shutdown_signal};
use crate::mqtt::topics::encoding_for;
use crate::mqtt::{self, Failure, Session, Subscription};
use crate::output::{Format, safe};

const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub fn run(ctx: &Ctx, a: WatchArgs) -> Result<ExitCode> {
    let format = a.conn.format;
    let p = prepare(ctx, &super::session_request(&a.conn), !a.keep_session)?;
    let rt = runtime()?;
    rt.block_on(watch(ctx, &p.settings, &p.subs, format, a.count))?;
    Ok(ExitCode::Ok)
}

type Shutdown = Pin<Box<dyn Future<Output = ()>>>;

async fn watch(
    ctx: &Ctx,
    s: &mqtt::ConnectSettings,
    subs: &[Subscription],
    format: Format,
    count: u64,
) -> Result<()> {
    let mut shutdown: Shutdown = Box::pin(shutdown_signal());
    let filters: Vec<String> = subs.iter().map(|x| x.filter.clone()).collect();
    let mut printer = Printer::new(format, subs, count);
    let mut connected_once = false;
    let mut attempt: u32 = 0;
    loop {
        let opened = tokio::select! {
            r = open_and_subscribe(s, &filters) => r,
            _ = &mut shutdown => return Ok(()),
        };
        let why = match opened {
            Ok(mut session) => {
                attempt = 0;
                let verb = if connected_once {
                    "reconnected to"
                } else {
                    "connected to"
                };
                ctx.out.note(format!(
                    "{verb} {} as {}, subscribed to {} topic(s){}",
                    s.broker,
                    s.client_id,
                    filters.len(),
                    if session.session_present {
                        ", session resumed"
                    } else {
                        ""
                    }
                ));
                connected_once = true;
                match pump(&mut session, &mut printer, &mut shutdown).await {
                    Ok(Stop::Done) => {
                        session.disconnect().await;
                        ctx.out.note(format!("disconnected from {}", s.broker));
                        return Ok(());
                    }
                    // `main` reports a failed stdout (exit 74), or nothing when the
                    // reader went away.
                    Ok(Stop::OutputGone) => {
                        session.disconnect().await;
                        return Ok(());
                    }
                    Err(f) => {
                        printer.connection_lost();
                        f
                    }
                }
            }
            // Before the first success, a refusal or a TLS/config problem will not fix
            // itself: stop with its exit code. Afterwards, keep trying (the broker may be
            // restarting with a transient state).
            Err(f) if !connected_once && f.code != crate::exit_codes::ExitCode::Unavailable => {
                return Err(f.into());
            }
            Err(f) => f,
        };
        let wait = backoff(attempt);
        attempt = attempt.saturating_add(1);
        ctx.out.warn(format!(
            "{}; reconnecting in {:.1} s",
            why.message,
            wait.as_secs_f64()
        ));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {},
            _ = &mut shutdown => return Ok(()),
        }
    }
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

/// Why [`pump`] stopped without a connection failure.
enum Stop {
    /// `--count` messages printed, or a signal.
    Done,
    /// Standard output failed (its reader went away, or a full disk): nothing more can
    /// be handed on.
    OutputGone,
}

/// Prints messages until the connection fails (`Err`), a signal arrives or the output
/// fails. A message is acknowledged only once its line reached stdout: one that could
/// not be handed on is redelivered to the next `watch --keep-session` (issue 14).
async fn pump(
    session: &mut Session,
    printer: &mut Printer<'_>,
    shutdown: &mut Shutdown,
) -> Result<Stop, Failure> {
    loop {
        while let Some(p) = session.try_next()? {
            printer.print(p);
            if printer.done() {
                if printer.flush(session).is_err() {
                    return Ok(Stop::OutputGone);
                }
                // Send the PUBACKs of what was printed before DISCONNECT.
                session.fill_acks().await?;
                return Ok(Stop::Done);
            }
        }
        // Flush once per batch read from the socket, not per message: output keeps up
        // with the broker, and a pipe reader still sees each batch at once.
        if printer.flush(session).is_err() {
            return Ok(Stop::OutputGone);
        }
        tokio::select! {
            r = session.fill() => r?,
            _ = &mut *shutdown => return Ok(Stop::Done),
            _ = reader_gone() => return Ok(Stop::OutputGone),
        }
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

/// Message output, buffered per batch; undecodable messages are reported on stderr.
struct Printer<'a> {
    format: Format,
    subs: &'a [Subscription],
    /// The lines of this batch, written to stdout by [`Printer::flush`].
    buf: Vec<u8>,
    /// The messages of this batch, acknowledged once their lines are written.
    unacked: Vec<Publish>,
    /// Messages printed so far, and the --count to stop at (0: never).
    printed: u64,
    count: u64,
}

impl<'a> Printer<'a> {
    fn new(format: Format, subs: &'a [Subscription], count: u64) -> Self {
        Printer {
            format,
            subs,
            buf: Vec::with_capacity(64 * 1024),
            unacked: Vec::new(),
            printed: 0,
            count,
        }
    }

    fn done(&self) -> bool {
        self.count > 0 && self.printed >= self.count
    }

    fn print(&mut self, p: Publish) {
        self.printed += 1;
        let now = Utc::now();
        let decoded = decode_message(encoding_for(self.subs, &p.topic), &p.payload);
        match &decoded {
            // Never fatal (issue 5): say so and go on with the next message.
            Err(e) => crate::output::write_stderr(&format!(
                "Warning: skipped a message on {} ({} bytes) that cannot be decoded: {e}",
                safe(&p.topic),
                p.payload.len()
            )),
            Ok(d) => {
                // Writing to a Vec cannot fail.
                let _ = match self.format {
                    Format::Json => write_message_json(
                        &mut self.buf,
                        &p.topic,
                        &p.payload,
                        p.retain,
                        now,
                        &decoded,
                    )
                    .and_then(|_| self.buf.write_all(b"\n")),
                    Format::Text => {
                        writeln!(
                            self.buf,
                            "{} {} {}",
                            stamp(now),
                            safe(&p.topic),
                            d.summary()
                        )
                    }
                };
            }
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
