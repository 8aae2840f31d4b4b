//! Hostile files (issue 14 item 5): a FIFO, a device or a directory where a file is
//! expected is refused at once, naming it; an endless file is cut at the size limit of
//! its kind; `check-expiry --all` reports such a profile UNKNOWN and goes on.

mod support;

use support::run;

use std::path::Path;
use std::time::{Duration, Instant};

use support::{Ca, TestHome};

fn mkfifo(path: &Path) {
    let st = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo (coreutils) runs");
    assert!(st.success(), "mkfifo {}", path.display());
}

#[test]
fn every_file_input_refuses_a_fifo_at_once_naming_it() {
    let h = TestHome::new();
    h.init("t1");
    let fifo = h.path().join("pipe");
    mkfifo(&fifo);
    let f = fifo.to_str().unwrap();
    let want = format!(
        "ERROR: {f} is a named pipe (FIFO), not a regular file: give the path of the file itself\n"
    );
    for args in [
        vec!["install-cert", f],
        vec!["install-ca", f],
        vec!["decode", f],
        [&support::INIT_OTHER[..], &["--key", f]].concat(),
    ] {
        let started = Instant::now();
        let (code, _, err) = run(&h, &args);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{args:?} took too long"
        );
        assert_eq!(code, 66, "{args:?}: {err}");
        assert!(err.ends_with(&want), "{args:?}: {err}");
    }
    let (code, out, _) = run(&h, &["check-expiry", "--cert", f]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("named pipe (FIFO), not a regular file"),
        "{out}"
    );
}

#[test]
fn a_directory_or_device_is_refused_and_endless_input_is_cut() {
    let h = TestHome::new();
    h.init("t1");
    let dir = h.path().to_str().unwrap().to_owned();
    let (code, _, err) = run(&h, &["install-ca", &dir]);
    assert_eq!(code, 66, "{err}");
    assert!(
        err.contains(&format!("{dir} is a directory, not a regular file")),
        "{err}"
    );
    let (code, _, err) = run(&h, &["install-cert", "/dev/zero"]);
    assert_eq!(code, 66, "{err}");
    assert!(
        err.contains("/dev/zero is a device, not a regular file"),
        "{err}"
    );
    // Standard input has the same limit: 33 MiB is no certificate, nor support's e-mail.
    let out = h
        .cmd()
        .args(["install-cert", "-"])
        .write_stdin(vec![b'A'; 33 * 1024 * 1024])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{err}");
    assert!(
        err.ends_with("ERROR: standard input is larger than 32 MiB, too large for a certificate or the e-mail carrying it: check that it is the right file\n"),
        "{err}"
    );
}

#[test]
fn check_expiry_all_reports_a_fifo_or_endless_profile_unknown_and_goes_on() {
    let h = TestHome::new();
    let ca = Ca::new("Centiloc Test CA");
    h.profile_expiring_in(&ca, "good", "t-good", 200);
    h.profile_expiring_in(&ca, "fifo", "t-fifo", 200);
    h.profile_expiring_in(&ca, "zero", "t-zero", 200);
    let fifo_cert = h.profile_dir("fifo").join("tls-cert.pem");
    std::fs::remove_file(&fifo_cert).unwrap();
    mkfifo(&fifo_cert);
    // "Endless": a link to /dev/zero, made only inside this temp home.
    let zero_cert = h.profile_dir("zero").join("tls-cert.pem");
    std::fs::remove_file(&zero_cert).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &zero_cert).unwrap();
    let started = Instant::now();
    let (code, out, err) = run(&h, &["check-expiry", "--all"]);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(code, 3, "{out}{err}");
    let line = |start: &str| {
        out.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line starting {start:?} in:\n{out}"))
    };
    let fifo = line("UNKNOWN fifo (t-fifo) client certificate: ");
    assert!(
        fifo.contains(&format!(
            "{} is a named pipe (FIFO), not a regular file",
            fifo_cert.display()
        )),
        "{fifo}"
    );
    let zero = line("UNKNOWN zero (t-zero) client certificate: ");
    assert!(
        zero.contains(&format!(
            "{} is a device, not a regular file",
            zero_cert.display()
        )),
        "{zero}"
    );
    line("OK good (t-good) client certificate");
}

#[test]
fn a_fifo_as_schema_or_import_is_refused_at_once() {
    let h = TestHome::new();
    let d = h.path();
    mkfifo(&d.join("fifo.proto"));
    std::fs::write(
        d.join("top.proto"),
        "syntax = \"proto3\";\nimport \"fifo.proto\";\nmessage M { int32 a = 1; }\n",
    )
    .unwrap();
    std::fs::write(d.join("payload.bin"), [0x08, 0x01]).unwrap();
    for proto in ["fifo.proto", "top.proto"] {
        let started = Instant::now();
        let out = h
            .cmd()
            .current_dir(d)
            .args(["decode", "--encoding", "proto", "--proto", proto, "-I", "."])
            .args(["--message", "M", "payload.bin"])
            .timeout(Duration::from_secs(20))
            .output()
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(10), "{proto}");
        let err = String::from_utf8_lossy(&out.stderr);
        // A schema the user gave that cannot be used: 78, like any other schema error.
        assert_eq!(out.status.code(), Some(78), "{proto}: {err}");
        assert!(
            err.contains("fifo.proto is a named pipe (FIFO), not a regular file"),
            "{proto}: {err}"
        );
    }
}
