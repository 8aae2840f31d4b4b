//! `test-connect`: pre-flight, then the staged connection report (issue 5). The session
//! setup and the report live in [`crate::mqtt`]; this is the orchestration.

use crate::cli::TestConnectArgs;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::exit_codes::ExitCode;
use crate::mqtt;
use crate::mqtt::report::{Document, Report};
use crate::mqtt::setup::{prepare, runtime, shutdown_signal};
use crate::output::Format;

pub fn run(ctx: &Ctx, a: TestConnectArgs) -> Result<ExitCode> {
    let format = a.conn.format;
    if a.count > 0 && a.timeout.is_zero() {
        return json_error(
            ctx,
            format,
            Error::Usage(format!(
                "--timeout 0 leaves no time for the {} message(s) of --count: give a timeout (e.g. --timeout 30s), or --count 0 to stop after SUBSCRIBE",
                a.count
            )),
        );
    }
    let p = match prepare(ctx, &super::session_request(&a.conn), true) {
        Ok(p) => p,
        Err(e) => return json_error(ctx, format, e),
    };
    let mut report = Report::new(ctx.out, format, &p);
    let rt = runtime()?;
    let result = rt.block_on(mqtt::check(
        &p.settings,
        &p.subs,
        a.count,
        a.timeout,
        shutdown_signal(),
        &mut report,
    ));
    report.finish(&p.settings, &result);
    match result.failure {
        None => Ok(ExitCode::Ok),
        Some(f) => Err(f.into()),
    }
}

/// `--format json` is one document even when the command fails before connecting: it
/// says so (ok false, the exit code and the error) on stdout; the error sentence still
/// goes to stderr. Returns `Err(e)` for `main` to print and exit with.
fn json_error(ctx: &Ctx, format: Format, e: Error) -> Result<ExitCode> {
    if format == Format::Json {
        let error = e.to_string();
        ctx.out
            .report(&Document::preflight(&error, e.exit_code().code()));
    }
    Err(e)
}
