//! Installing what Centiloc support sends back, in two steps so that a pre-promotion
//! check (issue 5's `install-cert --test`) can run between them:
//!
//! - [`plan`]: pure. Every refusal of issue 3 is decided here, from parsed certificates,
//!   the profile, the key fingerprints and `now`; nothing is read or written.
//! - [`commit`]: the effects, with the profile lock held by the caller.
//!
//! A refusal is decided before the first write, so every file stays byte-identical.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::cert::Certificate;
use crate::error::{Error, Result};
use crate::fix::Fix;
use crate::keys::PrivateKey;
use crate::output::safe;
use crate::paths::ProfilePaths;
use crate::profile::Profile;
use crate::support_reply::Received;
use crate::{renewal, store};

/// Centiloc signs client certificates for one year; further than this from it is odd.
const EXPECTED_VALIDITY_DAYS: i64 = 365;
const VALIDITY_TOLERANCE_DAYS: i64 = 31;

/// Which key the new certificate belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The profile's `private-key.pem`: the certificate replaces `tls-cert.pem`.
    Current,
    /// The pending renewal key: key, CSR and certificate are promoted together.
    Pending,
}

/// The public halves of the keys a certificate may belong to.
#[derive(Debug, Clone, Default)]
pub struct KeyFacts {
    /// (SubjectPublicKeyInfo DER, SHA-256 fingerprint) of `private-key.pem`.
    pub current: Option<(Vec<u8>, String)>,
    /// The same for `pending/private-key.pem`, during a renewal.
    pub pending: Option<(Vec<u8>, String)>,
    /// (SubjectPublicKeyInfo DER, archive folder) of the keys renewals replaced: last
    /// year's certificate given again is told as such, not as "another CSR's".
    pub archived: Vec<(Vec<u8>, PathBuf)>,
}

impl KeyFacts {
    /// Reads the profile's key and the pending key (when a renewal is on). The profile's
    /// key may be unusable while a renewal is pending (that renewal is how to replace it);
    /// otherwise its error is the answer.
    pub fn read(paths: &ProfilePaths) -> Result<KeyFacts> {
        let facts = |k: PrivateKey| (k.public_key_der().to_vec(), k.fingerprint());
        let current = PrivateKey::from_file(&paths.key()).map(facts);
        let pending_key = renewal::pending_paths(paths).key();
        let pending = if pending_key.exists() {
            Some(facts(PrivateKey::from_file(&pending_key)?))
        } else {
            None
        };
        let current = match current {
            Ok(c) => Some(c),
            Err(_) if pending.is_some() => None,
            Err(e) => return Err(e),
        };
        Ok(KeyFacts {
            current,
            pending,
            archived: archived_keys(paths),
        })
    }
}

/// The public keys in `archive/*/private-key.pem`, newest first; unreadable ones are
/// passed over (they only improve a refusal's wording).
fn archived_keys(paths: &ProfilePaths) -> Vec<(Vec<u8>, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(paths.archive_dir()) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    dirs.sort_unstable_by(|a, b| b.cmp(a));
    dirs.into_iter()
        .filter_map(|dir| {
            let key = PrivateKey::from_file(&dir.join(crate::paths::KEY_FILE)).ok()?;
            Some((key.public_key_der().to_vec(), dir))
        })
        .collect()
}

/// Puts the certificates of an unordered input (a PKCS#7 bundle, an e-mail) in the
/// order `plan` expects: the one for our key first (the pending key's during a renewal,
/// the newest when several), then its issuers found by signature; certificates outside
/// that chain (a signer's S/MIME certificate, another customer's) are left out. Ordered
/// inputs (a PEM or DER file) keep their order. Returns the chain and notes saying where
/// the certificate came from and what was left out.
///
/// An unordered input without a certificate for our keys is refused here, listing what
/// it held (an e-mail may carry only a signer's S/MIME certificate).
pub fn arrange(
    received: Received,
    keys: &KeyFacts,
    source: &str,
) -> Result<(Vec<Certificate>, Vec<String>)> {
    let mut certs = received.certificates();
    if !received.unordered {
        return Ok((certs, Vec::new()));
    }
    let holds = |k: &Option<(Vec<u8>, String)>, c: &Certificate| {
        k.as_ref().is_some_and(|(spki, _)| c.holds_key(spki))
    };
    let newest = |pred: &dyn Fn(&Certificate) -> bool| {
        (0..certs.len())
            .filter(|&i| pred(&certs[i]))
            .max_by_key(|&i| certs[i].not_after)
    };
    let Some(leaf) = newest(&|c| holds(&keys.pending, c)).or(newest(&|c| holds(&keys.current, c)))
    else {
        return Err(Error::CertRefused {
            file: source.to_owned(),
            reason: none_for_us(&received, keys),
        });
    };
    let mut notes = Vec::new();
    let place = &received.found[leaf].place;
    notes.push(if place.is_empty() {
        format!(
            "took the certificate for this key from the {}",
            received.form
        )
    } else {
        format!(
            "took the certificate for this key from the {}: {place}",
            received.form
        )
    });
    let (chain, left_out) = chain_up(certs.remove(leaf), certs);
    notes.extend(left_out_note(&left_out));
    Ok((chain, notes))
}

/// `leaf` followed by its issuers among `certs`, found by name and signature (at most
/// ten: a loop of cross-signed certificates must end); returns the chain and the rest.
fn chain_up(
    leaf: Certificate,
    mut certs: Vec<Certificate>,
) -> (Vec<Certificate>, Vec<Certificate>) {
    let mut chain = vec![leaf];
    while chain.len() < 10 {
        let last = &chain[chain.len() - 1];
        let Some(i) = certs.iter().position(|c| {
            c.der() != last.der() && c.subject == last.issuer && last.verify_signed_by(c).is_ok()
        }) else {
            break;
        };
        chain.push(certs.remove(i));
    }
    certs.retain(|c| chain.iter().all(|k| k.der() != c.der()));
    (chain, certs)
}

/// "left out 2 certificates not in its chain: …", when any were.
fn left_out_note(certs: &[Certificate]) -> Option<String> {
    if certs.is_empty() {
        return None;
    }
    let names: Vec<String> = certs
        .iter()
        .map(|c| safe(&c.subject).into_owned())
        .collect();
    Some(format!(
        "left out {} certificate{} not in its chain: {}",
        certs.len(),
        if certs.len() == 1 { "" } else { "s" },
        names.join("; ")
    ))
}

/// Why an unordered input is refused: what it held, and whose keys we looked for.
fn none_for_us(received: &Received, keys: &KeyFacts) -> String {
    let held: Vec<String> = received
        .found
        .iter()
        .map(|f| {
            let what = safe(&f.cert.subject).into_owned();
            match f.place.as_str() {
                "" => what,
                place => format!("{what} in {place}"),
            }
        })
        .collect();
    format!(
        "the {} holds {} certificate{} ({}) but none for {}; check the profile (--profile), or send support the CSR from this profile",
        received.form,
        held.len(),
        if held.len() == 1 { "" } else { "s" },
        held.join("; "),
        our_keys(keys)
    )
}

/// "this profile's key (SHA-256 …) nor the pending renewal key (SHA-256 …)".
fn our_keys(keys: &KeyFacts) -> String {
    let mut ours = Vec::new();
    if let Some((_, fp)) = &keys.current {
        ours.push(format!("this profile's key (SHA-256 {fp})"));
    }
    if let Some((_, fp)) = &keys.pending {
        ours.push(format!("the pending renewal key (SHA-256 {fp})"));
    }
    ours.join(" nor ")
}

/// A certificate that passed every check, and what installing it will do.
#[derive(Debug, Clone)]
pub struct Plan {
    pub target: Target,
    /// The certificate for our key.
    pub leaf: Certificate,
    /// Leaf first, then the rest of the file in its order (what `tls-cert.pem` gets).
    pub chain: Vec<Certificate>,
    /// Things the user should know; the install goes on.
    pub warnings: Vec<String>,
    /// Harmless things done to the file (duplicates dropped).
    pub notes: Vec<String>,
    /// The same certificate(s) are already installed: nothing to write.
    pub unchanged: bool,
}

impl Plan {
    /// The bytes `tls-cert.pem` will hold: every certificate as PEM, leaf first.
    pub fn pem(&self) -> String {
        self.chain.iter().map(Certificate::to_pem).collect()
    }
}

/// The command lines a refusal recommends, with this run's --home and --profile (see
/// `fix.rs`): `plan` stays pure, so the caller spells them.
#[derive(Debug, Clone)]
pub struct FixLines {
    /// `install-ca` with the file this run was given (a CA handed to install-cert).
    pub install_ca: String,
    /// `renew`, for an expired certificate.
    pub renew: String,
}

impl FixLines {
    /// The lines for this run, `file` being the one given to install-cert.
    pub fn of(ctx: &crate::context::Ctx, file: &std::path::Path) -> FixLines {
        FixLines {
            install_ca: ctx.with_file(Fix::InstallCa, file),
            renew: ctx.fix(Fix::Renew),
        }
    }
}

/// What `plan` decides from, besides the certificates.
struct Facts<'a> {
    source: &'a str,
    profile: &'a Profile,
    keys: &'a KeyFacts,
    installed: Option<&'a [Certificate]>,
    force: bool,
    now: DateTime<Utc>,
}

impl Facts<'_> {
    fn refuse(&self, reason: String) -> Error {
        Error::CertRefused {
            file: self.source.to_owned(),
            reason,
        }
    }
}

/// Decides whether `chain` (read from `source`) may be installed in this profile.
/// `installed` is the current `tls-cert.pem`, to tell a re-install from a replacement and
/// to protect a working certificate; `force` lets a not-yet-valid one replace it anyway.
/// The steps run in the order a person would check: ours, current, theirs, fit to use.
#[allow(clippy::too_many_arguments)]
pub fn plan(
    source: &str,
    chain: Vec<Certificate>,
    profile: &Profile,
    keys: &KeyFacts,
    issuer: Option<&Certificate>,
    installed: Option<&[Certificate]>,
    force: bool,
    now: DateTime<Utc>,
    fixes: &FixLines,
) -> Result<Plan> {
    let facts = Facts {
        source,
        profile,
        keys,
        installed,
        force,
        now,
    };
    let (chain, mut notes) = without_duplicates(chain);
    let (target, chain, mut warnings) = leaf_first(chain, &facts, fixes)?;
    let leaf = chain[0].clone();
    check_current(&leaf, &facts, fixes)?;
    check_names_tenant(&leaf, &facts)?;
    check_is_client_certificate(&leaf, &facts)?;
    if let Some(ca) = issuer {
        check_issuer(&leaf, ca, &facts)?;
    }
    warnings.extend(check_client_auth(&leaf, &facts)?);
    // Version 1 (the plain `openssl x509 -req` recipe) connects fine: say what it is.
    notes.extend(leaf.version_note());
    check_keeps_working(&leaf, &facts)?;
    warnings.extend(advisories(&leaf, &chain, profile, now));
    warnings.extend(not_later(&leaf, installed));
    let unchanged = target == Target::Current && installed.is_some_and(|old| holds(old, &chain));
    if unchanged
        && let Some(more) = installed
            .map(|old| old.len() - chain.len())
            .filter(|n| *n > 0)
    {
        notes.push(format!(
            "the installed file already holds this certificate with {more} CA certificate{} behind it; kept as it is, chain included",
            if more == 1 { "" } else { "s" }
        ));
    }
    Ok(Plan {
        target,
        leaf,
        chain,
        warnings,
        notes,
        unchanged,
    })
}

/// Does the installed chain already hold `chain` (the same certificates in the same
/// order, maybe with more CA certificates behind)? The same certificate sent again as
/// DER, without its chain, must not drop the chain that an intermediate CA needs.
fn holds(installed: &[Certificate], chain: &[Certificate]) -> bool {
    installed.len() >= chain.len() && installed.iter().zip(chain).all(|(a, b)| a.der() == b.der())
}

/// The same certificate twice (a leaf pasted again with its chain) is dropped: only the
/// first copy counts, so the order check then sees the real chain. Returns the note.
fn without_duplicates(mut chain: Vec<Certificate>) -> (Vec<Certificate>, Vec<String>) {
    let before = chain.len();
    let mut seen = std::collections::HashSet::new();
    chain.retain(|c| seen.insert(c.der().to_vec()));
    let mut notes = Vec::new();
    if chain.len() < before {
        let n = before - chain.len();
        notes.push(format!(
            "dropped {n} exact duplicate certificate{} from the file",
            if n == 1 { "" } else { "s" }
        ));
    }
    (chain, notes)
}

/// Finds the certificate for one of our keys and moves it first, as TLS clients expect.
fn leaf_first(
    mut chain: Vec<Certificate>,
    facts: &Facts,
    fixes: &FixLines,
) -> Result<(Target, Vec<Certificate>, Vec<String>)> {
    let (index, target) = find_leaf(&chain, facts.keys)
        .ok_or_else(|| facts.refuse(key_mismatch(&chain, facts.keys, &fixes.install_ca)))?;
    let mut warnings = Vec::new();
    if index != 0 {
        warnings.push(format!(
            "the certificate for this key was #{} in the file; it is stored first, as TLS clients expect",
            index + 1
        ));
    }
    let leaf = chain.remove(index);
    chain.insert(0, leaf);
    Ok((target, chain, warnings))
}

fn check_current(leaf: &Certificate, facts: &Facts, fixes: &FixLines) -> Result<()> {
    if leaf.is_expired(facts.now) {
        return Err(facts.refuse(format!(
            "it expired on {} (now {}); ask Centiloc support to sign a current CSR (`{}` makes one)",
            when(leaf.not_after),
            when(facts.now),
            fixes.renew
        )));
    }
    Ok(())
}

/// The broker takes the tenant from the CN: another CN would be refused there.
fn check_names_tenant(leaf: &Certificate, facts: &Facts) -> Result<()> {
    let tenant = &facts.profile.tenant;
    match leaf.common_name.as_deref() {
        Some(cn) if cn == tenant => Ok(()),
        cn => Err(facts.refuse(format!(
            "its CN is {} but this profile's tenant is {tenant:?}; the broker would reject it: ask support to sign the CSR made for tenant {tenant:?}",
            cn.map(|c| format!("{:?}", safe(c)))
                .unwrap_or_else(|| "missing".into()),
        ))),
    }
}

/// A certificate for our key that is a CA, or that carries a critical extension TLS
/// stacks do not know, is not a client certificate a broker accepts (RFC 5280 §4.2).
/// A CA certificate handed to install-cert without our key is `key_mismatch`'s case.
fn check_is_client_certificate(leaf: &Certificate, facts: &Facts) -> Result<()> {
    if leaf.is_ca {
        return Err(facts.refuse(
            "it carries this profile's key but is a CA certificate (basicConstraints CA:TRUE), not a client certificate, and a broker refuses it as one; ask Centiloc support to sign the CSR again as a client certificate (CA:FALSE)".into(),
        ));
    }
    if !leaf.unknown_critical.is_empty() {
        return Err(facts.refuse(format!(
            "it has a critical extension that TLS software does not know ({}), so the broker must refuse it (RFC 5280 §4.2); ask Centiloc support to sign the CSR again without it",
            leaf.unknown_critical.join(", ")
        )));
    }
    Ok(())
}

/// A renewal that does not end later than what it replaces is most likely the wrong
/// file (an old certificate sent again): it is installed, as asked, with a warning.
fn not_later(leaf: &Certificate, installed: Option<&[Certificate]>) -> Option<String> {
    let old = installed?.first()?;
    (old.der() != leaf.der() && leaf.not_after <= old.not_after).then(|| {
        format!(
            "the new certificate is valid until {}, not later than the one it replaced (valid until {}): check that it is the renewed certificate Centiloc support meant to send",
            when(leaf.not_after),
            when(old.not_after)
        )
    })
}

fn check_issuer(leaf: &Certificate, ca: &Certificate, facts: &Facts) -> Result<()> {
    leaf.verify_signed_by(ca).map_err(|e| {
        facts.refuse(format!(
            "it was not signed by the --issuer certificate {} ({e})",
            safe(&ca.subject)
        ))
    })
}

/// Issue 11: a broker checks extendedKeyUsage and refuses a certificate not meant for
/// client authentication; installing it would leave `status` saying ready while every
/// connection fails. --force installs it for a client that does not care (a warning).
fn check_client_auth(leaf: &Certificate, facts: &Facts) -> Result<Option<String>> {
    match leaf.client_auth_problem() {
        None => Ok(None),
        Some(problem) if facts.force => Ok(Some(format!("{problem}; installed anyway (--force)"))),
        Some(problem) => Err(facts.refuse(format!("{problem}; pass --force to install it anyway"))),
    }
}

/// A not-yet-valid certificate must not replace a working one without --force: the
/// connection would fail until its start date.
fn check_keeps_working(leaf: &Certificate, facts: &Facts) -> Result<()> {
    if !leaf.is_not_yet_valid(facts.now) || facts.force {
        return Ok(());
    }
    let Some(working) = facts
        .installed
        .and_then(|old| old.first())
        .filter(|old| works_now(old, facts.profile, facts.keys, facts.now))
    else {
        return Ok(());
    };
    Err(Error::WouldBreakWorking {
        file: facts.source.to_owned(),
        reason: format!(
            "it is not valid before {} and would replace the working certificate (valid until {}), so the connection would fail until then; install it from {} on",
            when(leaf.not_before),
            when(working.not_after),
            when(leaf.not_before)
        ),
    })
}

/// Would `cert`, installed, connect now: the current key's, for the tenant, in its
/// validity window? (What `status` checks about the certificate.)
fn works_now(cert: &Certificate, profile: &Profile, keys: &KeyFacts, now: DateTime<Utc>) -> bool {
    keys.current
        .as_ref()
        .is_some_and(|(spki, _)| cert.holds_key(spki))
        && cert.common_name.as_deref() == Some(profile.tenant.as_str())
        && !cert.is_expired(now)
        && !cert.is_not_yet_valid(now)
}

/// A span as people say it: hours under two days, days beyond.
pub fn span_words(span: chrono::TimeDelta) -> String {
    let hours = span.num_hours();
    if hours.abs() < 48 {
        format!("{hours} hour{}", if hours.abs() == 1 { "" } else { "s" })
    } else {
        let days = span.num_days();
        format!("{days} day{}", if days.abs() == 1 { "" } else { "s" })
    }
}

/// The certificate in the file that holds the profile's or the pending renewal's key.
fn find_leaf(chain: &[Certificate], keys: &KeyFacts) -> Option<(usize, Target)> {
    for (i, c) in chain.iter().enumerate() {
        if let Some((spki, _)) = &keys.current
            && c.holds_key(spki)
        {
            return Some((i, Target::Current));
        }
        if let Some((spki, _)) = &keys.pending
            && c.holds_key(spki)
        {
            return Some((i, Target::Pending));
        }
    }
    None
}

/// Why no certificate in the file is ours. A CA certificate handed to `install-cert` is
/// said first (the user's own report: two fingerprints sent them checking keys), with
/// the `install-ca` line to paste (`install_ca_cmd`, this run's --home/--profile).
fn key_mismatch(chain: &[Certificate], keys: &KeyFacts, install_ca_cmd: &str) -> String {
    let first = &chain[0];
    if first.is_ca && chain.len() == 1 {
        return format!(
            "it is a CA certificate ({}), not the certificate for this profile's key; install it with `{install_ca_cmd}`",
            first.subject
        );
    }
    if let Some((_, dir)) = keys.archived.iter().find(|(spki, _)| first.holds_key(spki)) {
        return format!(
            "it is the certificate of this profile's earlier key (archived in {}), which a renewal replaced; install the certificate Centiloc support signed for the current CSR",
            dir.display()
        );
    }
    format!(
        "its public key (SHA-256 {}) is not {}; it was signed for another CSR: check the profile (--profile) or send support the CSR from this profile",
        first.key_fingerprint(),
        our_keys(keys)
    )
}

/// Warnings that do not stop the install (issue 3). Raw text: JSON carries it as is, and
/// the terminal printer passes it through `output::safe`.
fn advisories(
    leaf: &Certificate,
    chain: &[Certificate],
    profile: &Profile,
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut w = Vec::new();
    if leaf.is_not_yet_valid(now) {
        w.push(format!(
            "the certificate is not valid before {}: the broker will refuse it until then",
            when(leaf.not_before)
        ));
    }
    let differs = |what: &str, got: &Option<String>, want: &str| {
        (got.as_deref() != Some(want)).then(|| {
            format!(
                "its {what} is {} but the profile says {want:?}",
                got.as_deref()
                    .map(|g| format!("\"{g}\""))
                    .unwrap_or_else(|| "missing".into())
            )
        })
    };
    w.extend(differs(
        "O (organization)",
        &leaf.organization,
        &profile.organization,
    ));
    w.extend(differs("emailAddress", &leaf.email, &profile.email));
    let lifetime = leaf.not_after - leaf.not_before;
    if (lifetime.num_days() - EXPECTED_VALIDITY_DAYS).abs() > VALIDITY_TOLERANCE_DAYS {
        w.push(format!(
            "it is valid for {}, where Centiloc documents one year",
            span_words(lifetime)
        ));
    }
    if let Some(next) = chain.get(1)
        && leaf.verify_signed_by(next).is_err()
    {
        w.push(format!(
            "the second certificate in the file ({}) did not sign the first: the chain may be in the wrong order",
            next.subject
        ));
    }
    w
}

/// What [`commit`] did.
#[derive(Debug)]
pub struct Installed {
    pub cert_file: PathBuf,
    /// Where the replaced certificate (and, after a promotion, key and CSR) went.
    pub archived: Option<PathBuf>,
}

/// Writes what `plan` decided. The caller holds the profile lock and made the plan under it.
pub fn commit(paths: &ProfilePaths, plan: &Plan) -> Result<Installed> {
    let pem = plan.pem();
    let archived = match plan.target {
        _ if plan.unchanged => None,
        Target::Pending => Some(renewal::promote(paths, pem.as_bytes())?),
        Target::Current => replace_archiving(paths, &paths.cert(), &pem)?,
    };
    Ok(Installed {
        cert_file: paths.cert(),
        archived,
    })
}

/// A time as the tool prints it everywhere.
pub fn when(t: DateTime<Utc>) -> String {
    crate::time::when(t)
}

/// What is wrong with a CA certificate file, as raw text (callers make it terminal-safe):
/// the reason to refuse it (not a CA, expired), and what only makes it unusable for now
/// (not valid yet). Shared by `install-ca` and `status`.
#[derive(Debug, Default)]
pub struct CaFindings {
    pub refusal: Option<String>,
    /// The refusal is that a certificate is no CA (a client certificate, most likely).
    pub not_ca: bool,
    pub not_yet_valid: Vec<String>,
}

pub fn ca_findings(chain: &[Certificate], now: DateTime<Utc>) -> CaFindings {
    let mut f = CaFindings::default();
    for (i, c) in chain.iter().enumerate() {
        let which = match chain.len() {
            1 => "it".to_string(),
            _ => format!("certificate #{} ({})", i + 1, c.subject),
        };
        if !c.is_ca {
            f.refusal = Some(format!(
                "{which} is not a CA certificate (no basicConstraints CA:TRUE); the CA is the ca-cert.pem from Centiloc's documentation"
            ));
            f.not_ca = true;
            return f;
        }
        if c.is_expired(now) {
            f.refusal = Some(format!(
                "{which} expired on {}; download the current ca-cert.pem from Centiloc's documentation",
                when(c.not_after)
            ));
            return f;
        }
        if c.is_not_yet_valid(now) {
            f.not_yet_valid.push(format!(
                "{which} is not valid before {}: TLS checks will fail until then",
                when(c.not_before)
            ));
        }
    }
    f
}

/// Checks Centiloc's CA certificate file for `install-ca`: every certificate in it parses
/// (done by the caller), is a CA (basicConstraints CA:TRUE) and is not expired. Returns
/// the warnings (not yet valid), raw: the caller makes them terminal-safe.
/// `install_cert_cmd` is the line that installs a client certificate instead, with this
/// run's --home/--profile.
pub fn check_ca(
    source: &str,
    chain: &[Certificate],
    now: DateTime<Utc>,
    install_cert_cmd: &str,
) -> Result<Vec<String>> {
    let f = ca_findings(chain, now);
    match f.refusal {
        Some(reason) => {
            let hint = match f.not_ca {
                true => format!("; a client certificate goes to `{install_cert_cmd}`"),
                false => String::new(),
            };
            Err(Error::CertRefused {
                file: source.to_owned(),
                reason: format!("{}{hint}", safe(&reason)),
            })
        }
        None => Ok(f.not_yet_valid),
    }
}

/// Replaces `file` with `pem`, the old content linked into a new archive folder first
/// (returned): a crash in between leaves the old file installed and a copy archived.
/// Certificates only: keys never go through here.
pub fn replace_archiving(
    paths: &ProfilePaths,
    file: &std::path::Path,
    pem: &str,
) -> Result<Option<PathBuf>> {
    // Staged and committed by one rename, the old file archived last: a full disk leaves
    // neither a half-done replacement nor an empty archive folder (issue 14 item 12).
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    let r = store::Replacement::begin(&paths.dir, "")?;
    r.write(&name, pem.as_bytes(), store::Mode::Public)?;
    r.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Curve;
    use crate::profile::{Broker, Thresholds};

    fn profile() -> Profile {
        Profile {
            tenant: "demo".into(),
            organization: "Demo Corp".into(),
            email: "ops@example.com".into(),
            country: None,
            state: None,
            locality: None,
            org_unit: None,
            username: None,
            client_id: None,
            broker: Broker::default(),
            expiry: Thresholds::default(),
            renewal: Default::default(),
            decode: Default::default(),
        }
    }

    fn facts(k: &PrivateKey) -> Option<(Vec<u8>, String)> {
        Some((k.public_key_der().to_vec(), k.fingerprint()))
    }

    /// A self-signed certificate for `key`, CN `cn`, valid over the given years.
    fn cert(key: &PrivateKey, cn: &str, from: i32, to: i32) -> Certificate {
        let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Demo Corp");
        params.not_before = rcgen::date_time_ymd(from, 1, 1);
        params.not_after = rcgen::date_time_ymd(to, 1, 1);
        let c = params.self_signed(&key.signing_key().unwrap()).unwrap();
        Certificate::from_der(c.der()).unwrap()
    }

    fn fixes() -> FixLines {
        FixLines {
            install_ca: "centiloc-cert install-ca FILE".into(),
            renew: "centiloc-cert renew".into(),
        }
    }

    fn at(year: i32) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("{year}-06-01T00:00:00Z"))
            .unwrap()
            .to_utc()
    }

    #[test]
    fn the_pending_key_selects_promotion_and_the_current_one_replacement() {
        let current = PrivateKey::generate(Curve::P256).unwrap();
        let pending = PrivateKey::generate(Curve::P256).unwrap();
        let keys = KeyFacts {
            current: facts(&current),
            pending: facts(&pending),
            archived: Vec::new(),
        };
        let p = profile();
        let for_pending = cert(&pending, "demo", 2026, 2027);
        let plan = plan(
            "f",
            vec![for_pending],
            &p,
            &keys,
            None,
            None,
            false,
            at(2026),
            &fixes(),
        )
        .unwrap();
        assert_eq!(plan.target, Target::Pending);
        let for_current = cert(&current, "demo", 2026, 2027);
        let installed = vec![for_current.clone()];
        let plan = plan_of(&p, &keys, for_current, Some(&installed));
        assert_eq!(plan.target, Target::Current);
        assert!(plan.unchanged);
    }

    fn plan_of(
        p: &Profile,
        keys: &KeyFacts,
        c: Certificate,
        installed: Option<&[Certificate]>,
    ) -> Plan {
        plan(
            "f",
            vec![c],
            p,
            keys,
            None,
            installed,
            false,
            at(2026),
            &fixes(),
        )
        .unwrap()
    }

    #[test]
    fn refusals_carry_both_values() {
        let ours = PrivateKey::generate(Curve::P256).unwrap();
        let theirs = PrivateKey::generate(Curve::P256).unwrap();
        let keys = KeyFacts {
            current: facts(&ours),
            pending: None,
            archived: Vec::new(),
        };
        let p = profile();
        let refusal = |c: Certificate| {
            plan(
                "f",
                vec![c],
                &p,
                &keys,
                None,
                None,
                false,
                at(2026),
                &fixes(),
            )
            .unwrap_err()
            .to_string()
        };
        let e = refusal(cert(&theirs, "demo", 2026, 2027));
        assert!(
            e.contains(&ours.fingerprint()) && e.contains(&theirs.fingerprint()),
            "{e}"
        );
        let e = refusal(cert(&ours, "other", 2026, 2027));
        assert!(e.contains("\"other\"") && e.contains("\"demo\""), "{e}");
        let e = refusal(cert(&ours, "demo", 2024, 2025));
        assert!(e.contains("expired on 2025-01-01 00:00 UTC"), "{e}");
    }

    #[test]
    fn not_yet_valid_and_odd_lifetimes_only_warn() {
        let key = PrivateKey::generate(Curve::P256).unwrap();
        let keys = KeyFacts {
            current: facts(&key),
            pending: None,
            archived: Vec::new(),
        };
        let plan = plan_of(&profile(), &keys, cert(&key, "demo", 2027, 2030), None);
        let w = plan.warnings.join("\n");
        assert!(w.contains("not valid before 2027-01-01"), "{w}");
        assert!(w.contains("valid for 1096 days"), "{w}");
        // The profile's e-mail is not in the certificate.
        assert!(w.contains("its emailAddress is missing"), "{w}");
        assert!(!w.contains("organization"), "{w}");
    }

    #[test]
    fn spans_read_in_hours_under_two_days() {
        use chrono::TimeDelta;
        assert_eq!(span_words(TimeDelta::hours(5)), "5 hours");
        assert_eq!(span_words(TimeDelta::hours(1)), "1 hour");
        assert_eq!(span_words(TimeDelta::hours(47)), "47 hours");
        assert_eq!(span_words(TimeDelta::hours(48)), "2 days");
        assert_eq!(span_words(TimeDelta::days(365)), "365 days");
    }

    #[test]
    fn a_future_certificate_does_not_replace_a_working_one_without_force() {
        let key = PrivateKey::generate(Curve::P256).unwrap();
        let keys = KeyFacts {
            current: facts(&key),
            pending: None,
            archived: Vec::new(),
        };
        let p = profile();
        let working = vec![cert(&key, "demo", 2026, 2027)];
        let future = || vec![cert(&key, "demo", 2027, 2028)];
        let e = plan(
            "f",
            future(),
            &p,
            &keys,
            None,
            Some(&working),
            false,
            at(2026),
            &fixes(),
        )
        .unwrap_err();
        assert!(matches!(e, Error::WouldBreakWorking { .. }), "{e}");
        assert!(
            plan(
                "f",
                future(),
                &p,
                &keys,
                None,
                Some(&working),
                true,
                at(2026),
                &fixes()
            )
            .is_ok()
        );
        // An expired installed certificate is not working: the install goes on.
        let expired = vec![cert(&key, "demo", 2024, 2025)];
        assert!(
            plan(
                "f",
                future(),
                &p,
                &keys,
                None,
                Some(&expired),
                false,
                at(2026),
                &fixes()
            )
            .is_ok()
        );
    }
}
