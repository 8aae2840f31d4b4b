//! `check-expiry`: for cron and monitoring. Reads certificates (a profile's, every
//! profile's, or one file), asks [`crate::expiry`] for each verdict, reports in text, JSON
//! or Prometheus form, optionally e-mails notices, and exits with the worst state (SPEC:
//! 0 OK, 1 WARNING, 2 CRITICAL or expired, 3 UNKNOWN). The model, the scan and the
//! renderers live in [`crate::fleet`]; this is the orchestration.

use std::path::Path;

use chrono::Utc;

use crate::cli::{CheckExpiryArgs, ExpiryFormat};
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::exit_codes::ExitCode;
use crate::expiry::{LimitFlags, State};
use crate::fix::Fix;
use crate::fleet::scan::{self, Reader};
use crate::fleet::{Checked, ScanOptions, autopilot, broker, notice, report};
use crate::store::{self, Mode};

pub fn run(ctx: &Ctx, args: CheckExpiryArgs) -> Result<ExitCode> {
    let flags = LimitFlags {
        warn_days: args.warn_days,
        critical_days: args.critical_days,
    };
    if let (Some(w), Some(c)) = (flags.warn_days, flags.critical_days)
        && c > w
    {
        return Err(Error::Usage(format!(
            "--critical-days {c} is more than --warn-days {w}: CRITICAL must come after WARNING, so pass a smaller --critical-days"
        )));
    }
    if let Some(file) = &args.output {
        check_output_dir(file)?;
    }
    // A broken [notify] is reported now, on a quiet day, not on the day a notice is due.
    let notifier = if args.notify {
        Some(notice::Notifier::prepare(ctx, args.dry_run)?)
    } else {
        None
    };
    let opts = ScanOptions {
        limits: flags,
        fingerprints: args.notify,
        issuers: args.format == ExpiryFormat::Prometheus,
    };
    let now = Utc::now();
    let mut checked = scan_asked(ctx, &args, opts, now)?;
    before_report(
        ctx,
        notifier.as_ref(),
        &mut checked,
        args.check_broker,
        opts,
        now,
    );
    // `--all` with nothing checked has nothing to vouch for: UNKNOWN, with one line (or
    // JSON field) saying how to create a profile, still in the asked format so a JSON
    // reader or the textfile collector gets a well-formed document.
    let nothing = (args.all && checked.is_empty()).then(|| {
        format!(
            "no profiles in {}: create one with `{}`",
            ctx.home.profiles_dir().display(),
            ctx.fix(Fix::Init)
        )
    });
    let worst = checked
        .iter()
        .map(Checked::state)
        .max()
        .unwrap_or(State::Unknown);
    let report = report::render(ctx, &checked, nothing.as_deref(), args.format, now);
    let delivered = deliver(args.output.as_deref(), &report);
    // The notices do not depend on where the report went: a full disk under --output
    // must not also silence the e-mail that the certificate expires.
    if let Some(n) = notifier {
        n.run(ctx, &checked, now);
    }
    delivered?;
    Ok(worst.exit_code())
}

/// The certificates asked for: one file (`--cert`), every profile (`--all`), or this one.
fn scan_asked(
    ctx: &Ctx,
    args: &CheckExpiryArgs,
    opts: ScanOptions,
    now: chrono::DateTime<Utc>,
) -> Result<Vec<Checked>> {
    if let Some(file) = &args.cert {
        return Ok(vec![scan::check_file(file, opts, now)]);
    }
    if args.all {
        let names = scan::profile_dirs(&ctx.home)?;
        return Ok(scan::scan_profiles(&ctx.home, &names, opts, now));
    }
    // One profile: a missing profile is an error (66), not an UNKNOWN line. An invalid
    // profile.toml is reported as `--all` reports it, UNKNOWN with the file and the fix,
    // so a monitoring plugin still gets 0-3 and a line.
    if let Err(e @ (Error::NoProfile { .. } | Error::Usage(_))) = ctx.load() {
        return Err(e);
    }
    Ok(scan::check_profile(
        &ctx.paths(),
        opts,
        now,
        &mut Reader::default(),
    ))
}

/// What changes the lines before they are reported (issue 15): the renewal autopilot
/// acts first, so the report and the notices say what it did; then the brokers' lines.
fn before_report(
    ctx: &Ctx,
    notifier: Option<&notice::Notifier>,
    checked: &mut Vec<Checked>,
    check_broker: bool,
    opts: ScanOptions,
    now: chrono::DateTime<Utc>,
) {
    if let Some(n) = notifier {
        let touched = autopilot::run(ctx, n, checked, now);
        scan::rescan(&ctx.home, checked, &touched, opts, now);
    }
    for (name, line) in broker::check(checked, check_broker, now) {
        let last = checked
            .iter()
            .rposition(|c| c.owner.as_ref().is_some_and(|o| o.name == name));
        let at = last.map_or(checked.len(), |i| i + 1);
        checked.insert(at, line);
    }
}

/// The report to `--output` (atomically, 0644: node_exporter reads it as another user)
/// or to stdout, in one write: 10,000 lines must not cost 10,000 syscalls.
fn deliver(output: Option<&Path>, report: &str) -> Result<()> {
    match output {
        Some(path) => store::write_atomic(path, report.as_bytes(), Mode::Public),
        None => {
            crate::output::write_stdout(report.as_bytes());
            Ok(())
        }
    }
}

/// `--output`'s directory must exist before the scan starts: a typo in a crontab line is
/// reported at once (exit 74), and nothing is written anywhere.
fn check_output_dir(file: &Path) -> Result<()> {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if dir.is_dir() {
        return Ok(());
    }
    Err(Error::write(
        file,
        std::io::Error::from(std::io::ErrorKind::NotFound),
    ))
}
