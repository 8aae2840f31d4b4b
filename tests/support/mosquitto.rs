//! A real mosquitto playing Centiloc's User-MQTT broker: TLS on a free loopback port with
//! `require_certificate true` (client CA = the `Ca` that signs our CSRs), a server
//! certificate from a separate broker CA (SAN IP:127.0.0.1, DNS:localhost), a password
//! file, an ACL allowing only the tenant's topics, `set_tcp_nodelay true`. Stopped by PID
//! on drop. Publishing goes through `mosquitto_pub` with its own client certificate.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Ca, TestHome, asn1_time, free_port, openssl, require};

pub const PUBLISHER: &str = "publisher";
pub const PUBLISHER_PASSWORD: &str = "pub-Secret-9";

pub struct Mosquitto {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// A second listener on 127.0.0.2, where the server certificate's SAN does not match.
    pub port_other_ip: u16,
    pub client_ca: Ca,
    pub broker_ca: Ca,
    child: Option<Child>,
    extra_conf: String,
}

impl Mosquitto {
    /// Starts a broker for `tenant` with user `user`/`password`.
    pub fn start(tenant: &str, user: &str, password: &str) -> Mosquitto {
        Self::start_with(tenant, user, password, "persistence false\n")
    }

    pub fn start_with(tenant: &str, user: &str, password: &str, extra_conf: &str) -> Mosquitto {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let client_ca = Ca::new("Centiloc Support CA");
        let broker_ca = Ca::new("Centiloc Broker CA");
        make_key_csr(d, "server", "/CN=localhost");
        let now = now();
        let server = broker_ca.sign_ext(
            &d.join("server.csr"),
            &asn1_time(now - 86_400),
            &asn1_time(now + 30 * 86_400),
            "server_ext",
        );
        std::fs::copy(server, d.join("server.pem")).unwrap();
        make_key_csr(d, "publisher", "/CN=publisher");
        let pubcert = client_ca.sign_days_from_now(&d.join("publisher.csr"), 30);
        std::fs::copy(pubcert, d.join("publisher.pem")).unwrap();
        let passwd = require("mosquitto_passwd", "mosquitto");
        for (i, (u, p)) in [(user, password), (PUBLISHER, PUBLISHER_PASSWORD)]
            .into_iter()
            .enumerate()
        {
            let st = Command::new(&passwd)
                .args(if i == 0 {
                    &["-c", "-b"][..]
                } else {
                    &["-b"][..]
                })
                .arg(d.join("passwd"))
                .args([u, p])
                .status()
                .unwrap();
            assert!(st.success());
        }
        std::fs::write(
            d.join("acl"),
            format!(
                "user {user}\ntopic read centiloc/{tenant}\ntopic read centiloc/{tenant}/#\n\nuser {PUBLISHER}\ntopic readwrite centiloc/#\n"
            ),
        )
        .unwrap();
        let mut m = Mosquitto {
            port: free_port(),
            port_other_ip: free_port(),
            client_ca,
            broker_ca,
            child: None,
            extra_conf: extra_conf.to_owned(),
            dir,
        };
        m.write_conf();
        m.run();
        m
    }

    fn write_conf(&self) {
        let d = self.dir.path();
        let tls = format!(
            "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\n",
            self.client_ca.cert.display(),
            d.join("server.pem").display(),
            d.join("server.key").display()
        );
        let conf = format!(
            "per_listener_settings false\n# Run as root keeps root: mosquitto would otherwise switch to user mosquitto, who cannot\n# read the temporary directory.\nuser {}\nallow_anonymous false\npassword_file {}\nacl_file {}\nset_tcp_nodelay true\nlog_dest file {}\n{}\nlistener {} 127.0.0.1\n{tls}\nlistener {} 127.0.0.2\n{tls}",
            current_user(),
            d.join("passwd").display(),
            d.join("acl").display(),
            d.join("mosquitto.log").display(),
            self.extra_conf,
            self.port,
            self.port_other_ip,
        );
        std::fs::write(d.join("mosquitto.conf"), conf).unwrap();
    }

    /// From the next [`Mosquitto::run`] on, trusts only `ca` for client certificates (as
    /// after Centiloc rotates its support CA); the publisher's certificate is re-signed.
    pub fn trust_only(&mut self, ca: Ca) {
        let d = self.dir.path();
        let pubcert = ca.sign_days_from_now(&d.join("publisher.csr"), 30);
        std::fs::copy(pubcert, d.join("publisher.pem")).unwrap();
        self.client_ca = ca;
        self.write_conf();
    }

    /// (Re)starts the process and waits until the port accepts connections.
    pub fn run(&mut self) {
        let bin = require("mosquitto", "mosquitto");
        let child = Command::new(bin)
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.path().join("stderr.log")).unwrap())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the process (by PID) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
        read("stderr.log") + &read("mosquitto.log")
    }

    pub fn broker_arg(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The mosquitto_pub TLS and login options, for benchmarks and tests.
    pub fn pub_args(&self) -> Vec<String> {
        let d = self.dir.path();
        vec![
            "-h".into(),
            "127.0.0.1".into(),
            "-p".into(),
            self.port.to_string(),
            "--cafile".into(),
            self.broker_ca.cert.display().to_string(),
            "--cert".into(),
            d.join("publisher.pem").display().to_string(),
            "--key".into(),
            d.join("publisher.key").display().to_string(),
            "-u".into(),
            PUBLISHER.into(),
            "-P".into(),
            PUBLISHER_PASSWORD.into(),
        ]
    }

    /// Publishes `payload` on `topic` with QoS 1, retained when asked.
    pub fn publish(&self, topic: &str, payload: &[u8], retain: bool) {
        let f = self.dir.path().join("payload.bin");
        std::fs::write(&f, payload).unwrap();
        let mut c = Command::new(require("mosquitto_pub", "mosquitto-clients"));
        c.args(self.pub_args())
            .args(["-q", "1", "-t", topic, "-f"])
            .arg(&f);
        if retain {
            c.arg("-r");
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "mosquitto_pub failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `NAME.key` (P-256) and `NAME.csr` in `dir`, made by openssl.
pub fn make_key_csr(dir: &Path, name: &str, subj: &str) {
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            subj,
        ],
    );
}

/// A profile ready to connect to `m`: key and CSR by `init`/`csr`, the certificate
/// `sign` makes from the CSR, the broker CA, username and password put in place directly
/// (independent of install-cert/credentials).
pub fn ready_profile(
    h: &TestHome,
    m: &Mosquitto,
    tenant: &str,
    user: &str,
    password: &str,
    sign: impl FnOnce(&Path) -> PathBuf,
) {
    h.cmd()
        .args(["init", "--tenant", tenant, "--org", "Demo Corp"])
        .args(["--email", "ops@example.com", "--username", user])
        .args(["--broker", &m.broker_arg()])
        .assert()
        .success();
    h.cmd().arg("csr").assert().success();
    let dir = h.profile_dir("default");
    let cert = sign(&dir.join("certificate-request.csr"));
    std::fs::copy(cert, dir.join("tls-cert.pem")).unwrap();
    std::fs::copy(&m.broker_ca.cert, dir.join("ca-cert.pem")).unwrap();
    let pw = dir.join("mqtt-password");
    std::fs::write(&pw, password).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A broker for tenant `acme` (user `acme-user`) and, in `h`, a profile ready to connect to
/// it with a renewal pending (`renew` done): where installing a renewed certificate starts.
pub fn renewing_profile(h: &TestHome, password: &str) -> Mosquitto {
    let m = Mosquitto::start("acme", "acme-user", password);
    ready_profile(h, &m, "acme", "acme-user", password, |csr| {
        m.client_ca.sign_days_from_now(csr, 365)
    });
    h.cmd().arg("renew").assert().success();
    m
}
