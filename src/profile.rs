//! `profile.toml`: what one User-MQTT connection is (tenant, subject, broker, username,
//! thresholds), and the validation rules SPEC.md sets for those values.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::paths::ProfilePaths;
use crate::store;

pub const DEFAULT_BROKER_HOST: &str = "mqtt-client.centiloc.com";
pub const DEFAULT_BROKER_PORT: u16 = 8883;

/// The settings of one profile, as stored in `profile.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Centiloc tenant ID: the CSR's CN, the topic prefix and the client-ID prefix.
    pub tenant: String,
    /// The customer's company name (CSR O), even under data-access delegation.
    pub organization: String,
    /// Where certificate life-cycle notices go (CSR emailAddress).
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_unit: Option<String>,
    /// MQTT username given by Centiloc support (the password lives in `mqtt-password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// A fixed MQTT client ID; must start with the tenant ID. Default: tenant + random suffix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default)]
    pub broker: Broker,
    #[serde(default, skip_serializing_if = "Thresholds::is_unset")]
    pub expiry: Thresholds,
    /// The customer's protobuf schema, used by `test-connect` and `watch` (issue 12).
    #[serde(default, skip_serializing_if = "DecodeSettings::is_unset")]
    pub decode: DecodeSettings,
}

/// `[decode]`: the `.proto` files Centiloc handed out and the message of each topic kind.
/// Relative paths are relative to the profile directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecodeSettings {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proto: Vec<std::path::PathBuf>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<std::path::PathBuf>,
    /// Fully qualified message name for item topics, e.g. `transtreamdatamodel.ItemEvent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board_message: Option<String>,
}

impl DecodeSettings {
    pub fn is_unset(&self) -> bool {
        *self == DecodeSettings::default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Broker {
    pub host: String,
    pub port: u16,
}

impl Default for Broker {
    fn default() -> Self {
        Broker {
            host: DEFAULT_BROKER_HOST.into(),
            port: DEFAULT_BROKER_PORT,
        }
    }
}

impl Broker {
    /// The rules [`Broker::parse`] applies, for a broker read from a hand-edited
    /// `profile.toml` (issue 14): a host, no spaces or control characters, port 1-65535.
    pub fn validate(&self) -> Result<()> {
        let bad = |why: &str| Error::invalid("broker", &shown(&self.to_string()), why.to_string());
        if self.host.is_empty()
            || self
                .host
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(bad(
                "[broker] host must be a host name or address without spaces or control characters, e.g. mqtt-client.centiloc.com",
            ));
        }
        if self.port == 0 {
            return Err(bad("[broker] port must be a number from 1 to 65535"));
        }
        Ok(())
    }

    /// Parses `HOST`, `HOST:PORT` or `[IPv6]:PORT`; the port defaults to 8883.
    pub fn parse(s: &str) -> Result<Broker> {
        let bad = |why: &str| Error::invalid("broker", &shown(s), why.to_string());
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, after) = rest
                .split_once(']')
                .ok_or_else(|| bad("an IPv6 address needs a closing ']'"))?;
            match after.strip_prefix(':') {
                Some(p) => (h, Some(p)),
                None if after.is_empty() => (h, None),
                None => return Err(bad("expected HOST[:PORT]")),
            }
        } else {
            match s.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h, Some(p)),
                Some(_) => return Err(bad("write an IPv6 address as [ADDR]:PORT")),
                None => (s, None),
            }
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad(
                "expected HOST[:PORT], e.g. mqtt-client.centiloc.com:8883",
            ));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("the port must be a number from 1 to 65535"))?,
            None => DEFAULT_BROKER_PORT,
        };
        Ok(Broker {
            host: host.to_owned(),
            port,
        })
    }
}

impl std::fmt::Display for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Per-profile overrides of the expiry thresholds (`check-expiry`); unset means default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical_days: Option<u32>,
    /// Days before expiry at which an e-mail notice goes out (default 30, 14, 7, 3, 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice_days: Option<Vec<u32>>,
}

impl Thresholds {
    fn is_unset(&self) -> bool {
        *self == Thresholds::default()
    }
}

impl Profile {
    /// Reads and validates `profile.toml`; a missing profile is [`Error::NoProfile`].
    pub fn load(paths: &ProfilePaths) -> Result<Profile> {
        let file = paths.settings();
        let bytes = match crate::input::read_if_exists(&file, crate::input::Kind::Settings)? {
            Some(b) => b,
            None => {
                return Err(Error::NoProfile {
                    name: paths.name.clone(),
                    dir: paths.dir.parent().unwrap_or(&paths.dir).to_path_buf(),
                    init_cmd: "centiloc-cert init --tenant ID --org NAME --email ADDRESS".into(),
                });
            }
        };
        Profile::from_bytes(&file, &bytes)
    }

    /// [`Profile::from_toml`] for the file's bytes: text that is not UTF-8 is a
    /// configuration error (78) naming the line, not an I/O error (issue 14).
    pub fn from_bytes(file: &std::path::Path, bytes: &[u8]) -> Result<Profile> {
        let text = utf8_text(file, bytes)?;
        Profile::from_toml(file, text)
    }

    /// Parses and validates the text of `profile.toml`; `file` names it in errors.
    pub fn from_toml(file: &std::path::Path, text: &str) -> Result<Profile> {
        let profile: Profile = toml::from_str(text).map_err(|e| Error::Config {
            path: file.to_path_buf(),
            reason: toml_reason(text, &e),
        })?;
        profile.validate().map_err(|e| Error::Config {
            path: file.to_path_buf(),
            reason: e.to_string(),
        })?;
        Ok(profile)
    }

    /// Writes `profile.toml` atomically, keeping what a person wrote there: comments, key
    /// order and layout stay, and only the values that changed are replaced (issue 10).
    pub fn save(&self, paths: &ProfilePaths) -> Result<()> {
        let file = paths.settings();
        let text = match std::fs::read(&file) {
            Ok(bytes) => self.edit_toml(&file, utf8_text(&file, &bytes)?)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.to_toml(paths)?,
            Err(e) => return Err(Error::read(file, e)),
        };
        store::write_atomic(&paths.settings(), text.as_bytes(), store::Mode::Public)
    }

    /// `current` (the text of `file`) with these settings edited into it: the
    /// [`crate::toml_keep`] merge of what serde would write.
    pub fn edit_toml(&self, file: &std::path::Path, current: &str) -> Result<String> {
        let config_error = |reason: String| Error::Config {
            path: file.to_path_buf(),
            reason,
        };
        let fresh = toml::to_string_pretty(self).map_err(|e| config_error(e.to_string()))?;
        crate::toml_keep::edit(current, &fresh).map_err(config_error)
    }

    /// The `profile.toml` text; `paths` only names the file in errors.
    pub fn to_toml(&self, paths: &ProfilePaths) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| Error::Config {
            path: paths.settings(),
            reason: e.to_string(),
        })
    }

    /// Every rule of SPEC.md's "Input validation", checked before anything is written.
    pub fn validate(&self) -> Result<()> {
        validate_tenant(&self.tenant)?;
        validate_organization(&self.organization)?;
        validate_email(&self.email)?;
        if let Some(c) = &self.country {
            validate_country(c)?;
        }
        for (field, v) in [
            ("state", &self.state),
            ("locality", &self.locality),
            ("org-unit", &self.org_unit),
        ] {
            if let Some(v) = v {
                validate_text(field, v)?;
            }
        }
        if let Some(id) = &self.client_id {
            validate_client_id(id, &self.tenant)?;
        }
        if let Some(u) = &self.username {
            validate_username(u)?;
        }
        self.broker.validate()?;
        if let (Some(w), Some(c)) = (self.expiry.warn_days, self.expiry.critical_days)
            && c > w
        {
            return Err(Error::invalid(
                "[expiry] critical_days",
                &c.to_string(),
                format!("it must not exceed warn_days ({w})"),
            ));
        }
        Ok(())
    }
}

/// The file's text, or a configuration error naming the first line that is not UTF-8.
pub fn utf8_text<'a>(file: &std::path::Path, bytes: &'a [u8]) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        Error::Config {
            path: file.to_path_buf(),
            reason: format!("line {line} is not UTF-8 text; save the file as UTF-8"),
        }
    })
}

/// An echoed value cut to a readable length: a 10 MB value in a hand-edited file must not
/// fill the terminal (issue 14).
pub fn shown(v: &str) -> String {
    const MAX: usize = 64;
    match v.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}… ({} characters)", &v[..cut], v.chars().count()),
        None => v.to_owned(),
    }
}

/// A TOML error as "line L, column C: what", so the user can go straight to it.
pub fn toml_reason(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {}", e.message())
        }
        None => e.message().to_owned(),
    }
}

/// The tenant ID becomes part of MQTT topics and client IDs, so the MQTT wildcard and
/// system characters (`+ # $`), the level separator `/` and whitespace are refused.
pub fn validate_tenant(t: &str) -> Result<()> {
    let reason = if t.is_empty() {
        Some("it must not be empty".to_string())
    } else if t.chars().count() > 64 {
        Some(format!(
            "it has {} characters, at most 64 are allowed",
            t.chars().count()
        ))
    } else {
        t.chars()
            .find(|c| matches!(c, '/' | '+' | '#' | '$') || c.is_whitespace() || c.is_control())
            .map(|c| {
                format!(
                    "{:?} is not allowed (no / + # $, spaces or control characters: the tenant ID goes into MQTT topics)",
                    c
                )
            })
    };
    match reason {
        Some(r) => Err(Error::invalid("tenant ID", &shown(t), r)),
        None => Ok(()),
    }
}

pub fn validate_organization(o: &str) -> Result<()> {
    if o.trim().is_empty() {
        return Err(Error::invalid(
            "organization",
            &shown(o),
            "give your company name (Centiloc requires it, even under delegation)",
        ));
    }
    validate_text("organization", o)
}

/// A practical address check: one `@`, a non-empty local part, a dotted domain, ASCII
/// only (the CSR's emailAddress is an IA5String, RFC 5280 appendix A.1).
pub fn validate_email(e: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::invalid("e-mail", &shown(e), why.to_string()));
    if !e.is_ascii() {
        return bad("use an ASCII address (the certificate stores it as IA5String)");
    }
    let Some((local, domain)) = e.split_once('@') else {
        return bad("an address looks like name@example.com");
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_graphic() && !"()<>[]:;@\\,\"".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok {
        Ok(())
    } else {
        bad("an address looks like name@example.com")
    }
}

pub fn validate_country(c: &str) -> Result<()> {
    if c.len() == 2 && c.chars().all(|ch| ch.is_ascii_alphabetic()) {
        Ok(())
    } else {
        Err(Error::invalid(
            "country",
            &shown(c),
            "use the two-letter ISO 3166 code, e.g. FR",
        ))
    }
}

fn validate_text(field: &'static str, v: &str) -> Result<()> {
    if v.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(
            field,
            &shown(v),
            "control characters are not allowed",
        ));
    }
    if v.chars().count() > 64 {
        // RFC 5280 upper bounds (ub-organization-name etc.) are 64 characters.
        return Err(Error::invalid(
            field,
            &shown(v),
            "at most 64 characters are allowed",
        ));
    }
    Ok(())
}

/// MQTT 3.1.1 §1.5.3: a UTF-8 string of at most 65535 bytes; control characters would
/// only be typing accidents (or, in a hand-edited file, escape codes for the terminal).
pub fn validate_username(u: &str) -> Result<()> {
    let reason = if u.trim().is_empty() {
        "the username must not be empty: use the one Centiloc support gave you"
    } else if u.len() > 65_535 {
        "MQTT allows at most 65535 bytes: use the username Centiloc support gave you"
    } else if u.chars().any(char::is_control) {
        "it contains control characters: use the username Centiloc support gave you"
    } else {
        return Ok(());
    };
    Err(Error::invalid("username", &shown(u), reason))
}

/// Centiloc: "the client ID must be unique and prefixed with the tenant ID".
pub fn validate_client_id(id: &str, tenant: &str) -> Result<()> {
    if !id.starts_with(tenant) {
        return Err(Error::invalid(
            "client ID",
            &shown(id),
            format!("Centiloc requires it to start with the tenant ID {tenant:?}"),
        ));
    }
    if id.chars().any(|c| c.is_whitespace() || c.is_control()) || id.len() > 128 {
        return Err(Error::invalid(
            "client ID",
            &shown(id),
            "use at most 128 characters without spaces",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_rules() {
        for bad in ["", "a/b", "a+b", "#", "$x", "a b", "a\tb", &"t".repeat(65)] {
            assert!(validate_tenant(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["centiloc", "acme-42", &"t".repeat(64), "Ünïcode"] {
            validate_tenant(good).unwrap();
        }
    }

    #[test]
    fn email_rules() {
        for bad in [
            "",
            "me",
            "me@",
            "@x.com",
            "me@localhost",
            "a b@x.com",
            "me@-x.com",
            "é@x.fr",
        ] {
            assert!(validate_email(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["me@example.com", "first.last+tag@sub.example.co.uk"] {
            validate_email(good).unwrap();
        }
    }

    #[test]
    fn broker_forms() {
        assert_eq!(Broker::parse("h").unwrap().port, 8883);
        let b = Broker::parse("127.0.0.1:1883").unwrap();
        assert_eq!((b.host.as_str(), b.port), ("127.0.0.1", 1883));
        let b = Broker::parse("[::1]:9").unwrap();
        assert_eq!((b.host.as_str(), b.port), ("::1", 9));
        assert_eq!(b.to_string(), "[::1]:9");
        for bad in ["", "h:0", "h:x", "h:70000", "::1", "[::1"] {
            assert!(Broker::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn toml_round_trip_keeps_every_field() {
        let p = Profile {
            tenant: "t".into(),
            organization: "O".into(),
            email: "a@b.co".into(),
            country: Some("FR".into()),
            state: None,
            locality: Some("Lyon".into()),
            org_unit: None,
            username: Some("u".into()),
            client_id: None,
            broker: Broker::default(),
            expiry: Thresholds {
                warn_days: Some(40),
                ..Default::default()
            },
            decode: DecodeSettings {
                proto: vec!["/etc/centiloc/centiloc.proto".into()],
                include: Vec::new(),
                item_message: Some("transtreamdatamodel.ItemEvent".into()),
                board_message: Some("transtreamdatamodel.BoardEvent".into()),
            },
        };
        let back: Profile = toml::from_str(&toml::to_string_pretty(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }
}
