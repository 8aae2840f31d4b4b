//! `csr --out` (issue 14 item 8): created new, never renamed over anything but a regular
//! file even with `--force`; a FIFO, device or symbolic link is refused with 73 and left
//! as it was; `-` is standard output.

mod support;

use std::os::unix::fs::FileTypeExt;

use support::TestHome;

fn csr_out(h: &TestHome, out: &std::path::Path, force: bool) -> (i32, String) {
    let mut c = h.cmd();
    c.args(["csr", "--out"]).arg(out);
    if force {
        c.arg("--force");
    }
    let o = c.output().unwrap();
    (
        o.status.code().unwrap(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn force_never_replaces_a_fifo_or_a_device() {
    let h = TestHome::new();
    h.init("t1");
    let fifo = h.path().join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let (code, err) = csr_out(&h, &fifo, true);
    assert_eq!(code, 73, "{err}");
    assert_eq!(
        err,
        format!(
            "ERROR: {} is a named pipe (FIFO), not a regular file: it is left alone; choose a file path for the output\n",
            fifo.display()
        )
    );
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    // A device node of our own (the /dev/null numbers), where the system lets us make one.
    let dev = h.path().join("null");
    let made = std::process::Command::new("mknod")
        .arg(&dev)
        .args(["c", "1", "3"])
        .output()
        .unwrap();
    if made.status.success() {
        let (code, err) = csr_out(&h, &dev, true);
        assert_eq!(code, 73, "{err}");
        assert!(err.contains("is a device, not a regular file"), "{err}");
        assert!(
            std::fs::symlink_metadata(&dev)
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }
}

#[test]
fn a_symlink_is_refused_and_its_target_untouched() {
    let h = TestHome::new();
    h.init("t1");
    let target = h.path().join("elsewhere.txt");
    std::fs::write(&target, "keep me").unwrap();
    let link = h.path().join("link.csr");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    for force in [false, true] {
        let (code, err) = csr_out(&h, &link, force);
        assert_eq!(code, 73, "force={force}: {err}");
        // The same sentence either way: "pass --force" would be wrong advice, as --force
        // refuses a link too.
        let want = format!(
            "ERROR: {} is a symbolic link, not a regular file: it is left alone; choose a file path for the output\n",
            link.display()
        );
        assert_eq!(err, want);
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    }
    // A dangling link is not followed to create its target either.
    let dangling = h.path().join("dangling.csr");
    std::os::unix::fs::symlink(h.path().join("nowhere"), &dangling).unwrap();
    let (code, _) = csr_out(&h, &dangling, false);
    assert_eq!(code, 73);
    assert!(!h.path().join("nowhere").exists());
}

#[test]
fn a_regular_file_is_replaced_only_with_force_and_dash_is_stdout() {
    let h = TestHome::new();
    h.init("t1");
    let out = h.path().join("req.csr");
    assert_eq!(csr_out(&h, &out, false).0, 0);
    let first = std::fs::read_to_string(&out).unwrap();
    assert!(first.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
    assert_eq!(csr_out(&h, &out, false).0, 73);
    assert_eq!(csr_out(&h, &out, true).0, 0);
    let o = h.cmd().args(["csr", "--out", "-"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
    assert!(!h.path().join("-").exists());
}
