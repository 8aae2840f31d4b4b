//! `snippet KIND`: ready-to-run code for this profile's files and settings. The MQTT ones
//! follow Centiloc's documentation (TLS with the three files, username/password, client ID
//! prefixed by the tenant, QoS 1) with its python example fixed; the schedule ones run
//! `check-expiry --all --notify --quiet` daily (issue 4, item 6).

use std::path::Path;

use crate::cli::{SnippetArgs, SnippetKind};
use crate::context::{Ctx, shell_quote};
use crate::error::Result;
use crate::exit_codes::ExitCode;
use crate::mqtt::Encoding;
use crate::mqtt::topics::{Kind, centiloc_topic};
use crate::paths::ProfilePaths;
use crate::profile::Profile;

pub fn run(ctx: &Ctx, a: SnippetArgs) -> Result<ExitCode> {
    if a.for_decode && a.kind != SnippetKind::MosquittoSub {
        return Err(crate::error::Error::Usage(
            "--for-decode goes with `snippet mosquitto-sub`".into(),
        ));
    }
    if a.watch && a.kind != SnippetKind::Systemd {
        return Err(crate::error::Error::Usage(
            "--watch goes with `snippet systemd`".into(),
        ));
    }
    let text = match a.kind {
        SnippetKind::MosquittoSub => {
            let (paths, profile) = ctx.load()?;
            mosquitto_sub(&paths, &profile, a.for_decode)
        }
        SnippetKind::Systemd if a.watch => {
            let (_, profile) = ctx.load()?;
            watch_service(ctx, &profile)
        }
        SnippetKind::Python => {
            let (paths, profile) = ctx.load()?;
            python(&paths, &profile)
        }
        SnippetKind::Cron => {
            let notify = notify_configured(ctx);
            cron(&check_command(ctx, notify), notify)
        }
        SnippetKind::Systemd => {
            let notify = notify_configured(ctx);
            systemd(&check_command(ctx, notify), notify)
        }
    };
    // Printed even with --quiet: the snippet is the result asked for.
    ctx.out.text(text);
    Ok(ExitCode::Ok)
}

fn all_topics(tenant: &str) -> Vec<String> {
    let mut v = Vec::new();
    for k in [Kind::Item, Kind::Board] {
        for e in [Encoding::Proto, Encoding::Json] {
            v.push(centiloc_topic(tenant, k, e));
        }
    }
    v
}

fn q(p: &Path) -> String {
    shell_quote(&p.display().to_string())
}

/// A shell script around mosquitto_sub. mosquitto_sub takes a password only from `-P` on
/// its command line (visible to every user in `ps`) or from its options file, so the
/// script writes a private, temporary options file and points XDG_CONFIG_HOME at it.
/// `for_decode`: one message, without the topic (`-v`) and without the newline mosquitto_sub
/// adds (`-N`), so that the output is the payload `decode` reads (issue 12).
fn mosquitto_sub(paths: &ProfilePaths, p: &Profile, for_decode: bool) -> String {
    let user = p.username.as_deref().unwrap_or("USERNAME");
    let (what, how, opts) = if for_decode {
        (
            "one message from ",
            "# Pipe it into decode: sh this-file | centiloc-cert decode -\n# (-N: no newline after the payload; no -v: the payload alone, without its topic.)\n",
            "-C 1 -N",
        )
    } else {
        ("", "", "-v")
    };
    let topics: String = all_topics(&p.tenant)
        .iter()
        .map(|t| format!(" \\\n  -t {}", shell_quote(t)))
        .collect();
    format!(
        r#"#!/bin/sh
# Subscribe to {what}tenant {tenant}'s four Centiloc topics with mosquitto_sub (QoS 1, TLS).
{how}# Extra mosquitto_sub options can follow, e.g. `sh this-file -C 1 -W 30`.
# The password is read from {pwfile} (or CENTILOC_MQTT_PASSWORD) into a temporary
# options file readable only by you: mosquitto_sub would otherwise need it on its command
# line (-P), where `ps` shows it to every user. (The options file splits on spaces, so a
# password containing spaces cannot be passed this way.)
set -eu
conf=$(mktemp -d)
trap 'rm -rf "$conf"' EXIT INT TERM
pw=${{CENTILOC_MQTT_PASSWORD:-$(cat {pwfile})}}
(umask 077; printf -- '-P %s\n' "$pw" > "$conf/mosquitto_sub")
unset pw
XDG_CONFIG_HOME="$conf" mosquitto_sub -h {host} -p {port} \
  --cafile {ca} --cert {cert} --key {key} \
  -u {user} -I {prefix} -k 60 -q 1 {opts}{topics} "$@"
"#,
        tenant = p.tenant,
        pwfile = q(&paths.password()),
        host = shell_quote(&p.broker.host),
        port = p.broker.port,
        ca = q(&paths.ca()),
        cert = q(&paths.cert()),
        key = q(&paths.key()),
        user = shell_quote(user),
        prefix = shell_quote(&format!("{}-sub-", p.tenant)),
    )
}

/// A Python string literal (JSON string syntax is a subset Python accepts).
fn py(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn python(paths: &ProfilePaths, p: &Profile) -> String {
    let topics: String = all_topics(&p.tenant)
        .iter()
        .map(|t| format!("    {},\n", py(t)))
        .collect();
    PYTHON
        .replace("@TENANT@", &py(&p.tenant))
        .replace("@HOST@", &py(&p.broker.host))
        .replace("@PORT@", &p.broker.port.to_string())
        .replace(
            "@USERNAME@",
            &py(p.username.as_deref().unwrap_or("USERNAME")),
        )
        .replace("@CA@", &py(&paths.ca().display().to_string()))
        .replace("@CERT@", &py(&paths.cert().display().to_string()))
        .replace("@KEY@", &py(&paths.key().display().to_string()))
        .replace(
            "@PASSWORD_FILE@",
            &py(&paths.password().display().to_string()),
        )
        .replace("@TOPICS@", &topics)
}

const PYTHON: &str = r#"#!/usr/bin/env python3
"""Subscribe to Centiloc User-MQTT and print every message (paho-mqtt 1.6 or 2.x).

Generated by `centiloc-cert snippet python`. Usage: python3 this-file [--count N] [--timeout S]
Tested with Debian 12's /usr/bin/python3 (Python 3.11) and its python3-paho-mqtt (1.6.1).
Exit status: 0 after --count messages (or Ctrl-C), 69 cannot connect, 75 fewer than --count
messages before --timeout, 77 login or client certificate refused by the broker, 78 paho-mqtt
is not installed for this Python.
"""
import argparse
import json
import os
import ssl
import sys
import threading
import uuid

try:
    import paho.mqtt.client as mqtt
except ImportError:
    # The python3 first on PATH (a venv, pyenv) often lacks the package the system one has.
    print(f"error: paho-mqtt is not installed for {sys.executable} (Python "
          f"{sys.version.split()[0]}): install it with `{sys.executable} -m pip install "
          "paho-mqtt`, or on Debian/Ubuntu `sudo apt-get install python3-paho-mqtt` and run "
          "this script with /usr/bin/python3", file=sys.stderr)
    sys.exit(78)

TENANT = @TENANT@
HOST, PORT = @HOST@, @PORT@
USERNAME = @USERNAME@
CA_FILE = @CA@
CERT_FILE = @CERT@
KEY_FILE = @KEY@
PASSWORD_FILE = @PASSWORD_FILE@
TOPICS = [
@TOPICS@]


# CONNACK refusals in words. paho-mqtt 2.x reports MQTT 3.1.1 codes as MQTT 5 reason
# codes (134 for 4, 135 for 5...); both are listed.
REFUSALS = {
    1: "the broker does not accept this MQTT protocol version",
    2: "the broker refused the client ID (it must be unique and start with the tenant ID)",
    3: "the broker is unavailable; retry later",
    4: "bad username or password",
    5: "not authorised: check the username, the password and that the certificate is "
       "the one issued for this username (mosquitto says this for a wrong password too)",
}
REFUSALS.update({132: REFUSALS[1], 133: REFUSALS[2], 134: REFUSALS[4], 135: REFUSALS[5],
                 136: REFUSALS[3]})


def password():
    # The environment overrides the file, as for centiloc-cert itself.
    env = os.environ.get("CENTILOC_MQTT_PASSWORD")
    if env:
        return env
    with open(PASSWORD_FILE, encoding="utf-8") as f:
        return f.read().rstrip("\r\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=0, help="exit after N messages (0: never)")
    ap.add_argument("--timeout", type=float, default=0, help="give up after S seconds (0: never)")
    args = ap.parse_args()

    # Centiloc requires a unique client ID prefixed with the tenant ID.
    client_id = f"{TENANT}-py-{uuid.uuid4().hex[:8]}"
    try:  # paho-mqtt 2.x
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                             clean_session=True)
    except AttributeError:  # paho-mqtt 1.x
        client = mqtt.Client(client_id=client_id, clean_session=True)
    client.tls_set(ca_certs=CA_FILE, certfile=CERT_FILE, keyfile=KEY_FILE,
                   cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    client.username_pw_set(USERNAME, password())
    # failed: (message, exit status) when the run must end in error.
    state = {"received": 0, "connected": False, "failed": None, "timed_out": False}

    def on_connect(client, userdata, flags, reason_code, properties=None):
        code = getattr(reason_code, "value", reason_code)
        if code != 0:
            why = REFUSALS.get(code, f"refused with code {code} ({reason_code})")
            state["failed"] = (f"{HOST}:{PORT} refused the login of user {USERNAME!r}: {why}", 77)
            client.disconnect()
            return
        state["connected"] = True
        # QoS 1, as Centiloc advises.
        client.subscribe([(t, 1) for t in TOPICS])

    def on_disconnect(client, userdata, *args):
        if not state["connected"] and state["failed"] is None and not state["timed_out"]:
            # Before CONNACK: with TLS 1.3 a rejected client certificate shows up here.
            state["failed"] = (f"{HOST}:{PORT} closed the connection before accepting the "
                               "login: it most likely rejected the client certificate "
                               "(was it signed by Centiloc for this key?)", 77)
            client.disconnect()

    def on_subscribe(client, userdata, mid, granted, properties=None):
        for topic, g in zip(TOPICS, granted):
            if getattr(g, "value", g) >= 128:
                print(f"subscription refused (not authorised for this topic): {topic}",
                      file=sys.stderr)

    def on_message(client, userdata, msg):
        try:
            body = json.dumps(json.loads(msg.payload))
        except ValueError:
            body = "protobuf " + msg.payload.hex()
        print(f"{msg.topic} {len(msg.payload)} bytes: {body}", flush=True)
        state["received"] += 1
        if args.count and state["received"] >= args.count:
            client.disconnect()

    def on_timeout():
        state["timed_out"] = True
        client.disconnect()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    try:
        client.connect(HOST, PORT, keepalive=60)
    except (OSError, ValueError) as e:  # DNS, refused, TLS (ssl.SSLError is an OSError)
        print(f"error: cannot connect to {HOST}:{PORT}: {e}", file=sys.stderr)
        sys.exit(69)
    # A daemon timer, cancelled at the end: it must never keep the script alive.
    timer = threading.Timer(args.timeout, on_timeout) if args.timeout else None
    if timer:
        timer.daemon = True
        timer.start()
    try:
        client.loop_forever()
    except KeyboardInterrupt:
        client.disconnect()
    finally:
        if timer:
            timer.cancel()
    if state["failed"]:
        message, status = state["failed"]
        print(f"error: {message}", file=sys.stderr)
        sys.exit(status)
    if args.count and state["received"] < args.count:
        print(f"error: only {state['received']} of {args.count} messages within "
              f"{args.timeout:g} s (normal when no item moved)", file=sys.stderr)
        sys.exit(75)


if __name__ == "__main__":
    main()
"#;

/// Whether the daily job can e-mail: `check-expiry --notify` exits 78 every day without a
/// `[notify]` section, never checking expiry, so the job then goes without `--notify` and
/// a note says how to turn e-mail on. A broken section keeps `--notify` (the job's error
/// says what to fix) and is reported now.
fn notify_configured(ctx: &Ctx) -> bool {
    let file = ctx.home.config_file();
    match crate::config::load_notify(&file) {
        Ok(Some(_)) => true,
        Ok(None) => {
            ctx.out.note(format!(
                "there is no [notify] section in {}, so this job checks expiry without --notify (no e-mail notices; its warnings still reach you through cron's mail or the journal); to get e-mails, add a [notify] section with smtp_url and from to that file, then print the snippet again",
                file.display()
            ));
            false
        }
        Err(e) => {
            ctx.out.warn(format!(
                "{e}; until it is fixed the job below fails every day without checking expiry"
            ));
            true
        }
    }
}

/// The daily check for every profile of this home, with an absolute path for cron's and
/// systemd's minimal PATH.
fn check_command(ctx: &Ctx, notify: bool) -> Vec<String> {
    let mut v = base_command(ctx);
    v.push("check-expiry".into());
    v.push("--all".into());
    if notify {
        v.push("--notify".into());
    }
    v.push("--quiet".into());
    v
}

/// This program by its absolute path, with --home when one was given.
fn base_command(ctx: &Ctx) -> Vec<String> {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "centiloc-cert".into());
    let mut v = vec![exe];
    if let Some(h) = &ctx.home_flag {
        let h = std::path::absolute(h).unwrap_or_else(|_| h.clone());
        v.push("--home".into());
        v.push(h.display().to_string());
    }
    v
}

fn cron(cmd: &[String], notify: bool) -> String {
    let line: Vec<String> = cmd
        .iter()
        .map(|w| shell_quote(w).replace('%', "\\%"))
        .collect();
    let what = if notify {
        "# Daily at 08:17: e-mails a notice when a certificate crosses a threshold (with\n\
         # [renewal] request_days = 45 in profile.toml it also starts each renewal and\n\
         # e-mails the CSR to support: issue 15); prints\n"
    } else {
        "# Daily at 08:17: checks every certificate's expiry (no e-mail: no [notify] set up); prints\n"
    };
    format!(
        "{what}\
         # (and so makes cron mail you) only when something needs attention.\n\
         # Install with `crontab -e` and paste the line below.\n\
         17 8 * * * {}\n",
        line.join(" ")
    )
}

/// ExecStart= words: systemd's own quoting (double quotes, backslash escapes) and `%%`
/// for a literal `%` (systemd.service(5), "Command lines").
fn exec_start(cmd: &[String]) -> String {
    let words: Vec<String> = cmd
        .iter()
        .map(|w| {
            let w = w.replace('%', "%%");
            if w.contains([' ', '"', '\\', '\'']) {
                format!("\"{}\"", w.replace('\\', "\\\\").replace('"', "\\\""))
            } else {
                w
            }
        })
        .collect();
    words.join(" ")
}

/// The user the printed units run as: the owner of this process (`/proc/self` belongs to
/// it), named through /etc/passwd, else `$USER`. A placeholder otherwise, which the
/// comment above `User=` asks to replace.
fn current_user() -> String {
    use std::os::unix::fs::MetadataExt as _;
    let from_passwd = std::fs::metadata("/proc/self").ok().and_then(|m| {
        let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
        passwd.lines().find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            (f.nth(1)?.parse::<u32>().ok()? == m.uid()).then(|| name.to_owned())
        })
    });
    from_passwd
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "YOUR_USER".into())
}

/// A system service that runs `watch` for this profile (issue 12, item 4): JSON lines to
/// the journal (or a file), a kept session so nothing published during a restart is lost,
/// SIGHUP to reload the files, and Restart=on-failure so that an exit 77 (certificate
/// expired or refused) is retried once the renewal is installed.
fn watch_service(ctx: &Ctx, p: &Profile) -> String {
    let mut cmd = base_command(ctx);
    if ctx.profile != "default" {
        cmd.extend(["--profile".into(), ctx.profile.clone()]);
    }
    let client_id = p
        .client_id
        .clone()
        .unwrap_or_else(|| format!("{}-watch", p.tenant));
    cmd.extend(
        [
            "watch",
            "--format",
            "json",
            "--keep-session",
            "--client-id",
            &client_id,
        ]
        .map(String::from),
    );
    let exec = exec_start(&cmd);
    let user = current_user();
    format!(
        "# As root, write the file below, then: systemctl daemon-reload && systemctl enable --now centiloc-cert-watch.service\n\
         # Messages: journalctl -u centiloc-cert-watch -f (or StandardOutput= below for a file).\n\
         # After install-cert puts a renewed certificate in place: systemctl reload centiloc-cert-watch\n\
         # (watch also reads the files again at every reconnect).\n\
         \n\
         # /etc/systemd/system/centiloc-cert-watch.service\n\
         [Unit]\n\
         Description=Centiloc User-MQTT messages for tenant {tenant} (centiloc-cert watch)\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         # The user whose profile this is (the one who printed this snippet).\n\
         User={user}\n\
         # --keep-session with a fixed client ID: what is published while it is down is\n\
         # delivered when it returns. Two runs with one client ID throw each other out.\n\
         ExecStart={exec}\n\
         # To be alerted when data stops flowing (contrib/prometheus/centiloc-cert-watch.rules.yml),\n\
         # add to ExecStart a file in node_exporter's textfile directory (writable by User=):\n\
         #   --metrics /var/lib/prometheus/node-exporter/centiloc-cert-watch.prom\n\
         ExecReload=/bin/kill -HUP $MAINPID\n\
         # Exit 77 (certificate expired or refused) and other failures: start again later.\n\
         Restart=on-failure\n\
         RestartSec=60\n\
         # One JSON line per message; to a file instead of the journal:\n\
         #StandardOutput=append:/var/log/centiloc-cert-watch.jsonl\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        tenant = p.tenant,
    )
}

/// Two ways to run the daily check: system units with `User=` first, because a user timer
/// runs only while its user is logged in (or lingering), which a server nobody logs into
/// never is (issue 13, item 8); then the user units with the `loginctl enable-linger` step.
fn systemd(cmd: &[String], notify: bool) -> String {
    let exec = exec_start(cmd);
    let user = current_user();
    let what = if notify { " and e-mail notices" } else { "" };
    let timer = "[Timer]\n\
                 OnCalendar=daily\n\
                 RandomizedDelaySec=1h\n\
                 Persistent=true\n\
                 \n\
                 [Install]\n\
                 WantedBy=timers.target\n";
    let failed = "# Exit 1 (warning) and 2 (critical) mark the run failed on purpose";
    format!(
        "# On a server: system units, which run without anyone logged in. As root, write\n\
         # the two files below, then: systemctl daemon-reload && systemctl enable --now centiloc-cert-check.timer\n\
         \n\
         # /etc/systemd/system/centiloc-cert-check.service\n\
         [Unit]\n\
         Description=Check Centiloc client certificate expiry{what}\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         # The user whose profiles these are (the one who printed this snippet).\n\
         User={user}\n\
         {failed}: `systemctl --failed` shows it.\n\
         ExecStart={exec}\n\
         \n\
         # /etc/systemd/system/centiloc-cert-check.timer\n\
         [Unit]\n\
         Description=Daily Centiloc certificate expiry check\n\
         \n\
         {timer}\
         \n\
         # Or, on a desktop: user units. They run only while {user} is logged in, unless\n\
         # lingering is enabled: sudo loginctl enable-linger {user}\n\
         # Write the two files below, then: systemctl --user daemon-reload && systemctl --user enable --now centiloc-cert-check.timer\n\
         \n\
         # ~/.config/systemd/user/centiloc-cert-check.service\n\
         [Unit]\n\
         Description=Check Centiloc client certificate expiry{what}\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         {failed}: `systemctl --user --failed` shows it.\n\
         ExecStart={exec}\n\
         \n\
         # ~/.config/systemd/user/centiloc-cert-check.timer\n\
         [Unit]\n\
         Description=Daily Centiloc certificate expiry check\n\
         \n\
         {timer}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_escapes_percent_and_quotes() {
        let line = cron(&["/bin/c c".into(), "--home".into(), "/h%x".into()], true);
        assert!(
            line.contains("17 8 * * * '/bin/c c' --home '/h\\%x'"),
            "{line}"
        );
    }

    #[test]
    fn systemd_quotes_spaces_and_percent() {
        let unit = systemd(&["/opt/my tools/c".into(), "/h%".into()], false);
        assert!(
            unit.contains("ExecStart=\"/opt/my tools/c\" /h%%"),
            "{unit}"
        );
        assert!(unit.contains("OnCalendar=daily"));
    }
}
