//! The reduced crash matrix of `scripts/faults` (issue 14 item 2): `init --force` and
//! `renew --force` under strace with fsync failing (ENOSPC) and rename failing (EIO) or
//! the process killed at every call; after each, the profile is usable and no key lost.
//! The full matrix (every file-changing syscall, install-ca, promotion) is
//! `scripts/faults`.

mod support;

#[test]
fn crash_matrix_leaves_a_usable_profile_and_every_key() {
    support::require("strace", "strace");
    support::require("openssl", "openssl");
    let out = std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/faults"))
        .args([
            "--quick",
            "--json",
            "--bin",
            env!("CARGO_BIN_EXE_centiloc-cert"),
        ])
        .output()
        .expect("run scripts/faults (python3)");
    let text = String::from_utf8_lossy(&out.stdout);
    let totals: serde_json::Value =
        serde_json::from_str(text.lines().last().unwrap_or("{}")).unwrap_or_default();
    let tried = totals["tried"].as_u64().unwrap_or(0);
    assert!(
        tried >= 40,
        "too few fault points tried:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(totals["usable"].as_u64(), Some(tried), "{text}");
    assert_eq!(totals["keys_lost"].as_u64().unwrap_or(0), 0, "{text}");
    assert_eq!(totals["leftovers"].as_u64().unwrap_or(0), 0, "{text}");
    assert!(out.status.success(), "{text}");
}
