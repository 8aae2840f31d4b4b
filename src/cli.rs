//! The command line, and nothing else: clap derive structs. The commands turn these into
//! validated settings before anything happens.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::exit_codes::ExitCode;
use crate::keys::Curve;
use crate::output::Format;

const EXAMPLES: &str = "\
Examples:
  centiloc-cert init --tenant acme --org \"ACME Corp\" --email ops@acme.example
  centiloc-cert csr              # then send certificate-request.csr to support
  centiloc-cert csr --out -      # print the CSR instead of writing it
  centiloc-cert install-cert tls-cert.pem
  centiloc-cert install-ca ca-cert.pem
  centiloc-cert credentials --username acme-mqtt   # then asks for the password
  centiloc-cert status           # every check, with the command that fixes it
  centiloc-cert --profile eu status
  centiloc-cert completions bash > /etc/bash_completion.d/centiloc-cert

Files live under --home DIR (or CENTILOC_CERT_HOME), else the platform's config and data directories.";

/// `-V`: one line, for bug reports and scripts that grep it.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("CENTILOC_CERT_COMMIT"),
    ", built ",
    env!("CENTILOC_CERT_BUILD_DATE"),
    ", ",
    env!("CENTILOC_CERT_TARGET"),
    ")"
);

/// `--version`: what an operator needs to know which build runs (issue 13); build.rs
/// captures the values.
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\ncommit: ",
    env!("CENTILOC_CERT_COMMIT"),
    "\nbuild date: ",
    env!("CENTILOC_CERT_BUILD_DATE"),
    "\ntarget: ",
    env!("CENTILOC_CERT_TARGET"),
    " (",
    env!("CENTILOC_CERT_LINKAGE"),
    "ally linked)"
);

/// `--version --format json`, with the JSON contract's `format_version`.
pub fn version_json() -> String {
    let v = serde_json::json!({
        "format_version": 1,
        "name": "centiloc-cert",
        "version": env!("CARGO_PKG_VERSION"),
        "commit": env!("CENTILOC_CERT_COMMIT"),
        "build_date": env!("CENTILOC_CERT_BUILD_DATE"),
        "target": env!("CENTILOC_CERT_TARGET"),
        "linkage": env!("CENTILOC_CERT_LINKAGE"),
    });
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}

#[derive(Debug, Parser)]
#[command(
    name = "centiloc-cert",
    version = VERSION,
    long_version = LONG_VERSION,
    about = "Key, CSR, certificate and connection check for Centiloc's User-MQTT broker.",
    after_help = EXAMPLES,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The process's arguments, as `Cli::try_parse` reads them, but the command tree
    /// clap builds to parse them is not taken apart again: it goes with the process,
    /// and freeing it piece by piece was a sixth of a short command's instructions
    /// (issue 6: `decode` of one event is mostly start-up).
    pub fn from_env() -> Result<Cli, EarlyExit> {
        use clap::{CommandFactory, FromArgMatches};
        let args: Vec<OsString> = std::env::args_os().collect();
        if asks_version_json(&args) {
            return Err(EarlyExit {
                text: version_json(),
                stdout: true,
                code: ExitCode::Ok,
            });
        }
        let mut cmd = Cli::command();
        let parsed = cmd
            .try_get_matches_from_mut(&args)
            .and_then(|mut matches| Cli::from_arg_matches_mut(&mut matches))
            .map_err(|e| EarlyExit::from_clap(&e.format(&mut cmd), &cmd, &args));
        std::mem::forget(cmd);
        parsed
    }
}

/// What the command line asked for when it is not a command to run: help, the version,
/// or a usage error (exit 64). `main` prints it and exits with its code.
#[derive(Debug)]
pub struct EarlyExit {
    /// The whole text to print.
    pub text: String,
    /// Help and version go to stdout; usage errors to stderr.
    pub stdout: bool,
    pub code: ExitCode,
}

impl EarlyExit {
    fn from_clap(e: &clap::Error, cmd: &clap::Command, args: &[OsString]) -> EarlyExit {
        use clap::error::ErrorKind;
        if !e.use_stderr() {
            // --help and --version: their text on stdout, success.
            return EarlyExit {
                text: e.render().to_string(),
                stdout: true,
                code: ExitCode::Ok,
            };
        }
        let text = match e.kind() {
            // No command at all: the short help is the answer, not an `ERROR:` line made
            // of the tool's description (issue 10).
            // clap's own text for it is an `error:` block listing hidden commands too.
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand => {
                cmd.clone().render_help().to_string()
            }
            _ => {
                let command = subcommand_named(cmd, args);
                format!("ERROR: {}\n", usage_sentence_in(e, command.as_deref()))
            }
        };
        EarlyExit {
            text,
            stdout: false,
            code: ExitCode::Usage,
        }
    }

    /// Prints the text where it belongs and gives the exit code (64 for usage errors:
    /// SPEC.md, where clap's own default would be 2).
    pub fn print(self) -> ExitCode {
        if self.stdout {
            crate::output::write_stdout(self.text.as_bytes());
        } else {
            crate::output::write_stderr(self.text.trim_end());
        }
        self.code
    }
}

/// `--version --format json` (or `--format=json`): clap answers `--version` before it
/// sees the other words, so this one combination is recognised first.
fn asks_version_json(args: &[OsString]) -> bool {
    let words: Vec<&str> = args.iter().skip(1).filter_map(|a| a.to_str()).collect();
    let version = words.iter().any(|w| *w == "--version" || *w == "-V");
    let json =
        words.windows(2).any(|w| w == ["--format", "json"]) || words.contains(&"--format=json");
    version && json
}

/// The subcommand the words name, skipping the global options' values, so a usage error
/// clap reports without a usage line still points at that subcommand's `--help`.
fn subcommand_named(cmd: &clap::Command, args: &[OsString]) -> Option<String> {
    let mut words = args.iter().skip(1).filter_map(|a| a.to_str());
    while let Some(w) = words.next() {
        if w == "--profile" || w == "--home" {
            words.next();
        } else if !w.starts_with('-') {
            return cmd.find_subcommand(w).map(|s| s.get_name().to_owned());
        }
    }
    None
}

/// Options every command takes, before or after the subcommand name.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Profile to use (one profile = one User-MQTT connection).
    #[arg(
        long,
        global = true,
        env = "CENTILOC_CERT_PROFILE",
        default_value = "default",
        value_parser = profile_name
    )]
    pub profile: String,
    /// Keep config.toml and profiles/ under DIR instead of the platform directories.
    #[arg(long, global = true, env = "CENTILOC_CERT_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// More detail; on errors, the chain of causes.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Print only errors and warnings.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

// Args structs are parsed once and moved into their command; boxing them buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
// Each subcommand's arguments are built only when that subcommand runs: building the
// whole tree was 30% of a `decode` run's instructions (issue 6 start-up target).
#[command(defer = true)]
pub enum Command {
    /// Create a profile: a new P-256 key (or an adopted one) and the CSR subject.
    #[command(after_help = INIT_EXAMPLES)]
    Init(InitArgs),
    /// Build certificate-request.csr from the profile's key, to send to Centiloc support.
    #[command(after_help = CSR_EXAMPLES)]
    Csr(CsrArgs),
    /// Prove the connection: connect with mutual TLS, subscribe, wait for messages.
    #[command(after_help = TEST_CONNECT_EXAMPLES)]
    TestConnect(TestConnectArgs),
    /// Stay connected and print every message as it arrives; reconnects on its own.
    #[command(after_help = WATCH_EXAMPLES)]
    Watch(WatchArgs),
    /// Print ready-to-run code for this profile: mosquitto_sub, python, cron, systemd.
    #[command(after_help = SNIPPET_EXAMPLES)]
    Snippet(SnippetArgs),
    /// Decode one Centiloc payload (protobuf or JSON) from FILE or stdin.
    #[command(after_help = DECODE_EXAMPLES)]
    Decode(DecodeArgs),
    /// Store the certificate Centiloc support returned (PEM, DER, PKCS#7, or the reply e-mail; `-` reads stdin).
    #[command(after_help = INSTALL_CERT_EXAMPLES)]
    InstallCert(InstallCertArgs),
    /// Store Centiloc's public CA certificate (ca-cert.pem), which verifies the broker.
    #[command(after_help = INSTALL_CA_EXAMPLES)]
    InstallCa(InstallCaArgs),
    /// Set the MQTT username and password Centiloc support gave you.
    #[command(after_help = CREDENTIALS_EXAMPLES)]
    Credentials(CredentialsArgs),
    /// Hand key, certificate and chain to another client as a PKCS#12 file (Java, .NET, Node).
    #[command(after_help = EXPORT_EXAMPLES)]
    Export(ExportArgs),
    /// The readiness checklist: is everything there to connect?
    #[command(after_help = STATUS_EXAMPLES)]
    Status(StatusArgs),
    /// Every profile: tenant, certificate expiry, days left, state.
    #[command(after_help = LIST_EXAMPLES)]
    List(ListArgs),
    /// Start a renewal: new key and CSR in pending/; the current ones keep working.
    #[command(after_help = RENEW_EXAMPLES)]
    Renew(RenewArgs),
    /// Check certificate expiry for cron and monitoring (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
    #[command(after_help = CHECK_EXPIRY_EXAMPLES)]
    CheckExpiry(CheckExpiryArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
    /// Write the man pages (centiloc-cert.1 and centiloc-cert-COMMAND.1) into DIR.
    // Hidden: for packagers (the .deb build runs `centiloc-cert manpages DIR`).
    #[command(hide = true, after_help = MANPAGES_EXAMPLES)]
    Manpages(ManpagesArgs),
    /// Print the profile names, one per line, for the shell completion scripts.
    // Hidden: the completion scripts call it with the words typed so far.
    #[command(hide = true)]
    ProfileNames(ProfileNamesArgs),
}

const MANPAGES_EXAMPLES: &str = "\
Examples:
  centiloc-cert manpages target/man && man -l target/man/centiloc-cert.1";

const EXPORT_EXAMPLES: &str = "\
Examples:
  centiloc-cert export --format pkcs12 --out acme.p12            # asks for a password
  printf '%s\\n' \"$P12_PASSWORD\" | centiloc-cert export --out acme.p12 --password-stdin
  centiloc-cert export --out acme.p12 --password-stdin --format pkcs12,json < pw.txt

Exit codes: 0 written; 66 no certificate installed or no password; 65 key and certificate
do not match; 73 FILE exists (pass --force).";

const INIT_EXAMPLES: &str = "\
Examples:
  centiloc-cert init --tenant acme --org \"ACME Corp\" --email ops@acme.example
  centiloc-cert init --tenant acme --org ACME --email it@acme.eu --curve p384
  centiloc-cert init --tenant acme --org ACME --email it@acme.eu --key k.pem
  centiloc-cert --profile eu init --tenant acme-eu --org ACME --email it@acme.eu
  centiloc-cert init             # in a terminal: asks for each value";

const CSR_EXAMPLES: &str = "\
Examples:
  centiloc-cert csr              # writes certificate-request.csr in the profile
  centiloc-cert csr --out -      # prints it, e.g. to paste into an e-mail
  centiloc-cert csr --mail       # e-mails it to [notify] support_to, attached";

const SNIPPET_EXAMPLES: &str = "\
Examples:
  centiloc-cert snippet mosquitto-sub
  centiloc-cert snippet python > subscribe.py && python3 subscribe.py
  centiloc-cert snippet cron | crontab -";

const INSTALL_CERT_EXAMPLES: &str = "\
Examples:
  centiloc-cert install-cert tls-cert.pem
  centiloc-cert install-cert --issuer ca-cert.pem tls-cert.pem
  centiloc-cert install-cert certificate.p7b     # a PKCS#7 bundle, PEM or DER
  centiloc-cert install-cert reply.eml           # support's e-mail reply as saved
  centiloc-cert install-cert --test - < reply.eml   # from a mail filter";

const INSTALL_CA_EXAMPLES: &str = "\
Examples:
  centiloc-cert install-ca ca-cert.pem";

const CREDENTIALS_EXAMPLES: &str = "\
Examples:
  centiloc-cert credentials      # in a terminal: asks for both, password hidden
  centiloc-cert credentials --username acme-mqtt   # then asks for the password
  centiloc-cert credentials --username acme-mqtt --password-stdin < password.txt";

const STATUS_EXAMPLES: &str = "\
Examples:
  centiloc-cert status
  centiloc-cert --profile eu status --format json";

const LIST_EXAMPLES: &str = "\
Examples:
  centiloc-cert list
  centiloc-cert list --format json";

const RENEW_EXAMPLES: &str = "\
Examples:
  centiloc-cert renew            # then send pending/certificate-request.csr
  centiloc-cert renew --mail     # and e-mail it to [notify] support_to
  centiloc-cert install-cert tls-cert.pem   # support's answer: the new key takes over";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  centiloc-cert completions bash > /etc/bash_completion.d/centiloc-cert
  centiloc-cert completions zsh > \"${fpath[1]}/_centiloc-cert\"
  centiloc-cert completions fish > ~/.config/fish/completions/centiloc-cert.fish

--profile completes the profile names of the home (--home or CENTILOC_CERT_HOME) typed so far.";

const TEST_CONNECT_EXAMPLES: &str = "\
Examples:
  centiloc-cert test-connect     # all four topics, 1 message, 30 s
  centiloc-cert test-connect --topics item --encoding json --count 5
  centiloc-cert test-connect --broker localhost:8883 --ca broker-ca.pem
  centiloc-cert test-connect --format json | jq .stages

Exit codes: 0 connected and got --count messages; 65/66 pre-flight (bad or missing files);
69 broker unreachable; 75 connected and subscribed but too few messages (normal when no
item moved); 76 TLS or protocol failure; 77 refused (certificate, login, topic).";

const WATCH_EXAMPLES: &str = "\
Examples:
  centiloc-cert watch
  centiloc-cert watch --format json --topics item --encoding json | jq .payload
  centiloc-cert watch --keep-session --client-id acme-archive  # + the queued

Reconnects after any network failure with exponential backoff (0.5 s doubling to 30 s, with
jitter); Ctrl-C or SIGTERM disconnects cleanly and exits 0.";

// The customer's protobuf schema; the same options on `decode`, `test-connect` and `watch`.
// (A plain comment: a doc comment here would become the help's description of `decode`.)
#[derive(Debug, Clone, Default, Args)]
pub struct SchemaArgs {
    /// Schema file (.proto) to decode protobuf with field names; repeatable.
    #[arg(long = "proto", value_name = "FILE")]
    pub protos: Vec<PathBuf>,
    /// Directory to look up the schema's imports in; repeatable (default: each --proto's directory).
    #[arg(short = 'I', long = "proto-path", value_name = "DIR")]
    pub includes: Vec<PathBuf>,
    /// Fully qualified message name, e.g. transtreamdatamodel.ItemEvent, for every topic;
    /// or per topic kind: --message item=NAME --message board=NAME (optional when the
    /// schema has one message).
    #[arg(long, value_name = "[item=|board=]NAME")]
    pub message: Vec<String>,
}

// Where to connect and what to subscribe to; shared by `test-connect` and `watch`. A
// plain comment, not a doc comment: clap would make a flattened struct's doc comment the
// `--help` headline of both commands (issue 10).
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Broker to use instead of the profile's (e.g. a local test broker).
    #[arg(long, value_name = "HOST[:PORT]")]
    pub broker: Option<String>,
    /// CA certificate to verify the broker with, instead of the profile's ca-cert.pem.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Centiloc event kinds to subscribe to (default: both).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "item,board")]
    pub topics: Vec<crate::mqtt::topics::Kind>,
    /// Encodings to subscribe to (default: both); with --topic, the encoding of those topics.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "proto,json")]
    pub encoding: Vec<crate::mqtt::Encoding>,
    /// Subscribe to this topic instead of Centiloc's four (repeatable).
    #[arg(long = "topic", value_name = "TOPIC", conflicts_with = "topics")]
    pub topic: Vec<String>,
    /// Subscribe through the shared subscription $share/GROUP/... (GROUP starts with the tenant).
    #[arg(long, value_name = "GROUP")]
    pub share: Option<String>,
    /// Fixed client ID (must start with the tenant ID); default: tenant + random suffix.
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// Limit for each connection stage (DNS, TCP, TLS, CONNECT, SUBSCRIBE).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: std::time::Duration,
    #[command(flatten)]
    pub schema: SchemaArgs,
    /// Decode protobuf without a schema, ignoring profile.toml's [decode].
    #[arg(long, conflicts_with_all = ["protos", "message", "includes"])]
    pub raw: bool,
    /// Largest message to receive, e.g. 64MiB, 2MB, 500000; a larger one is skipped,
    /// reported and acknowledged.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub max_message_size: usize,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

impl ConnectArgs {
    /// The options `test-connect` has when none is given: what `install-cert --test` uses.
    pub fn defaults() -> ConnectArgs {
        use clap::FromArgMatches;
        let cmd = <ConnectArgs as Args>::augment_args(clap::Command::new("probe"));
        // No arguments always parse: every option is optional or has a default.
        cmd.try_get_matches_from(["probe"])
            .ok()
            .and_then(|m| ConnectArgs::from_arg_matches(&m).ok())
            .unwrap_or_else(|| unreachable!("ConnectArgs parses with no arguments"))
    }
}

#[derive(Debug, Args)]
pub struct TestConnectArgs {
    #[command(flatten)]
    pub conn: ConnectArgs,
    /// Messages to wait for (0: stop once subscribed).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub count: usize,
    /// How long to wait for the messages, e.g. 30, 30s, 500ms, 2m.
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub conn: ConnectArgs,
    /// Keep the broker session between runs (clean session off), so QoS 1 messages queued
    /// while away are delivered on return. Needs a stable --client-id. Off by default, as
    /// Centiloc advises clean sessions: a kept session makes the broker queue messages for
    /// this ID until it returns, and two runs with the same ID throw each other out.
    #[arg(long, requires = "client_id")]
    pub keep_session: bool,
    /// Exit (disconnecting cleanly) after N messages; 0: run until stopped.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub count: u64,
    /// Write a Prometheus textfile (messages and last message time per topic, connection
    /// state, reconnects, decode failures) to FILE every 5 s and at exit, atomically: e.g.
    /// into node_exporter's --collector.textfile.directory, named *.prom.
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SnippetArgs {
    #[arg(value_enum)]
    pub kind: SnippetKind,
    /// mosquitto-sub: the form to pipe into `decode` (one message, -N, no -v).
    #[arg(long)]
    pub for_decode: bool,
    /// systemd: a service unit that runs `watch` (Restart=on-failure) instead of the daily check.
    #[arg(long)]
    pub watch: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SnippetKind {
    /// A mosquitto_sub command line with this profile's files.
    MosquittoSub,
    /// A paho-mqtt script (paho 1.6 and 2.x) that subscribes and prints messages.
    Python,
    /// A crontab line: daily `check-expiry --all --notify --quiet` for this home.
    Cron,
    /// A systemd service and timer pair running the same daily check.
    Systemd,
}

/// `500000`, `64KiB`, `2MB`, `64MiB`, `1GiB` (bytes; KB/MB are powers of 1000).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| "expected a size such as 64MiB, 2MB or 500000".to_string())?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit {other:?}: use B, KB, KiB, MB, MiB, GB or GiB"
            ));
        }
    };
    // MQTT's remaining length is at most 268,435,455 bytes (MQTT 3.1.1, 2.2.3).
    n.checked_mul(mult)
        .filter(|v| (1..=268_435_455).contains(v))
        .ok_or_else(|| {
            "the size must be from 1 byte to 256 MiB (MQTT's largest packet)".to_string()
        })
}

/// `30`, `30s`, `500ms`, `2m`: a plain number is seconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a duration: use e.g. 30, 30s, 500ms or 2m"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("unknown unit {unit:?}: use ms, s, m or h")),
    };
    if !(0.0..=1e9).contains(&secs) {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

#[derive(Debug, Args)]
pub struct InstallCertArgs {
    /// What support sent: PEM (leaf first, chain allowed), DER, a PKCS#7 bundle (.p7b/.p7c),
    /// or the reply e-mail itself (.eml, or piped by a mail filter); `-` for stdin.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Also check that this CA certificate signed it.
    #[arg(long, value_name = "FILE")]
    pub issuer: Option<PathBuf>,
    /// Install anyway a certificate that is not valid yet over a working one (the
    /// connection stops until the new one starts), or one whose extended key usage
    /// excludes clientAuth (the broker refuses it).
    #[arg(long)]
    pub force: bool,
    /// Before installing, connect to the profile's broker with the new certificate (and
    /// the renewal key it belongs to) and subscribe; install only if that works.
    #[arg(long)]
    pub test: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct InstallCaArgs {
    /// Centiloc's public CA certificate (ca-cert.pem), PEM or DER; `-` for stdin.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct CredentialsArgs {
    /// MQTT username given by Centiloc support.
    #[arg(long)]
    pub username: Option<String>,
    /// Read the password from the first line of standard input (never pass it as an argument).
    #[arg(long)]
    pub password_stdin: bool,
    /// Store the SMTP password ([notify] smtp_url's user) from the first line of standard
    /// input in smtp-password beside config.toml (0600), for cron and systemd jobs.
    #[arg(long, conflicts_with_all = ["username", "password_stdin", "smtp_password"])]
    pub smtp_password_stdin: bool,
    /// Ask for the SMTP password on the terminal (hidden) and store it like --smtp-password-stdin.
    #[arg(long, conflicts_with_all = ["username", "password_stdin"])]
    pub smtp_password: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The file kind (`pkcs12`, the only one and the default) and/or the report (`text`
    /// or `json`), repeated or comma-separated: `--format pkcs12 --format json`.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "pkcs12")]
    pub format: Vec<ExportFormat>,
    /// The file to write (mode 0600). An existing file is kept unless --force.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Read the file's password from the first line of standard input (never an argument).
    #[arg(long)]
    pub password_stdin: bool,
    /// Replace an existing FILE.
    #[arg(long)]
    pub force: bool,
}

impl ExportArgs {
    /// Is the report JSON?
    pub fn json(&self) -> bool {
        self.format.contains(&ExportFormat::Json)
    }
}

/// `export --format`: what to write (`pkcs12`) and how to report (`text`, `json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Pkcs12,
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct RenewArgs {
    /// Curve of the new key (default: the current key's).
    #[arg(long, value_enum)]
    pub curve: Option<Curve>,
    /// Start over when a renewal is already pending (its key and CSR are archived).
    #[arg(long)]
    pub force: bool,
    /// E-mail the new CSR to Centiloc support ([notify] support_to in config.toml), attached.
    #[arg(long)]
    pub mail: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

const CHECK_EXPIRY_EXAMPLES: &str = "\
Examples:
  centiloc-cert check-expiry     # this profile's certificate and CA
  centiloc-cert check-expiry --cert tls-cert.pem --warn-days 45
  centiloc-cert check-expiry --all --notify --dry-run   # e-mails that are due
  centiloc-cert check-expiry --all --format nagios      # a Nagios/Icinga plugin
  0 8 * * * /usr/bin/centiloc-cert check-expiry --all --notify --quiet   # crontab

For node_exporter's textfile collector, one crontab line (--output writes atomically):
  */30 * * * * /usr/bin/centiloc-cert check-expiry --all --format prometheus --output /var/lib/prometheus/node-exporter/centiloc-cert.prom

cron's PATH is only /usr/bin:/bin: give the full path that `command -v centiloc-cert` prints.";

/// `check-expiry --format`: adds Prometheus to the usual text and JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ExpiryFormat {
    /// One line per certificate, worst first, the state as first word.
    #[default]
    Text,
    /// One JSON document.
    Json,
    /// Prometheus text exposition format (node_exporter textfile collector).
    Prometheus,
    /// Monitoring-plugins form for Nagios/Icinga: status line with perfdata, then one line
    /// per certificate; any error is an UNKNOWN line (exit 3).
    Nagios,
}

#[derive(Debug, Args)]
pub struct CheckExpiryArgs {
    /// Check every profile in the home.
    #[arg(long, conflicts_with = "cert")]
    pub all: bool,
    /// Check this certificate file instead of a profile (PEM or DER, leaf first; `-`: stdin).
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// WARNING when this many days or fewer are left [default: 30, or the profile's expiry.warn_days].
    #[arg(long, value_name = "DAYS")]
    pub warn_days: Option<u32>,
    /// CRITICAL when this many days or fewer are left [default: 7, or the profile's expiry.critical_days].
    #[arg(long, value_name = "DAYS")]
    pub critical_days: Option<u32>,
    #[arg(long, value_enum, default_value_t)]
    pub format: ExpiryFormat,
    /// E-mail the profile's address when a certificate crosses a notice threshold (30, 14,
    /// 7, 3, 1 days, expired), once per threshold per certificate ([notify] in config.toml).
    #[arg(long, conflicts_with = "cert")]
    pub notify: bool,
    /// With --notify: print the e-mails that are due instead of sending them.
    #[arg(long, requires = "notify")]
    pub dry_run: bool,
    /// Also make a TLS handshake with each profile's broker (no MQTT login): its
    /// certificate's days left as kind `broker`, CRITICAL when ca-cert.pem no longer
    /// verifies it or the host name does not match, UNKNOWN when it does not answer
    /// within 5 s (also `[expiry] check_broker = true` in profile.toml).
    #[arg(long, conflicts_with = "cert")]
    pub check_broker: bool,
    /// Write the report to FILE (mode 0644) atomically instead of stdout: a temporary
    /// file in FILE's directory, fsynced, then renamed, as node_exporter's textfile
    /// collector requires. The exit code stays the verdict; a run that cannot make a
    /// report leaves FILE as it was.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Centiloc tenant ID (the CSR's CN, the topic and client-ID prefix).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Your company name (the CSR's O), even under data-access delegation.
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// Where certificate life-cycle notices go (the CSR's emailAddress).
    #[arg(long, value_name = "ADDRESS")]
    pub email: Option<String>,
    /// Two-letter country code (C).
    #[arg(long, value_name = "CC")]
    pub country: Option<String>,
    /// State or province (ST).
    #[arg(long)]
    pub state: Option<String>,
    /// Locality or city (L).
    #[arg(long)]
    pub locality: Option<String>,
    /// Organizational unit (OU).
    #[arg(long, value_name = "UNIT")]
    pub org_unit: Option<String>,
    /// User-MQTT broker.
    #[arg(
        long,
        value_name = "HOST[:PORT]",
        default_value = "mqtt-client.centiloc.com:8883"
    )]
    pub broker: String,
    /// MQTT username given by Centiloc support (can be set later with `credentials`).
    #[arg(long)]
    pub username: Option<String>,
    /// Curve of the new key.
    #[arg(long, value_enum, default_value_t = Curve::P256)]
    pub curve: Curve,
    /// Adopt this existing private key (SEC1 or PKCS#8 PEM) instead of making one.
    #[arg(long, value_name = "FILE", conflicts_with = "curve")]
    pub key: Option<PathBuf>,
    /// Replace an existing profile; its key and certificate move to archive/.
    #[arg(long)]
    pub force: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct CsrArgs {
    /// Write the CSR to FILE instead of the profile's certificate-request.csr (`-`: stdout).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace FILE given with --out if it exists; make a CSR even though a certificate
    /// for this key is installed (a new certificate usually means `renew`).
    #[arg(long)]
    pub force: bool,
    /// Also e-mail the CSR to Centiloc support ([notify] support_to in config.toml), attached.
    #[arg(long)]
    pub mail: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

const DECODE_EXAMPLES: &str = "\
Examples:
  centiloc-cert decode payload.bin     # as protoc --decode_raw prints it
  centiloc-cert decode --format json payload.bin   # the same fields, as JSON
  centiloc-cert decode --proto item.proto --message pkg.ItemEvent payload.bin
  mosquitto_sub ... -C 1 | centiloc-cert decode -  # from stdin
  centiloc-cert decode item.json       # one line per JSON item/board update

Without --encoding, a payload whose first non-blank byte is { or [ is read as JSON, anything else as protobuf.";

#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// Payload file; `-` or absent: standard input.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Payload encoding (default: JSON if it starts with { or [, else protobuf).
    #[arg(long, value_enum)]
    pub encoding: Option<crate::decode::Encoding>,
    #[command(flatten)]
    pub schema: SchemaArgs,
    /// Check the schema options and write them to profile.toml's [decode] section, which
    /// test-connect and watch then use; nothing is decoded.
    #[arg(long, requires = "protos", conflicts_with_all = ["file", "encoding"])]
    pub save_schema: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManpagesArgs {
    /// Directory to write the pages into (created if missing).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct ProfileNamesArgs {
    /// The command line typed so far (after `--`), to find a `--home DIR` in it.
    #[arg(
        value_name = "WORDS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub words: Vec<String>,
}

/// Profile names become directory names; a bad one is a usage error (64).
fn profile_name(s: &str) -> Result<String, String> {
    crate::paths::validate_profile_name(s)
        .map(|()| s.to_owned())
        .map_err(|_| "use 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'".into())
}

/// clap's multi-line usage error as one sentence (SPEC: every error is one sentence),
/// keeping its "similar argument" tip and the list of valid values, and naming the help
/// to read.
pub fn usage_sentence(e: &clap::Error) -> String {
    usage_sentence_in(e, None)
}

/// [`usage_sentence`], pointing at `centiloc-cert SUBCOMMAND --help` when clap's text
/// names no command itself (an invalid value has no usage line).
fn usage_sentence_in(e: &clap::Error, subcommand: Option<&str>) -> String {
    let text = e.render().to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("invalid arguments");
    let mut msg = first.strip_prefix("error: ").unwrap_or(first).to_owned();
    let mut command = match subcommand {
        Some(sub) => format!("centiloc-cert {sub}"),
        None => "centiloc-cert".to_owned(),
    };
    // "the following required arguments were not provided:" lists them on the next lines.
    let mut listing = msg.ends_with(':');
    let mut listed = Vec::new();
    for line in lines {
        if listing && !line.starts_with("Usage: ") && !line.starts_with("tip: ") {
            listed.push(line.to_owned());
            continue;
        }
        listing = false;
        if let Some(tip) = line.strip_prefix("tip: ") {
            msg.push_str(&format!(" ({tip})"));
        } else if let Some(values) = line.strip_prefix("[possible values: ") {
            msg.push_str(&format!(
                " (valid values: {})",
                values.trim_end_matches(']')
            ));
        } else if let Some(usage) = line.strip_prefix("Usage: ") {
            command = usage
                .split_whitespace()
                .take_while(|w| !w.starts_with(['[', '<', '-']))
                .collect::<Vec<_>>()
                .join(" ");
        }
    }
    if !listed.is_empty() {
        msg.push(' ');
        msg.push_str(&listed.join(", "));
    }
    // A stray word after `credentials` may be a password typed on the command line:
    // never echo it back (SPEC: the password never appears in output).
    if command.ends_with(" credentials")
        && let Some(start) = msg.find('\'')
        && let Some(len) = msg[start + 1..].find('\'')
    {
        msg.replace_range(start + 1..start + 1 + len, "…");
    }
    format!("{msg}; see `{command} --help`")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn sizes_in_bytes_and_units_within_mqtts_limit() {
        assert_eq!(parse_size("500000"), Ok(500_000));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("2MB"), Ok(2_000_000));
        assert_eq!(parse_size("1 kib"), Ok(1024));
        assert!(parse_size("0").is_err());
        assert!(parse_size("300MiB").unwrap_err().contains("256 MiB"));
        assert!(
            parse_size("5 parsecs")
                .unwrap_err()
                .contains("unknown size unit")
        );
        assert!(parse_size("MiB").is_err());
    }

    #[test]
    fn connect_defaults_are_clap_defaults() {
        let d = ConnectArgs::defaults();
        assert_eq!(d.connect_timeout, std::time::Duration::from_secs(10));
        assert!(d.topics.is_empty() && d.topic.is_empty() && d.broker.is_none());
    }

    #[test]
    fn missing_required_arguments_are_named() {
        let e = Cli::try_parse_from(["centiloc-cert", "check-expiry", "--dry-run"]).unwrap_err();
        let s = usage_sentence(&e);
        assert!(s.contains("not provided: --notify"), "{s}");
    }

    #[test]
    fn usage_errors_become_one_sentence_with_the_tip() {
        let e = Cli::try_parse_from(["centiloc-cert", "init", "--tennant", "x"]).unwrap_err();
        let s = usage_sentence(&e);
        assert!(!s.contains('\n'), "{s}");
        assert!(
            s.starts_with("unexpected argument '--tennant' found"),
            "{s}"
        );
        assert!(s.contains("'--tenant'"), "{s}");
        assert!(s.ends_with("see `centiloc-cert init --help`"), "{s}");
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30").unwrap().as_secs(), 30);
        assert_eq!(parse_duration("500ms").unwrap().as_millis(), 500);
        assert_eq!(parse_duration("2m").unwrap().as_secs(), 120);
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("-1").is_err());
    }

    #[test]
    fn global_options_work_after_the_subcommand() {
        let cli = Cli::try_parse_from(["c", "csr", "--profile", "p", "-v"]).unwrap();
        assert_eq!(cli.global.profile, "p");
        assert_eq!(cli.global.verbose, 1);
    }
}
