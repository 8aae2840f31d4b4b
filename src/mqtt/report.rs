//! The staged connection report as it happens: each stage and message as a text line,
//! or gathered into one JSON document (`test-connect`, `install-cert --test`).

use std::io::IsTerminal;

use chrono::{DateTime, Utc};
use rumqttc::Publish;
use serde_json::{Value, json};

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
    messages: Vec<Value>,
    spinner: bool,
}

impl<'a> Report<'a> {
    pub fn new(out: Output, format: Format, p: &'a Prepared) -> Self {
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
            schemas: p.schemas.as_ref(),
            stages: Vec::new(),
            messages: Vec::new(),
            spinner,
        }
    }

    pub fn finish(&self, s: &ConnectSettings, r: &CheckResult) {
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
            // A failed stage's sentence is the command's error, which `main` prints on
            // stderr: the line only marks where it stopped, so it is said once.
            let (mark, detail) = match r.ok {
                true => ("✓", safe(&r.detail)),
                false => ("✗", "failed".into()),
            };
            self.out.line(format!(
                "{mark} {:<14} {:>8.1} ms  {detail}",
                r.stage.label(),
                r.duration_ms,
            ));
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
                    Err(e) => write_undecodable(&mut text, &header, ": ", "    ", &p.payload, e),
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
