//! A real SMTP server for the tests: aiosmtpd (Debian python3-aiosmtpd, for
//! /usr/bin/python3) delivering into a Maildir. Messages are read back with python's own
//! `email` parser, not ours, so a test checks what a mail client would see.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

const PYTHON: &str = "/usr/bin/python3";

/// One received e-mail, as python's `email` package parsed it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Mail {
    pub from: String,
    pub to: String,
    pub reply_to: Option<String>,
    pub subject: String,
    /// The `Message-ID` and `Date` headers as received (`None` when absent).
    pub message_id: Option<String>,
    pub date: Option<String>,
    pub text: String,
    pub html: Option<String>,
    pub attachments: Vec<MailAttachment>,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct MailAttachment {
    pub filename: String,
    pub content_type: String,
    pub content: String,
}

/// aiosmtpd on 127.0.0.1, killed (by PID) when dropped.
pub struct Smtp {
    child: Child,
    pub port: u16,
    pub maildir: TempDir,
}

fn require_aiosmtpd() {
    let ok = Command::new(PYTHON)
        .args(["-c", "import aiosmtpd"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "aiosmtpd is not installed for {PYTHON}: run `apt-get install python3-aiosmtpd` (scripts/test does it for you)"
    );
}

impl Smtp {
    /// Starts a server on a free port and waits until it accepts connections.
    pub fn start() -> Smtp {
        Smtp::start_on(super::free_port())
    }

    pub fn start_on(port: u16) -> Smtp {
        require_aiosmtpd();
        let maildir = tempfile::tempdir().expect("temp dir");
        let mut server = Command::new(PYTHON);
        server
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            // A path that does not exist yet: Maildir creates it with tmp/ new/ cur/.
            .arg(maildir.path().join("Maildir"));
        Smtp::spawn(server, port, maildir)
    }

    /// A server that refuses mail until the client logs in (AUTH PLAIN/LOGIN) as `user`
    /// with `password`, offered without TLS on loopback as a local relay would. The
    /// password reaches the server through its environment, not its argv.
    pub fn start_with_auth(user: &str, password: &str) -> Smtp {
        require_aiosmtpd();
        let port = super::free_port();
        let maildir = tempfile::tempdir().expect("temp dir");
        let mut server = Command::new(PYTHON);
        server
            .args(["-c", AUTH_SERVER])
            .arg(port.to_string())
            .arg(maildir.path().join("Maildir"))
            .arg(user)
            .env("SMTP_TEST_PASSWORD", password);
        Smtp::spawn(server, port, maildir)
    }

    /// Starts `server` (an aiosmtpd on `port` delivering into `maildir`) and returns once
    /// its port accepts connections (a failure after 10 s).
    fn spawn(mut server: Command, port: u16, maildir: TempDir) -> Smtp {
        let child = server
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let smtp = Smtp {
            child,
            port,
            maildir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on 127.0.0.1:{port} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        smtp
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message delivered so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        read_maildir(&self.maildir.path().join("Maildir"))
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const AUTH_SERVER: &str = r#"
import os, sys, threading
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword
port, maildir, user = int(sys.argv[1]), sys.argv[2], sys.argv[3]
password = os.environ["SMTP_TEST_PASSWORD"]
def check(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == password
    # handled=False: aiosmtpd then answers 535 itself (handled=True would leave the
    # client waiting for a reply that never comes).
    return AuthResult(success=ok, handled=False)
c = Controller(Mailbox(maildir), hostname="127.0.0.1", port=port, authenticator=check,
               auth_required=True, auth_require_tls=False)
c.start()
threading.Event().wait()
"#;

const PARSE: &str = r#"
import email, email.policy, json, mailbox, os, sys
box = mailbox.Maildir(sys.argv[1], create=False)
out = []
for key in box.iterkeys():
    path = os.path.join(sys.argv[1], box._lookup(key))
    with open(path, "rb") as f:
        m = email.message_from_binary_file(f, policy=email.policy.default)
    plain = m.get_body(("plain",))
    html = m.get_body(("html",))
    atts = []
    for a in m.iter_attachments():
        c = a.get_content()
        atts.append({"filename": a.get_filename(), "content_type": a.get_content_type(),
                     "content": c.decode() if isinstance(c, bytes) else c})
    out.append({"from": str(m["From"]), "to": str(m["To"]),
                "reply_to": str(m["Reply-To"]) if m["Reply-To"] else None,
                "subject": str(m["Subject"]), "order": os.stat(path).st_mtime_ns,
                "message_id": str(m["Message-ID"]) if m["Message-ID"] else None,
                "date": str(m["Date"]) if m["Date"] else None,
                "text": plain.get_content() if plain else "",
                "html": html.get_content() if html else None, "attachments": atts})
out.sort(key=lambda x: x["order"])
print(json.dumps(out))
"#;

fn read_maildir(dir: &Path) -> Vec<Mail> {
    if !dir.join("new").is_dir() {
        return Vec::new();
    }
    let out = Command::new(PYTHON)
        .args(["-c", PARSE])
        .arg(dir)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "parsing the Maildir failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("parser output is JSON")
}
