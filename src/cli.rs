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
  centiloc-cert install-cert tls-cert.pem && centiloc-cert install-ca ca-cert.pem
  centiloc-cert credentials --username acme-mqtt   # then type the password (hidden)
  centiloc-cert status                   # every check, with the command that fixes it
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
    /// Decode one Centiloc payload (protobuf or JSON) from FILE or stdin.
    #[command(after_help = DECODE_EXAMPLES)]
    Decode(DecodeArgs),
    /// Store the certificate Centiloc support returned (PEM or DER; `-` reads stdin).
    InstallCert(InstallCertArgs),
    /// Store Centiloc's public CA certificate (ca-cert.pem), which verifies the broker.
    InstallCa(InstallCaArgs),
    /// Set the MQTT username and password Centiloc support gave you.
    Credentials(CredentialsArgs),
    /// The readiness checklist: is everything there to connect?
    Status(StatusArgs),
    /// Every profile: tenant, certificate expiry, days left, state.
    List(ListArgs),
    /// Start a renewal: new key and CSR in pending/; the current ones keep working.
    Renew(RenewArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct InstallCertArgs {
    /// The certificate file support sent: PEM (leaf first, chain allowed) or DER; `-` for stdin.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Also check that this CA certificate signed it.
    #[arg(long, value_name = "FILE")]
    pub issuer: Option<PathBuf>,
    /// Install a certificate that is not valid yet even over a working one (which would
    /// stop the connection until the new one starts).
    #[arg(long)]
    pub force: bool,
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
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
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
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
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
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

const DECODE_EXAMPLES: &str = "\
Examples:
  centiloc-cert decode payload.bin                 # protobuf, as protoc --decode_raw prints it
  centiloc-cert decode --format json payload.bin   # the same fields as a JSON tree
  centiloc-cert decode --proto transtream.proto --message transtreamdatamodel.ItemEvent payload.bin
  mosquitto_sub ... -C 1 | centiloc-cert decode -  # from stdin
  centiloc-cert decode item.json                   # one line per JSON item/board update

Without --encoding, a payload whose first non-blank byte is { or [ is read as JSON, anything else as protobuf.";

#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// Payload file; `-` or absent: standard input.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Payload encoding (default: JSON if it starts with { or [, else protobuf).
    #[arg(long, value_enum)]
    pub encoding: Option<crate::decode::Encoding>,
    /// Schema file (.proto) to decode protobuf with field names; repeatable.
    #[arg(long = "proto", value_name = "FILE")]
    pub protos: Vec<PathBuf>,
    /// Directory to look up the schema's imports in; repeatable (default: each --proto's directory).
    #[arg(
        short = 'I',
        long = "proto-path",
        value_name = "DIR",
        requires = "protos"
    )]
    pub includes: Vec<PathBuf>,
    /// Fully qualified message name, e.g. transtreamdatamodel.ItemEvent (optional when the schema has one message).
    #[arg(long, value_name = "NAME", requires = "protos")]
    pub message: Option<String>,
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
