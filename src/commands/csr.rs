//! `csr`: the certificate signing request, from the profile's key and subject.

use serde_json::json;

use super::Ctx;
use crate::cli::CsrArgs;
use crate::csr::{self, Subject};
use crate::error::{Error, Result};
use crate::exit_codes::ExitCode;
use crate::keys::PrivateKey;
use crate::output::Format;
use crate::store;

pub fn run(ctx: &Ctx, args: CsrArgs) -> Result<ExitCode> {
    let (paths, profile) = ctx.load()?;
    let key = PrivateKey::from_file(&paths.key())?;
    let subject = Subject::of(&profile);
    let pem = csr::build(&key, &subject)?;

    let to_stdout = args.out.as_deref() == Some(std::path::Path::new("-"));
    let dest = match &args.out {
        _ if to_stdout => None,
        Some(file) => {
            if file.exists() && !args.force {
                return Err(Error::WouldOverwrite { path: file.clone() });
            }
            store::write_atomic(file, pem.as_bytes(), store::Mode::Public)?;
            Some(file.clone())
        }
        None => {
            let _lock = store::lock(&paths.lock())?;
            store::write_atomic(&paths.csr(), pem.as_bytes(), store::Mode::Public)?;
            Some(paths.csr())
        }
    };

    if to_stdout && args.format == Format::Json {
        ctx.out.json(&json!({
            "profile": paths.name,
            "csr": pem,
            "subject": subject.openssl_line(),
            "curve": key.curve(),
            "key_fingerprint_sha256": key.fingerprint(),
            "signature_algorithm": signature_name(&key),
        }));
        return Ok(ExitCode::Ok);
    }
    if to_stdout {
        // stdout carries the CSR alone, so it can be piped; the summary goes to stderr.
        crate::output::write_stdout(pem.as_bytes());
        ctx.out.note(format!(
            "subject {}, key SHA-256 {}",
            subject.openssl_line(),
            key.fingerprint()
        ));
        return Ok(ExitCode::Ok);
    }
    let dest = dest.unwrap_or_default();
    if args.format == Format::Json {
        ctx.out.json(&json!({
            "profile": paths.name,
            "csr_file": dest,
            "subject": subject.openssl_line(),
            "curve": key.curve(),
            "key_fingerprint_sha256": key.fingerprint(),
            "signature_algorithm": signature_name(&key),
        }));
        return Ok(ExitCode::Ok);
    }
    let o = &ctx.out;
    o.line(format!("Wrote {}", dest.display()));
    o.line(format!("  subject      {}", subject.openssl_line()));
    o.line(format!(
        "  key          {}, {}",
        key.curve(),
        signature_name(&key)
    ));
    o.line(format!("  key SHA-256  {}", key.fingerprint()));
    o.line(format!(
        "Next: send {} to Centiloc support; they answer within one working day with your certificate (tls-cert.pem).",
        dest.display()
    ));
    Ok(ExitCode::Ok)
}

fn signature_name(key: &PrivateKey) -> &'static str {
    match key.curve() {
        crate::keys::Curve::P256 => "ecdsa-with-SHA256",
        crate::keys::Curve::P384 => "ecdsa-with-SHA384",
    }
}
