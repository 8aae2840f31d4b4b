//! centiloc-cert: the client certificate for Centiloc's User-MQTT broker, from key to
//! expiry watch. `main` parses, runs, and turns the one final error into a sentence on
//! stderr and an exit code (SPEC: Exit codes). Nothing deeper exits the process.
#![forbid(unsafe_code)]

use centiloc_cert::exit_codes::ExitCode;
use centiloc_cert::fleet::nagios;
use centiloc_cert::output::{self, stdout_error, write_stderr, write_stdout};
use centiloc_cert::{cli, commands};

fn main() -> std::process::ExitCode {
    // Before any secret is read (issue 14 item 9).
    centiloc_cert::credentials::protect_process();
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
    let args: Vec<_> = std::env::args_os().collect();
    let nagios = nagios::requested(&args);
    let json = output::json_requested(&args);
    let cli = match cli::Cli::from_env() {
        Ok(cli) => cli,
        Err(early) if nagios && early.code == ExitCode::Usage => {
            let sentence = early.text.trim_start_matches("ERROR: ");
            let first = sentence.lines().next().unwrap_or_default();
            write_stdout(nagios::unknown_line(first).as_bytes());
            return ExitCode::Unknown.into();
        }
        // `--format json`: a usage error is a JSON error document too (SPEC: JSON
        // contract), beside the sentence on stderr.
        Err(early) if json && early.code == ExitCode::Usage => {
            if let Some(sentence) = early.text.strip_prefix("ERROR: ") {
                json_usage_error(sentence.trim_end());
            }
            return finish(early.print());
        }
        // --help and --version on stdout, or a usage error (64) on stderr, as cli.rs
        // decides; a failed stdout is still an error of its own.
        Err(early) => return finish(early.print()),
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

fn json_usage_error(sentence: &str) {
    output::Output::default().report(&output::ErrorDocument {
        ok: false,
        exit_code: ExitCode::Usage.code(),
        error: sentence,
    });
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
