//! One case per error a user can cause, its whole message pinned (issue 10 item 4, STYLE
//! 7): the sentence names the file or value and the fix, and the exit code is SPEC's.
//! `{home}` stands for the test's `--home`, `{dir}` for a scratch directory.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use support::TestHome;

/// What a case needs before its command runs.
#[derive(Clone, Copy)]
enum Setup {
    /// An empty home.
    Empty,
    /// `init` done (key, no CSR).
    Profile,
    /// `init` and `csr` done.
    WithCsr,
    /// A profile whose profile.toml has a broken line.
    BrokenToml,
}

struct Case {
    name: &'static str,
    setup: Setup,
    args: &'static str,
    code: i32,
    stderr: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "Usage: contradictory thresholds",
        setup: Setup::Profile,
        args: "check-expiry --warn-days 5 --critical-days 10",
        code: 64,
        stderr: "ERROR: --critical-days 10 is more than --warn-days 5: CRITICAL must come after WARNING, so pass a smaller --critical-days",
    },
    Case {
        name: "MissingFields: init without a terminal",
        setup: Setup::Empty,
        args: "init",
        code: 64,
        stderr: "ERROR: missing tenant, org, email: pass --tenant --org --email (or run `init` in a terminal to be asked)",
    },
    Case {
        name: "InvalidField: tenant ID",
        setup: Setup::Empty,
        args: "init --tenant a/b --org X --email a@b.c",
        code: 78,
        stderr: "ERROR: invalid tenant ID \"a/b\": '/' is not allowed (no / + # $, spaces or control characters: the tenant ID goes into MQTT topics)",
    },
    Case {
        name: "NoProfile",
        setup: Setup::Empty,
        args: "status",
        code: 66,
        stderr: "ERROR: no profile \"default\" in {home}/profiles: create it with `centiloc-cert --home {home} init --tenant ID --org NAME --email ADDRESS`",
    },
    Case {
        name: "ProfileExists",
        setup: Setup::Profile,
        args: "init --tenant acme --org X --email a@b.c",
        code: 73,
        stderr: "ERROR: profile \"default\" already exists in {home}/profiles: pass --force to replace it (its key and certificate are archived, never deleted)",
    },
    Case {
        name: "NothingToRenew",
        setup: Setup::Profile,
        args: "renew",
        code: 66,
        stderr: "ERROR: no certificate is installed yet in profile \"default\", so there is nothing to renew: make the CSR with `centiloc-cert --home {home} csr`, send it to Centiloc support and install their answer with `centiloc-cert --home {home} install-cert tls-cert.pem`, or start over with `centiloc-cert --home {home} init --force --tenant acme --org X --email a@b.c` (the current key and CSR are archived)",
    },
    Case {
        name: "NotifyNotSetUp",
        setup: Setup::Profile,
        args: "check-expiry --notify",
        code: 78,
        stderr: "ERROR: e-mail is not set up: {home}/config.toml does not exist; check-expiry --notify needs a [notify] section there, for example:\n    [notify]\n    smtp_url = \"smtp://mail.example.com:587?tls=required\"\n    from = \"certs@example.com\"",
    },
    Case {
        name: "BadPayload",
        setup: Setup::Empty,
        args: "decode --encoding json {dir}/not.json",
        code: 65,
        stderr: "ERROR: {dir}/not.json: not valid JSON: expected ident at line 1 column 2 (payload: not json {); check --encoding (or the schema and --message)",
    },
    Case {
        name: "SchemaNotFound",
        setup: Setup::Empty,
        args: "decode --proto {dir}/none.proto {dir}/not.json",
        code: 66,
        stderr: "ERROR: cannot use the schema: {dir}/none.proto does not exist; check --proto and -I",
    },
    Case {
        name: "NoPassword",
        setup: Setup::Profile,
        args: "credentials --password-stdin",
        code: 66,
        stderr: "ERROR: no password given: standard input was empty; pipe it in, e.g. `centiloc-cert credentials --password-stdin < file-with-the-password`",
    },
    Case {
        name: "NotInstalled",
        setup: Setup::WithCsr,
        args: "test-connect",
        code: 66,
        stderr: "ERROR: the client certificate is missing ({home}/profiles/default/tls-cert.pem): install the certificate Centiloc support sent with `centiloc-cert --home {home} install-cert tls-cert.pem`",
    },
    Case {
        name: "BadData: not a certificate",
        setup: Setup::Profile,
        args: "install-ca {dir}/garbage.pem",
        code: 65,
        stderr: "ERROR: {dir}/garbage.pem: not a valid X.509 certificate (the data is truncated, damaged or something else); expected a PEM or DER certificate",
    },
    Case {
        name: "WouldOverwrite",
        setup: Setup::WithCsr,
        args: "csr --out {dir}/not.json",
        code: 73,
        stderr: "ERROR: {dir}/not.json already exists: pass --force to replace it, or choose another file",
    },
    Case {
        name: "KeyRefused",
        setup: Setup::Empty,
        args: "init --tenant acme --org X --email a@b.c --key {dir}/garbage.pem",
        code: 65,
        stderr: "ERROR: {dir}/garbage.pem: not a PEM private key (no -----BEGIN line); make a new one with `centiloc-cert init` (or `openssl ecparam -name prime256v1 -genkey -noout -out private-key.pem`)",
    },
    Case {
        name: "Config: broken profile.toml",
        setup: Setup::BrokenToml,
        args: "status",
        code: 78,
        stderr: "ERROR: {home}/profiles/default/profile.toml is not valid: line 8, column 10: string values must be quoted, expected literal string; correct that line (README describes every field)",
    },
];

fn prepare(h: &TestHome, setup: Setup) {
    let init = |h: &TestHome| {
        h.cmd()
            .args(["init", "--tenant", "acme", "--org", "X", "--email", "a@b.c"])
            .assert()
            .success();
    };
    match setup {
        Setup::Empty => {}
        Setup::Profile => init(h),
        Setup::WithCsr => {
            init(h);
            h.cmd().arg("csr").assert().success();
        }
        Setup::BrokenToml => {
            init(h);
            let f = h.profile_dir("default").join("profile.toml");
            let mut text = std::fs::read_to_string(&f).unwrap();
            text.push_str("tenant = \n");
            std::fs::write(&f, text).unwrap();
        }
    }
}

fn fill(s: &str, home: &Path, dir: &Path) -> String {
    s.replace("{home}", &home.display().to_string())
        .replace("{dir}", &dir.display().to_string())
}

#[test]
fn every_error_says_what_failed_where_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("not.json"), "not json {").unwrap();
    std::fs::write(dir.path().join("garbage.pem"), "garbage\n").unwrap();
    let mut wrong = Vec::new();
    for case in CASES {
        let h = TestHome::new();
        prepare(&h, case.setup);
        let args: Vec<String> = fill(case.args, h.path(), dir.path())
            .split(' ')
            .map(str::to_owned)
            .collect();
        let out = Command::new(env!("CARGO_BIN_EXE_centiloc-cert"))
            .arg("--home")
            .arg(h.path())
            .args(&args)
            .env_remove("CENTILOC_MQTT_PASSWORD")
            .env_remove("CENTILOC_CERT_PROFILE")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let want = format!("{}\n", fill(case.stderr, h.path(), dir.path()));
        if out.status.code() != Some(case.code) || err != want {
            wrong.push(format!(
                "{}: exit {:?} (want {})\n  got:  {err}  want: {want}",
                case.name,
                out.status.code(),
                case.code
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
