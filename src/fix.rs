//! The commands the tool's messages tell people to run, named once. A message asks
//! [`crate::context::Ctx::fix`] for the full line, which carries this run's `--home`
//! and `--profile`, so every hint can be pasted as it stands and two messages never
//! spell the same step two ways.

/// One step a message can recommend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix {
    /// Create the profile.
    Init,
    /// Write the CSR to send to Centiloc support.
    Csr,
    /// Write the CSR and e-mail it to support.
    CsrMail,
    /// Start a renewal: new key and CSR.
    Renew,
    /// Start a renewal and e-mail the CSR to support.
    RenewMail,
    /// Install the certificate support returned.
    InstallCert,
    /// Install Centiloc's CA certificate.
    InstallCa,
    /// Store the MQTT password.
    Credentials,
    /// Set the MQTT username.
    Username,
    /// Store the SMTP password beside config.toml.
    SmtpPassword,
    /// Check the profile.
    Status,
    /// Try the connection.
    TestConnect,
}

impl Fix {
    /// The command line after `centiloc-cert` and its global options.
    pub fn args(self) -> &'static str {
        match self {
            Fix::Init => "init --tenant ID --org NAME --email ADDRESS",
            Fix::Csr => "csr",
            Fix::CsrMail => "csr --mail",
            Fix::Renew => "renew",
            Fix::RenewMail => "renew --mail",
            Fix::InstallCert => "install-cert tls-cert.pem",
            Fix::InstallCa => "install-ca ca-cert.pem",
            Fix::Credentials => "credentials",
            Fix::Username => "credentials --username NAME",
            Fix::SmtpPassword => "credentials --smtp-password-stdin",
            Fix::Status => "status",
            Fix::TestConnect => "test-connect",
        }
    }
}
