//! The operator's tools, for real (issue 13): the shipped Prometheus rules under
//! `promtool`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::require;

fn contrib(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("contrib/prometheus")
        .join(file)
}

/// Runs promtool with `args` in contrib/prometheus; returns (success, stdout + stderr).
fn promtool(args: &[&str]) -> (bool, String) {
    let bin = require("promtool", "prometheus");
    let out = Command::new(bin)
        .args(args)
        .current_dir(contrib(""))
        .output()
        .expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn shipped_rules_pass_promtool_check_rules() {
    let (ok, out) = promtool(&["check", "rules", "centiloc-cert.rules.yml"]);
    assert!(ok, "promtool check rules failed:\n{out}");
    assert!(out.contains("SUCCESS: 8 rules found"), "{out}");
}

/// contrib/prometheus/tests.yml: the dead-cron case (the cron job died on day 0 and the
/// alerts still escalate to critical before expiry), per-profile thresholds, the CA,
/// UNKNOWN, absent metrics and an unanswered renewal.
#[test]
fn shipped_rules_pass_their_promtool_unit_tests() {
    let (ok, out) = promtool(&["test", "rules", "tests.yml"]);
    assert!(ok, "promtool test rules failed:\n{out}");
    assert!(out.contains("SUCCESS"), "{out}");
}
