//! Any text as `profile.toml` or `config.toml`: settings or a configuration error that
//! names a line, never a panic.
#![no_main]

use std::path::Path;

use centiloc_cert::{config, profile::Profile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = Profile::from_toml(Path::new("profile.toml"), text) {
        p.validate().expect("a loaded profile is valid");
    }
    let _ = config::parse_notify(Path::new("config.toml"), text);
});
