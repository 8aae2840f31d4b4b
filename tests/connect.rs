//! `test-connect`, `watch` and the MQTT snippets against a real mosquitto (mutual TLS,
//! password file, ACL), one case per outcome of issue 5. Every run's output is checked
//! for the password.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use predicates::prelude::*;
use support::mosquitto::{Mosquitto, ready_profile};
use support::{Ca, TestHome, require};

const TENANT: &str = "acme";
const USER: &str = "acme-user";
const PASSWORD: &str = "s3cret-Pw-7731";
const ITEM_JSON: &str = r#"{"momentum":"2026-11-25T10:00:00Z","uid":"E004015012345678","is_in":true,"board_sn":"CB-000123","pos_mm":[120,45]}"#;
/// Protobuf by hand: field 1 (string) "E004015012345678", field 2 (varint) 1.
const ITEM_PROTO: &[u8] = b"\x0a\x10E004015012345678\x10\x01";

fn setup() -> (TestHome, Mosquitto) {
    let m = Mosquitto::start(TENANT, USER, PASSWORD);
    let h = TestHome::new();
    ready_profile(&h, &m, TENANT, USER, PASSWORD, |csr| {
        m.client_ca.sign_days_from_now(csr, 365)
    });
    (h, m)
}

/// [`setup`] with a stored MQTT password the broker refuses.
fn setup_with_wrong_password() -> (TestHome, Mosquitto) {
    let (h, m) = setup();
    store_wrong_password(&h);
    (h, m)
}

/// A retained JSON board update for board `CB-1` on `m`, there for any subscriber.
fn retain_board_cb1(m: &Mosquitto) {
    m.publish(
        "centiloc/acme/json/board/v1/update",
        br#"{"BoardSN":"CB-1"}"#,
        true,
    );
}

/// Replaces the profile's stored MQTT password with one the broker refuses.
fn store_wrong_password(h: &TestHome) {
    std::fs::write(h.profile_dir("default").join("mqtt-password"), "wrong-pw").unwrap();
}

/// Runs test-connect with `args`; asserts the exit code and that the password never shows.
fn test_connect(h: &TestHome, args: &[&str], code: i32) -> (String, String) {
    let out = h.cmd().arg("test-connect").args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stdout.contains(PASSWORD) && !stderr.contains(PASSWORD),
        "password leaked"
    );
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    (stdout, stderr)
}

#[test]
fn success_decodes_json_and_protobuf_messages() {
    let (h, m) = setup();
    m.publish(
        "centiloc/acme/json/item/v1/update",
        ITEM_JSON.as_bytes(),
        true,
    );
    m.publish("centiloc/acme", ITEM_PROTO, true);
    let (out, _) = test_connect(
        &h,
        &[
            "--topics",
            "item",
            "--count",
            "2",
            "--timeout",
            "5",
            "--format",
            "json",
        ],
        0,
    );
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["ok"], true);
    let stages: Vec<&str> = doc["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        ["dns", "tcp", "tls", "connect", "subscribe", "messages"]
    );
    assert!(doc["client_id"].as_str().unwrap().starts_with("acme-"));
    let msgs = doc["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    let json_msg = msgs.iter().find(|m| m["encoding"] == "json").unwrap();
    assert_eq!(json_msg["payload"]["uid"], "E004015012345678");
    assert_eq!(json_msg["topic"], "centiloc/acme/json/item/v1/update");
    let proto_msg = msgs.iter().find(|m| m["encoding"] == "proto").unwrap();
    assert_eq!(proto_msg["size"], ITEM_PROTO.len());

    // The same in text: one ✓ line per stage.
    let (text, _) = test_connect(
        &h,
        &["--topics", "item", "--encoding", "json", "--timeout", "5"],
        0,
    );
    for label in [
        "✓ DNS",
        "✓ TCP connect",
        "✓ TLS handshake",
        "✓ MQTT CONNECT",
        "✓ SUBSCRIBE",
        "✓ messages",
    ] {
        assert!(text.contains(label), "{label} missing in {text}");
    }
    assert!(text.contains("E004015012345678"), "{text}");
}

/// By name, as a profile names Centiloc's broker: the name goes through the system
/// resolver (the release binary is static; glibc's built-in "files" and "dns" lookups
/// serve it) and the broker's certificate is checked for that name (SAN DNS:localhost).
#[test]
fn broker_by_host_name_resolves_and_matches_the_certificate() {
    let (h, m) = setup();
    retain_board_cb1(&m);
    let broker = format!("localhost:{}", m.port);
    let (out, _) = test_connect(
        &h,
        &[
            "--broker",
            &broker,
            "--topics",
            "board",
            "--encoding",
            "json",
            "--timeout",
            "5",
        ],
        0,
    );
    assert!(out.contains("✓ DNS"), "{out}");
    assert!(out.contains("127.0.0.1"), "{out}");
    assert!(out.contains("CB-1"), "{out}");
}

#[test]
fn wrong_password_is_refused_77_naming_username_and_password() {
    let (h, _m) = setup_with_wrong_password();
    let (out, err) = test_connect(&h, &["--timeout", "2"], 77);
    assert!(out.contains("✗ MQTT CONNECT"), "{out}");
    assert!(err.contains("bad username or password"), "{err}");
    assert!(err.contains("certificate"), "{err}");
}

#[test]
fn password_from_environment_overrides_the_file() {
    let (h, m) = setup_with_wrong_password();
    retain_board_cb1(&m);
    let out = h
        .cmd()
        .env("CENTILOC_MQTT_PASSWORD", PASSWORD)
        .args(["test-connect", "--timeout", "5"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(PASSWORD));
}

#[test]
fn client_certificate_from_another_ca_is_rejected_77() {
    let m = Mosquitto::start(TENANT, USER, PASSWORD);
    let other = Ca::new("Not Centiloc");
    let h = TestHome::new();
    ready_profile(&h, &m, TENANT, USER, PASSWORD, |csr| {
        other.sign_days_from_now(csr, 365)
    });
    let (_, err) = test_connect(&h, &["--timeout", "2"], 77);
    assert!(err.contains("rejected the client certificate"), "{err}");
}

#[test]
fn broker_ca_not_trusted_is_76_naming_the_ca_file() {
    let (h, m) = setup();
    // The client CA is not the one that signed the broker's certificate.
    std::fs::copy(
        &m.client_ca.cert,
        h.profile_dir("default").join("ca-cert.pem"),
    )
    .unwrap();
    let (out, err) = test_connect(&h, &["--timeout", "2"], 76);
    assert!(out.contains("✗ TLS handshake"), "{out}");
    assert!(
        err.contains("not trusted by the CA file") && err.contains("ca-cert.pem"),
        "{err}"
    );
    // The fix carries this run's --home, and test-connect does have --ca.
    assert!(
        err.contains(&format!(
            "`centiloc-cert --home {} install-ca ca-cert.pem`, or pass --ca FILE",
            h.path().display()
        )),
        "{err}"
    );
    assert!(!err.contains("Other("), "{err}");
    // With --ca given, the installed CA is not to blame: the hint is about the flag.
    let ca = m.client_ca.cert.display().to_string();
    let (_, err) = test_connect(&h, &["--timeout", "2", "--ca", &ca], 76);
    assert_eq!(
        err,
        format!(
            "ERROR: the broker's certificate is not signed by the CA in {ca} (given with --ca): pass the CA file that signed the broker's certificate, or leave out --ca to use the profile's\n"
        )
    );
}

#[test]
fn hostname_mismatch_is_76() {
    let (h, m) = setup();
    let broker = format!("127.0.0.2:{}", m.port_other_ip);
    let (_, err) = test_connect(&h, &["--broker", &broker, "--timeout", "2"], 76);
    assert!(
        err.contains("hostname mismatch") && err.contains("127.0.0.2"),
        "{err}"
    );
}

#[test]
fn nothing_listening_is_69() {
    let (h, _m) = setup();
    let broker = format!("127.0.0.1:{}", support::free_port());
    let (out, err) = test_connect(&h, &["--broker", &broker], 69);
    assert!(
        out.contains("✓ DNS") && out.contains("✗ TCP connect"),
        "{out}"
    );
    assert!(err.contains("refused the connection"), "{err}");
    // Said once (it used to be on the ✗ line and again as the error).
    assert_eq!(
        format!("{out}{err}")
            .matches("refused the connection")
            .count(),
        1,
        "{out}{err}"
    );
}

#[test]
fn unknown_host_is_69() {
    let (h, _m) = setup();
    let (_, err) = test_connect(&h, &["--broker", "no-such-host.invalid:8883"], 69);
    assert!(err.contains("cannot resolve the broker name"), "{err}");
}

#[test]
fn no_message_before_timeout_is_75_and_says_it_can_be_normal() {
    let (h, _m) = setup();
    let (out, err) = test_connect(&h, &["--timeout", "300ms"], 75);
    assert!(
        out.contains("✓ SUBSCRIBE") && out.contains("✗ messages"),
        "{out}"
    );
    assert!(
        err.contains("0 of 1") && err.contains("normal when no item moved"),
        "{err}"
    );
}

/// mosquitto 2.0.11's acl_file grants every SUBSCRIBE and filters on delivery instead, so
/// the refusal (SUBACK 0x80, as Centiloc's broker sends for a foreign tenant's topic) is
/// played by a minimal python TLS broker with the same certificates.
const REFUSING_BROKER: &str = r#"
import socket, ssl, sys
d, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(d + "/server.pem", d + "/server.key")
ctx.load_verify_locations(sys.argv[3])
ctx.verify_mode = ssl.CERT_REQUIRED
srv = socket.create_server(("127.0.0.1", port))
print("ready", flush=True)
conn, _ = srv.accept()
s = ctx.wrap_socket(conn, server_side=True)
def packet():
    head = s.recv(1)
    n, mult = 0, 1
    while True:
        b = s.recv(1)[0]
        n += (b & 127) * mult
        mult *= 128
        if b < 128:
            break
    body = b""
    while len(body) < n:
        body += s.recv(n - len(body))
    return head[0] >> 4, body
assert packet()[0] == 1
s.sendall(bytes([0x20, 2, 0, 0]))
kind, body = packet()
assert kind == 8
s.sendall(bytes([0x90, 3, body[0], body[1], 0x80]))
packet()
"#;

#[test]
fn subscription_refused_by_the_broker_is_77() {
    let (h, m) = setup();
    let script = h.path().join("refusing_broker.py");
    std::fs::write(&script, REFUSING_BROKER).unwrap();
    let port = support::free_port();
    let mut broker = Command::new("/usr/bin/python3")
        .arg(&script)
        .arg(m.dir.path())
        .arg(port.to_string())
        .arg(&m.client_ca.cert)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let ready = lines(&mut broker).recv_timeout(Duration::from_secs(10));
    assert_eq!(ready.as_deref(), Ok("ready"));
    let addr = format!("127.0.0.1:{port}");
    let (out, err) = test_connect(
        &h,
        &[
            "--broker",
            &addr,
            "--topic",
            "centiloc/other/json/item/v1/update",
        ],
        77,
    );
    let _ = broker.kill();
    let _ = broker.wait();
    assert!(out.contains("✗ SUBSCRIBE"), "{out}");
    assert!(
        err.contains("refused the subscription") && err.contains("centiloc/other"),
        "{err}"
    );
}

#[test]
fn expired_certificate_is_stopped_in_preflight_65() {
    let m = Mosquitto::start(TENANT, USER, PASSWORD);
    let h = TestHome::new();
    ready_profile(&h, &m, TENANT, USER, PASSWORD, |csr| {
        m.client_ca.sign_days_from_now(csr, -2)
    });
    let (out, err) = test_connect(&h, &[], 65);
    assert!(!out.contains("DNS"), "no network stage may run: {out}");
    assert!(err.contains("expired on") && err.contains("renew"), "{err}");
}

#[test]
fn missing_ca_is_66_with_the_fix() {
    let (h, _m) = setup();
    std::fs::remove_file(h.profile_dir("default").join("ca-cert.pem")).unwrap();
    h.cmd().arg("test-connect").assert().code(66).stderr(
        predicate::str::contains("install-ca ca-cert.pem")
            .and(predicate::str::contains("--ca FILE")),
    );
}

/// SPEC: `--format json` is one JSON document, also when pre-flight fails or the flags
/// are unusable; the sentence still goes to stderr.
#[test]
fn json_document_when_preflight_fails_and_timeout_0_is_a_usage_error() {
    let (h, _m) = setup();
    let doc = |args: &[&str], code: i32| {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let (out, err) = test_connect(&h, &all, code);
        assert!(err.starts_with("ERROR: "), "{err}");
        let doc: serde_json::Value = serde_json::from_str(&out).expect(&out);
        assert_eq!(doc["ok"], false, "{doc}");
        assert_eq!(doc["exit_code"], code, "{doc}");
        doc
    };
    // --timeout 0 leaves no time for --count messages: 64 before any network traffic.
    let (_, err) = test_connect(&h, &["--timeout", "0"], 64);
    assert!(
        err.contains("--timeout 0") && err.contains("--count"),
        "{err}"
    );
    let d = doc(&["--timeout", "0"], 64);
    assert!(d["error"].as_str().unwrap().contains("--timeout"), "{d}");
    // --count 0 needs no time for messages.
    test_connect(&h, &["--count", "0", "--timeout", "0"], 0);

    std::fs::remove_file(h.profile_dir("default").join("ca-cert.pem")).unwrap();
    let d = doc(&[], 66);
    assert!(
        d["error"]
            .as_str()
            .unwrap()
            .contains("install-ca ca-cert.pem"),
        "{d}"
    );
    assert_eq!(d["failed_stage"], "preflight");
    assert_eq!(d["stages"], serde_json::json!([]));
}

#[test]
fn a_certificate_expiring_today_says_within_24_hours() {
    let m = Mosquitto::start(TENANT, USER, PASSWORD);
    let h = TestHome::new();
    let now = chrono::Utc::now().timestamp();
    ready_profile(&h, &m, TENANT, USER, PASSWORD, |csr| {
        m.client_ca.sign_dates(
            csr,
            &support::asn1_time(now - 86_400),
            &support::asn1_time(now + 6 * 3600),
        )
    });
    let (_, err) = test_connect(&h, &["--count", "0"], 0);
    assert!(err.contains("expires within 24 hours"), "{err}");
    assert!(!err.contains("0 day"), "{err}");
}

#[test]
fn share_group_without_tenant_prefix_is_refused() {
    let (h, _m) = setup();
    h.cmd()
        .args(["test-connect", "--share", "group1"])
        .assert()
        .code(78)
        .stderr(predicate::str::contains("start with the tenant ID"));
}

/// Reads `child`'s stdout lines into a channel.
fn lines(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

#[test]
fn watch_survives_a_broker_restart_and_exits_0_on_sigterm() {
    let (h, mut m) = setup();
    let mut child = Command::new(env!("CARGO_BIN_EXE_centiloc-cert"))
        .arg("--home")
        .arg(h.path())
        .args([
            "watch",
            "--format",
            "json",
            "--topics",
            "item",
            "--encoding",
            "json",
        ])
        .env_remove("CENTILOC_MQTT_PASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines(&mut child);
    let topic = "centiloc/acme/json/item/v1/update";
    m.publish(topic, br#"{"uid":"first"}"#, true);
    let first = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("first message");
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(v["payload"]["uid"], "first");
    assert_eq!(v["topic"], topic);

    m.stop();
    std::thread::sleep(Duration::from_millis(300));
    m.run();
    m.publish(topic, br#"{"uid":"second"}"#, true);
    let second = rx
        .recv_timeout(Duration::from_secs(15))
        .expect("message after restart");
    assert!(second.contains("\"second\""), "{second}");

    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("reconnected to"), "{err}");
    assert!(err.contains("lost the connection"), "{err}");
    assert!(!err.contains(PASSWORD));
}

#[test]
fn python_snippet_receives_a_message() {
    let (h, m) = setup();
    let py = require("python3", "python3-paho-mqtt");
    let _ = py; // the Debian paho is for /usr/bin/python3 only
    m.publish(
        "centiloc/acme/json/item/v1/update",
        ITEM_JSON.as_bytes(),
        true,
    );
    let out = h.cmd().args(["snippet", "python"]).output().unwrap();
    assert!(out.status.success());
    let script = h.path().join("sub.py");
    std::fs::write(&script, &out.stdout).unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains(PASSWORD));
    // A long --timeout: the script must still exit as soon as --count messages came (its
    // timer used to keep the process alive until the timeout).
    let started = std::time::Instant::now();
    let run = Command::new("/usr/bin/python3")
        .arg(&script)
        .args(["--count", "1", "--timeout", "30"])
        .output()
        .unwrap();
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("centiloc/acme/json/item/v1/update") && stdout.contains("E004015012345678"),
        "{stdout}"
    );
    assert!(
        took < Duration::from_secs(5),
        "took {took:?} for a retained message"
    );

    // A wrong password: a clear sentence naming the reason, a non-zero status, at once.
    store_wrong_password(&h);
    let started = std::time::Instant::now();
    let run = Command::new("/usr/bin/python3")
        .arg(&script)
        .args(["--count", "1", "--timeout", "30"])
        .output()
        .unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(77), "{stderr}");
    assert!(
        stderr.contains("refused the login of user 'acme-user'")
            && (stderr.contains("not authorised") || stderr.contains("bad username or password")),
        "{stderr}"
    );
    assert!(!stderr.contains("Traceback"), "{stderr}");
    assert!(
        took < Duration::from_secs(5),
        "took {took:?} to report a refused login"
    );
}

#[test]
fn mosquitto_sub_snippet_receives_a_message_without_password_on_argv() {
    let (h, m) = setup();
    m.publish("centiloc/acme/proto/board/v1/update", b"\x08\x01", true);
    let out = h.cmd().args(["snippet", "mosquitto-sub"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains(PASSWORD) && !text.contains("-P \""),
        "{text}"
    );
    let script = h.path().join("sub.sh");
    std::fs::write(&script, text.as_bytes()).unwrap();
    let run = Command::new("sh")
        .arg(&script)
        .args(["-C", "1", "-W", "10"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.starts_with("centiloc/acme/proto/board/v1/update"),
        "{stdout}"
    );
}

/// Without `[notify]` in config.toml, `check-expiry --notify` exits 78 every day without
/// checking anything: the job goes without --notify and a note says how to enable e-mail.
#[test]
fn cron_and_systemd_snippets_without_notify_config_leave_out_notify_and_say_so() {
    let h = TestHome::new();
    let config = h.path().join("config.toml");
    for kind in ["cron", "systemd"] {
        let out = h.cmd().args(["snippet", kind]).output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            text.contains("check-expiry --all --quiet") && !text.contains("--notify"),
            "{text}"
        );
        assert!(
            err.starts_with("Note: ")
                && err.contains("[notify]")
                && err.contains(&config.display().to_string()),
            "{err}"
        );
    }
    // The job it prints runs: exit 0 here (no profiles, nothing to warn about), not 78.
    h.cmd()
        .args(["check-expiry", "--all", "--quiet"])
        .assert()
        .code(predicate::ne(78));
}

#[test]
fn cron_and_systemd_snippets_schedule_the_daily_check_for_this_home() {
    let h = TestHome::new();
    h.write_config("[notify]\nsmtp_url = \"smtp://mail.example.com:587?tls=required\"\nfrom = \"certs@example.com\"\n");
    let home = h.path().display().to_string();
    let cron = h.cmd().args(["snippet", "cron"]).output().unwrap();
    assert!(
        cron.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&cron.stderr)
    );
    let cron = String::from_utf8_lossy(&cron.stdout);
    assert!(
        cron.contains(&format!(
            "--home {home} check-expiry --all --notify --quiet"
        )),
        "{cron}"
    );
    assert!(
        cron.lines().any(|l| l.starts_with("17 8 * * * /")),
        "{cron}"
    );
    let unit = h.cmd().args(["snippet", "systemd"]).output().unwrap();
    let unit = String::from_utf8_lossy(&unit.stdout);
    assert!(
        unit.contains("OnCalendar=daily") && unit.contains("Type=oneshot"),
        "{unit}"
    );
    assert!(
        unit.contains(&format!(
            "--home {home} check-expiry --all --notify --quiet"
        )),
        "{unit}"
    );
}

const ITEM_TOPIC: &str = "centiloc/acme/json/item/v1/update";

/// `watch` for JSON item events with `extra` options, stdout to `stdout`; returns the
/// child and its stderr lines (read by a thread).
fn spawn_watch(
    h: &TestHome,
    extra: &[&str],
    stdout: Stdio,
) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_centiloc-cert"))
        .arg("--home")
        .arg(h.path())
        .args(["watch", "--format", "json", "--topics", "item"])
        .args(["--encoding", "json"])
        .args(extra)
        .env_remove("CENTILOC_MQTT_PASSWORD")
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// Waits for the "subscribed" note, so that what is published next is delivered.
fn wait_subscribed(err: &mpsc::Receiver<String>) -> Vec<String> {
    let mut seen = Vec::new();
    while let Ok(line) = err.recv_timeout(Duration::from_secs(10)) {
        let done = line.contains("subscribed to");
        seen.push(line);
        if done {
            return seen;
        }
    }
    panic!("watch did not subscribe: {seen:?}");
}

/// The exit status within 15 s (the child is killed otherwise), and the rest of stderr.
fn exit_of(child: &mut std::process::Child, err: &mpsc::Receiver<String>) -> (Option<i32>, String) {
    for _ in 0..150 {
        if let Some(st) = child.try_wait().unwrap() {
            std::thread::sleep(Duration::from_millis(100));
            return (st.code(), err.try_iter().collect::<Vec<_>>().join("\n"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!(
        "watch did not stop: {:?}",
        err.try_iter().collect::<Vec<_>>()
    );
}

/// Issue 14: `watch --keep-session | head -1` stops once its reader is gone, without
/// acknowledging what it could not hand on; the next `watch` of that session gets it.
#[test]
fn watch_stops_when_its_reader_goes_and_the_session_keeps_the_rest() {
    let (h, m) = setup();
    let session = ["--keep-session", "--client-id", "acme-kept-1"];
    let (mut child, err) = spawn_watch(&h, &session, Stdio::piped());
    wait_subscribed(&err);
    m.publish(ITEM_TOPIC, br#"{"uid":"m1"}"#, false);
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("\"m1\""), "{first}");
    // The reader is gone now (like `head -1` exiting).
    for n in 2..=4 {
        m.publish(ITEM_TOPIC, format!(r#"{{"uid":"m{n}"}}"#).as_bytes(), false);
    }
    let (code, rest) = exit_of(&mut child, &err);
    assert_eq!(code, Some(0), "{rest}");
    assert!(
        !rest.contains("ERROR") && !rest.contains("internal"),
        "{rest}"
    );
    m.publish(ITEM_TOPIC, br#"{"uid":"m5"}"#, false);

    let (child, err) = spawn_watch(
        &h,
        &[&session[..], &["--count", "4"]].concat(),
        Stdio::piped(),
    );
    let out = child.wait_with_output().unwrap();
    let stderr = err.try_iter().collect::<Vec<_>>().join("\n");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let uids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["payload"]["uid"].to_string()
        })
        .collect();
    assert_eq!(uids, ["\"m2\"", "\"m3\"", "\"m4\"", "\"m5\""], "{stderr}");
}

/// A full disk behind stdout stops `watch` with 74, the reason in words.
#[test]
fn watch_into_a_full_disk_exits_74() {
    let (h, m) = setup();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let (mut child, err) = spawn_watch(&h, &[], Stdio::from(full));
    wait_subscribed(&err);
    m.publish(ITEM_TOPIC, br#"{"uid":"m1"}"#, false);
    let (code, rest) = exit_of(&mut child, &err);
    assert_eq!(code, Some(74), "{rest}");
    assert_eq!(
        rest,
        "ERROR: cannot write to standard output: the disk is full; check where the output is redirected"
    );
}

/// `test-connect | true` and `> /dev/full`: the check still runs and exits with its
/// own code, or 74 when the report could not be written.
#[test]
fn test_connect_with_a_closed_or_full_stdout() {
    let (h, _m) = setup();
    let run = |stdout: Stdio| {
        let out = Command::new(env!("CARGO_BIN_EXE_centiloc-cert"))
            .arg("--home")
            .arg(h.path())
            .args(["test-connect", "--count", "0"])
            .env_remove("CENTILOC_MQTT_PASSWORD")
            .stdout(stdout)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (r, w) = std::io::pipe().unwrap();
    drop(r);
    let (code, err) = run(Stdio::from(w));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(err, "");
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let (code, err) = run(Stdio::from(full));
    assert_eq!(code, Some(74), "{err}");
    assert_eq!(
        err,
        "ERROR: cannot write to standard output: the disk is full; check where the output is redirected\n"
    );
}

/// `watch | head -1` in a quiet hour: the reader is gone before any message comes, and
/// watch notices within seconds instead of holding its session until the next message.
#[test]
fn watch_stops_when_its_reader_goes_while_no_message_comes() {
    let (h, _m) = setup();
    let (mut child, err) = spawn_watch(&h, &[], Stdio::piped());
    wait_subscribed(&err);
    drop(child.stdout.take());
    let started = std::time::Instant::now();
    let (code, rest) = exit_of(&mut child, &err);
    assert_eq!(code, Some(0), "{rest}");
    assert!(!rest.contains("ERROR"), "{rest}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
