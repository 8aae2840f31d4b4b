//! The operator's tools, for real (issue 13): the shipped Prometheus rules under
//! `promtool`, the systemd snippet under `systemd-analyze verify`, the python snippet
//! without paho-mqtt, cron lines as cron runs them.

mod support;

use support::run;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{Ca, TestHome, require};

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

/// The units `snippet systemd` prints, cut at their `# /path/NAME` header comments:
/// (file name, text).
fn units(snippet: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in snippet.lines() {
        let header = line
            .strip_prefix("# /etc/systemd/system/")
            .or_else(|| line.strip_prefix("# ~/.config/systemd/user/"));
        match (header, out.last_mut()) {
            (Some(name), _) => out.push((name.to_owned(), String::new())),
            (None, Some((_, text))) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

/// A server nobody logs into runs a system unit with `User=`, not a user timer
/// (issue 13, item 8); both sets pass `systemd-analyze verify`.
#[test]
fn systemd_snippet_offers_a_system_unit_with_user_and_explains_linger() {
    let analyze = require("systemd-analyze", "systemd");
    let h = TestHome::new();
    let out = h.cmd().args(["snippet", "systemd"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let units = units(&text);
    let names: Vec<&str> = units.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "centiloc-cert-check.service",
            "centiloc-cert-check.timer",
            "centiloc-cert-check.service",
            "centiloc-cert-check.timer"
        ],
        "{text}"
    );
    let me = Command::new("id").arg("-un").output().unwrap();
    let me = String::from_utf8_lossy(&me.stdout).trim().to_owned();
    let (system, user) = (&units[0].1, &units[2].1);
    assert!(system.contains(&format!("\nUser={me}\n")), "{system}");
    assert!(!user.contains("User="), "{user}");
    assert!(
        text.contains(&format!("sudo loginctl enable-linger {me}"))
            && text.contains("systemctl enable --now centiloc-cert-check.timer")
            && text.contains("systemctl --user daemon-reload"),
        "{text}"
    );
    for (i, set) in [&units[..2], &units[2..]].into_iter().enumerate() {
        let dir = h.path().join(format!("units{i}"));
        std::fs::create_dir(&dir).unwrap();
        for (name, body) in set {
            std::fs::write(dir.join(name), body).unwrap();
        }
        let check = Command::new(&analyze)
            .args(["verify", "--man=no"])
            .arg(dir.join("centiloc-cert-check.timer"))
            .arg(dir.join("centiloc-cert-check.service"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&check.stderr);
        assert!(check.status.success() && err.is_empty(), "{err}\n{text}");
    }
}

/// The python first on PATH may lack paho-mqtt: the script says which interpreter and how
/// to install it, instead of a bare ModuleNotFoundError. `python3 -S` leaves out Debian's
/// dist-packages, where python3-paho-mqtt lives, as a venv would.
#[test]
fn python_snippet_explains_a_missing_paho() {
    // Debian's interpreter, whose sys.executable is this very path (a pyenv shim's is not).
    let python = PathBuf::from("/usr/bin/python3");
    assert!(
        python.is_file(),
        "/usr/bin/python3 is missing: run `apt-get install python3`"
    );
    let h = TestHome::new();
    h.init("acme");
    let out = h.cmd().args(["snippet", "python"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Tested with Debian 12's /usr/bin/python3 (Python 3.11)"),
        "{text}"
    );
    let script = h.path().join("sub.py");
    std::fs::write(&script, &out.stdout).unwrap();
    let run = Command::new(&python)
        .arg("-S")
        .arg(&script)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(78), "{err}");
    let exe = python.display().to_string();
    assert!(
        err.starts_with(&format!(
            "error: paho-mqtt is not installed for {exe} (Python 3."
        )) && err.contains(&format!("install it with `{exe} -m pip install paho-mqtt`"))
            && !err.contains("Traceback"),
        "{err}"
    );
}

/// Cron runs with PATH=/usr/bin:/bin: a bare `centiloc-cert` in a crontab line fails
/// there (issue 13). Every cron line in the README, docs/ and `--help` starts its command
/// with an absolute path.
#[test]
fn every_cron_line_in_docs_and_help_uses_an_absolute_path() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts = vec![(
        "README.md".to_owned(),
        std::fs::read_to_string(root.join("README.md")).unwrap(),
    )];
    for e in std::fs::read_dir(root.join("docs")).unwrap() {
        let p = e.unwrap().path();
        texts.push((
            p.display().to_string(),
            std::fs::read_to_string(&p).unwrap(),
        ));
    }
    for args in [
        &["--help"][..],
        &["check-expiry", "--help"],
        &["snippet", "--help"],
    ] {
        let out = TestHome::new().cmd().args(args).output().unwrap();
        texts.push((
            format!("{args:?}"),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ));
    }
    let mut seen = 0;
    for (name, text) in &texts {
        for line in text.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let schedule = fields.len() > 5
                && fields[..5]
                    .iter()
                    .all(|f| f.chars().all(|c| c.is_ascii_digit() || "*/,-".contains(c)));
            if schedule && fields[5].contains("centiloc-cert") {
                seen += 1;
                assert!(fields[5].starts_with('/'), "{name}: {line}");
            }
        }
    }
    assert!(seen >= 3, "only {seen} cron lines found");
}

/// One home with five profiles: client certificates ending in 200, 25, 5 and -1 days, and
/// `new` with only its CA installed: 2 critical, 1 warning, 1 unknown of 10 certificates.
fn fleet() -> (TestHome, Ca) {
    let h = TestHome::new();
    let ca = Ca::new("Centiloc Test CA");
    for (name, days) in [("p200", 200), ("p25", 25), ("p5", 5), ("expired", -1)] {
        h.profile_expiring_in(&ca, name, &format!("t-{name}"), days);
    }
    h.profile_with_csr("new", "t-new");
    std::fs::copy(&ca.cert, h.profile_dir("new").join("ca-cert.pem")).unwrap();
    (h, ca)
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// `check-expiry --all --format prometheus --output FILE` in `h`: exit code, stdout, stderr.
fn write_prometheus(h: &TestHome, file: &Path) -> (i32, String, String) {
    let file = file.to_str().unwrap();
    run(
        h,
        &[
            "check-expiry",
            "--all",
            "--format",
            "prometheus",
            "--output",
            file,
        ],
    )
}

/// `--output`: the file appears whole (0644, no temporary file left), stdout stays empty,
/// the exit code is still the verdict, and promtool's linter finds nothing: base units
/// only, `serial` and `issuer` labels as openssl reads them.
#[test]
fn prometheus_output_is_atomic_lint_free_and_labelled_by_serial_and_issuer() {
    let (h, _ca) = fleet();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("centiloc-cert.prom");
    let (code, out, err) = write_prometheus(&h, &file);
    assert_eq!((code, out.as_str(), err.as_str()), (2, "", ""));
    assert_eq!(entries(dir.path()), ["centiloc-cert.prom"]);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    let text = std::fs::read_to_string(&file).unwrap();
    let lint = Command::new(require("promtool", "prometheus"))
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );
    assert!(lint.status.success() && said.is_empty(), "{said}\n{text}");
    assert!(!text.contains("days_left"), "{text}");
    // The serial and issuer as openssl (an independent parser) reads them.
    let cert = h.profile_dir("p25").join("tls-cert.pem");
    let serial = support::openssl(
        h.path(),
        &["x509", "-in", cert.to_str().unwrap(), "-noout", "-serial"],
    );
    let serial = serial.trim().trim_start_matches("serial=").to_owned();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("centiloc_cert_not_after_timestamp_seconds{")
                && l.contains("profile=\"p25\"")
                && l.contains("kind=\"client\"")
        })
        .unwrap_or_else(|| panic!("no p25 series in\n{text}"));
    let label = |k: &str| {
        let start = line.find(&format!("{k}=\"")).unwrap() + k.len() + 2;
        line[start..].split('"').next().unwrap().to_owned()
    };
    assert_eq!(label("serial").replace(':', ""), serial, "{line}");
    assert!(label("issuer").contains("CN=Centiloc Test CA"), "{line}");
    assert!(
        text.contains(
            "centiloc_cert_check_success{profile=\"new\",tenant=\"t-new\",kind=\"client\"} 0\n"
        ),
        "{text}"
    );
}

/// A run that cannot produce a report leaves the previous file exactly as it was, with no
/// temporary file beside it: usage errors, a missing profile, an unreadable home, a
/// missing directory (named, with the fix).
#[test]
fn output_is_left_alone_when_no_report_can_be_made() {
    let (h, _ca) = fleet();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("centiloc-cert.prom");
    std::fs::write(&file, "old report\n").unwrap();
    let f = file.to_str().unwrap();
    let prom = ["check-expiry", "--format", "prometheus", "--output", f];
    let cases: [(&[&str], i32); 3] = [
        (&["--all", "--warn-days", "soon"], 64),
        (&["--all", "--critical-days", "40", "--warn-days", "30"], 64),
        (&["--profile", "nope"], 66),
    ];
    for (extra, expected) in cases {
        let (code, out, err) = run(&h, &[&prom[..], extra].concat());
        assert_eq!(code, expected, "{extra:?}: {out}{err}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "old report\n");
        assert_eq!(entries(dir.path()), ["centiloc-cert.prom"], "{extra:?}");
    }
    // A home whose profiles/ cannot be listed.
    let broken = TestHome::new();
    std::fs::write(broken.path().join("profiles"), "not a directory").unwrap();
    let (code, _, err) = run(&broken, &[&prom[..], &["--all"]].concat());
    assert_eq!(code, 74, "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "old report\n");
    assert_eq!(entries(dir.path()), ["centiloc-cert.prom"]);
    // A directory that does not exist: said at once, nothing created.
    let gone = dir.path().join("no-such-dir/centiloc-cert.prom");
    let (code, out, err) = run(
        &h,
        &["check-expiry", "--all", "--output", gone.to_str().unwrap()],
    );
    assert_eq!((code, out.as_str()), (74, ""));
    assert_eq!(
        err,
        format!(
            "ERROR: cannot write {}: no such file or directory; its directory does not exist: create it or choose another path\n",
            gone.display()
        )
    );
    assert_eq!(entries(dir.path()), ["centiloc-cert.prom"]);
}

/// Fetches `path` from 127.0.0.1:`port` over plain HTTP/1.0; returns the body.
fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
}

/// node_exporter started by the test, on a free loopback port, stopped by PID on drop.
struct NodeExporter {
    child: std::process::Child,
    port: u16,
}

impl NodeExporter {
    /// Only the textfile collector, reading `dir`.
    fn start(dir: &Path) -> NodeExporter {
        let bin = require("prometheus-node-exporter", "prometheus-node-exporter");
        let port = support::free_port();
        let child = Command::new(bin)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(["--collector.disable-defaults", "--collector.textfile"])
            .arg(format!("--collector.textfile.directory={}", dir.display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start prometheus-node-exporter");
        let exporter = NodeExporter { child, port };
        for _ in 0..100 {
            if http_get(port, "/metrics").is_some() {
                return exporter;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("prometheus-node-exporter did not listen on 127.0.0.1:{port} within 10 s");
    }

    fn scrape(&self) -> String {
        http_get(self.port, "/metrics").expect("scrape node_exporter")
    }
}

impl Drop for NodeExporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The recipe end to end: `--output` into node_exporter's textfile directory, and a real
/// node_exporter serves the series (its own `node_textfile_scrape_error` stays 0).
#[test]
fn node_exporter_textfile_collector_serves_the_output() {
    let (h, _ca) = fleet();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("centiloc-cert.prom");
    let exporter = NodeExporter::start(dir.path());
    let (code, _, err) = write_prometheus(&h, &file);
    assert_eq!(code, 2, "{err}");
    let metrics = exporter.scrape();
    assert!(
        metrics.contains("node_textfile_scrape_error 0"),
        "{metrics}"
    );
    let series: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("centiloc_cert_not_after_timestamp_seconds{"))
        .collect();
    assert_eq!(series.len(), 9, "{metrics}");
    let p25 = series
        .iter()
        .find(|l| l.contains("profile=\"p25\"") && l.contains("kind=\"client\""))
        .unwrap_or_else(|| panic!("{metrics}"));
    let value: f64 = p25.rsplit(' ').next().unwrap().parse().unwrap();
    let now = chrono::Utc::now().timestamp() as f64;
    assert!((value - now - 25.0 * 86400.0).abs() < 300.0, "{p25}");
    assert!(
        metrics.contains(
            "centiloc_cert_check_success{kind=\"client\",profile=\"new\",tenant=\"t-new\"} 0"
        ),
        "{metrics}"
    );
}

/// What Icinga and Nagios take from a plugin run: the exit code (0-3, anything else is
/// "out of bounds"), the status text and perfdata of the first line (split at its `|`),
/// and the long output after it (which must hold no `|`, or Nagios reads perfdata there).
struct PluginRun {
    code: i32,
    status: String,
    perfdata: String,
    long: Vec<String>,
}

fn as_icinga(h: &TestHome, args: &[&str]) -> PluginRun {
    let (code, out, err) = run(h, args);
    assert!(err.is_empty(), "{args:?}: a plugin's stderr is lost: {err}");
    let mut lines = out.lines();
    let first = lines.next().unwrap_or_default();
    let (status, perfdata) = first.split_once('|').unwrap_or((first, ""));
    PluginRun {
        code,
        status: status.trim_end().to_owned(),
        perfdata: perfdata.trim().to_owned(),
        long: lines.map(str::to_owned).collect(),
    }
}

/// The perfdata grammar of the monitoring-plugins development guidelines
/// ('label'=value[UOM];[warn];[crit];[min];[max], space-separated; value may be U).
const PERFDATA: &str = r"^('([^'=]|'')+'|[^'= ]+)=(-?[0-9]+(\.[0-9]+)?|U)(s|ms|us|%|B|KB|MB|TB|c)?(;[@~]?-?[0-9.:~]*){0,4}$";

#[test]
fn nagios_summary_perfdata_and_one_line_per_certificate() {
    use predicates::Predicate as _;
    let (h, _ca) = fleet();
    let r = as_icinga(&h, &["check-expiry", "--all", "--format", "nagios"]);
    assert_eq!(r.code, 2);
    assert_eq!(
        r.status,
        "CENTILOC-CERT CRITICAL - 2 critical, 1 warning, 1 unknown of 10 certificates"
    );
    let grammar = predicates::str::is_match(PERFDATA).unwrap();
    let items: Vec<&str> = r.perfdata.split(' ').collect();
    assert_eq!(items.len(), 10, "{}", r.perfdata);
    for item in &items {
        assert!(grammar.eval(item), "not perfdata grammar: {item}");
    }
    for expected in [
        "'p25/client'=24;30;7;;",
        "'p200/ca'=3649;30;7;;",
        "'expired/client'=-1;30;7;;",
        "'new/client'=U;30;7;;",
    ] {
        assert!(items.contains(&expected), "{expected} in {}", r.perfdata);
    }
    assert_eq!(r.long.len(), 10, "{:?}", r.long);
    let states: Vec<&str> = r
        .long
        .iter()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        states,
        [
            "CRITICAL", "CRITICAL", "UNKNOWN", "WARNING", "OK", "OK", "OK", "OK", "OK", "OK"
        ]
    );
    for line in &r.long {
        assert!(!line.contains('|') && !line.contains('`'), "{line}");
    }
    // One profile, all OK.
    let r = as_icinga(
        &h,
        &["--profile", "p200", "check-expiry", "--format", "nagios"],
    );
    assert_eq!(r.code, 0);
    assert_eq!(r.status, "CENTILOC-CERT OK - 2 certificates OK");
    assert_eq!(r.perfdata, "'p200/client'=199;30;7;; 'p200/ca'=3649;30;7;;");
}

/// Every error is an UNKNOWN line on stdout with exit 3, never 64/66/78 with an empty
/// stdout ("Return code of 66 is out of bounds", issue 13).
#[test]
fn nagios_errors_are_unknown_lines_with_exit_3() {
    let h = TestHome::new();
    h.init("acme");
    let nagios = ["check-expiry", "--format", "nagios"];
    let cases: [(&[&str], &str); 5] = [
        (
            &["--bogus"],
            "CENTILOC-CERT UNKNOWN - unexpected argument '--bogus' found",
        ),
        (
            &["--warn-days", "soon"],
            "CENTILOC-CERT UNKNOWN - invalid value 'soon' for '--warn-days",
        ),
        (
            &["--profile", "nope"],
            "CENTILOC-CERT UNKNOWN - no profile \"nope\" in ",
        ),
        (
            &["--notify"],
            "CENTILOC-CERT UNKNOWN - e-mail is not set up: ",
        ),
        (
            &["--critical-days", "9", "--warn-days", "3"],
            "CENTILOC-CERT UNKNOWN - --critical-days 9 is more than --warn-days 3",
        ),
    ];
    for (extra, start) in cases {
        let r = as_icinga(&h, &[&nagios[..], extra].concat());
        assert_eq!(r.code, 3, "{extra:?}: {}", r.status);
        assert!(r.status.starts_with(start), "{extra:?}: {}", r.status);
        assert!(!r.status.contains('`'), "{}", r.status);
        assert!(r.perfdata.is_empty() && r.long.is_empty(), "{extra:?}");
    }
    // A home without profiles: UNKNOWN with the way out.
    let empty = TestHome::new();
    let r = as_icinga(&empty, &["check-expiry", "--all", "--format", "nagios"]);
    assert_eq!(r.code, 3);
    assert!(
        r.status
            .starts_with("CENTILOC-CERT UNKNOWN - no profiles in ")
            && r.status.contains("create one with 'centiloc-cert"),
        "{}",
        r.status
    );
}
