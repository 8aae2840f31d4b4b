//! `init`: create a profile (settings + private key), or with `--force` replace one,
//! archiving what it replaces. Everything is validated before anything is written, and a
//! new profile appears all at once: it is assembled in a hidden folder and renamed in.

use std::path::Path;

use crate::cli::InitArgs;
use crate::context::Ctx;
use crate::csr::Subject;
use crate::error::{Error, Result};
use crate::exit_codes::ExitCode;
use crate::fix::Fix;
use crate::keys::PrivateKey;
use crate::output::Format;
use crate::paths::ProfilePaths;
use crate::profile::{self, Broker, Profile, Thresholds};
use crate::{prompt, store};

pub fn run(ctx: &Ctx, args: InitArgs) -> Result<ExitCode> {
    let paths = ctx.paths();
    let existing = occupied(&paths.dir);
    // Without a terminal nothing is asked, so missing flags are named first (64): a user
    // told only "exists, pass --force" adds --force and is then told the flags. On a
    // terminal the refusal comes first, before anyone types answers for nothing.
    let settings = match prompt::stdin_is_terminal() {
        false => Some(gather(&args)?),
        true => None,
    };
    if existing && !args.force {
        return Err(Error::ProfileExists {
            name: paths.name.clone(),
            dir: ctx.home.profiles_dir(),
        });
    }
    let settings = match settings {
        Some(s) => s,
        None => gather(&args)?,
    };
    let adopted = args.key.is_some();
    let key = match &args.key {
        Some(file) => PrivateKey::adopt(file)?,
        None => PrivateKey::generate(args.curve)?,
    };

    let archived = if existing {
        replace_in_place(&paths, &settings, &key)?
    } else {
        create_new(ctx, &paths, &settings, &key)?;
        None
    };
    let report = Report::new(&paths, &settings, &key, adopted, archived.as_deref());
    match args.format {
        Format::Json => ctx.out.report(&report),
        Format::Text => report.print_text(ctx),
    }
    Ok(ExitCode::Ok)
}

/// A profile directory counts as taken when it holds anything but our lock file.
fn occupied(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|mut it| it.any(|e| e.is_ok_and(|e| e.file_name() != crate::paths::LOCK_FILE)))
        .unwrap_or(false)
}

/// Flags first; on a terminal, ask for the rest; otherwise name every missing flag.
fn gather(args: &InitArgs) -> Result<Profile> {
    let interactive = prompt::stdin_is_terminal();
    let [tenant, organization, email] = mandatory(args, interactive)?;
    let optional = |value: &Option<String>, q: &str, check: fn(&str) -> Result<()>| match value {
        Some(v) => Ok(Some(v.clone()).filter(|v| !v.is_empty())),
        None if interactive => prompt::ask(q, true, check),
        None => Ok(None),
    };
    let any = |_: &str| Ok(());
    let p = Profile {
        tenant,
        organization,
        email,
        country: optional(
            &args.country,
            "Country Name (2 letter code)",
            profile::validate_country,
        )?
        .map(|c| c.to_ascii_uppercase()),
        state: optional(&args.state, "State or Province Name", any)?,
        locality: optional(&args.locality, "Locality Name (city)", any)?,
        org_unit: optional(&args.org_unit, "Organizational Unit Name", any)?,
        username: args.username.clone().filter(|u| !u.is_empty()),
        client_id: None,
        broker: Broker::parse(&args.broker)?,
        expiry: Thresholds::default(),
        renewal: Default::default(),
        decode: Default::default(),
    };
    p.validate()?;
    Ok(p)
}

/// Tenant, organization and e-mail: from the flags, asked on a terminal, or every
/// missing flag named at once (64).
fn mandatory(args: &InitArgs, interactive: bool) -> Result<[String; 3]> {
    type Check = fn(&str) -> Result<()>;
    let fields: [(&'static str, &Option<String>, &str, Check); 3] = [
        (
            "tenant",
            &args.tenant,
            "Tenant ID (Common Name)",
            profile::validate_tenant,
        ),
        (
            "org",
            &args.org,
            "Organization Name (your company)",
            profile::validate_organization,
        ),
        (
            "email",
            &args.email,
            "Email Address (for certificate notices)",
            profile::validate_email,
        ),
    ];
    let mut missing = Vec::new();
    let mut values: [String; 3] = Default::default();
    for (slot, (flag, value, q, check)) in values.iter_mut().zip(fields) {
        match value {
            Some(v) => *slot = v.clone(),
            None if interactive => *slot = prompt::ask(q, false, check)?.unwrap_or_default(),
            None => missing.push(flag),
        }
    }
    if !missing.is_empty() {
        return Err(Error::MissingFields(missing));
    }
    Ok(values)
}

/// Writes key and settings into a hidden staging folder, then renames it into place, so
/// a crash leaves either no profile or a whole one.
fn create_new(ctx: &Ctx, paths: &ProfilePaths, settings: &Profile, key: &PrivateKey) -> Result<()> {
    let root = ctx.home.profiles_dir();
    store::create_private_dir(&root)?;
    let staging = tempfile::Builder::new()
        .prefix(&format!(".init-{}-", paths.name))
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir_in(&root)
        .map_err(|e| Error::write(&root, e))?;
    let staged = ProfilePaths {
        name: paths.name.clone(),
        dir: staging.path().to_path_buf(),
    };
    // The lock file is born with the profile, held while the staging folder is filled,
    // so a later `init` can tell a crashed run's staging folder from a live one.
    let _staging_lock = store::lock_staging(&staged.lock())?;
    store::remove_stale_staging(&root, &format!(".init-{}-", paths.name));
    let fill = || {
        store::write_new_staged(&staged.key(), key.pem().as_bytes(), store::Mode::Secret)?;
        let toml = settings.to_toml(&staged)?;
        store::write_new_staged(&staged.settings(), toml.as_bytes(), store::Mode::Public)?;
        store::sync_dir(staging.path())
    };
    fill().map_err(|e| as_final(e, staging.path(), &paths.dir))?;
    // An empty directory at the destination is replaced; a non-empty one makes this fail.
    std::fs::rename(staging.path(), &paths.dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::DirectoryNotEmpty | std::io::ErrorKind::AlreadyExists => {
            Error::ProfileExists {
                name: paths.name.clone(),
                dir: root.clone(),
            }
        }
        _ => Error::write(&paths.dir, e),
    })?;
    // The folder now lives at its final name; tempdir's cleanup must not chase it.
    let _ = staging.keep();
    store::sync_dir(&root)
}

/// A write that failed in the staging folder, told with the profile folder's path: the
/// staging folder is gone when the user reads the message, the profile is what they asked
/// for.
fn as_final(e: Error, staging: &std::path::Path, dir: &std::path::Path) -> Error {
    match e {
        Error::Write { path, source } => match path.strip_prefix(staging) {
            Ok(rest) => Error::write(dir.join(rest), source),
            Err(_) => Error::Write { path, source },
        },
        other => other,
    }
}

/// `--force` on an existing profile: archive key, CSR, certificate, settings and any
/// pending renewal (the CA and the MQTT password belong to the connection, not the key,
/// and stay).
fn replace_in_place(
    paths: &ProfilePaths,
    settings: &Profile,
    key: &PrivateKey,
) -> Result<Option<std::path::PathBuf>> {
    use crate::paths::{CERT_FILE, CSR_FILE, KEY_FILE, PENDING_DIR, PROFILE_FILE};
    store::create_private_dir(&paths.dir)?;
    let _lock = store::lock(&paths.lock())?;
    // Staged, then committed by one rename: a crash leaves the old profile or the new
    // one, never neither (issue 14 item 2; see store::Replacement).
    let mut r = store::Replacement::begin(&paths.dir, "")?;
    r.write(KEY_FILE, key.pem().as_bytes(), store::Mode::Secret)?;
    r.write(
        PROFILE_FILE,
        settings.to_toml(paths)?.as_bytes(),
        store::Mode::Public,
    )?;
    for old in [CSR_FILE, CERT_FILE, PENDING_DIR] {
        r.retire(old);
    }
    r.commit()
}

/// What `init` made: the JSON document, and what the text is made from.
#[derive(serde::Serialize)]
struct Report<'a> {
    profile: &'a str,
    #[serde(serialize_with = "crate::output::path")]
    dir: &'a Path,
    tenant: &'a str,
    subject: String,
    #[serde(serialize_with = "crate::output::path")]
    key_file: std::path::PathBuf,
    curve: crate::keys::Curve,
    key_fingerprint_sha256: String,
    key_adopted: bool,
    broker: String,
    /// Where `--force` put the replaced key, CSR, certificate and settings.
    #[serde(serialize_with = "crate::output::path_opt")]
    archived_to: Option<&'a Path>,
}

impl<'a> Report<'a> {
    fn new(
        paths: &'a ProfilePaths,
        p: &'a Profile,
        key: &PrivateKey,
        adopted: bool,
        archived: Option<&'a Path>,
    ) -> Self {
        Report {
            profile: &paths.name,
            dir: &paths.dir,
            tenant: &p.tenant,
            subject: Subject::of(p).openssl_line(),
            key_file: paths.key(),
            curve: key.curve(),
            key_fingerprint_sha256: key.fingerprint(),
            key_adopted: adopted,
            broker: p.broker.to_string(),
            archived_to: archived,
        }
    }

    fn print_text(&self, ctx: &Ctx) {
        let o = &ctx.out;
        o.line(format!(
            "Created profile {:?} in {}",
            self.profile,
            self.dir.display()
        ));
        o.line(format!("  tenant       {}", self.tenant));
        o.line(format!("  subject      {}", self.subject));
        let origin = if self.key_adopted { "adopted" } else { "new" };
        o.line(format!(
            "  private key  {} ({}, {origin}, mode 0600)",
            self.key_file.display(),
            self.curve
        ));
        o.line(format!("  key SHA-256  {}", self.key_fingerprint_sha256));
        o.line(format!("  broker       {}", self.broker));
        if let Some(dir) = self.archived_to {
            o.note(format!(
                "the previous key, CSR, certificate and settings are in {}",
                dir.display()
            ));
        }
        o.line(format!(
            "Next: {}   (writes certificate-request.csr for Centiloc support)",
            ctx.fix(Fix::Csr)
        ));
    }
}
