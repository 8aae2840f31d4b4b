//! Profiles holding certificates that expire at chosen dates, placed directly in the
//! profile directory as `install-cert`/`install-ca` would leave them.

use std::path::{Path, PathBuf};

use super::{Ca, TestHome};

impl TestHome {
    /// `init --profile NAME --tenant TENANT` then `csr`; returns the CSR path.
    pub fn profile_with_csr(&self, name: &str, tenant: &str) -> PathBuf {
        self.cmd()
            .args(["--profile", name, "init", "--tenant", tenant])
            .args([
                "--org",
                "Demo Corp",
                "--email",
                &format!("ops-{tenant}@example.com"),
            ])
            .assert()
            .success();
        self.cmd()
            .args(["--profile", name, "csr"])
            .assert()
            .success();
        self.profile_dir(name).join("certificate-request.csr")
    }

    /// A profile whose client certificate ends `days` from now (negative: expired), with
    /// `ca`'s certificate as its CA. Returns the installed certificate.
    pub fn profile_expiring_in(&self, ca: &Ca, name: &str, tenant: &str, days: i64) -> PathBuf {
        let csr = self.profile_with_csr(name, tenant);
        let signed = ca.sign_days_from_now(&csr, days);
        self.install(name, &signed, &ca.cert)
    }

    /// Profile `default` (tenant `acme`) with a certificate ending in 25 days: inside the
    /// 30-day notice threshold, so a notice is due. Returns the installed certificate.
    pub fn profile_due_for_notice(&self) -> PathBuf {
        self.profile_expiring_in(&Ca::new("CA"), "default", "acme", 25)
    }

    /// Copies a certificate (and the CA) into the profile, as the install commands do.
    pub fn install(&self, name: &str, cert: &Path, ca_cert: &Path) -> PathBuf {
        let dir = self.profile_dir(name);
        std::fs::copy(ca_cert, dir.join("ca-cert.pem")).expect("copy CA");
        let dest = dir.join("tls-cert.pem");
        std::fs::copy(cert, &dest).expect("copy certificate");
        dest
    }

    /// `check-expiry --notify` with `hunter2-secret` as the SMTP password (from the
    /// environment, as documented): exit code, stdout, stderr.
    pub fn notify_with_password(&self) -> (i32, String, String) {
        let out = self
            .cmd()
            .env("CENTILOC_SMTP_PASSWORD", "hunter2-secret")
            .args(["check-expiry", "--notify"])
            .output()
            .expect("run check-expiry");
        super::outcome(out)
    }

    /// `config.toml` with a `[notify]` section for `smtp_url`.
    pub fn notify_config(&self, smtp_url: &str) {
        self.write_config(&format!(
            "[notify]\nsmtp_url = \"{smtp_url}\"\nfrom = \"Certificates <certs@example.com>\"\nsupport_to = \"support@centiloc.example\"\n"
        ));
    }

    /// `config.toml` holding `text`.
    pub fn write_config(&self, text: &str) {
        std::fs::write(self.path().join("config.toml"), text).expect("write config.toml");
    }
}
