//! One module per command. Each takes the shared [`Ctx`] and its own clap args, and
//! returns the exit code for success paths that are not plain 0 (e.g. `check-expiry`).

use crate::cli::{Cli, Command, ConnectArgs};
use crate::context::Ctx;
use crate::error::Result;
use crate::exit_codes::ExitCode;
use crate::mqtt::setup::Request;
use crate::mqtt::topics::TopicChoice;
use crate::output::Output;
use crate::paths::{self, Home};

mod check_expiry;
mod connect;
mod credentials;
mod csr;
mod decode;
mod export;
mod init;
mod install_ca;
mod install_cert;
mod list;
mod renew;
mod snippet;
mod status;
mod watch;

pub fn run(cli: Cli) -> Result<ExitCode> {
    let g = cli.global;
    paths::validate_profile_name(&g.profile)?;
    let ctx = Ctx {
        home: Home::resolve(g.home.as_deref())?,
        home_flag: g.home,
        profile: g.profile,
        out: Output {
            quiet: g.quiet,
            verbose: g.verbose,
        },
    };
    let json = json_requested(&cli.command);
    let result = match cli.command {
        Command::Init(a) => init::run(&ctx, a),
        Command::Csr(a) => csr::run(&ctx, a),
        Command::TestConnect(a) => connect::run(&ctx, a),
        Command::Watch(a) => watch::run(&ctx, a),
        Command::Snippet(a) => snippet::run(&ctx, a),
        Command::Decode(a) => decode::run(&ctx, a),
        Command::InstallCert(a) => install_cert::run(&ctx, a),
        Command::InstallCa(a) => install_ca::run(&ctx, a),
        Command::Credentials(a) => credentials::run(&ctx, a),
        Command::Export(a) => export::run(&ctx, a),
        Command::Status(a) => status::run(&ctx, a),
        Command::List(a) => list::run(&ctx, a),
        Command::Renew(a) => renew::run(&ctx, a),
        Command::CheckExpiry(a) => check_expiry::run(&ctx, a),
        Command::Completions(a) => {
            crate::output::write_stdout(crate::shell::completion_script(a.shell).as_bytes());
            Ok(ExitCode::Ok)
        }
        Command::Manpages(a) => {
            for page in crate::shell::write_manpages(&a.dir)? {
                ctx.out.line(page.display().to_string());
            }
            Ok(ExitCode::Ok)
        }
        Command::ProfileNames(a) => {
            let names = crate::shell::profile_names(ctx.home_flag.as_deref(), &a.words)?;
            names.iter().for_each(|n| ctx.out.line(n));
            Ok(ExitCode::Ok)
        }
    };
    let result = result.map_err(|e| with_fixes(&ctx, e));
    if let Err(e) = &result
        && json
    {
        ctx.out.json_error(e);
    }
    result
}

/// Gives an error raised below the commands, where this run's flags are unknown, the fix
/// line for this run (issue 10: every recommended command carries --home and --profile).
fn with_fixes(ctx: &Ctx, e: crate::error::Error) -> crate::error::Error {
    use crate::error::Error;
    match e {
        Error::KeyRefused { path, reason, .. } => {
            let fix = key_fix(ctx, &path);
            Error::KeyRefused { path, reason, fix }
        }
        // Profile::load names a placeholder; the profile may be another than --profile's.
        Error::NoProfile { name, dir, .. } => Error::NoProfile {
            init_cmd: ctx.fix_for(&name, crate::fix::Fix::Init),
            name,
            dir,
        },
        Error::Config { path, reason } => Error::Config {
            reason: reason.replace(
                crate::config::STORE_SMTP_PASSWORD,
                &format!("`{}`", ctx.fix(crate::fix::Fix::SmtpPassword)),
            ),
            path,
        },
        other => other,
    }
}

/// A file given with `--key` is replaced by a new key from `init`; the profile's own key
/// (or the pending renewal's) by `init --force`, which archives the old one, as `status`
/// recommends.
fn key_fix(ctx: &Ctx, path: &std::path::Path) -> String {
    let paths = ctx.paths();
    let ours = path == paths.key() || path == crate::renewal::pending_paths(&paths).key();
    if !ours {
        return format!(
            "make a new one with `{}` (or `openssl ecparam -name prime256v1 -genkey -noout -out private-key.pem`)",
            ctx.cmd("init")
        );
    }
    let init = crate::profile::Profile::load(&paths)
        .map(|p| crate::readiness::init_force_cmd(&p))
        .unwrap_or_else(|_| crate::fix::Fix::Init.args().replace("init", "init --force"));
    format!(
        "restore it from a backup, or make a new key with `{}` (the old key, CSR and certificate are archived, not deleted)",
        ctx.cmd(&init)
    )
}

/// Whether the command reports in JSON, so that a failure is a JSON document too.
fn json_requested(c: &Command) -> bool {
    let f = match c {
        Command::Init(a) => a.format,
        Command::Csr(a) => a.format,
        Command::TestConnect(a) => a.conn.format,
        Command::Watch(a) => a.conn.format,
        Command::InstallCert(a) => a.format,
        Command::InstallCa(a) => a.format,
        Command::Credentials(a) => a.format,
        Command::Export(a) => return a.json(),
        Command::Status(a) => a.format,
        Command::List(a) => a.format,
        Command::Renew(a) => a.format,
        Command::CheckExpiry(a) => return a.format == crate::cli::ExpiryFormat::Json,
        // `decode` prints payloads, not reports; the rest print no JSON.
        Command::Decode(_)
        | Command::Snippet(_)
        | Command::Completions(_)
        | Command::Manpages(_)
        | Command::ProfileNames(_) => return false,
    };
    f == crate::output::Format::Json
}

/// The session options of `test-connect`, `watch` (and `install-cert --test`, with the
/// defaults) as the MQTT setup takes them.
fn session_request(a: &ConnectArgs) -> Request {
    Request {
        broker: a.broker.clone(),
        ca: a.ca.clone(),
        topics: TopicChoice {
            kinds: a.topics.clone(),
            encodings: a.encoding.clone(),
            custom: a.topic.clone(),
            share: a.share.clone(),
        },
        client_id: a.client_id.clone(),
        connect_timeout: a.connect_timeout,
        schema: crate::decode::options::SchemaRequest {
            protos: a.schema.protos.clone(),
            includes: a.schema.includes.clone(),
            messages: a.schema.message.clone(),
            raw: a.raw,
        },
        max_message_size: a.max_message_size,
    }
}
