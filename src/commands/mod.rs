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
    match cli.command {
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
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            // Into a buffer first: clap_complete panics when stdout fails mid-write.
            let mut script = Vec::new();
            clap_complete::generate(a.shell, &mut cmd, "centiloc-cert", &mut script);
            crate::output::write_stdout(&script);
            Ok(ExitCode::Ok)
        }
    }
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
