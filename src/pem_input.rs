//! Reading PEM the way users actually have it: pasted from an e-mail with CRLF line ends,
//! saved by an editor with a BOM, with explanatory text around the blocks (as
//! `openssl x509 -text` or `openssl ca` print), or several blocks in one file.

use std::path::Path;

use crate::error::{Error, Result};

/// Does this look like PEM text rather than DER bytes?
pub fn looks_like_pem(bytes: &[u8]) -> bool {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    b.windows(11).any(|w| w == b"-----BEGIN ")
}

/// Every PEM block in `bytes`, in order, ignoring text around them.
pub fn blocks(path: &Path, bytes: &[u8]) -> Result<Vec<pem::Pem>> {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = unquote(&String::from_utf8_lossy(b).replace("\r\n", "\n"));
    // `pem::parse_many` skips text between blocks; keep only the lines from the first
    // BEGIN so that leading prose with dashes does not confuse it.
    let start = text.find("-----BEGIN ").ok_or_else(|| Error::BadData {
        path: path.to_path_buf(),
        reason: "no PEM block (-----BEGIN ...) found".into(),
    })?;
    let found = pem::parse_many(&text[start..]).map_err(|e| Error::BadData {
        path: path.to_path_buf(),
        reason: format!("broken PEM ({e}); get a fresh copy of the file"),
    })?;
    if found.is_empty() {
        return Err(Error::BadData {
            path: path.to_path_buf(),
            reason: "no complete PEM block (-----BEGIN ... -----END ...) found".into(),
        });
    }
    Ok(found)
}

/// Removes e-mail reply quoting (`> `, `>> `) and surrounding blanks from each line, so
/// a certificate copied out of a quoted reply still reads. Base64 never contains `>`.
fn unquote(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let l = line.trim_start_matches(['>', ' ', '\t']);
        out.push_str(l.trim_end());
        out.push('\n');
    }
    out
}

/// PEM text with LF line ends, the form openssl writes.
pub fn encode(block: &pem::Pem) -> String {
    pem::encode_config(
        block,
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: &str = "-----BEGIN TEST-----\nAAEC\n-----END TEST-----\n";

    #[test]
    fn tolerates_bom_crlf_and_surrounding_text() {
        let messy = format!(
            "\u{feff}Subject: x\r\n---- prose ----\r\n{}trailing text\r\n",
            BLOCK.replace('\n', "\r\n")
        );
        let b = blocks(Path::new("f"), messy.as_bytes()).unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].tag(), "TEST");
        assert_eq!(b[0].contents(), &[0, 1, 2]);
        assert_eq!(encode(&b[0]), BLOCK);
    }

    #[test]
    fn reads_pem_quoted_in_an_email_reply() {
        let quoted: String = BLOCK.lines().map(|l| format!("> {l}\n")).collect();
        let b = blocks(
            Path::new("f"),
            format!("On Monday support wrote:\n{quoted}").as_bytes(),
        )
        .unwrap();
        assert_eq!(b[0].contents(), &[0, 1, 2]);
    }

    #[test]
    fn no_block_is_bad_data() {
        assert!(blocks(Path::new("f"), b"hello").is_err());
        assert!(!looks_like_pem(b"\x30\x82"));
        assert!(looks_like_pem(BLOCK.as_bytes()));
    }
}
