//! A profile's own folders and files are never followed through symbolic links, a crashed
//! run's leftovers are cleared by the next run that takes the lock, and `status` holds a
//! group- or world-writable profile directory against it (issue 14 items 2, 10, 12).

mod support;

use support::run;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use support::TestHome;

fn refused_link(link: &Path) -> String {
    format!(
        "ERROR: {} is a symbolic link, which centiloc-cert does not follow inside a profile: replace it with the real folder or file, then retry\n",
        link.display()
    )
}

#[test]
fn a_symlinked_lock_is_refused_and_creates_nothing() {
    let h = TestHome::new();
    h.init("t1");
    let p = h.profile_dir("default");
    let _ = std::fs::remove_file(p.join(".lock"));
    let planted = h.path().join("planted");
    std::os::unix::fs::symlink(&planted, p.join(".lock")).unwrap();
    let (code, _, err) = run(&h, &["credentials", "--username", "u"]);
    assert_eq!(code, 74, "{err}");
    assert_eq!(err, refused_link(&p.join(".lock")));
    assert!(!planted.exists(), "the link was followed");
}

#[test]
fn a_symlinked_pending_or_archive_folder_is_refused() {
    let h = TestHome::new();
    h.init("t1");
    let p = h.profile_dir("default");
    let elsewhere = h.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    for sub in ["pending", "archive"] {
        std::os::unix::fs::symlink(&elsewhere, p.join(sub)).unwrap();
        let (code, _, err) = run(
            &h,
            &[
                "init", "--force", "--tenant", "t2", "--org", "O", "--email", "a@b.co",
            ],
        );
        assert_eq!(code, 74, "{sub}: {err}");
        assert_eq!(err, refused_link(&p.join(sub)));
        std::fs::remove_file(p.join(sub)).unwrap();
    }
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    // Nothing was replaced: the profile is still tenant t1's.
    let toml = std::fs::read_to_string(p.join("profile.toml")).unwrap();
    assert!(toml.contains("\"t1\""), "{toml}");
}

#[test]
fn leftovers_of_a_crashed_run_are_removed_by_the_next_locking_command() {
    let h = TestHome::new();
    h.init("t1");
    let p = h.profile_dir("default");
    let staging = p.join(".staging-crashed");
    std::fs::create_dir(&staging).unwrap();
    std::fs::write(staging.join("private-key.pem"), "secret").unwrap();
    std::fs::write(p.join(".tmp-abc123"), "half").unwrap();
    let root = h.path().join("profiles");
    let init_staging = root.join(".init-other-xyz");
    std::fs::create_dir(&init_staging).unwrap();
    std::fs::write(init_staging.join(".lock"), "").unwrap();
    std::fs::write(init_staging.join("private-key.pem"), "secret").unwrap();

    let (code, _, err) = run(&h, &["credentials", "--username", "u"]);
    assert_eq!(code, 0, "{err}");
    assert!(!staging.exists() && !p.join(".tmp-abc123").exists());

    let (code, _, err) = run(&h, &support::INIT_OTHER);
    assert_eq!(code, 0, "{err}");
    assert!(!init_staging.exists());
}

#[test]
fn status_marks_a_world_writable_profile_directory() {
    let h = TestHome::new();
    h.init("t1");
    let p = h.profile_dir("default");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, out, _) = run(&h, &["status"]);
    assert_ne!(code, 0);
    let line = out
        .lines()
        .find(|l| l.contains("others on this machine can replace its key"))
        .unwrap_or_else(|| panic!("no directory line in:\n{out}"));
    assert!(
        line.contains(&format!("{} is mode 0777", p.display())),
        "{line}"
    );
    assert!(line.contains('✗'), "{line}");
    assert!(out.contains(&format!("chmod 700 {}", p.display())), "{out}");
}

#[test]
fn a_refused_install_ca_leaves_no_archive_folder_and_init_makes_the_lock() {
    let h = TestHome::new();
    h.init("t1");
    let p = h.profile_dir("default");
    let bad = h.path().join("not-a-ca.pem");
    std::fs::write(
        &bad,
        "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let (code, _, _) = run(&h, &["install-ca", bad.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(!p.join("archive").exists());
    // The lock file is born with the profile, not made later by a refused command.
    assert!(p.join(".lock").is_file());
}
