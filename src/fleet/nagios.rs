//! `check-expiry --format nagios`: the monitoring-plugins output Nagios and Icinga read
//! (SPEC: check-expiry; issue 13 item 3). The first line is `CENTILOC-CERT <STATE> -
//! <summary> | <perfdata>`, then one line per certificate, worst first; the exit code
//! is the state's (0-3). Any error, usage errors included, is an `UNKNOWN` line on stdout
//! with exit 3, because Icinga shows only stdout and calls 64 "out of bounds".
//!
//! Nagios cuts the status text at the first `|` (what follows is perfdata) and strips
//! backticks and other shell characters from it in notifications, so no `|` or backtick
//! reaches the text, whatever a profile name or certificate subject holds.

use std::ffi::OsString;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::Checked;
use crate::context::Ctx;
use crate::expiry::State;
use crate::output::safe;

/// The plugin's name, first word of the status line (monitoring-plugins guidelines).
const NAME: &str = "CENTILOC-CERT";

pub fn render(ctx: &Ctx, checked: &[Checked], nothing: Option<&str>, now: DateTime<Utc>) -> String {
    let worst = checked
        .iter()
        .map(Checked::state)
        .max()
        .unwrap_or(State::Unknown);
    let summary = match nothing {
        Some(why) => why.to_owned(),
        None => summary(checked),
    };
    let perfdata: Vec<String> = checked.iter().map(perfdata).collect();
    let mut out = format!("{NAME} {} - {}", worst.as_str(), text(&summary));
    if !perfdata.is_empty() {
        let _ = write!(out, " | {}", perfdata.join(" "));
    }
    out.push('\n');
    let mut order: Vec<&Checked> = checked.iter().collect();
    order.sort_by_key(|c| std::cmp::Reverse(c.state()));
    for c in order {
        let _ = writeln!(out, "{}", text(&super::report::line(ctx, c, now)));
    }
    out
}

/// `2 critical, 1 warning, 1 unknown of 10 certificates`, or `2 certificates OK`.
fn summary(checked: &[Checked]) -> String {
    let count = |s: State| checked.iter().filter(|c| c.state() == s).count();
    let parts: Vec<String> = [
        (State::Critical, "critical"),
        (State::Warning, "warning"),
        (State::Unknown, "unknown"),
    ]
    .into_iter()
    .filter_map(|(s, word)| {
        Some(count(s))
            .filter(|&n| n > 0)
            .map(|n| format!("{n} {word}"))
    })
    .collect();
    let n = checked.len();
    let noun = if n == 1 {
        "certificate"
    } else {
        "certificates"
    };
    if parts.is_empty() {
        format!("{n} {noun} OK")
    } else {
        format!("{} of {n} {noun}", parts.join(", "))
    }
}

/// `'<profile>/<kind>'=<days left>;<warn>;<crit>;;`: days left as check-expiry counts
/// them, `U` (undetermined, in the guidelines' grammar) when the certificate is UNKNOWN.
fn perfdata(c: &Checked) -> String {
    // `--cert FILE` has no profile: the file's name stands in for it.
    let owner = match &c.owner {
        Some(o) => o.name.clone(),
        None => c
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let value = match &c.outcome {
        Ok(f) => f.verdict.days_left.to_string(),
        Err(_) => "U".into(),
    };
    format!(
        "'{}'={value};{};{};;",
        perf_label(&format!("{owner}/{}", c.kind.as_str())),
        c.limits.warn_days,
        c.limits.critical_days
    )
}

/// A perfdata label: any character but `=` and `'` (a quote is written twice); `|` and
/// line breaks would end the perfdata, so they become `_` too.
fn perf_label(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '=' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect::<String>()
        .replace('\'', "''")
}

/// Status text safe for Nagios: no `|` (it starts perfdata) and no backtick (a shell
/// character Nagios strips), control characters escaped.
fn text(s: &str) -> String {
    safe(s).replace('|', "/").replace('`', "'")
}

/// The line for an error that kept the check from running (usage, missing profile,
/// configuration): UNKNOWN, exit 3.
pub fn unknown_line(sentence: &str) -> String {
    format!(
        "{NAME} UNKNOWN - {}\n",
        text(sentence.lines().next().unwrap_or(""))
    )
}

/// Whether the command line asks for `check-expiry --format nagios`, read before (and
/// whatever) clap decides, so that even a usage error answers in the Nagios form.
pub fn requested(args: &[OsString]) -> bool {
    let words: Vec<&str> = args.iter().filter_map(|a| a.to_str()).collect();
    let nagios =
        words.windows(2).any(|w| w == ["--format", "nagios"]) || words.contains(&"--format=nagios");
    nagios && words.contains(&"check-expiry")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn nagios_is_recognised_before_parsing() {
        assert!(requested(&args(&[
            "c",
            "check-expiry",
            "--format",
            "nagios"
        ])));
        assert!(requested(&args(&[
            "c",
            "--format=nagios",
            "check-expiry",
            "--bogus"
        ])));
        assert!(!requested(&args(&[
            "c",
            "check-expiry",
            "--format",
            "json"
        ])));
        assert!(!requested(&args(&["c", "status", "--format", "nagios"])));
    }

    #[test]
    fn labels_and_text_cannot_break_the_plugin_output() {
        assert_eq!(perf_label("it's=a|b"), "it''s_a_b");
        assert_eq!(text("a | b `c`"), "a / b 'c'");
        assert_eq!(
            unknown_line("bad `flag` | x\nmore"),
            "CENTILOC-CERT UNKNOWN - bad 'flag' / x\n"
        );
    }
}
