//! `check-expiry --check-broker` against a real mosquitto (issue 15): the broker's
//! certificate reported as kind `broker` with the client certificate's thresholds;
//! CRITICAL when the installed ca-cert.pem no longer verifies it or it names another host;
//! UNKNOWN when nothing answers, within the timeout; e-mail notices once per threshold.

mod support;

use std::time::{Duration, Instant};

use support::mosquitto::{Mosquitto, ready_profile};
use support::smtp::Smtp;
use support::{TestHome, free_port};

const USER: &str = "acme-user";
const PASSWORD: &str = "Pw-acme-1";

fn setup() -> (Mosquitto, TestHome) {
    let m = Mosquitto::start("acme", USER, PASSWORD);
    let h = TestHome::new();
    ready_profile(&h, &m, "acme", USER, PASSWORD, |csr| {
        m.client_ca.sign_days_from_now(csr, 200)
    });
    (m, h)
}

fn set_broker(h: &TestHome, host: &str, port: u16) {
    let f = h.profile_dir("default").join("profile.toml");
    let text = std::fs::read_to_string(&f).unwrap();
    let mut out = String::new();
    let mut in_broker = false;
    for line in text.lines() {
        if line.starts_with('[') {
            in_broker = line.trim() == "[broker]";
        }
        let line = match (in_broker, line.split_once(" = ")) {
            (true, Some(("host", _))) => format!("host = \"{host}\""),
            (true, Some(("port", _))) => format!("port = {port}"),
            _ => line.to_owned(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    std::fs::write(&f, out).unwrap();
}

fn check(h: &TestHome, extra: &[&str]) -> (Option<i32>, String) {
    let out = h
        .cmd()
        .args(["check-expiry", "--check-broker"])
        .args(extra)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        out.status.code(),
        text + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn the_right_ca_is_ok_with_days_left_in_every_format() {
    let (m, h) = setup();
    let (code, text) = check(&h, &["--warn-days", "20", "--critical-days", "5"]);
    assert_eq!(code, Some(0), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("broker certificate"))
        .unwrap_or_else(|| panic!("no broker line in:\n{text}"));
    assert!(
        line.starts_with(&format!(
            "OK default (acme) broker certificate (127.0.0.1:{}) expires ",
            m.port
        )) && line.contains("(29 days left)"),
        "{line}"
    );
    let out = h
        .cmd()
        .args(["check-expiry", "--check-broker", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let b = v["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "broker")
        .expect("a broker entry");
    assert_eq!(b["days_left"], 29, "{b}");
    assert_eq!(b["state"], "warning", "{b}");
    assert_eq!(b["alarm"], serde_json::Value::Null, "{b}");
    let out = h
        .cmd()
        .args(["check-expiry", "--check-broker", "--format", "prometheus"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().any(|l| l.starts_with(
            "centiloc_cert_not_after_timestamp_seconds{profile=\"default\",tenant=\"acme\",kind=\"broker\",serial="
        ) && l.contains("Centiloc Broker CA")),
        "{text}"
    );
    // Without the flag, no handshake, unless profile.toml asks for it.
    let (_, text) = check(&h, &[]);
    assert!(text.contains("broker certificate"));
    let out = h.cmd().arg("check-expiry").output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("broker"));
    let f = h.profile_dir("default").join("profile.toml");
    let mut toml = std::fs::read_to_string(&f).unwrap();
    toml.push_str("\n[expiry]\ncheck_broker = true\n");
    std::fs::write(&f, toml).unwrap();
    let out = h.cmd().arg("check-expiry").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("broker certificate"));
}

#[test]
fn another_ca_is_critical_and_says_to_install_the_new_one() {
    let (m, h) = setup();
    // The CA file now holds a CA that did not sign the broker: as after Centiloc's rotation.
    std::fs::copy(
        &m.client_ca.cert,
        h.profile_dir("default").join("ca-cert.pem"),
    )
    .unwrap();
    let (code, text) = check(&h, &[]);
    assert_eq!(code, Some(2), "{text}");
    let ca = h.profile_dir("default").join("ca-cert.pem");
    let want = format!(
        "CRITICAL default (acme) broker certificate (127.0.0.1:{}) expires ",
        m.port
    );
    let line = text
        .lines()
        .find(|l| l.starts_with(&want))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.ends_with(&format!(
            "; the installed {} does not verify the broker's certificate, so connections will fail; Centiloc may have changed its CA: download the new one, then `centiloc-cert --home {} install-ca ca-cert.pem`",
            ca.display(),
            h.path().display()
        )),
        "{line}"
    );
}

#[test]
fn a_certificate_for_another_host_is_critical() {
    let (m, h) = setup();
    set_broker(&h, "127.0.0.2", m.port_other_ip);
    let (code, text) = check(&h, &[]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("the broker's certificate does not name 127.0.0.2, so connections will fail; Centiloc may have changed its CA"),
        "{text}"
    );
}

/// `check-expiry --check-broker` in `h`: UNKNOWN (exit 3) in less than 8 s. Returns what
/// it printed.
fn unknown_within_the_timeout(h: &TestHome) -> String {
    let start = Instant::now();
    let (code, text) = check(h, &[]);
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(code, Some(3), "{text}");
    text
}

#[test]
fn nothing_listening_is_unknown_within_the_timeout() {
    let (_m, h) = setup();
    let port = free_port();
    set_broker(&h, "127.0.0.1", port);
    let text = unknown_within_the_timeout(&h);
    assert!(
        text.contains(&format!(
            "UNKNOWN default (acme) broker certificate (127.0.0.1:{port}): the broker 127.0.0.1:{port} did not show its certificate: cannot connect to 127.0.0.1:{port}: connection refused (nothing listens there); check the network and [broker] in "
        )),
        "{text}"
    );
    // A port that accepts and never speaks TLS: UNKNOWN, within the timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    set_broker(&h, "127.0.0.1", silent.local_addr().unwrap().port());
    let text = unknown_within_the_timeout(&h);
    assert!(text.contains("no answer within 5 s"), "{text}");
}

#[test]
fn broker_notices_go_out_once_per_threshold() {
    let (_m, h) = setup();
    let smtp = Smtp::start();
    h.notify_config(&smtp.url());
    let (code, text) = check(&h, &["--notify"]);
    assert_eq!(code, Some(1), "{text}");
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    assert_eq!(
        mails[0].subject,
        "29 days left: Centiloc User-MQTT broker certificate of tenant acme (default)"
    );
    check(&h, &["--notify"]);
    assert_eq!(smtp.messages().len(), 1);
}

/// `--all --check-broker` over a fleet probes with a bounded pool: 20 profiles whose
/// broker accepts TCP and never speaks TLS start at most 16 handshakes at once, and
/// every profile still gets its broker line, in profile order.
#[test]
fn a_fleet_is_probed_sixteen_at_a_time_and_every_profile_is_reported() {
    let (_m, h) = setup();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    set_broker(&h, "127.0.0.1", port);
    let names: Vec<String> = (1..=20).map(|i| format!("site{i:02}")).collect();
    for name in &names {
        copy_dir(&h.profile_dir("default"), &h.profile_dir(name));
    }
    // Each connection is held until the client gives up after its 5 s timeout, so the
    // connections that arrive within 3 s of the first are the pool's first wave.
    let accepted = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in silent.incoming() {
            let Ok(conn) = conn else { return };
            log.lock().unwrap().push(Instant::now());
            held.push(conn);
        }
    });
    let (code, text) = check(&h, &["--all"]);
    assert_eq!(code, Some(3), "{text}");
    let times = accepted.lock().unwrap().clone();
    assert_eq!(times.len(), 21, "{text}");
    let first_wave = times
        .iter()
        .filter(|t| t.duration_since(times[0]) < Duration::from_secs(3))
        .count();
    assert_eq!(first_wave, 16, "{text}");
    let reported: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("broker certificate (127.0.0.1:"))
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    let mut expected: Vec<&str> = names.iter().map(String::as_str).collect();
    expected.insert(0, "default");
    assert_eq!(reported, expected, "{text}");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}
