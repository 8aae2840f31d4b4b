//! `watch --metrics FILE`: a Prometheus textfile for node_exporter's textfile collector
//! (issue 12, item 4), so that "data stopped flowing" can be alerted on
//! (contrib/prometheus/centiloc-cert-watch.rules.yml). The counts are kept in memory as
//! messages arrive; the file is rendered from them and replaced atomically every few
//! seconds and at exit, so the collector never reads a half-written file. The temporary
//! file's name does not end in `.prom`, so the collector never picks it up either.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::store::{self, Mode};

/// How often the file is rewritten while watch runs: often enough for a 15 s scrape, and
/// cheap (one small file, a rename).
pub const INTERVAL: Duration = Duration::from_secs(5);

/// What `watch` counted since it started.
pub struct Metrics {
    path: PathBuf,
    profile: String,
    started: DateTime<Utc>,
    connected: bool,
    reconnects: u64,
    topics: BTreeMap<String, TopicCounts>,
    next_write: Instant,
    /// The last write failed: the next failure is not said again.
    failing: bool,
}

#[derive(Default)]
struct TopicCounts {
    received: u64,
    decode_failures: u64,
    last: Option<DateTime<Utc>>,
}

impl Metrics {
    pub fn new(path: PathBuf, profile: &str, started: DateTime<Utc>) -> Metrics {
        Metrics {
            path,
            profile: profile.to_owned(),
            started,
            connected: false,
            reconnects: 0,
            topics: BTreeMap::new(),
            next_write: Instant::now(),
            failing: false,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A message arrived on `topic` at `at`; `decoded`: whether it decoded.
    pub fn message(&mut self, topic: &str, at: DateTime<Utc>, decoded: bool) {
        // get_mut first: no allocation for a topic already seen (every message but the first).
        let t = match self.topics.get_mut(topic) {
            Some(t) => t,
            None => self.topics.entry(topic.to_owned()).or_default(),
        };
        t.received += 1;
        t.decode_failures += u64::from(!decoded);
        t.last = Some(at);
    }

    /// Connected and subscribed; `again`: after a lost connection or a reload.
    pub fn connected(&mut self, again: bool) {
        self.connected = true;
        self.reconnects += u64::from(again);
        self.next_write = Instant::now();
    }

    pub fn disconnected(&mut self) {
        self.connected = false;
        self.next_write = Instant::now();
    }

    /// When the file is due to be written next.
    pub fn next_write(&self) -> Instant {
        self.next_write
    }

    /// Writes the file atomically (mode 0644, for node_exporter's user) and schedules the
    /// next write.
    pub fn write(&mut self) -> Result<()> {
        self.next_write = Instant::now() + INTERVAL;
        let written = store::write_atomic(&self.path, self.render().as_bytes(), Mode::Public);
        self.failing = written.is_err();
        written
    }

    /// [`Metrics::write`] for a running service, which goes on without its metrics file:
    /// the error of the first failed write in a row, to be said once (a full disk is not
    /// worth a warning every few seconds).
    pub fn refresh(&mut self) -> Option<Error> {
        let was_failing = self.failing;
        match self.write() {
            Err(e) if !was_failing => Some(e),
            _ => None,
        }
    }

    /// The exposition text: HELP and TYPE for each family, then its samples.
    pub fn render(&self) -> String {
        let mut s = String::with_capacity(1024 + 300 * self.topics.len());
        let profile = format!("profile=\"{}\"", escape(&self.profile));
        let families: [(&str, &str, &str, f64); 3] = [
            (
                "connected",
                "gauge",
                "Whether watch is connected and subscribed to the broker (1) or not (0).",
                f64::from(u8::from(self.connected)),
            ),
            (
                "reconnects_total",
                "counter",
                "Connections made again after a lost connection or a reload (SIGHUP).",
                self.reconnects as f64,
            ),
            (
                "start_time_seconds",
                "gauge",
                "When watch started, in Unix seconds.",
                unix_seconds(self.started),
            ),
        ];
        for (name, kind, help, value) in families {
            family(&mut s, name, kind, help);
            let _ = writeln!(s, "centiloc_cert_watch_{name}{{{profile}}} {value}");
        }
        self.render_topics(&mut s, &profile);
        s
    }

    fn render_topics(&self, s: &mut String, profile: &str) {
        let per_topic: [(&str, &str, &str, TopicValue); 3] = [
            (
                "messages_received_total",
                "counter",
                "Messages received, per topic (undecodable ones included).",
                |t| Some(t.received as f64),
            ),
            (
                "last_message_timestamp_seconds",
                "gauge",
                "When the last message on the topic arrived, in Unix seconds.",
                |t| t.last.map(unix_seconds),
            ),
            (
                "decode_failures_total",
                "counter",
                "Messages that could not be decoded (printed as hex or base64), per topic.",
                |t| Some(t.decode_failures as f64),
            ),
        ];
        for (name, kind, help, value) in per_topic {
            family(s, name, kind, help);
            for (topic, t) in &self.topics {
                if let Some(v) = value(t) {
                    let _ = writeln!(
                        s,
                        "centiloc_cert_watch_{name}{{{profile},topic=\"{}\"}} {v}",
                        escape(topic)
                    );
                }
            }
        }
    }
}

/// One value of a topic's counts (`None`: no sample for this topic).
type TopicValue = fn(&TopicCounts) -> Option<f64>;

fn family(s: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(s, "# HELP centiloc_cert_watch_{name} {help}");
    let _ = writeln!(s, "# TYPE centiloc_cert_watch_{name} {kind}");
}

fn unix_seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// A label value as the text exposition format wants it: backslash, double quote and
/// line feed escaped (<https://prometheus.io/docs/instrumenting/exposition_formats/>).
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 250_000_000).unwrap()
    }

    #[test]
    fn renders_counts_per_topic_with_escaped_labels() {
        let mut m = Metrics::new("m.prom".into(), "de\"v", at(100));
        m.connected(false);
        m.message("centiloc/acme", at(200), true);
        m.message("centiloc/acme", at(201), false);
        m.message("a\\b\nc", at(150), true);
        m.disconnected();
        m.connected(true);
        let text = m.render();
        for want in [
            "# TYPE centiloc_cert_watch_connected gauge\ncentiloc_cert_watch_connected{profile=\"de\\\"v\"} 1\n",
            "centiloc_cert_watch_reconnects_total{profile=\"de\\\"v\"} 1\n",
            "centiloc_cert_watch_start_time_seconds{profile=\"de\\\"v\"} 100.25\n",
            "centiloc_cert_watch_messages_received_total{profile=\"de\\\"v\",topic=\"centiloc/acme\"} 2\n",
            "centiloc_cert_watch_messages_received_total{profile=\"de\\\"v\",topic=\"a\\\\b\\nc\"} 1\n",
            "centiloc_cert_watch_last_message_timestamp_seconds{profile=\"de\\\"v\",topic=\"centiloc/acme\"} 201.25\n",
            "centiloc_cert_watch_decode_failures_total{profile=\"de\\\"v\",topic=\"centiloc/acme\"} 1\n",
        ] {
            assert!(text.contains(want), "{want:?} in\n{text}");
        }
    }

    #[test]
    fn before_any_message_only_the_connection_series() {
        let m = Metrics::new("m.prom".into(), "default", at(0));
        let text = m.render();
        assert!(text.contains("centiloc_cert_watch_connected{profile=\"default\"} 0\n"));
        assert!(!text.contains("topic="), "{text}");
    }
}
