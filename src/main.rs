//! centiloc-cert: the client certificate for Centiloc's User-MQTT broker, from key to
//! expiry watch. `main` parses, runs, and turns the one final error into a sentence on
//! stderr and an exit code (SPEC: Exit codes). Nothing deeper exits the process.
#![forbid(unsafe_code)]

use centiloc_cert::exit_codes::ExitCode;
use centiloc_cert::{cli, commands};
use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and version go to stdout and are success; anything else is a usage
            // error, 64 per SPEC (clap's own default would be 2).
            return if e.use_stderr() {
                ExitCode::Usage.into()
            } else {
                ExitCode::Ok.into()
            };
        }
    };
    let verbose = cli.global.verbose;
    match commands::run(cli) {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("ERROR: {e}");
            if verbose > 0 {
                let mut source = std::error::Error::source(&e);
                while let Some(cause) = source {
                    eprintln!("  caused by: {cause}");
                    source = cause.source();
                }
            }
            e.exit_code().into()
        }
    }
}
