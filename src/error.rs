//! One error type for the whole tool. Each variant is named for the user's situation,
//! carries the file, field or host it is about, and prints one sentence that says what
//! failed and how to fix it. `main` maps it to an exit code with [`Error::exit_code`].

use std::io;
use std::path::PathBuf;

use crate::exit_codes::ExitCode;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad flags or arguments that clap could not catch.
    #[error("{0}")]
    Usage(String),

    /// `init` without a terminal and without every mandatory value.
    #[error(
        "missing {}: pass {} (or run `init` in a terminal to be asked)",
        .0.join(", "),
        .0.iter().map(|f| format!("--{f}")).collect::<Vec<_>>().join(" ")
    )]
    MissingFields(Vec<&'static str>),

    /// A value that would make a wrong CSR, topic or client ID.
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidField {
        field: &'static str,
        value: String,
        reason: String,
    },

    #[error("cannot read {}: {}; check the path and its permissions", path.display(), io_reason(source))]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("cannot write {}: {}; {}", path.display(), io_reason(source), write_fix(source))]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// An input that is a directory, FIFO or device: refused before reading (issue 14).
    #[error("{} is {what}, not a regular file: give the path of the file itself", path.display())]
    NotAFile { path: PathBuf, what: &'static str },

    /// An input past the size limit of its kind (issue 14): not what it should be.
    #[error("{} is larger than {limit_mib} MiB, too large for {what}: check that it is the right file", path.display())]
    TooLarge {
        path: PathBuf,
        limit_mib: u64,
        what: &'static str,
    },

    /// No `$HOME` and no password-file entry for this user (a container run under an
    /// arbitrary UID): a run-time condition of the environment, so 78, not 64.
    #[error(
        "cannot find a home directory for this user (no HOME, and no entry in the password file): pass --home DIR or set CENTILOC_CERT_HOME"
    )]
    NoHomeDir,

    #[error("no profile {name:?} in {}: create it with `{init_cmd}`", dir.display())]
    NoProfile {
        name: String,
        dir: PathBuf,
        /// The `init` command line to paste, with this run's --home and --profile.
        init_cmd: String,
    },

    #[error("profile {name:?} already exists in {}: pass --force to replace it (its key and certificate are archived, never deleted)", dir.display())]
    ProfileExists { name: String, dir: PathBuf },

    #[error("{} already exists: pass --force to replace it, or choose another file", path.display())]
    WouldOverwrite { path: PathBuf },

    /// An output path (`csr --out`) that is not a regular file: never replaced (issue 14).
    #[error("{} is {what}, not a regular file: it is left alone; choose a file path for the output", path.display())]
    NotAFileOut { path: PathBuf, what: &'static str },

    /// A symbolic link where the tool keeps its own files (`.lock`, `pending/`,
    /// `archive/`): never followed (issue 14).
    #[error("{} is a symbolic link, which centiloc-cert does not follow inside a profile: replace it with the real folder or file, then retry", path.display())]
    SymlinkRefused { path: PathBuf },

    #[error("{} is locked by another centiloc-cert run; wait for it to finish and retry", path.display())]
    Locked { path: PathBuf },

    /// A key file we cannot use: wrong type, wrong curve, encrypted, not a key. `fix` is
    /// the way out, with this run's flags once the command layer knows them.
    #[error("{}: {reason}; {fix}", path.display())]
    KeyRefused {
        path: PathBuf,
        reason: String,
        fix: String,
    },

    /// A file that does not parse as what it should be (PEM, DER, TOML...).
    #[error("{}: {reason}", path.display())]
    BadData { path: PathBuf, reason: String },

    #[error("{} is not valid: {reason}; correct that line (README describes every field)", path.display())]
    Config { path: PathBuf, reason: String },

    /// E-mail is asked for but `config.toml` (or its `[notify]` section) is not there:
    /// nothing to correct, something to add.
    #[error("e-mail is not set up: {} {lacking}; {what} needs a [notify] section there, for example:\n    {example}", path.display())]
    NotifyNotSetUp {
        path: PathBuf,
        lacking: &'static str,
        what: &'static str,
        example: String,
    },

    /// A payload given to `decode` that is not what its encoding says.
    #[error("{source_name}: {reason}; check --encoding (or the schema and --message)")]
    BadPayload { source_name: String, reason: String },

    /// A `.proto` schema that does not compile or lacks the message asked for.
    #[error("cannot use the schema: {0}")]
    Schema(String),

    /// A `--proto` file (or one it imports) that is not there.
    #[error("cannot use the schema: {0}; check --proto and -I")]
    SchemaNotFound(String),
    /// `install-cert`/`install-ca` refused the file; nothing was written (issue 3).
    #[error("{file} refused, nothing was changed: {reason}")]
    CertRefused { file: String, reason: String },

    /// `renew` while a renewal already waits for its certificate.
    #[error("a renewal is already pending since {since} ({}): send that CSR to Centiloc support and install their answer with `{install_cmd}`, or pass --force to start over (the pending key is archived)", csr.display())]
    RenewalPending {
        csr: PathBuf,
        since: String,
        install_cmd: String,
    },

    /// `credentials` got no password. Carries no value: the password never reaches a message.
    #[error("no password given: {0}")]
    NoPassword(String),

    /// A half-done renewal promotion that cannot be finished automatically.
    #[error("the interrupted certificate promotion in {} cannot be finished: {reason}; move the files by hand (nothing was deleted)", dir.display())]
    PromotionStuck { dir: PathBuf, reason: String },

    #[error("cannot build the CSR: {0}")]
    Csr(String),

    /// A private key that parses but that the signing library refuses (a CSR cannot be
    /// signed with it, nor a TLS handshake made): a new key is the way out.
    #[error(
        "the private key cannot be used for signing; make a new key for this profile with `init --force` (the old one is archived)"
    )]
    KeyUnusable,

    /// A question asked on a terminal whose input ended before an answer.
    #[error("no answer to {question:?} (end of input): pass it as a flag instead")]
    NoAnswer { question: String },

    /// The operating system refused what a network command needs to run (threads, file
    /// descriptors, the signal handler).
    #[error(
        "cannot start the network runtime: {}; check the system's limits on threads and open files (ulimit -n)",
        io_reason(.0)
    )]
    Runtime(#[source] io::Error),

    /// The operating system gave no random bytes. The library's own text ("Unspecified
    /// ring error") says nothing a user can act on, so the variant carries none.
    #[error(
        "the system random number generator failed, so no key was made: check that /dev/urandom can be read and the getrandom system call is allowed (a container's seccomp profile may block it), then retry"
    )]
    Random,

    /// A file a command needs has not been installed yet.
    #[error("{what} is missing ({}): {fix}", path.display())]
    NotInstalled {
        what: &'static str,
        path: PathBuf,
        fix: String,
    },

    /// `csr` for a key Centiloc already signed (issue 11): a second request for the same
    /// key is not what the user wants; a renewal (new key) is.
    #[error("a certificate for this key is already installed ({}, serial {serial}, valid until {until}): to get a new one start a renewal with `{renew_cmd}` (new key, no downtime), or pass --force to make a CSR for the same key again", cert.display())]
    AlreadyCertified {
        cert: PathBuf,
        serial: String,
        until: String,
        renew_cmd: String,
    },

    #[error("the certificate {} was not issued for the key {}: install the certificate Centiloc signed for this key's CSR", cert.display(), key.display())]
    CertKeyMismatch { cert: PathBuf, key: PathBuf },

    #[error("the certificate {} expired on {date}: the broker will refuse it; {steps}", path.display())]
    CertExpired {
        path: PathBuf,
        date: String,
        steps: String,
    },

    /// A staged connection failure (`test-connect`, `watch`): the sentence names the
    /// broker and the cause; the code is the SPEC's for that cause (69, 75, 76, 77).
    #[error("{message}")]
    Connection { message: String, code: ExitCode },
    /// `renew` before any certificate was installed: there is nothing to renew (issue 3).
    #[error(
        "no certificate is installed yet in profile {profile:?}, so there is nothing to renew: {next}"
    )]
    NothingToRenew { profile: String, next: String },

    /// `install-cert` of a certificate that would break a working one without `--force`.
    #[error(
        "{file} not installed, nothing was changed: {reason}; pass --force to install it anyway"
    )]
    WouldBreakWorking { file: String, reason: String },

    /// An e-mail template (built-in or override file) that does not render.
    #[error("e-mail template {origin} does not render: {reason}; fix or remove that file")]
    Template { origin: String, reason: String },

    /// The SMTP server refused or could not be reached. Never carries the password.
    /// `fix` fits the cause (a refused login points at the password) and may say what
    /// stands meanwhile (a renewal started, a notice sent again on the next run).
    #[error("cannot send e-mail through SMTP server {server}: {reason}; {fix}")]
    Smtp {
        server: String,
        reason: String,
        fix: String,
    },

    /// SMTP credentials would cross the network in clear text (issue 14).
    #[error(
        "refusing to send the SMTP password to {server} without TLS: in {} set [notify] smtp_url to smtps://… or smtp://…?tls=required{}",
        file.display(),
        if *loopback { " (for a relay on this machine only, allow_plaintext_auth = true in [notify] allows it)" } else { "" }
    )]
    SmtpCleartext {
        server: String,
        file: PathBuf,
        loopback: bool,
    },

    /// Standard output failed for another reason than its reader going away (a full
    /// disk behind `> file`, `> /dev/full`): what was printed is incomplete.
    #[error("cannot write to standard output: {}; check where the output is redirected", io_reason(.0))]
    Stdout(#[source] io::Error),

    #[error(
        "SMTP server {server} needs the password of user {user:?}: store it with `{store_cmd}` (kept 0600 in smtp-password beside config.toml, for cron and systemd) or set CENTILOC_SMTP_PASSWORD in the environment (never in config.toml)"
    )]
    SmtpPassword {
        server: String,
        user: String,
        /// The `credentials --smtp-password-stdin` line, with this run's --home.
        store_cmd: String,
    },
}

/// What to do about a mail server that cannot be reached or refuses the message.
pub const SMTP_FIX: &str = "check [notify] smtp_url and that the server accepts mail";

/// The `io::Error` text without the "(os error N)" noise users cannot act on; for every
/// message built from an I/O error, so that none shows it.
pub fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        io::ErrorKind::AlreadyExists => "it already exists".into(),
        io::ErrorKind::StorageFull => "the disk is full".into(),
        io::ErrorKind::NotADirectory => "a part of the path is a file, not a directory".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_lowercase(),
                None => s,
            }
        }
    }
}

/// What to do about a failed write, by its cause.
fn write_fix(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::NotFound => "its directory does not exist: create it or choose another path",
        io::ErrorKind::NotADirectory => "choose a path whose folders are folders",
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
            "check the permissions of its directory"
        }
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => {
            "free some disk space and retry"
        }
        _ => "check the disk and the directory, then retry",
    }
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Usage(_) | Error::MissingFields(_) => ExitCode::Usage,
            Error::InvalidField { .. }
            | Error::Config { .. }
            | Error::NotifyNotSetUp { .. }
            | Error::NoHomeDir => ExitCode::Config,
            Error::Read { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                ExitCode::NoInput
            }
            Error::Read { .. }
            | Error::Write { .. }
            | Error::Random
            | Error::Stdout(_)
            | Error::SymlinkRefused { .. } => ExitCode::IoErr,
            Error::NoProfile { .. } | Error::NotAFile { .. } => ExitCode::NoInput,
            Error::TooLarge { .. } => ExitCode::DataErr,
            Error::ProfileExists { .. }
            | Error::WouldOverwrite { .. }
            | Error::NotAFileOut { .. } => ExitCode::CantCreate,
            Error::AlreadyCertified { .. } => ExitCode::CantCreate,
            // Not in SPEC's table: a held lock is a temporary I/O condition, so 74.
            Error::Locked { .. } => ExitCode::IoErr,
            Error::NotInstalled { .. } => ExitCode::NoInput,
            Error::CertKeyMismatch { .. } | Error::CertExpired { .. } => ExitCode::DataErr,
            Error::Connection { code, .. } => *code,
            Error::KeyRefused { .. }
            | Error::BadData { .. }
            | Error::BadPayload { .. }
            | Error::Csr(_)
            | Error::KeyUnusable
            | Error::CertRefused { .. } => ExitCode::DataErr,
            Error::NoAnswer { .. } => ExitCode::NoInput,
            Error::Runtime(_) => ExitCode::IoErr,
            // A schema that does not compile or lacks the message asked for is a
            // configuration to fix (flags or profile.toml's [decode]), issue 12.
            Error::Schema(_) => ExitCode::Config,
            Error::SchemaNotFound(_) => ExitCode::NoInput,
            Error::RenewalPending { .. } => ExitCode::CantCreate,
            Error::NoPassword(_) => ExitCode::NoInput,
            Error::PromotionStuck { .. } => ExitCode::IoErr,
            Error::NothingToRenew { .. } => ExitCode::NoInput,
            Error::WouldBreakWorking { .. } => ExitCode::CantCreate,
            Error::Template { .. } | Error::SmtpPassword { .. } | Error::SmtpCleartext { .. } => {
                ExitCode::Config
            }
            // Not in SPEC's table, which names 69 for an unreachable broker: an unreachable
            // or refusing mail server is the same "service unavailable" (sysexits EX_UNAVAILABLE).
            Error::Smtp { .. } => ExitCode::Unavailable,
        }
    }

    pub fn read(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Read {
            path: path.into(),
            source,
        }
    }

    pub fn write(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Write {
            path: path.into(),
            source,
        }
    }

    /// [`Error::Smtp`] with the usual fix.
    pub fn smtp(server: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Smtp {
            server: server.into(),
            reason: reason.into(),
            fix: SMTP_FIX.into(),
        }
    }

    /// A failure to send, with what stands meanwhile (`after`) added to its fix, said
    /// once; another error (a template, a file) becomes a failure to send through `server`.
    pub fn unsent(self, server: &str, after: &str) -> Self {
        match self {
            Error::Smtp {
                server,
                reason,
                fix,
            } => Error::Smtp {
                server,
                reason,
                fix: format!("{fix}; {after}"),
            },
            other => Error::Smtp {
                server: server.to_owned(),
                reason: other.to_string(),
                fix: after.to_owned(),
            },
        }
    }

    pub fn invalid(field: &'static str, value: &str, reason: impl Into<String>) -> Self {
        Error::InvalidField {
            field,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_66_other_read_errors_74() {
        let nf = Error::read("/x", io::Error::from(io::ErrorKind::NotFound));
        assert_eq!(nf.exit_code(), ExitCode::NoInput);
        assert_eq!(
            nf.to_string(),
            "cannot read /x: no such file or directory; check the path and its permissions"
        );
        let pd = Error::read("/x", io::Error::from(io::ErrorKind::PermissionDenied));
        assert_eq!(pd.exit_code(), ExitCode::IoErr);
    }

    #[test]
    fn missing_fields_names_every_flag() {
        let e = Error::MissingFields(vec!["tenant", "email"]);
        assert_eq!(
            e.to_string(),
            "missing tenant, email: pass --tenant --email (or run `init` in a terminal to be asked)"
        );
        assert_eq!(e.exit_code(), ExitCode::Usage);
    }
}
