//! centiloc-cert: the client certificate for Centiloc's User-MQTT broker, from key to
//! expiry watch. `main` parses, runs, and turns the one final error into a sentence on
//! stderr and an exit code (SPEC: Exit codes). Nothing deeper exits the process.
#![forbid(unsafe_code)]

use centiloc_cert::exit_codes::ExitCode;
use centiloc_cert::fleet::nagios;
use centiloc_cert::output::{stdout_error, write_stderr, write_stdout};
use centiloc_cert::{cli, commands};

fn main() -> std::process::ExitCode {
    // A bug must still end in one line, not a backtrace (SPEC: no panic is ever shown).
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()));
        write_stderr(&format!(
            "ERROR: internal error{}: this is a bug in centiloc-cert, please report it with the command you ran",
            at.unwrap_or_default()
        ));
    }));
    // `check-expiry --format nagios` answers every error as an UNKNOWN line on stdout,
    // exit 3: Icinga shows only stdout and rejects other codes (issue 13).
    let nagios = nagios::requested(&std::env::args_os().collect::<Vec<_>>());
    let cli = match cli::Cli::from_env() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version: their text on stdout, success.
            centiloc_cert::output::write_stdout(e.render().to_string().as_bytes());
            return finish(ExitCode::Ok);
        }
        Err(e) if nagios => {
            write_stdout(nagios::unknown_line(&cli::usage_sentence(&e)).as_bytes());
            return ExitCode::Unknown.into();
        }
        Err(e) => {
            // 64 per SPEC (clap's own default would be 2).
            write_stderr(&format!("ERROR: {}", cli::usage_sentence(&e)));
            return ExitCode::Usage.into();
        }
    };
    let verbose = cli.global.verbose;
    let code = match commands::run(cli) {
        Ok(code) => code,
        Err(e) if nagios => {
            write_stdout(nagios::unknown_line(&e.to_string()).as_bytes());
            ExitCode::Unknown
        }
        Err(e) => {
            write_stderr(&format!("ERROR: {e}"));
            if verbose > 0 {
                let mut source = std::error::Error::source(&e);
                while let Some(cause) = source {
                    write_stderr(&format!("  caused by: {cause}"));
                    source = cause.source();
                }
            }
            e.exit_code()
        }
    };
    finish(code)
}

/// The exit code, unless stdout failed for another reason than its reader going away:
/// then what was printed is incomplete, which is an error of its own (74).
fn finish(code: ExitCode) -> std::process::ExitCode {
    match stdout_error() {
        None => code.into(),
        Some(e) => {
            write_stderr(&format!("ERROR: {e}"));
            e.exit_code().into()
        }
    }
}
