//! `export --format pkcs12 --out FILE`: the profile's key, certificate and chain in one
//! password-protected PKCS#12 file for other clients (issue 11). The file is a secret
//! like the key: created 0600, atomically, never over an existing file without --force.

use std::io::BufRead;
use std::path::Path;

use crate::output::ErrorDocument;
use zeroize::Zeroizing;

use crate::cert::{self, Certificate};
use crate::cli::ExportArgs;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::exit_codes::ExitCode;
use crate::fix::Fix;
use crate::keys::PrivateKey;
use crate::output::safe;
use crate::{export, prompt, store};

pub fn run(ctx: &Ctx, args: ExportArgs) -> Result<ExitCode> {
    let result = export_pkcs12(ctx, &args);
    match &result {
        // SPEC: one JSON document under --format json, also on failure.
        Err(e) if args.json() => ctx.out.report(&Failed {
            profile: &ctx.profile,
            failure: ErrorDocument {
                ok: false,
                exit_code: e.exit_code().code(),
                error: &e.to_string(),
            },
        }),
        Ok(done) => report(ctx, &args, done),
        Err(_) => {}
    }
    result.map(|_| ExitCode::Ok)
}

/// What was written, for the report.
struct Exported {
    leaf: Certificate,
    chain_length: usize,
    friendly_name: String,
}

fn export_pkcs12(ctx: &Ctx, args: &ExportArgs) -> Result<Exported> {
    let (paths, profile) = ctx.load()?;
    let (key, chain) = connection_files(ctx, &paths.key(), &paths.cert())?;
    // Refused before asking for a password: the answer would be wasted.
    if !args.force && args.out.exists() {
        return Err(Error::WouldOverwrite {
            path: args.out.clone(),
        });
    }
    let password = if args.password_stdin {
        password_from_stdin()?
    } else {
        password_from_terminal()?
    };
    let bytes = export::pkcs12(&key, &chain, &profile.tenant, &password).map_err(|reason| {
        Error::BadData {
            path: paths.cert(),
            reason,
        }
    })?;
    if args.force {
        store::write_atomic(&args.out, &bytes, store::Mode::Secret)?;
    } else {
        store::write_new(&args.out, &bytes, store::Mode::Secret)?;
    }
    Ok(Exported {
        leaf: chain[0].clone(),
        chain_length: chain.len(),
        friendly_name: profile.tenant,
    })
}

/// The key and the installed chain, checked to belong together (what a client would
/// otherwise find out at connect time).
fn connection_files(ctx: &Ctx, key: &Path, cert: &Path) -> Result<(PrivateKey, Vec<Certificate>)> {
    if !cert.is_file() {
        return Err(Error::NotInstalled {
            what: "the client certificate",
            path: cert.to_path_buf(),
            fix: format!(
                "install the certificate Centiloc support sent with `{}`",
                ctx.fix(Fix::InstallCert)
            ),
        });
    }
    let key_file = key;
    let key = PrivateKey::from_file(key_file)?;
    let chain = cert::load_chain(cert)?;
    if !chain[0].holds_key(key.public_key_der()) {
        return Err(Error::CertKeyMismatch {
            cert: cert.to_path_buf(),
            key: key_file.to_path_buf(),
        });
    }
    Ok((key, chain))
}

/// The first line of stdin, without its line end; empty is refused.
fn password_from_stdin() -> Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::read("standard input", e))?;
    let pw = line.trim_end_matches(['\n', '\r']);
    if pw.is_empty() {
        return Err(Error::NoPassword(
            "the export password is the first line of standard input, and it was empty; e.g. `printf '%s\\n' \"$P12_PASSWORD\" | centiloc-cert export --format pkcs12 --out FILE --password-stdin`".into(),
        ));
    }
    Ok(Zeroizing::new(pw.to_owned()))
}

/// Asked twice without echo; an unprotected PKCS#12 file would hand out the key.
fn password_from_terminal() -> Result<Zeroizing<String>> {
    if !prompt::stdin_is_terminal() {
        return Err(Error::NoPassword(
            "the PKCS#12 file needs a password: pass --password-stdin and pipe it in, or run `export` in a terminal to be asked".into(),
        ));
    }
    let ask = |q: &str| {
        rpassword::prompt_password(q)
            .map(Zeroizing::new)
            .map_err(|e| Error::read("the terminal", e))
    };
    let first = ask("Password for the PKCS#12 file (hidden): ")?;
    if first.is_empty() {
        return Err(Error::NoPassword(
            "the password was empty, and the file would hand out the private key; run `export` again and type one".into(),
        ));
    }
    if *ask("Same password again: ")? != *first {
        return Err(Error::NoPassword(
            "the two entries differed, so nothing was written; run `export` again".into(),
        ));
    }
    Ok(first)
}

/// `export --format json` on failure: the profile beside the JSON contract's error fields.
#[derive(serde::Serialize)]
struct Failed<'a> {
    profile: &'a str,
    #[serde(flatten)]
    failure: ErrorDocument<'a>,
}

/// `export --format json` (docs/install.md lists the fields).
#[derive(serde::Serialize)]
struct Report<'a> {
    profile: &'a str,
    ok: bool,
    exit_code: u8,
    format: &'static str,
    #[serde(serialize_with = "crate::output::path")]
    out: &'a std::path::Path,
    friendly_name: &'a str,
    subject: &'a str,
    fingerprint_sha256: String,
    #[serde(serialize_with = "crate::time::json")]
    not_after: chrono::DateTime<chrono::Utc>,
    chain_length: usize,
    encryption: &'static str,
    mac: &'static str,
}

fn report(ctx: &Ctx, args: &ExportArgs, done: &Exported) {
    let leaf = &done.leaf;
    if args.json() {
        ctx.out.report(&Report {
            profile: &ctx.profile,
            ok: true,
            exit_code: 0,
            format: "pkcs12",
            out: &args.out,
            friendly_name: &done.friendly_name,
            subject: &leaf.subject,
            fingerprint_sha256: leaf.fingerprint(),
            not_after: leaf.not_after,
            chain_length: done.chain_length,
            encryption: "PBES2 PBKDF2-HMAC-SHA256 AES-256-CBC",
            mac: "HMAC-SHA256",
        });
        return;
    }
    let o = &ctx.out;
    o.line(format!(
        "Wrote {} (PKCS#12, mode 0600): the private key, {} certificate{}, friendly name \"{}\"",
        args.out.display(),
        done.chain_length,
        if done.chain_length == 1 { "" } else { "s" },
        safe(&done.friendly_name)
    ));
    o.line(format!("  subject      {}", safe(&leaf.subject)));
    o.line(format!("  SHA-256      {}", leaf.fingerprint()));
    o.line("  encryption   AES-256-CBC, PBKDF2-HMAC-SHA256 (as OpenSSL 3 writes)");
    o.note("the file holds the private key: keep it, and its password, as safe as the key itself");
}
