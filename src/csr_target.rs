//! Which key a `csr` run concerns, from the profile's state (issue 11, SPEC's `renew` row):
//! during a renewal, the pending key and its CSR; otherwise the profile's key, unless
//! Centiloc already signed it (a certificate for it is installed), when a second request
//! for the same key is refused (73) without `--force`, pointing at `renew`.

use std::path::PathBuf;

use crate::cert;
use crate::error::{Error, Result};
use crate::install::when;
use crate::keys::PrivateKey;
use crate::paths::ProfilePaths;
use crate::renewal;

/// The key and CSR file `csr` works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrTarget {
    pub key: PathBuf,
    pub csr: PathBuf,
    /// A renewal is pending: these are `pending/` files, and the CSR already made by
    /// `renew` is reused as is (it may have been sent already).
    pub pending: bool,
}

/// Decides what `csr` concerns. `force` allows a CSR for an already certified key;
/// `renew_cmd` is the command line the refusal recommends.
pub fn decide(paths: &ProfilePaths, force: bool, renew_cmd: &str) -> Result<CsrTarget> {
    if renewal::is_pending(paths) {
        let pending = renewal::pending_paths(paths);
        return Ok(CsrTarget {
            key: pending.key(),
            csr: pending.csr(),
            pending: true,
        });
    }
    if !force && let Some((serial, until)) = certified(paths) {
        return Err(Error::AlreadyCertified {
            cert: paths.cert(),
            serial,
            until,
            renew_cmd: renew_cmd.to_owned(),
        });
    }
    Ok(CsrTarget {
        key: paths.key(),
        csr: paths.csr(),
        pending: false,
    })
}

/// Serial and notAfter of the installed certificate when it holds the profile's key. An
/// unreadable key or certificate is not "certified": `csr` then reports its own error.
fn certified(paths: &ProfilePaths) -> Option<(String, String)> {
    let bytes = std::fs::read(paths.cert()).ok()?;
    let leaf = cert::parse_leaf(&paths.cert(), &bytes).ok()?;
    let key = PrivateKey::from_file(&paths.key()).ok()?;
    leaf.holds_key(key.public_key_der())
        .then(|| (leaf.serial.clone(), when(leaf.not_after)))
}

/// The CSR text for `target`: during a renewal the pending CSR `renew` wrote, unchanged
/// (support may hold a copy already; its file time says when the renewal started);
/// otherwise a fresh one from `key` and `subject`.
pub fn request(
    target: &CsrTarget,
    key: &PrivateKey,
    subject: &crate::csr::Subject,
) -> Result<String> {
    if target.pending {
        return std::fs::read_to_string(&target.csr).map_err(|e| Error::read(&target.csr, e));
    }
    crate::csr::build(key, subject)
}

/// The note `csr` prints during a renewal.
pub fn pending_note(target: &CsrTarget, install_cmd: &str) -> Option<String> {
    target.pending.then(|| {
        format!(
            "a renewal is pending: this is its CSR ({}) for the new key; the current certificate keeps working until `{install_cmd}` installs the new one",
            target.csr.display()
        )
    })
}
