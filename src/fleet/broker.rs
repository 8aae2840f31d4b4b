//! `check-expiry --check-broker` (or `[expiry] check_broker = true`): one more line per
//! profile, kind `broker`, from [`crate::mqtt::broker_check`]'s TLS handshake. Its days
//! left get the same thresholds as the client certificate; a CA file that no longer
//! verifies the broker is CRITICAL whatever the dates (issue 15); no answer is UNKNOWN.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Checked, Facts, Kind, Owner, Problem};
use crate::expiry::{self, State};
use crate::mqtt::broker_check::{self, Distrust, Probe};

/// The profiles to probe: every owner once, when asked on the command line or in its
/// profile.toml. Returns the new lines, each to go after its profile's own.
pub fn check(checked: &[Checked], flag: bool, now: DateTime<Utc>) -> Vec<(String, Checked)> {
    let owners: Vec<(Arc<Owner>, expiry::Limits)> = checked
        .iter()
        .filter(|c| c.kind == Kind::Client)
        .filter_map(|c| Some((c.owner.clone()?, c.limits)))
        .filter(|(o, _)| {
            o.profile
                .as_ref()
                .is_some_and(|p| flag || p.expiry.check_broker == Some(true))
        })
        .collect();
    probe_all(&owners, now)
}

/// At most this many handshakes at once: each may wait the whole timeout, so probing in
/// parallel keeps `--all` near one timeout, but a fleet of thousands of profiles must
/// not become thousands of threads and sockets at once.
const PARALLEL_PROBES: usize = 16;

/// Probes every owner with a fixed pool of workers taking the next owner from a shared
/// counter (hand-written: a dozen lines with std's scoped threads instead of a thread-pool
/// crate), and returns the lines in the owners' order.
fn probe_all(
    owners: &[(Arc<Owner>, expiry::Limits)],
    now: DateTime<Utc>,
) -> Vec<(String, Checked)> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = owners.len().min(PARALLEL_PROBES);
    let mut lines: Vec<(usize, (String, Checked))> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((o, limits)) = owners.get(i) else {
                            return done;
                        };
                        done.push((i, (o.name.clone(), line(o, *limits, now))));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok())
            .flatten()
            .collect()
    });
    lines.sort_by_key(|(i, _)| *i);
    lines.into_iter().map(|(_, l)| l).collect()
}

fn line(owner: &Arc<Owner>, limits: expiry::Limits, now: DateTime<Utc>) -> Checked {
    let broker = owner
        .profile
        .as_ref()
        .map(|p| p.broker.clone())
        .unwrap_or_default();
    let ca_file = owner.dir.join(crate::paths::CA_FILE);
    let outcome =
        match broker_check::probe(&broker.host, broker.port, &ca_file, broker_check::TIMEOUT) {
            Probe::Unreachable(why) => Err(Problem::Unreadable(format!(
                "the broker {broker} did not show its certificate: {why}"
            ))),
            Probe::Presented { leaf, distrust } => {
                let alarm = distrust.map(|d| alarm(&d, &broker.host, &ca_file));
                let mut verdict = expiry::verdict(leaf.not_before, leaf.not_after, now, limits);
                if alarm.is_some() {
                    verdict.state = State::Critical;
                }
                Ok(Facts {
                    fingerprint: leaf.fingerprint(),
                    issuer: leaf.issuer.clone(),
                    subject: leaf.subject,
                    common_name: leaf.common_name,
                    serial: leaf.serial,
                    not_before: leaf.not_before,
                    not_after: leaf.not_after,
                    verdict,
                    alarm,
                })
            }
        };
    Checked {
        owner: Some(owner.clone()),
        kind: Kind::Broker,
        file: PathBuf::from(broker.to_string()),
        limits,
        outcome,
    }
}

fn alarm(d: &Distrust, host: &str, ca_file: &std::path::Path) -> String {
    let what = match d {
        Distrust::UnknownIssuer => format!(
            "the installed {} does not verify the broker's certificate",
            ca_file.display()
        ),
        Distrust::NameMismatch => format!("the broker's certificate does not name {host}"),
        Distrust::Other(words) => format!("the broker's certificate is refused: {words}"),
    };
    format!("{what}, so connections will fail")
}
