//! `watch` and `test-connect` with the customer's schema, and `watch` as a service
//! (issues 12 and 14), against a real mosquitto: per-topic message types, `[decode]` used
//! without flags, undecodable payloads shown, a promoted renewal picked up after a broker
//! restart, 77 on an expired certificate, persistent sessions, large messages, SIGHUP.

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::mosquitto::{Mosquitto, ready_profile};
use support::{Ca, TestHome, asn1_time};

const TENANT: &str = "acme";
const USER: &str = "acme-user";
const PASSWORD: &str = "s3cret-Pw-7731";
const ITEM_PROTO_TOPIC: &str = "centiloc/acme";
const BOARD_PROTO_TOPIC: &str = "centiloc/acme/proto/board/v1/update";
const ITEM_JSON_TOPIC: &str = "centiloc/acme/json/item/v1/update";
/// transtreamdatamodel.ItemEvent by hand: uid (2) "E004015012345678", is_in (3) true.
const ITEM_PROTO: &[u8] = b"\x12\x10E004015012345678\x18\x01";
/// transtreamdatamodel.BoardEvent by hand: board_sn (2) "CB-1", status (3) ONERROR.
const BOARD_PROTO: &[u8] = b"\x12\x04CB-1\x18\x02";

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn setup() -> (TestHome, Mosquitto) {
    let m = Mosquitto::start(TENANT, USER, PASSWORD);
    let h = TestHome::new();
    ready_profile(&h, &m, TENANT, USER, PASSWORD, |csr| {
        m.client_ca.sign_days_from_now(csr, 365)
    });
    (h, m)
}

/// `decode --save-schema` with the fixture schema, one message per topic kind.
fn save_schema(h: &TestHome) {
    h.cmd()
        .args(["decode", "--save-schema", "--proto"])
        .arg(fixtures().join("transtream.proto"))
        .args(["--message", "item=transtreamdatamodel.ItemEvent"])
        .args(["--message", "board=transtreamdatamodel.BoardEvent"])
        .assert()
        .code(0)
        .stderr(predicates::str::contains("saved the schema"));
}

/// Runs a command to its end (bounded), asserting its exit code; (stdout, stderr).
fn run(h: &TestHome, args: &[&str], code: i32) -> (String, String) {
    let out = h
        .cmd()
        .args(args)
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD));
    assert_eq!(out.status.code(), Some(code), "{stdout}\n{stderr}");
    (stdout, stderr)
}

/// A running `watch` with its stdout and stderr lines read by threads.
struct Watch {
    child: Child,
    out: mpsc::Receiver<String>,
    err: mpsc::Receiver<String>,
}

fn spawn(h: &TestHome, args: &[&str]) -> Watch {
    let mut child = Command::new(env!("CARGO_BIN_EXE_centiloc-cert"))
        .arg("--home")
        .arg(h.path())
        .arg("watch")
        .args(args)
        .env_remove("CENTILOC_MQTT_PASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let reader = |r: Box<dyn std::io::Read + Send>| {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(r).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        rx
    };
    let out = reader(Box::new(child.stdout.take().unwrap()));
    let err = reader(Box::new(child.stderr.take().unwrap()));
    Watch { child, out, err }
}

impl Watch {
    /// Waits for a stderr line containing `what`; returns the lines seen.
    fn wait_err(&self, what: &str, secs: u64) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.err.recv_timeout(left) {
                Ok(line) => {
                    let done = line.contains(what);
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("watch did not say {what:?}: {seen:?}");
    }

    fn line(&self, secs: u64) -> String {
        self.out
            .recv_timeout(Duration::from_secs(secs))
            .expect("a message line from watch")
    }

    fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// The exit code within `secs` (killed otherwise) and the rest of stderr.
    fn exit(mut self, secs: u64) -> (Option<i32>, String) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                let rest: Vec<String> = self.err.try_iter().collect();
                return (st.code(), rest.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!(
            "watch did not stop: {:?}",
            self.err.try_iter().collect::<Vec<_>>()
        );
    }
}

/// Item and board topics carry different messages: each decoded with its own type, with
/// field and enum names, from profile.toml's [decode] without any flag (text and JSON).
#[test]
fn per_topic_messages_decoded_with_names_from_the_saved_schema() {
    let (h, m) = setup();
    save_schema(&h);
    let toml = std::fs::read_to_string(h.profile_dir("default").join("profile.toml")).unwrap();
    assert!(toml.contains("[decode]"), "{toml}");
    assert!(
        toml.contains("item_message = \"transtreamdatamodel.ItemEvent\""),
        "{toml}"
    );
    m.publish(ITEM_PROTO_TOPIC, ITEM_PROTO, true);
    m.publish(BOARD_PROTO_TOPIC, BOARD_PROTO, true);
    let args = ["--encoding", "proto", "--count", "2"];
    let (text, _) = run(&h, &[&["watch"][..], &args].concat(), 0);
    assert!(
        text.contains(" centiloc/acme\n  uid: \"E004015012345678\"\n  is_in: true\n"),
        "{text}"
    );
    assert!(
        text.contains(
            " centiloc/acme/proto/board/v1/update\n  board_sn: \"CB-1\"\n  status: ONERROR\n"
        ),
        "{text}"
    );
    let (json, _) = run(&h, &[&["watch", "--format", "json"][..], &args].concat(), 0);
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of = |t: &str| lines.iter().find(|v| v["topic"] == t).expect(t).clone();
    assert_eq!(of(ITEM_PROTO_TOPIC)["payload"]["uid"], "E004015012345678");
    assert_eq!(of(ITEM_PROTO_TOPIC)["payload"]["isIn"], true);
    assert_eq!(of(BOARD_PROTO_TOPIC)["payload"]["status"], "ONERROR");
    // test-connect takes the same options; --raw is protoc --decode_raw, indented.
    let (raw, _) = run(
        &h,
        &[
            "test-connect",
            "--encoding",
            "proto",
            "--count",
            "2",
            "--raw",
        ],
        0,
    );
    assert!(raw.contains("  message on centiloc/acme (20 bytes, retained)\n    2: \"E004015012345678\"\n    3: 1\n"), "{raw}");
    let (flags, _) = run(
        &h,
        &[
            "test-connect",
            "--encoding",
            "proto",
            "--count",
            "1",
            "--topics",
            "board",
            "--proto",
            fixtures().join("transtream.proto").to_str().unwrap(),
            "--message",
            "transtreamdatamodel.BoardEvent",
        ],
        0,
    );
    assert!(flags.contains("    status: ONERROR\n"), "{flags}");
    // test-connect's JSON document keeps the payload's fields in the order watch prints
    // them (the schema's), not sorted by name.
    let (doc, _) = run(
        &h,
        &[
            "test-connect",
            "--format",
            "json",
            "--encoding",
            "proto",
            "--count",
            "1",
            "--topics",
            "item",
        ],
        0,
    );
    let payload = |line: &str| {
        let rest = line.split("\"payload\":").nth(1).unwrap_or_default();
        rest.split(",\"received\"")
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    let item = payload(
        json.lines()
            .find(|l| l.contains(&format!("\"topic\":\"{ITEM_PROTO_TOPIC}\"")))
            .unwrap(),
    );
    assert_eq!(payload(&doc), item, "{doc}");
    assert!(item.find("\"uid\"") < item.find("\"isIn\""), "{item}");
}

/// A schema that does not compile, or a message it does not have: 78 before connecting,
/// naming the file and line, or the messages it has.
#[test]
fn a_broken_schema_or_unknown_message_is_78() {
    let (h, _m) = setup();
    let (_, err) = run(
        &h,
        &[
            "watch",
            "--proto",
            fixtures().join("transtream.proto").to_str().unwrap(),
            "--message",
            "item=transtreamdatamodel.Nope",
        ],
        78,
    );
    assert!(
        err.contains("no message \"transtreamdatamodel.Nope\"")
            && err.contains("transtreamdatamodel.BoardEvent"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.proto");
    std::fs::write(
        &bad,
        "syntax = \"proto3\";\nmessage A {\n  int32 x = ;\n}\n",
    )
    .unwrap();
    let (_, err) = run(&h, &["test-connect", "--proto", bad.to_str().unwrap()], 78);
    assert!(err.contains("bad.proto:3:"), "{err}");
}

/// A payload that does not decode is shown (hex in text, payload_base64 in JSON) with the
/// reason and its offset, and watch goes on to the next message.
#[test]
fn undecodable_payload_is_shown_and_watch_goes_on() {
    let (h, m) = setup();
    m.publish(ITEM_PROTO_TOPIC, b"\x0a\x09ab", true);
    m.publish(ITEM_JSON_TOPIC, br#"{"uid":"after"}"#, true);
    let args = ["--topics", "item", "--count", "2"];
    let (text, err) = run(&h, &[&["watch"][..], &args].concat(), 0);
    assert!(text.contains(" centiloc/acme (4 bytes): cannot decode: not valid protobuf: length 9 at byte 1 runs past the end of the data (2 bytes left); the bytes:\n  00000000  0a 09 61 62"), "{text}");
    assert!(text.contains("item after"), "{text}");
    assert!(err.contains("cannot be decoded"), "{err}");
    let (json, _) = run(&h, &[&["watch", "--format", "json"][..], &args].concat(), 0);
    let bad: serde_json::Value = json
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["topic"] == ITEM_PROTO_TOPIC)
        .unwrap();
    assert_eq!(bad["payload_base64"], "CglhYg==");
    assert_eq!(bad["encoding"], "proto", "{bad}");
    assert!(
        bad["error"].as_str().unwrap().contains("at byte 1"),
        "{bad}"
    );
}

/// A promoted renewal reaches a running watch: the broker restarts trusting only the new
/// CA, watch reads the new key and certificate at its reconnect, without a restart. The
/// metrics file counts the reconnection.
#[test]
fn watch_picks_up_a_promoted_renewal_after_a_broker_restart() {
    let (h, mut m) = setup();
    let metrics = h.path().join("watch.prom");
    let w = spawn(
        &h,
        &[
            "--format",
            "json",
            "--topics",
            "item",
            "--encoding",
            "json",
            "--metrics",
            metrics.to_str().unwrap(),
        ],
    );
    w.wait_err("subscribed to", 10);
    m.publish(ITEM_JSON_TOPIC, br#"{"uid":"old"}"#, false);
    assert!(w.line(10).contains("\"old\""));

    h.cmd().arg("renew").assert().code(0);
    let new_ca = Ca::new("Centiloc Support CA 2");
    let csr = h
        .profile_dir("default")
        .join("pending/certificate-request.csr");
    let cert = new_ca.sign_days_from_now(&csr, 365);
    h.cmd().arg("install-cert").arg(&cert).assert().code(0);
    m.trust_only(new_ca);
    m.stop();
    m.run();
    w.wait_err("reconnected to", 20);
    m.publish(ITEM_JSON_TOPIC, br#"{"uid":"new"}"#, false);
    assert!(w.line(10).contains("\"new\""));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&metrics).unwrap();
        if text.contains("\ncentiloc_cert_watch_reconnects_total{profile=\"default\"} 1\n")
            && text.contains("\ncentiloc_cert_watch_connected{profile=\"default\"} 1\n")
            && text.contains(&format!("centiloc_cert_watch_messages_received_total{{profile=\"default\",topic=\"{ITEM_JSON_TOPIC}\"}} 2\n"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
    w.signal("TERM");
    let (code, rest) = w.exit(10);
    assert_eq!(code, Some(0), "{rest}");
}

/// A local certificate that has expired ends watch with 77 and the renewal steps: at
/// start, and at a reload (SIGHUP) once it expired while watch ran.
#[test]
fn an_expired_certificate_ends_watch_with_77() {
    let (h, m) = setup();
    let dir = h.profile_dir("default");
    let now = chrono_now();
    let short = m.client_ca.sign_dates(
        &dir.join("certificate-request.csr"),
        &asn1_time(now - 3600),
        &asn1_time(now + 4),
    );
    std::fs::copy(short, dir.join("tls-cert.pem")).unwrap();
    let w = spawn(&h, &["--topics", "item"]);
    w.wait_err("subscribed to", 10);
    std::thread::sleep(Duration::from_secs(5));
    w.signal("HUP");
    let (code, rest) = w.exit(15);
    assert_eq!(code, Some(77), "{rest}");
    assert!(
        rest.contains("expired on") && rest.contains("renew --mail"),
        "{rest}"
    );
    let (_, err) = run(&h, &["watch"], 77);
    let home = h.path().display();
    let cert = dir.join("tls-cert.pem");
    let expired_on = err
        .split(" expired on ")
        .nth(1)
        .and_then(|r| r.split(": the broker").next())
        .unwrap_or_default();
    assert_eq!(
        err.trim_end(),
        format!(
            "ERROR: the certificate {} expired on {expired_on}: the broker will refuse it; start a renewal and e-mail its CSR to Centiloc support with `centiloc-cert --home {home} renew --mail` (or `centiloc-cert --home {home} renew` to send it yourself), then install their answer with `centiloc-cert --home {home} install-cert tls-cert.pem`; watch stops (exit 77) so that systemd's Restart=on-failure starts it again later, with the new certificate once it is installed",
            cert.display()
        )
    );
    // With the renewal started, the steps are to send that CSR and install the answer
    // (a new user who ran `renew` and then `renew --mail` met "already pending").
    run(&h, &["renew"], 0);
    let (_, err) = run(&h, &["watch"], 77);
    assert!(
        err.contains(&format!(
            "the broker will refuse it; a renewal is already pending: send its CSR to Centiloc support with `centiloc-cert --home {home} csr --mail` (if not sent yet) and install their answer with `centiloc-cert --home {home} install-cert tls-cert.pem`; watch stops"
        )),
        "{err}"
    );
}

/// SIGHUP reloads: a clean DISCONNECT (mosquitto logs "disconnected", not "closed its
/// connection"), then a new connection with the files read again.
#[test]
fn sighup_disconnects_cleanly_and_reconnects() {
    let (h, m) = setup();
    let w = spawn(&h, &["--topics", "item", "--client-id", "acme-hup"]);
    w.wait_err("subscribed to", 10);
    w.signal("HUP");
    w.wait_err("SIGHUP: disconnected", 10);
    w.wait_err("connected to", 10);
    m.publish(ITEM_JSON_TOPIC, br#"{"uid":"after-hup"}"#, false);
    assert!(w.line(10).contains("item after-hup"));
    w.signal("TERM");
    let (code, rest) = w.exit(10);
    assert_eq!(code, Some(0), "{rest}");
    let log = m.log();
    assert!(log.contains("Client acme-hup disconnected."), "{log}");
    assert!(!log.contains("acme-hup closed its connection"), "{log}");
}

/// What is published while a --keep-session watch is down is delivered when it returns,
/// a 2 MB message included (it used to wedge the session, issue 14); with a smaller
/// --max-message-size it is read past, reported and acknowledged, and what follows arrives.
#[test]
fn keep_session_gets_what_came_while_down_and_large_messages_pass() {
    let (h, m) = setup();
    let session = [
        "watch",
        "--keep-session",
        "--client-id",
        "acme-kept",
        "--format",
        "json",
        "--topics",
        "item",
        "--encoding",
        "proto",
    ];
    let w = spawn(&h, &session[1..]);
    w.wait_err("subscribed to", 10);
    w.signal("TERM");
    assert_eq!(w.exit(10).0, Some(0));
    let mut big = b"\x12\x83\x80\x80\x01".to_vec();
    big.resize(5 + (2 << 20) + 3, b'x');
    m.publish(ITEM_PROTO_TOPIC, &big, false);
    m.publish(ITEM_PROTO_TOPIC, ITEM_PROTO, false);
    let (out, err) = run(&h, &[&session[..], &["--count", "2"]].concat(), 0);
    assert!(err.contains("session resumed"), "{err}");
    let sizes: Vec<u64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["size"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(sizes, [big.len() as u64, ITEM_PROTO.len() as u64], "{err}");

    m.publish(ITEM_PROTO_TOPIC, &big, false);
    m.publish(ITEM_PROTO_TOPIC, ITEM_PROTO, false);
    let small = [
        &session[..],
        &["--count", "1", "--max-message-size", "1MiB"],
    ]
    .concat();
    let (out, err) = run(&h, &small, 0);
    assert!(
        out.contains(&format!("\"size\":{}", ITEM_PROTO.len())),
        "{out}"
    );
    assert!(
        err.contains(&format!("skipped a message of {} bytes on centiloc/acme: larger than --max-message-size (1048576 bytes); it was acknowledged", big.len() + 2 + ITEM_PROTO_TOPIC.len() + 2)),
        "{err}"
    );
    // Acknowledged: not redelivered.
    m.publish(ITEM_PROTO_TOPIC, b"\x08\x07", false);
    let (out, err) = run(&h, &small, 0);
    assert!(out.contains("\"size\":2"), "{out}");
    assert!(!err.contains("skipped"), "{err}");
}

/// A broker that accepts TCP but never speaks TLS is retried like any connection failure
/// (issue 14), and SIGTERM still ends watch cleanly.
#[test]
fn a_tls_stall_at_start_is_retried() {
    let (h, _m) = setup();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let broker = format!("127.0.0.1:{port}");
    let w = spawn(&h, &["--broker", &broker, "--connect-timeout", "1s"]);
    w.wait_err(
        "timed out after 1 s waiting for the TLS handshake; reconnecting in",
        10,
    );
    w.wait_err("reconnecting in", 10);
    w.signal("TERM");
    let (code, rest) = w.exit(10);
    assert_eq!(code, Some(0), "{rest}");
    drop(silent);
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `snippet mosquitto-sub --for-decode` pipes one payload into `decode` as it is (no
/// topic, no newline): the real mosquitto_sub, the real pipe.
#[test]
fn mosquitto_sub_for_decode_pipes_into_decode() {
    let (h, m) = setup();
    m.publish(ITEM_PROTO_TOPIC, ITEM_PROTO, true);
    let (script, _) = run(&h, &["snippet", "mosquitto-sub", "--for-decode"], 0);
    assert!(script.contains("-q 1 -C 1 -N \\\n"), "{script}");
    let f = h.path().join("sub.sh");
    std::fs::write(&f, script).unwrap();
    let exe = env!("CARGO_BIN_EXE_centiloc-cert");
    let pipe = format!(
        "sh {} -W 10 -t {ITEM_PROTO_TOPIC} | {exe} decode -",
        f.display()
    );
    let out = Command::new("sh").args(["-c", &pipe]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "2: \"E004015012345678\"\n3: 1\n"
    );
    assert!(!stderr.contains("newline"), "{stderr}");
}

/// `snippet systemd --watch`: a service running watch with a kept session, reload on
/// SIGHUP and Restart=on-failure (an exit 77 is retried once the renewal is in place).
#[test]
fn systemd_watch_service_snippet() {
    let (h, _m) = setup();
    let (unit, _) = run(&h, &["snippet", "systemd", "--watch"], 0);
    for want in [
        "# /etc/systemd/system/centiloc-cert-watch.service\n",
        " watch --format json --keep-session --client-id acme-watch\n",
        "\n#   --metrics /var/lib/prometheus/node-exporter/centiloc-cert-watch.prom\nExecReload=/bin/kill -HUP $MAINPID\n",
        "\nRestart=on-failure\n",
        "\nWantedBy=multi-user.target\n",
    ] {
        assert!(unit.contains(want), "{want:?} in {unit}");
    }
    let home = format!("--home {} ", h.path().display());
    assert!(unit.contains(&home), "{unit}");
    let (_, err) = run(&h, &["snippet", "cron", "--watch"], 64);
    assert!(err.contains("--watch goes with `snippet systemd`"), "{err}");
}

/// test-connect reads past a message over --max-message-size too, says so and goes on.
#[test]
fn test_connect_reads_past_an_oversized_message() {
    let (h, m) = setup();
    let mut big = b"\x12\x83\x80\x80\x01".to_vec();
    big.resize(5 + (2 << 20) + 3, b'x');
    m.publish(ITEM_PROTO_TOPIC, &big, true);
    m.publish(BOARD_PROTO_TOPIC, BOARD_PROTO, true);
    let args = ["test-connect", "--encoding", "proto", "--count", "1"];
    let (out, err) = run(
        &h,
        &[&args[..], &["--max-message-size", "1MiB"]].concat(),
        0,
    );
    assert!(
        out.contains("message on centiloc/acme/proto/board/v1/update"),
        "{out}"
    );
    assert!(
        err.contains(&format!(
            "skipped a message of {} bytes on centiloc/acme: larger than --max-message-size (1048576 bytes)",
            big.len() + 2 + ITEM_PROTO_TOPIC.len() + 2
        )),
        "{err}"
    );
}

/// The lines of a metrics file whose name starts with `family`, as (labels, value).
fn samples(text: &str, family: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter_map(|l| l.strip_prefix(family))
        .filter_map(|rest| {
            let (labels, value) = rest.rsplit_once(' ')?;
            Some((labels.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn promtool_check_metrics(text: &str) {
    let mut child = Command::new(support::require("promtool", "prometheus"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `watch --metrics FILE`: messages and last message time per topic, decode failures,
/// connection state, in a file promtool accepts, replaced atomically (every read whole,
/// no temporary file left, 0644), and written once more at exit with connected 0.
#[test]
fn metrics_file_counts_per_topic_and_passes_promtool() {
    let (h, m) = setup();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("centiloc.prom");
    let start = chrono_now();
    let w = spawn(
        &h,
        &[
            "--format",
            "json",
            "--topics",
            "item",
            "--metrics",
            file.to_str().unwrap(),
        ],
    );
    w.wait_err("subscribed to", 10);
    for i in 0..5 {
        m.publish(
            ITEM_JSON_TOPIC,
            format!(r#"{{"uid":"u{i}"}}"#).as_bytes(),
            false,
        );
    }
    m.publish(ITEM_PROTO_TOPIC, ITEM_PROTO, false);
    m.publish(ITEM_PROTO_TOPIC, b"\x0a\x09ab", false);
    for _ in 0..7 {
        w.line(10);
    }
    let received = "centiloc_cert_watch_messages_received_total";
    let json = format!("{{profile=\"default\",topic=\"{ITEM_JSON_TOPIC}\"}}");
    let proto = format!("{{profile=\"default\",topic=\"{ITEM_PROTO_TOPIC}\"}}");
    // Read it as node_exporter would, again and again, until the counts are in: every
    // read is a whole file.
    let deadline = Instant::now() + Duration::from_secs(15);
    let text = loop {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.ends_with('\n')
                && text.contains("# TYPE centiloc_cert_watch_decode_failures_total counter\n"),
            "{text}"
        );
        if samples(&text, received).contains(&(json.clone(), 5.0)) {
            break text;
        }
        assert!(Instant::now() < deadline, "{text}");
        std::thread::sleep(Duration::from_millis(20));
    };
    promtool_check_metrics(&text);
    assert_eq!(
        samples(&text, received),
        [(proto.clone(), 2.0), (json.clone(), 5.0)]
    );
    assert_eq!(
        samples(&text, "centiloc_cert_watch_decode_failures_total"),
        [(proto.clone(), 1.0), (json.clone(), 0.0)]
    );
    let last = samples(&text, "centiloc_cert_watch_last_message_timestamp_seconds");
    assert!(
        last.len() == 2
            && last
                .iter()
                .all(|(_, t)| *t >= start as f64 && *t <= chrono_now() as f64 + 1.0),
        "{text}"
    );
    assert!(text.contains("\ncentiloc_cert_watch_connected{profile=\"default\"} 1\n"));
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644);
    w.signal("TERM");
    let (code, rest) = w.exit(10);
    assert_eq!(code, Some(0), "{rest}");
    let after = std::fs::read_to_string(&file).unwrap();
    promtool_check_metrics(&after);
    assert!(after.contains("\ncentiloc_cert_watch_connected{profile=\"default\"} 0\n"));
    assert_eq!(samples(&after, received), samples(&text, received));
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["centiloc.prom"]);
}

/// A metrics file that cannot be written is said at start (74), naming it, before any
/// connection; watch does not run blind.
#[test]
fn metrics_file_in_a_missing_directory_is_74_at_start() {
    let (h, m) = setup();
    let file = h.path().join("no-such-dir/centiloc.prom");
    let (_, err) = run(
        &h,
        &["watch", "--metrics", file.to_str().unwrap(), "--count", "1"],
        74,
    );
    assert_eq!(
        err,
        format!(
            "ERROR: cannot write {}: no such file or directory; its directory does not exist: create it or choose another path\n",
            file.display()
        )
    );
    assert!(!m.log().contains("New client connected"), "{}", m.log());
}

/// contrib/prometheus/centiloc-cert-watch.rules.yml: promtool accepts it, and its unit
/// tests (watch-tests.yml: data stops flowing with watch dead and the file frozen, no
/// message since start, disconnected, undecodable payloads) pass.
#[test]
fn shipped_watch_alert_rules_pass_promtool() {
    let promtool = |args: &[&str]| {
        let out = Command::new(support::require("promtool", "prometheus"))
            .args(args)
            .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("contrib/prometheus"))
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "promtool {args:?}:\n{text}");
        text
    };
    let checked = promtool(&["check", "rules", "centiloc-cert-watch.rules.yml"]);
    assert!(checked.contains("SUCCESS: 4 rules found"), "{checked}");
    let tested = promtool(&["test", "rules", "watch-tests.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
}

/// `decode --message item|board|NAME` without `--proto` uses the schema the profile saved
/// (a new user expected `decode` to use what `decode --save-schema` saved); without one,
/// the usage error says how to save one.
#[test]
fn decode_uses_the_saved_schema_when_given_a_message() {
    let h = TestHome::new();
    h.cmd()
        .args(["init", "--tenant", TENANT, "--org", "X", "--email", "a@b.c"])
        .assert()
        .success();
    let payload = h.path().join("item.bin");
    std::fs::write(&payload, ITEM_PROTO).unwrap();
    let p = payload.to_str().unwrap();
    let (_, err) = run(&h, &["decode", "--message", "item", p], 64);
    assert_eq!(
        err.trim_end(),
        format!(
            "ERROR: no item message is saved in {}/profiles/default/profile.toml ([decode] item_message): give --message NAME, or save one with `centiloc-cert --home {} decode --save-schema --proto FILE --message item=NAME --message board=NAME`",
            h.path().display(),
            h.path().display()
        )
    );
    save_schema(&h);
    let (text, _) = run(&h, &["decode", "--message", "item", p], 0);
    assert_eq!(text, "uid: \"E004015012345678\"\nis_in: true\n");
    let (json, _) = run(
        &h,
        &[
            "decode",
            "--message",
            "transtreamdatamodel.ItemEvent",
            "--format",
            "json",
            p,
        ],
        0,
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["uid"], "E004015012345678");
    // A payload whose fields do not fit the message: said in protobuf's words (65).
    let bad = h.path().join("bad.bin");
    std::fs::write(&bad, b"\x1a\x01x").unwrap();
    let (_, err) = run(
        &h,
        &["decode", "--message", "board", bad.to_str().unwrap()],
        65,
    );
    assert_eq!(
        err.trim_end(),
        format!(
            "ERROR: {}: not a valid transtreamdatamodel.BoardEvent: its fields do not fit that message (invalid wire type: length-delimited (expected varint)); check --encoding (or the schema and --message)",
            bad.display()
        )
    );
    // Without --message, decode stays schema-less (SPEC: protoc --decode_raw's view).
    let (raw, _) = run(&h, &["decode", "--encoding", "proto", p], 0);
    assert_eq!(raw, "2: \"E004015012345678\"\n3: 1\n");
}
