//! Test support: the real binary against a temporary `--home`, and the real peers a user's
//! setup has (openssl as Centiloc support's CA; later mosquitto and an SMTP server).
//! A missing tool fails the test with the package to install; nothing skips silently.
#![allow(dead_code)]

pub mod expiry;
pub mod smtp;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

pub mod mosquitto;

/// Fails the test with an install hint when `tool` is not on PATH.
pub fn require(tool: &str, debian_package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(tool);
        if candidate.is_file() {
            return candidate;
        }
    }
    for dir in ["/usr/sbin", "/sbin", "/usr/local/sbin"] {
        let candidate = Path::new(dir).join(tool);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "`{tool}` is not installed: run `apt-get install {debian_package}` (scripts/test does it for you)"
    );
}

/// A temporary home (`--home`) for one test.
pub struct TestHome {
    pub dir: TempDir,
}

impl TestHome {
    pub fn new() -> TestHome {
        TestHome {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The binary with `--home` set and a clean environment for our variables.
    pub fn cmd(&self) -> assert_cmd::Command {
        assert_cmd::Command::from_std(bin(self.path()))
    }

    pub fn profile_dir(&self, name: &str) -> PathBuf {
        self.path().join("profiles").join(name)
    }

    /// `init` the default profile for `tenant` with a fresh key, asserting success.
    pub fn init(&self, tenant: &str) -> &Self {
        self.init_named("default", tenant);
        self
    }

    /// `init` then `csr`; returns the CSR path.
    pub fn init_with_csr(&self, tenant: &str) -> PathBuf {
        self.init_named_with_csr("default", tenant)
    }

    /// `init` profile `name` for `tenant`, asserting success.
    pub fn init_named(&self, name: &str, tenant: &str) {
        self.cmd()
            .args(["--profile", name, "init", "--tenant", tenant])
            .args(["--org", "Demo Corp", "--email", "ops@example.com"])
            .assert()
            .success();
    }

    /// `init` then `csr` for profile `name`; returns the CSR path.
    pub fn init_named_with_csr(&self, name: &str, tenant: &str) -> PathBuf {
        self.init_named(name, tenant);
        self.cmd()
            .args(["--profile", name, "csr"])
            .assert()
            .success();
        self.profile_dir(name).join("certificate-request.csr")
    }
}

/// The binary as a plain [`Command`] with `--home home` and none of our variables set.
pub fn bin(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_centiloc-cert"));
    c.arg("--home").arg(home);
    for var in [
        "CENTILOC_CERT_HOME",
        "CENTILOC_CERT_PROFILE",
        "CENTILOC_MQTT_PASSWORD",
        "CENTILOC_SMTP_PASSWORD",
    ] {
        c.env_remove(var);
    }
    c
}

/// Asserts that a finished run exited 0 (its stderr is the failure message); returns stdout.
pub fn success_stdout(out: std::process::Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs openssl with `args` in `cwd`, asserting success; returns stdout.
pub fn openssl(cwd: &Path, args: &[&str]) -> String {
    let bin = require("openssl", "openssl");
    let out = Command::new(bin)
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// [`openssl`] with `line` as typed after `openssl` in a shell: words split at spaces, so
/// no word may hold one (use [`openssl`] for those).
pub fn openssl_line(cwd: &Path, line: &str) -> String {
    openssl(cwd, &line.split(' ').collect::<Vec<_>>())
}

/// A message built by Python's `email` package from `spec` (see
/// tests/fixtures/mail/make_reply.py).
pub fn mail(spec: serde_json::Value) -> Vec<u8> {
    use std::io::Write;
    use std::process::Stdio;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail/make_reply.py");
    let mut child = Command::new(require("python3", "python3"))
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(spec.to_string().as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "make_reply.py failed");
    out.stdout
}

/// `openssl ecparam -name CURVE -genkey -noout -out FILE` in `dir`: the documented recipe.
pub fn ec_key(dir: &Path, curve: &str, file: &str) {
    openssl(
        dir,
        &["ecparam", "-name", curve, "-genkey", "-noout", "-out", file],
    );
}

/// Every file under `dir` with its bytes, to prove a refusal changed nothing.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if e.file_name() != ".lock" {
                let rel = p.strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// The check named `name` (e.g. `certificate_validity`) of a `status --format json` document.
pub fn status_check<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    status["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["check"] == name))
        .unwrap_or_else(|| panic!("no check {name} in {status}"))
}

/// The arguments of an `init` of a second profile, `other` (tenant `t2`), with every
/// required value given.
pub const INIT_OTHER: [&str; 9] = [
    "--profile",
    "other",
    "init",
    "--tenant",
    "t2",
    "--org",
    "O",
    "--email",
    "a@b.co",
];

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A certificate authority played by openssl, as Centiloc support does.
pub struct Ca {
    pub dir: TempDir,
    pub cert: PathBuf,
    pub key: PathBuf,
}

const CA_CONF: &str = "\
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = .
database = ./index.txt
new_certs_dir = ./newcerts
certificate = ./ca.pem
private_key = ./ca.key
serial = ./serial
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = yes
[ policy_any ]
countryName = optional
stateOrProvinceName = optional
localityName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied
emailAddress = optional
[ client_ext ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
[ server_ext ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
";

impl Ca {
    /// A new self-signed P-256 CA named `cn`, valid ten years.
    pub fn new(cn: &str) -> Ca {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        openssl(
            d,
            &[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                "ca.key",
            ],
        );
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                "ca.key",
                "-days",
                "3650",
                "-out",
                "ca.pem",
                "-subj",
                &format!("/O=Test CA/CN={cn}"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        std::fs::write(d.join("ca.cnf"), CA_CONF).unwrap();
        std::fs::write(d.join("v3.ext"), "basicConstraints = CA:FALSE\n").unwrap();
        std::fs::write(d.join("index.txt"), "").unwrap();
        std::fs::write(d.join("serial"), "1000\n").unwrap();
        std::fs::create_dir(d.join("newcerts")).unwrap();
        Ca {
            cert: d.join("ca.pem"),
            key: d.join("ca.key"),
            dir,
        }
    }

    /// Signs `csr` the simplest way: `openssl x509 -req -days N` without extensions, which
    /// makes an X.509 version 1 certificate (install-cert refuses those; see install.rs).
    pub fn sign(&self, csr: &Path, days: u32) -> PathBuf {
        self.sign_x509(csr, days, &[])
    }

    /// Like [`Ca::sign`] with `basicConstraints = CA:FALSE`, which makes it version 3.
    pub fn sign_v3(&self, csr: &Path, days: u32) -> PathBuf {
        self.sign_x509(csr, days, &["-extfile", "v3.ext"])
    }

    fn sign_x509(&self, csr: &Path, days: u32, extra: &[&str]) -> PathBuf {
        let out = self.dir.path().join(format!("signed-{}.pem", unique()));
        let (days, serial) = (days.to_string(), unique().to_string());
        let mut args = vec![
            "x509",
            "-req",
            "-in",
            csr.to_str().unwrap(),
            "-days",
            &days,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            &serial,
            "-out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        openssl(self.dir.path(), &args);
        out
    }

    /// Signs `csr` with `openssl ca`, clientAuth extensions and exact dates
    /// (`YYYYMMDDHHMMSSZ`), e.g. for expired or not-yet-valid cases.
    pub fn sign_dates(&self, csr: &Path, start: &str, end: &str) -> PathBuf {
        self.sign_ext(csr, start, end, "client_ext")
    }

    /// Like [`Ca::sign_dates`] with a named extension section of the CA config
    /// (`client_ext` or `server_ext`).
    pub fn sign_ext(&self, csr: &Path, start: &str, end: &str, ext: &str) -> PathBuf {
        let out = self.dir.path().join(format!("ca-signed-{}.pem", unique()));
        openssl(
            self.dir.path(),
            &[
                "ca",
                "-batch",
                "-config",
                "ca.cnf",
                "-extensions",
                ext,
                "-preserveDN",
                "-notext",
                "-in",
                csr.to_str().unwrap(),
                "-out",
                out.to_str().unwrap(),
                "-startdate",
                start,
                "-enddate",
                end,
            ],
        );
        out
    }

    /// Signs `csr` valid from yesterday until `days` from now (negative: already expired).
    pub fn sign_days_from_now(&self, csr: &Path, days: i64) -> PathBuf {
        let now = chrono_like_now();
        let start = if days < 0 {
            now - 400 * 86_400
        } else {
            now - 86_400
        };
        let end = now + days * 86_400;
        self.sign_dates(csr, &asn1_time(start), &asn1_time(end))
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    t * 1000 + N.fetch_add(1, Ordering::Relaxed)
}

fn chrono_like_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Seconds since the epoch as `YYYYMMDDHHMMSSZ` (openssl ca's -startdate/-enddate form).
pub fn asn1_time(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0)
        .unwrap()
        .format("%Y%m%d%H%M%SZ")
        .to_string()
}

/// Exit code (-1 when killed by a signal), stdout and stderr of a finished run.
pub fn outcome(out: std::process::Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the binary with `args` in `h`, stopped after 20 s (a hang is a failure, not a
/// stuck suite): exit code, stdout, stderr.
pub fn run(h: &TestHome, args: &[&str]) -> (i32, String, String) {
    let out = h
        .cmd()
        .args(args)
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .unwrap();
    outcome(out)
}

/// Runs `install-cert` with `args` (stdin `input` when given), expecting exit `code`, one
/// `ERROR:` sentence holding every text of `says`, and the whole home byte-identical
/// afterwards. Returns stderr.
pub fn assert_install_refused(
    h: &TestHome,
    args: &[&str],
    input: Option<&[u8]>,
    code: i32,
    says: &[&str],
) -> String {
    let before = snapshot(h.path());
    let mut c = h.cmd();
    c.arg("install-cert").args(args);
    if let Some(bytes) = input {
        c.write_stdin(bytes.to_vec());
    }
    let out = c.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
    assert!(err.starts_with("ERROR: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one sentence: {err}");
    for s in says {
        assert!(err.contains(s), "{args:?}: {s:?} not in {err}");
    }
    assert_eq!(snapshot(h.path()), before, "{args:?} changed files");
    err
}

/// Runs the binary with `args` (one shell word string, after `--home`) on a real terminal
/// (`script`, util-linux, gives it a pty), answering each prompt once it is shown (the
/// n-th time for a repeated prompt), as a person would. Returns the exit code and
/// everything the terminal showed.
pub fn on_terminal(h: &TestHome, args: &str, replies: &[(&str, &str)]) -> (Option<i32>, String) {
    use std::io::{Read, Write};
    use std::process::Stdio;
    use std::sync::mpsc;
    let script = require("script", "bsdutils");
    let line = format!(
        "{} --home {} {args}",
        env!("CARGO_BIN_EXE_centiloc-cert"),
        h.path().display()
    );
    let mut child = Command::new(script)
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    let mut stdin = child.stdin.take().unwrap();
    let mut asked = std::collections::HashMap::new();
    for (prompt, reply) in replies {
        let n = asked.entry(*prompt).or_insert(0);
        *n += 1;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while seen.matches(prompt).count() < *n {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(chunk) => seen.push_str(&String::from_utf8_lossy(&chunk)),
                Err(_) => panic!("no prompt {prompt:?} (#{n}); got {seen:?}"),
            }
        }
        // Let the terminal switch echo off before typing.
        std::thread::sleep(std::time::Duration::from_millis(200));
        stdin.write_all(format!("{reply}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }
    let code = child.wait().unwrap().code();
    while let Ok(chunk) = rx.recv_timeout(std::time::Duration::from_millis(500)) {
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    (code, seen)
}

/// Runs protoc (the protobuf reference) in `dir` with `stdin`: `Ok(stdout)`, or
/// `Err(stderr)` when it refuses the input. protoc missing fails the test saying what
/// to install.
pub fn protoc_in(dir: &Path, args: &[&str], stdin: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Write as _;
    let mut child = std::process::Command::new("protoc")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("these tests compare with protoc 3.21, which cannot run ({e}): apt-get install protobuf-compiler")
        });
    let mut input = child.stdin.take().expect("piped stdin");
    let data = stdin.to_vec();
    // A writer thread: protoc may answer before it has read everything.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("protoc runs");
    let _ = writer.join();
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}
