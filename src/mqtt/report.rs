//! The staged connection report as it happens: each stage and message as a text line,
//! or gathered into one JSON document (`test-connect`, `install-cert --test`).

use std::io::IsTerminal;

use chrono::{DateTime, Utc};
use rumqttc::Publish;
use serde::Serialize;

use super::message::{decode_message, message_json, schema_for, write_undecodable};
use super::setup::Prepared;
use super::topics::encoding_for;
use super::{CheckResult, ConnectSettings, Observer, Stage, StageReport, Subscription};
use crate::output::{Format, Output, safe};

/// Prints stages and messages as they happen (text), or gathers them (JSON).
pub struct Report<'a> {
    out: Output,
    format: Format,
    subs: &'a [Subscription],
    schemas: Option<&'a crate::decode::Schemas>,
    pub stages: Vec<StageReport>,
    messages: Vec<Box<serde_json::value::RawValue>>,
    spinner: bool,
}

impl<'a> Report<'a> {
    pub fn new(out: Output, format: Format, p: &'a Prepared) -> Self {
        let spinner = format == Format::Text && !out.quiet && std::io::stderr().is_terminal();
        if format == Format::Text {
            out.line(Session::of(&p.settings).text());
        }
        Report {
            out,
            format,
            subs: &p.subs,
            schemas: p.schemas.as_ref(),
            stages: Vec::new(),
            messages: Vec::new(),
            spinner,
        }
    }

    /// The run's end: the closing line (text), or the whole document (JSON).
    pub fn finish(&self, s: &ConnectSettings, r: &CheckResult) {
        let doc = Document {
            session: Some(Session::of(s)),
            ok: r.failure.is_none(),
            exit_code: r.failure.as_ref().map_or(0, |f| f.code.code()),
            error: r.failure.as_ref().map(|f| f.message.as_str()),
            failed_stage: r.failure.as_ref().map(|f| FailedStage::At(f.stage)),
            stages: &self.stages,
            messages: &self.messages,
        };
        match self.format {
            Format::Text => {
                if let Some(line) = doc.closing_line() {
                    self.out.line(line);
                }
            }
            Format::Json => self.out.report(&doc),
        }
    }
}

/// Who connects where: the text report's first line and three fields of the JSON.
#[derive(Serialize)]
pub struct Session<'a> {
    broker: String,
    client_id: &'a str,
    username: &'a str,
}

impl<'a> Session<'a> {
    fn of(s: &'a ConnectSettings) -> Self {
        Session {
            broker: s.broker.to_string(),
            client_id: &s.client_id,
            username: &s.username,
        }
    }

    fn text(&self) -> String {
        format!(
            "Connecting to {} as {} (user {:?})",
            self.broker,
            self.client_id,
            safe(self.username)
        )
    }
}

/// Where a run stopped: a connection stage, or before connecting (files, settings).
#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailedStage {
    Preflight,
    #[serde(untagged)]
    At(Stage),
}

/// The whole run as `test-connect --format json` prints it. The text report is made
/// from the same values as they arrive: the [`Session`] line, one line per
/// [`StageReport`] ([`stage_line`]), each message, and [`Document::closing_line`].
#[derive(Serialize)]
pub struct Document<'a> {
    /// Absent when the run stopped before connecting (nothing was resolved yet).
    #[serde(flatten)]
    session: Option<Session<'a>>,
    ok: bool,
    exit_code: u8,
    error: Option<&'a str>,
    failed_stage: Option<FailedStage>,
    stages: &'a [StageReport],
    messages: &'a [Box<serde_json::value::RawValue>],
}

impl<'a> Document<'a> {
    /// A run that stopped before connecting (pre-flight 65/66, usage 64).
    pub fn preflight(error: &'a str, exit_code: u8) -> Self {
        Document {
            session: None,
            ok: false,
            exit_code,
            error: Some(error),
            failed_stage: Some(FailedStage::Preflight),
            stages: &[],
            messages: &[],
        }
    }

    /// The last text line of a run that worked; a failure's sentence is the command's
    /// error, which `main` prints on stderr.
    fn closing_line(&self) -> Option<String> {
        let s = self.session.as_ref().filter(|_| self.ok)?;
        Some(format!(
            "✓ the connection to {} works: mutual TLS, login and subscriptions accepted",
            s.broker
        ))
    }
}

/// One stage as a text line: ✓ or ✗, its label, its duration, what it found. A failed
/// stage's line says only "failed": its sentence is the error, said once on stderr.
pub fn stage_line(r: &StageReport) -> String {
    let (mark, detail) = match r.ok {
        true => ("✓", safe(&r.detail)),
        false => ("✗", "failed".into()),
    };
    format!(
        "{mark} {:<14} {:>8.1} ms  {detail}",
        r.stage.label(),
        r.duration_ms,
    )
}

impl Observer for Report<'_> {
    fn stage(&mut self, r: &StageReport) {
        if self.format == Format::Text {
            self.out.line(stage_line(r));
            if r.ok && r.stage == Stage::Subscribe && self.spinner {
                self.out.say("  waiting for messages (Ctrl-C to stop)…");
            }
        }
        self.stages.push(r.clone());
    }

    fn skipped(&mut self, s: &super::session::Skipped) {
        self.out.warn(format!(
            "skipped a message of {} bytes on {}: larger than --max-message-size ({} bytes); it was acknowledged",
            s.size,
            safe(&s.topic),
            s.limit
        ));
    }

    fn message(&mut self, p: &Publish, received: DateTime<Utc>) {
        let encoding = encoding_for(self.subs, &p.topic);
        let schema = schema_for(self.schemas, &p.topic);
        let decoded = decode_message(encoding, schema, &p.payload);
        match self.format {
            Format::Text => {
                let header = format!(
                    "  message on {} ({} bytes{})",
                    safe(&p.topic),
                    p.payload.len(),
                    if p.retain { ", retained" } else { "" }
                );
                let mut text = Vec::new();
                match &decoded {
                    Ok(d) => d.write_text(&mut text, &header, ": ", "    "),
                    Err(e) => {
                        write_undecodable(&mut text, &header, ": ", "    ", &p.payload, &e.reason)
                    }
                }
                // `line` adds the newline; the text is terminal-safe (decoders escape).
                let text = String::from_utf8_lossy(&text);
                self.out.line(text.trim_end());
            }
            Format::Json => {
                self.messages.push(message_json(
                    &p.topic, &p.payload, p.retain, received, &decoded,
                ));
            }
        }
    }
}
