//! What `centiloc-cert --version` reports besides the version (issue 13): the git commit,
//! the build date and the target triple, captured once per build.
//!
//! The script re-runs only when HEAD moves (`.git/HEAD` and the branch ref it points to,
//! wherever a worktree keeps them) or this file changes, never on every build: cargo's
//! default for a build script without `rerun-if-changed` is "any file in the package".

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let commit = git_commit().unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=CENTILOC_CERT_COMMIT={commit}");
    println!("cargo:rustc-env=CENTILOC_CERT_BUILD_DATE={}", build_date());
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=CENTILOC_CERT_TARGET={target}");
    // `scripts/build-static` builds with `-C target-feature=+crt-static`.
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let linkage = if features.split(',').any(|f| f == "crt-static") {
        "static"
    } else {
        "dynamic"
    };
    println!("cargo:rustc-env=CENTILOC_CERT_LINKAGE={linkage}");
}

/// The short commit hash, after telling cargo which git files decide it. `None` outside a
/// git checkout (a crates.io download, a source tarball) or without git installed.
fn git_commit() -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).output().ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
    };
    // Only this crate's own checkout: a source tarball unpacked inside some other
    // repository (a vendored copy) must not report that repository's commit.
    let top = git(&["rev-parse", "--show-toplevel"])?;
    let manifest = std::env::var("CARGO_MANIFEST_DIR").ok()?;
    if std::fs::canonicalize(top).ok()? != std::fs::canonicalize(manifest).ok()? {
        return None;
    }
    // --git-path resolves worktrees (`.git` is then a file pointing elsewhere) and the
    // common directory that holds the branch refs.
    let head = git(&["rev-parse", "--git-path", "HEAD"])?;
    watch(&head);
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watch(&git(&["rev-parse", "--git-path", &branch])?);
        // A ref that `git gc` packed lives in packed-refs instead.
        watch(&git(&["rev-parse", "--git-path", "packed-refs"])?);
    }
    git(&["rev-parse", "--short=12", "HEAD"])
}

fn watch(path: &str) {
    // A path git names relative to the package is fine: cargo resolves it the same way.
    if Path::new(path).exists() {
        println!("cargo:rerun-if-changed={path}");
    }
}

/// UTC date as YYYY-MM-DD; `SOURCE_DATE_EPOCH` (reproducible builds) wins over the clock.
fn build_date() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to a Gregorian date (Howard Hinnant's `civil_from_days`): a
/// build script gets no dependency for one date.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}
