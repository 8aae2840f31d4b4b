//! `install-cert FILE|-`: store the certificate support returned, after every check of
//! issue 3; promote a pending renewal when the certificate is for its key.

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::cert::{self, Certificate};
use crate::cli::InstallCertArgs;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::exit_codes::ExitCode;
use crate::fix::Fix;
use crate::install::{self, Installed, KeyFacts, Plan, Target};
use crate::mqtt::StageReport;
use crate::output::{Format, safe};
use crate::paths::ProfilePaths;
use crate::store;
use crate::support_reply::{self, Received};
use crate::time::when;

pub fn run(ctx: &Ctx, args: InstallCertArgs) -> Result<ExitCode> {
    let mut stages = Vec::new();
    let result = install_cert(ctx, &args, &mut stages);
    if let Err(e) = &result
        && args.format == Format::Json
    {
        // SPEC: `--format json` is one JSON document, also when the install is refused
        // or its connection test fails; the sentence also goes to stderr as usual.
        ctx.out.report(&Refused {
            profile: &ctx.profile,
            ok: false,
            exit_code: e.exit_code().code(),
            error: e.to_string(),
            test: Test::of(&args, &stages),
        });
    }
    result
}

/// The JSON document of a refused install or a failed `--test`.
#[derive(serde::Serialize)]
struct Refused<'a> {
    profile: &'a str,
    ok: bool,
    exit_code: u8,
    error: String,
    test: Option<Test<'a>>,
}

/// The connection test's stages for the JSON document (`null` without `--test`).
#[derive(serde::Serialize)]
struct Test<'a> {
    ok: bool,
    stages: &'a [StageReport],
}

impl<'a> Test<'a> {
    fn of(args: &InstallCertArgs, stages: &'a [StageReport]) -> Option<Self> {
        args.test.then(|| Test {
            ok: stages.last().is_some_and(|s| s.ok),
            stages,
        })
    }
}

fn install_cert(
    ctx: &Ctx,
    args: &InstallCertArgs,
    stages: &mut Vec<StageReport>,
) -> Result<ExitCode> {
    let (paths, profile) = ctx.load()?;
    // The lock is taken before reading the input, so that the plan is made from the state
    // the commit will change, and a second run is told "locked" instead of racing.
    let _lock = store::lock(&paths.lock())?;
    let received = read_reply(&args.file)?;
    let issuer = match &args.issuer {
        Some(f) => Some(first_certificate(f)?),
        None => None,
    };
    let installed = installed_chain(&paths.cert());
    let now = Utc::now();
    let keys = KeyFacts::read(&paths)?;
    let (chain, notes) = install::arrange(received, &keys, &source_name(&args.file))?;
    let mut plan = install::plan(
        &source_name(&args.file),
        chain,
        &profile,
        &keys,
        issuer.as_ref(),
        installed.as_deref(),
        args.force,
        now,
        &install::FixLines::of(ctx, &args.file),
    )?;
    plan.notes.splice(0..0, notes);
    if args.test && !plan.unchanged {
        // Issue 5: a renewal must never replace a working certificate with a broken one,
        // so prove the new pair against the broker before anything is written.
        test_before_install(ctx, &paths, &plan, args.format == Format::Json, stages)?;
    }
    let done = install::commit(&paths, &plan)?;
    let report = Report::new(ctx, args, &plan, &done, now, stages);
    for w in report.warnings {
        ctx.out.warn(safe(w));
    }
    match args.format {
        Format::Json => ctx.out.report(&report),
        Format::Text => report.print_text(ctx),
    }
    Ok(ExitCode::Ok)
}

/// Connects with the planned certificate and the key it belongs to (the pending renewal
/// key when it is for that one). The certificate goes to a temporary file in the profile
/// directory only for the duration of the test.
fn test_before_install(
    ctx: &Ctx,
    paths: &ProfilePaths,
    plan: &Plan,
    quiet: bool,
    stages: &mut Vec<StageReport>,
) -> Result<()> {
    let key = match plan.target {
        Target::Pending => paths.pending_dir().join(crate::paths::KEY_FILE),
        Target::Current => paths.key(),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".test-cert-")
        .tempfile_in(&paths.dir)
        .map_err(|e| Error::write(&paths.dir, e))?;
    std::io::Write::write_all(&mut tmp, plan.pem().as_bytes())
        .map_err(|e| Error::write(tmp.path(), e))?;
    let defaults = super::session_request(&crate::cli::ConnectArgs::defaults());
    crate::mqtt::setup::probe(ctx, &defaults, key, tmp.path().to_path_buf(), quiet, stages).map_err(|e| match e {
        Error::Connection { message, code } => Error::Connection {
            message: format!(
                "the certificate was not installed, nothing was changed: the connection test with it failed: {message}"
            ),
            code,
        },
        other => other,
    })
}

/// The certificates of `file` (`-`: stdin) in any form support sends (issue 11).
fn read_reply(file: &Path) -> Result<Received> {
    let bytes = cert::read_input(file)?;
    support_reply::read(crate::input::display_name(file), &bytes)
}

fn first_certificate(file: &Path) -> Result<Certificate> {
    // load_chain never returns an empty list: no certificate is a BadData error.
    let mut chain = cert::load_chain(file)?;
    Ok(chain.swap_remove(0))
}

/// The installed `tls-cert.pem`, when there is a readable one (only to spot a re-install).
fn installed_chain(file: &Path) -> Option<Vec<Certificate>> {
    let bytes = crate::input::read(file, crate::input::Kind::Certificate).ok()?;
    cert::parse_chain(file, &bytes).ok()
}

fn source_name(file: &Path) -> String {
    if file == Path::new("-") {
        "the certificate on standard input".into()
    } else {
        file.display().to_string()
    }
}

/// What `install-cert` did: the JSON document, and what the text is made from.
#[derive(serde::Serialize)]
struct Report<'a> {
    profile: &'a str,
    ok: bool,
    exit_code: u8,
    test: Option<Test<'a>>,
    #[serde(serialize_with = "crate::output::path")]
    cert_file: &'a Path,
    changed: bool,
    promoted_renewal: bool,
    subject: &'a str,
    issuer: &'a str,
    serial: &'a str,
    fingerprint_sha256: String,
    key_fingerprint_sha256: String,
    #[serde(serialize_with = "crate::time::json")]
    not_before: DateTime<Utc>,
    #[serde(serialize_with = "crate::time::json")]
    not_after: DateTime<Utc>,
    days_left: i64,
    chain_length: usize,
    #[serde(serialize_with = "crate::output::path_opt")]
    archived_to: Option<&'a Path>,
    /// Raw in JSON; escaped on the terminal.
    warnings: &'a [String],
    notes: &'a [String],
    /// The time left in words, as the text shows it ("less than an hour" on the last).
    #[serde(skip)]
    left: String,
}

impl<'a> Report<'a> {
    fn new(
        ctx: &'a Ctx,
        args: &InstallCertArgs,
        plan: &'a Plan,
        done: &'a Installed,
        now: DateTime<Utc>,
        stages: &'a [StageReport],
    ) -> Self {
        let leaf = &plan.leaf;
        Report {
            profile: &ctx.profile,
            ok: true,
            exit_code: 0,
            test: Test::of(args, stages),
            cert_file: &done.cert_file,
            changed: !plan.unchanged,
            promoted_renewal: plan.target == Target::Pending,
            subject: &leaf.subject,
            issuer: &leaf.issuer,
            serial: &leaf.serial,
            fingerprint_sha256: leaf.fingerprint(),
            key_fingerprint_sha256: leaf.key_fingerprint(),
            not_before: leaf.not_before,
            not_after: leaf.not_after,
            days_left: leaf.days_left(now),
            chain_length: plan.chain.len(),
            archived_to: done.archived.as_deref(),
            warnings: &plan.warnings,
            notes: &plan.notes,
            left: crate::time::distance(leaf.not_after, now),
        }
    }

    fn print_text(&self, ctx: &Ctx) {
        let o = &ctx.out;
        for n in self.notes {
            o.note(n);
        }
        let file = self.cert_file.display();
        o.line(match (self.changed, self.promoted_renewal) {
            (false, _) => format!("{file} already holds this certificate; nothing changed."),
            (true, true) => {
                format!("Installed {file} and promoted the renewal key and CSR from pending/")
            }
            (true, false) => format!("Installed {file}"),
        });
        o.line(format!("  subject      {}", safe(self.subject)));
        o.line(format!("  issuer       {}", safe(self.issuer)));
        o.line(format!("  serial       {}", self.serial));
        o.line(format!("  SHA-256      {}", self.fingerprint_sha256));
        o.line(format!(
            "  valid        {} to {} ({} left)",
            when(self.not_before),
            when(self.not_after),
            self.left
        ));
        if self.chain_length > 1 {
            o.line(format!(
                "  chain        {} certificates, leaf first",
                self.chain_length
            ));
        }
        if let Some(dir) = self.archived_to {
            let what = if self.promoted_renewal {
                "the previous key, CSR and certificate are"
            } else {
                "the previous certificate is"
            };
            o.note(format!("{what} kept in {}", dir.display()));
        }
        o.line(format!(
            "Next: {}   (checks everything needed to connect)",
            ctx.fix(Fix::Status)
        ));
    }
}
