//! centiloc-cert as a library: the binary (`main.rs`) is a thin shell over [`commands::run`];
//! benchmarks and fuzz targets reach the same modules through here.
#![forbid(unsafe_code)]

pub mod cert;
pub mod cli;
pub mod commands;
pub mod config;
pub mod context;
pub mod credentials;
pub mod csr;
pub mod csr_target;
pub mod decode;
pub mod error;
pub mod exit_codes;
pub mod expiry;
pub mod export;
pub mod fix;
pub mod fleet;
pub mod input;
pub mod install;
pub mod keys;
pub mod mqtt;
pub mod notices;
pub mod notify;
pub mod output;
pub mod paths;
pub mod pem_input;
pub mod pkcs7;
pub mod profile;
pub mod prompt;
pub mod readiness;
pub mod renewal;
pub mod shell;
pub mod store;
pub mod support_reply;
pub mod time;
pub mod toml_keep;
