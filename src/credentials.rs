//! The MQTT password: stored in the profile's `mqtt-password` (0600), overridden at use
//! time by `CENTILOC_MQTT_PASSWORD`. It is never printed, logged or put into an error.

use zeroize::Zeroizing;

use crate::error::Result;
use crate::input;
use crate::paths::ProfilePaths;
use crate::store;

pub const PASSWORD_ENV: &str = "CENTILOC_MQTT_PASSWORD";

/// Where the password in use came from, for `status` and diagnostics (never the value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordSource {
    Environment,
    File,
}

/// Keeps secrets out of core dumps (issue 14 item 9: a `watch` killed by SIGABRT left a
/// core holding the MQTT password and the private key twice): no core file at all
/// (RLIMIT_CORE 0, hard limit too) and not dumpable (PR_SET_DUMPABLE 0, which also keeps
/// other processes of the same user from attaching or reading /proc/PID/mem). Best
/// effort: a system that refuses either is no reason to refuse to run.
pub fn protect_process() {
    use rustix::process::{DumpableBehavior, Resource, Rlimit};
    let none = Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    let _ = rustix::process::setrlimit(Resource::Core, none);
    let _ = rustix::process::set_dumpable_behavior(DumpableBehavior::NotDumpable);
}

/// The password to connect with: the environment first, then the profile file.
/// `Ok(None)` when neither is set.
pub fn read_password(paths: &ProfilePaths) -> Result<Option<(Zeroizing<String>, PasswordSource)>> {
    if let Ok(v) = std::env::var(PASSWORD_ENV)
        && !v.is_empty()
    {
        return Ok(Some((Zeroizing::new(v), PasswordSource::Environment)));
    }
    let file = paths.password();
    match input::read_text_if_exists(&file, input::Kind::Settings)? {
        Some(text) => {
            let text = Zeroizing::new(text);
            // A trailing newline from `echo pw > file` is not part of the password.
            let pw = text.strip_suffix('\n').unwrap_or(&text);
            let pw = pw.strip_suffix('\r').unwrap_or(pw);
            Ok(Some((Zeroizing::new(pw.to_owned()), PasswordSource::File)))
        }
        None => Ok(None),
    }
}

/// Stores the password atomically with mode 0600.
pub fn store_password(paths: &ProfilePaths, password: &str) -> Result<()> {
    store::write_atomic(&paths.password(), password.as_bytes(), store::Mode::Secret)
}
