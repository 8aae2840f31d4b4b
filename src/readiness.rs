//! The readiness checklist behind `status` (SPEC: status): one [`Check`] per item, each
//! with the command that fixes it. Reads the profile's files and decides; printing is
//! the command's job, and `now` comes from the caller.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::cert::{self, Certificate};
use crate::credentials::{PASSWORD_ENV, PasswordSource, read_password};
use crate::exit_codes::ExitCode;
use crate::fix::Fix;
use crate::keys::PrivateKey;
use crate::paths::ProfilePaths;
use crate::profile::{Broker, Profile};
use crate::time::{self, when};
use crate::{csr, expiry, renewal};

/// How one item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Ok,
    /// Needed to connect and not there: exit 66.
    Missing,
    /// There but unusable: exit 65.
    Wrong,
    /// Works now, but deserves attention (expiring soon, a stale CSR).
    Warning,
    /// For the record (a pending renewal).
    Info,
}

impl State {
    pub fn mark(self) -> &'static str {
        match self {
            State::Ok => "✓",
            State::Missing | State::Wrong => "✗",
            State::Warning => "!",
            State::Info => "•",
        }
    }
}

/// One line of the checklist.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    /// Stable identifier for `--format json`.
    pub check: &'static str,
    pub state: State,
    pub detail: String,
    /// What to do, with the exact command where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Check {
    /// The checklist's words for [`Check::check`].
    pub fn label(&self) -> &'static str {
        match self.check {
            "private_key" => "private key",
            "private_key_mode" => "key file mode",
            "csr" => "CSR",
            "certificate_key" => "matches key",
            "certificate_cn" => "CN",
            "certificate_version" => "X.509 version",
            "certificate_validity" => "validity",
            "certificate_usage" => "key usage",
            "ca" => "CA certificate",
            "password_mode" => "password mode",
            "pending_key_mode" => "pending key mode",
            // The rest read well as they are: certificate, username, password, renewal.
            other => other,
        }
    }
}

/// Where the installed certificate stands in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    Current,
    /// Valid, but within the warning limits ([`crate::expiry::Limits::for_profile`]).
    ExpiringSoon,
    Expired,
    NotYetValid,
}

/// How much to check: everything (`status`), or only what decides a profile's one-word
/// state (`list`, run on many profiles: no CSR parse, no key parse without a certificate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Full,
    Summary,
}

/// One profile's state in a word, for `list`; derived from the checklist by
/// [`Checklist::list_state`], so that `list` and `status` never disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListState {
    Ready,
    /// Ready, but within the profile's warning limits: time to renew.
    ExpiringSoon,
    WaitingForCertificate,
    RenewalPending,
    Expired,
    NotYetValid,
    /// The certificate is for another key or another tenant.
    WrongCertificate,
    /// Its extended key usage excludes clientAuth: the broker refuses it (issue 11).
    NotForClientAuth,
    UnreadableCertificate,
    /// Something needed is missing (CA, username, password...).
    Incomplete,
    /// Something present is wrong besides the certificate (CA, key, file modes...).
    NotReady,
    InvalidProfile,
}

impl ListState {
    /// The JSON token (SPEC: JSON contract): lowercase, snake_case.
    pub fn token(self) -> &'static str {
        match self {
            ListState::Ready => "ready",
            ListState::ExpiringSoon => "expiring_soon",
            ListState::WaitingForCertificate => "waiting_for_certificate",
            ListState::RenewalPending => "renewal_pending",
            ListState::Expired => "expired",
            ListState::NotYetValid => "not_yet_valid",
            ListState::WrongCertificate => "wrong_certificate",
            ListState::NotForClientAuth => "not_for_client_auth",
            ListState::UnreadableCertificate => "unreadable_certificate",
            ListState::Incomplete => "incomplete",
            ListState::NotReady => "not_ready",
            ListState::InvalidProfile => "invalid_profile",
        }
    }

    /// The words `list` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            ListState::Ready => "ready",
            ListState::ExpiringSoon => "expiring soon",
            ListState::WaitingForCertificate => "waiting for certificate",
            ListState::RenewalPending => "renewal pending",
            ListState::Expired => "expired",
            ListState::NotYetValid => "not yet valid",
            ListState::WrongCertificate => "wrong certificate",
            ListState::NotForClientAuth => "wrong certificate: not for client authentication",
            ListState::UnreadableCertificate => "unreadable certificate",
            ListState::Incomplete => "incomplete",
            ListState::NotReady => "not ready",
            ListState::InvalidProfile => "invalid profile.toml",
        }
    }
}

/// Every check of one profile.
#[derive(Debug, Default)]
pub struct Checklist {
    pub checks: Vec<Check>,
    /// The installed certificate, when it parses.
    pub certificate: Option<Certificate>,
    /// The installed certificate's validity, when it parses.
    pub validity: Option<Validity>,
}

impl Checklist {
    fn push(&mut self, check: &'static str, state: State, detail: impl Into<String>) {
        self.checks.push(Check {
            check,
            state,
            detail: detail.into(),
            hint: None,
        });
    }

    fn hint(&mut self, hint: impl Into<String>) {
        if let Some(last) = self.checks.last_mut() {
            last.hint = Some(hint.into());
        }
    }

    /// 0 when ready to connect; 65 when something present is wrong (it wins: fixing a
    /// missing file will not help while another is broken); otherwise 66.
    pub fn exit_code(&self) -> ExitCode {
        let any = |s: State| self.checks.iter().any(|c| c.state == s);
        if any(State::Wrong) {
            ExitCode::DataErr
        } else if any(State::Missing) {
            ExitCode::NoInput
        } else {
            ExitCode::Ok
        }
    }

    fn state_of(&self, check: &str) -> Option<State> {
        self.checks
            .iter()
            .find(|c| c.check == check)
            .map(|c| c.state)
    }

    /// The one-word state `list` shows, from the same checks `status` prints; the most
    /// specific problem wins, and `ready` only when `status` would exit 0.
    pub fn list_state(&self) -> ListState {
        match self.state_of("certificate") {
            None | Some(State::Missing) => return ListState::WaitingForCertificate,
            Some(State::Wrong) => return ListState::UnreadableCertificate,
            _ => {}
        }
        let wrong = |id| self.state_of(id) == Some(State::Wrong);
        if wrong("certificate_key") || wrong("certificate_cn") {
            return ListState::WrongCertificate;
        }
        if wrong("certificate_usage") {
            return ListState::NotForClientAuth;
        }
        match self.validity {
            Some(Validity::Expired) => return ListState::Expired,
            Some(Validity::NotYetValid) => return ListState::NotYetValid,
            _ => {}
        }
        match self.exit_code() {
            ExitCode::DataErr => ListState::NotReady,
            ExitCode::NoInput => ListState::Incomplete,
            _ if self.state_of("renewal") == Some(State::Info) => ListState::RenewalPending,
            _ if self.validity == Some(Validity::ExpiringSoon) => ListState::ExpiringSoon,
            _ => ListState::Ready,
        }
    }
}

/// Builds the checklist. `cmd` turns "install-ca FILE" into a full command line with this
/// run's --home and --profile.
pub fn assess(
    paths: &ProfilePaths,
    profile: &Profile,
    cmd: &dyn Fn(&str) -> String,
    now: DateTime<Utc>,
) -> Checklist {
    assess_scope(paths, profile, cmd, now, Scope::Full)
}

/// [`assess`] with a [`Scope`]: `Summary` skips what cannot change [`Checklist::list_state`].
pub fn assess_scope(
    paths: &ProfilePaths,
    profile: &Profile,
    cmd: &dyn Fn(&str) -> String,
    now: DateTime<Utc>,
    scope: Scope,
) -> Checklist {
    let mut list = Checklist::default();
    if let Some((problem, fix)) = crate::paths::dir_mode_problem(&paths.dir) {
        list.push("dir_mode", State::Wrong, problem);
        list.hint(fix);
    }
    // Without a certificate the state is "waiting for certificate" whatever the key is.
    let key = if scope == Scope::Full || paths.cert().exists() {
        // `list` trusts the public half stored in the key file; `status` proves it.
        check_key(&mut list, paths, profile, cmd, scope == Scope::Full)
    } else {
        None
    };
    if scope == Scope::Full {
        check_csr(&mut list, paths, key.as_ref(), cmd);
    }
    check_certificate(&mut list, paths, profile, key.as_ref(), cmd, now);
    check_ca(&mut list, paths, cmd, now);
    check_credentials(&mut list, paths, profile, cmd);
    check_renewal(&mut list, paths, cmd);
    list
}

/// Secrets must not be readable by group or others (SPEC: secrets are 0600).
fn check_mode(list: &mut Checklist, check: &'static str, file: &Path, limit: u32) {
    let Ok(meta) = std::fs::metadata(file) else {
        return;
    };
    let mode = meta.mode() & 0o777;
    if mode & !limit != 0 {
        list.push(
            check,
            State::Wrong,
            format!(
                "{} is mode {mode:04o}: group or others on this machine can read it",
                file.display()
            ),
        );
        list.hint(format!("chmod {limit:o} {}", file.display()));
    } else {
        list.push(check, State::Ok, format!("{mode:04o}"));
    }
}

fn check_key(
    list: &mut Checklist,
    paths: &ProfilePaths,
    profile: &Profile,
    cmd: &dyn Fn(&str) -> String,
    verify: bool,
) -> Option<PrivateKey> {
    let file = paths.key();
    if !file.exists() {
        list.push(
            "private_key",
            State::Missing,
            format!("{} is missing", file.display()),
        );
        list.hint(new_key_hint(profile, cmd));
        return None;
    }
    let checked = PrivateKey::from_file(&file).and_then(|k| {
        if verify {
            k.verify()?;
        }
        Ok(k)
    });
    let key = match checked {
        Ok(k) => k,
        Err(e) => {
            list.push(
                "private_key",
                State::Wrong,
                without_generic_fix(&e.to_string()),
            );
            list.hint(new_key_hint(profile, cmd));
            return None;
        }
    };
    list.push(
        "private_key",
        State::Ok,
        format!("{}, SHA-256 {}", key.curve(), key.fingerprint()),
    );
    check_mode(list, "private_key_mode", &file, 0o600);
    Some(key)
}

/// The exact `init --force` that makes a new key for this profile with its current
/// settings (plain `init` refuses an existing profile).
pub fn init_force_cmd(profile: &Profile) -> String {
    use crate::context::shell_quote as q;
    let mut s = format!(
        "init --force --tenant {} --org {} --email {}",
        q(&profile.tenant),
        q(&profile.organization),
        q(&profile.email)
    );
    for (flag, value) in [
        ("--country", &profile.country),
        ("--state", &profile.state),
        ("--locality", &profile.locality),
        ("--org-unit", &profile.org_unit),
        ("--username", &profile.username),
    ] {
        if let Some(v) = value {
            s.push_str(&format!(" {flag} {}", q(v)));
        }
    }
    if profile.broker != Broker::default() {
        let host = &profile.broker.host;
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        s.push_str(&format!(
            " --broker {}",
            q(&format!("{host}:{}", profile.broker.port))
        ));
    }
    s
}

fn new_key_hint(profile: &Profile, cmd: &dyn Fn(&str) -> String) -> String {
    format!(
        "restore private-key.pem from a backup, or make a new key with `{}` (the old key, CSR and certificate are archived, not deleted; the CA and password stay), then `{}` and send the new CSR to Centiloc support",
        cmd(&init_force_cmd(profile)),
        cmd(Fix::Csr.args())
    )
}

/// Key errors end with a generic "make a new one with `centiloc-cert init`", which plain
/// `init` refuses on an existing profile; status gives the exact command as the hint.
fn without_generic_fix(message: &str) -> String {
    match message.find("make a new one with `centiloc-cert init`") {
        Some(i) => message[..i]
            .trim_end_matches([' ', ';', ':', ','])
            .to_owned(),
        None => message.to_owned(),
    }
}

fn check_csr(
    list: &mut Checklist,
    paths: &ProfilePaths,
    key: Option<&PrivateKey>,
    cmd: &dyn Fn(&str) -> String,
) {
    let file = paths.csr();
    let has_cert = paths.cert().exists();
    let bytes = match crate::input::read(&file, crate::input::Kind::Certificate) {
        Ok(b) => b,
        Err(_) if has_cert => {
            list.push(
                "csr",
                State::Ok,
                "none (not needed once the certificate is installed)",
            );
            return;
        }
        Err(_) => {
            list.push(
                "csr",
                State::Missing,
                format!("{} is missing", file.display()),
            );
            list.hint(cmd(Fix::Csr.args()));
            return;
        }
    };
    let matches =
        csr::public_key_of(&file, &bytes).map(|spki| key.map(|k| k.public_key_der() == spki));
    match matches {
        Ok(Some(false)) => {
            // Harmless once the certificate is in; sending it to support is not.
            let state = if has_cert {
                State::Warning
            } else {
                State::Wrong
            };
            list.push(
                "csr",
                state,
                format!("{} was made from another key", file.display()),
            );
            list.hint(cmd(Fix::Csr.args()));
        }
        Ok(_) => list.push("csr", State::Ok, file.display().to_string()),
        Err(e) => {
            let state = if has_cert {
                State::Warning
            } else {
                State::Wrong
            };
            list.push("csr", state, e.to_string());
            list.hint(cmd(Fix::Csr.args()));
        }
    }
}

/// Whether the certificate is this profile's: for its key, with the tenant as CN.
fn check_identity(
    list: &mut Checklist,
    profile: &Profile,
    cert: &Certificate,
    key: Option<&PrivateKey>,
    install: &str,
) {
    if let Some(key) = key {
        if cert.holds_key(key.public_key_der()) {
            list.push("certificate_key", State::Ok, "matches private-key.pem");
        } else {
            list.push(
                "certificate_key",
                State::Wrong,
                format!(
                    "its public key (SHA-256 {}) is not private-key.pem's ({})",
                    cert.key_fingerprint(),
                    key.fingerprint()
                ),
            );
            list.hint(format!(
                "install the certificate signed for this key: {install}"
            ));
        }
    }
    match cert.common_name.as_deref() {
        Some(cn) if cn == profile.tenant => {
            list.push(
                "certificate_cn",
                State::Ok,
                format!("CN = tenant \"{}\"", profile.tenant),
            );
        }
        cn => {
            list.push(
                "certificate_cn",
                State::Wrong,
                format!(
                    "CN is \"{}\", the tenant is \"{}\"",
                    cn.unwrap_or(""),
                    profile.tenant
                ),
            );
            list.hint(format!(
                "install the certificate made for this tenant: {install}"
            ));
        }
    }
}

fn check_certificate(
    list: &mut Checklist,
    paths: &ProfilePaths,
    profile: &Profile,
    key: Option<&PrivateKey>,
    cmd: &dyn Fn(&str) -> String,
    now: DateTime<Utc>,
) {
    let file = paths.cert();
    let install = cmd(Fix::InstallCert.args());
    if !file.exists() {
        list.push("certificate", State::Missing, "not installed yet");
        list.hint(format!(
            "send {} to Centiloc support, then: {install}",
            paths.csr().display()
        ));
        return;
    }
    let cert = match cert::load_chain(&file) {
        Ok(mut chain) => chain.swap_remove(0),
        Err(e) => {
            list.push("certificate", State::Wrong, e.to_string());
            list.hint(format!("install a fresh copy: {install}"));
            return;
        }
    };
    list.push(
        "certificate",
        State::Ok,
        format!("{}, serial {}", cert.subject, cert.serial),
    );
    check_identity(list, profile, &cert, key, &install);
    if let Some(note) = cert.version_note() {
        list.push("certificate_version", State::Ok, note);
    }
    if let Some(problem) = cert.client_auth_problem() {
        list.push("certificate_usage", State::Wrong, problem);
        list.hint(format!(
            "ask Centiloc support for a client certificate, then: {install}"
        ));
    }
    check_validity(list, paths, profile, &cert, cmd, now);
    list.certificate = Some(cert);
}

/// Validity by the same verdict and limits as `check-expiry` (the profile's `[expiry]`
/// settings, else the defaults), so `status`, `list` and `check-expiry` never disagree
/// on whether a certificate expires soon.
fn check_validity(
    list: &mut Checklist,
    paths: &ProfilePaths,
    profile: &Profile,
    cert: &Certificate,
    cmd: &dyn Fn(&str) -> String,
    now: DateTime<Utc>,
) {
    let v = expiry::verdict(
        cert.not_before,
        cert.not_after,
        now,
        expiry::Limits::for_profile(profile),
    );
    let renew_hint = if renewal::is_pending(paths) {
        format!(
            "a renewal is pending: install its certificate with {}",
            cmd(Fix::InstallCert.args())
        )
    } else {
        format!("renew: {}", cmd(Fix::Renew.args()))
    };
    let left = time::distance(cert.not_after, now);
    let (validity, state, text) = if v.expired {
        let text = format!("expired on {} ({left} ago)", when(cert.not_after));
        (Validity::Expired, State::Wrong, text)
    } else if v.not_yet_valid {
        let text = format!("not valid before {}", when(cert.not_before));
        (Validity::NotYetValid, State::Wrong, text)
    } else if v.state != expiry::State::Ok {
        let text = format!("expires {} ({left} left)", when(cert.not_after));
        (Validity::ExpiringSoon, State::Warning, text)
    } else {
        let text = format!("until {} ({left} left)", when(cert.not_after));
        (Validity::Current, State::Ok, text)
    };
    list.validity = Some(validity);
    list.push("certificate_validity", state, text);
    match validity {
        Validity::Expired | Validity::ExpiringSoon => list.hint(renew_hint),
        Validity::NotYetValid => {
            list.hint("wait until then, or ask Centiloc support why it starts in the future")
        }
        Validity::Current => {}
    }
}

fn check_ca(
    list: &mut Checklist,
    paths: &ProfilePaths,
    cmd: &dyn Fn(&str) -> String,
    now: DateTime<Utc>,
) {
    let file = paths.ca();
    let install = cmd(Fix::InstallCa.args());
    if !file.exists() {
        list.push(
            "ca",
            State::Missing,
            "Centiloc's CA certificate is not installed",
        );
        list.hint(format!(
            "download ca-cert.pem from Centiloc's User-MQTT documentation, then: {install}"
        ));
        return;
    }
    let problem = match cert::load_chain(&file) {
        Err(e) => Some(e.to_string()),
        Ok(chain) => {
            let found = crate::install::ca_findings(&chain, now);
            // Not valid yet is wrong too: every TLS handshake fails until then.
            match found
                .refusal
                .or_else(|| found.not_yet_valid.first().cloned())
            {
                Some(p) => Some(format!("{}: {p}", file.display())),
                None => {
                    let ca = &chain[0];
                    list.push(
                        "ca",
                        State::Ok,
                        format!("{}, until {}", ca.subject, when(ca.not_after)),
                    );
                    None
                }
            }
        }
    };
    if let Some(p) = problem {
        list.push("ca", State::Wrong, p);
        list.hint(format!("install the current one: {install}"));
    }
}

fn check_credentials(
    list: &mut Checklist,
    paths: &ProfilePaths,
    profile: &Profile,
    cmd: &dyn Fn(&str) -> String,
) {
    match &profile.username {
        Some(u) => list.push("username", State::Ok, format!("\"{u}\"")),
        None => {
            list.push("username", State::Missing, "not set");
            list.hint(cmd(Fix::Username.args()));
        }
    }
    match read_password(paths) {
        Ok(Some((_, PasswordSource::Environment))) => {
            list.push("password", State::Ok, format!("from {PASSWORD_ENV}"));
        }
        Ok(Some((_, PasswordSource::File))) => {
            list.push(
                "password",
                State::Ok,
                paths.password().display().to_string(),
            );
        }
        Ok(None) => {
            list.push("password", State::Missing, "not set");
            list.hint(format!(
                "{} (type it, or pipe it in with --password-stdin), or set {PASSWORD_ENV}",
                cmd(Fix::Credentials.args())
            ));
        }
        Err(e) => list.push("password", State::Wrong, e.to_string()),
    }
    if paths.password().exists() {
        check_mode(list, "password_mode", &paths.password(), 0o600);
    }
}

fn check_renewal(list: &mut Checklist, paths: &ProfilePaths, cmd: &dyn Fn(&str) -> String) {
    if renewal::needs_recovery(paths) {
        list.push(
            "renewal",
            State::Wrong,
            format!(
                "an interrupted certificate promotion is left in {}",
                paths.pending_dir().display()
            ),
        );
        list.hint(format!(
            "{} finishes it when nothing else holds the profile lock; if it keeps failing, follow its message",
            cmd(Fix::Status.args())
        ));
        return;
    }
    if !renewal::is_pending(paths) {
        return;
    }
    let since = renewal::pending_since(paths)
        .map(when)
        .unwrap_or_else(|| "an unknown time".into());
    let pending = renewal::pending_paths(paths);
    list.push("renewal", State::Info, format!("pending since {since}"));
    list.hint(format!(
        "send {} to Centiloc support, then: {}",
        pending.csr().display(),
        cmd(Fix::InstallCert.args())
    ));
    if pending.key().exists() {
        check_mode(list, "pending_key_mode", &pending.key(), 0o600);
    }
}
