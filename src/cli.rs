//! The command line, and nothing else: clap derive structs. The commands turn these into
//! validated settings before anything happens.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::keys::Curve;
use crate::output::Format;

const EXAMPLES: &str = "\
Examples:
  centiloc-cert init --tenant acme --org \"ACME Corp\" --email ops@acme.example
  centiloc-cert csr                      # then send certificate-request.csr to Centiloc support
  centiloc-cert csr --out -              # print the CSR instead of writing it
  centiloc-cert --profile eu init --tenant acme-eu --org \"ACME Corp\" --email ops@acme.example --curve p384
  centiloc-cert completions bash > /etc/bash_completion.d/centiloc-cert

Files live under --home DIR (or CENTILOC_CERT_HOME), else the platform's config and data directories.";

#[derive(Debug, Parser)]
#[command(
    name = "centiloc-cert",
    version,
    about = "Key, CSR, certificate and connection check for Centiloc's User-MQTT broker.",
    after_help = EXAMPLES
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, before or after the subcommand name.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Profile to use (one profile = one User-MQTT connection).
    #[arg(
        long,
        global = true,
        env = "CENTILOC_CERT_PROFILE",
        default_value = "default"
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
pub enum Command {
    /// Create a profile: a new P-256 key (or an adopted one) and the CSR subject.
    Init(InitArgs),
    /// Build certificate-request.csr from the profile's key, to send to Centiloc support.
    Csr(CsrArgs),
    /// Check certificate expiry for cron and monitoring (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
    #[command(after_help = CHECK_EXPIRY_EXAMPLES)]
    CheckExpiry(CheckExpiryArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
}

const CHECK_EXPIRY_EXAMPLES: &str = "\
Examples:
  centiloc-cert check-expiry                         # this profile's certificate and CA
  centiloc-cert check-expiry --all --format prometheus > /var/lib/node_exporter/textfile/centiloc.prom
  centiloc-cert check-expiry --cert tls-cert.pem --warn-days 45
  centiloc-cert check-expiry --all --notify --dry-run  # show the e-mails that are due
  0 8 * * * centiloc-cert check-expiry --all --notify --quiet   # crontab: silent while all is well";

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
    /// Replace FILE given with --out if it exists.
    #[arg(long)]
    pub force: bool,
    /// Also e-mail the CSR to Centiloc support ([notify] support_to in config.toml), attached.
    #[arg(long)]
    pub mail: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_work_after_the_subcommand() {
        let cli = Cli::try_parse_from(["c", "csr", "--profile", "p", "-v"]).unwrap();
        assert_eq!(cli.global.profile, "p");
        assert_eq!(cli.global.verbose, 1);
    }
}
