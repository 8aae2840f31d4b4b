//! The process keeps its secrets out of core dumps (issue 14 item 9): RLIMIT_CORE is 0
//! (read from /proc/PID/limits of a running command) and it made itself non-dumpable
//! (the prctl call seen by strace, and its result).

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::TestHome;

#[test]
fn a_running_command_has_no_core_limit_and_is_not_dumpable() {
    let h = TestHome::new();
    h.init("t1");
    // `install-cert -` waits for its certificate on standard input: a live process.
    let mut child = Command::new(env!("CARGO_BIN_EXE_centiloc-cert"))
        .arg("--home")
        .arg(h.path())
        .args(["install-cert", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let limits = format!("/proc/{}/limits", child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let line = loop {
        let text = std::fs::read_to_string(&limits).unwrap_or_default();
        let core = text
            .lines()
            .find(|l| l.starts_with("Max core file size"))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "));
        match core {
            Some(l) if l == "Max core file size 0 0 bytes" => break l,
            _ if std::time::Instant::now() > deadline => panic!("core limit not 0: {core:?}"),
            _ => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    };
    assert_eq!(line, "Max core file size 0 0 bytes");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"not a certificate")
        .unwrap();
    child.wait().unwrap();
}

#[test]
fn it_calls_prctl_set_dumpable_0_and_it_succeeds() {
    support::require("strace", "strace");
    let h = TestHome::new();
    let trace = h.path().join("trace");
    let out = Command::new("strace")
        .arg("-o")
        .arg(&trace)
        .args(["-e", "trace=prctl,prlimit64,setrlimit"])
        .arg(env!("CARGO_BIN_EXE_centiloc-cert"))
        .arg("--home")
        .arg(h.path())
        .arg("list")
        .output()
        .unwrap();
    support::success_stdout(out);
    let text = std::fs::read_to_string(&trace).unwrap();
    assert!(
        text.lines().any(
            |l| l.starts_with("prctl(PR_SET_DUMPABLE, SUID_DUMP_DISABLE") && l.ends_with("= 0")
        ),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("RLIMIT_CORE, {rlim_cur=0, rlim_max=0}") && l.ends_with("= 0")),
        "{text}"
    );
}
