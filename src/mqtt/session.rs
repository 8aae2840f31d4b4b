//! One MQTT 3.1.1 session over mutual TLS, driven stage by stage (DNS, TCP, TLS, CONNECT,
//! SUBSCRIBE) so each can be timed and each failure named. Packets are rumqttc's
//! `mqttbytes`; rumqttc's `EventLoop` is not used because it runs all stages as one.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rumqttc::mqttbytes::{self, QoS};
use rumqttc::{ConnectReturnCode, Packet, PubAck, Publish, Subscribe, SubscribeReasonCode};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::tls::{self, Blame};
use super::{ConnectSettings, Failure, Stage, StageReport};
use crate::exit_codes::ExitCode;

/// Centiloc's documented keepalive (SPEC: MQTT).
pub const KEEP_ALIVE: Duration = Duration::from_secs(60);
/// Largest packet we send (CONNECT, SUBSCRIBE): ours are small.
const MAX_PACKET: usize = 1 << 20;
const READ_CHUNK: usize = 64 * 1024;

/// A connected session.
pub struct Session {
    io: TlsStream<TcpStream>,
    rbuf: BytesMut,
    wbuf: BytesMut,
    /// Messages that arrived while we waited for SUBACK.
    early: VecDeque<Publish>,
    last_sent: Instant,
    ping_outstanding: bool,
    next_pkid: u16,
    host: String,
    /// CONNACK said the broker kept a session for this client ID.
    pub session_present: bool,
    /// `--max-message-size`: a larger PUBLISH is read past and acknowledged (issue 14).
    max_message_size: usize,
    /// Bytes of an oversized PUBLISH still to read past.
    skipping: usize,
    /// Oversized messages read past, for the caller to report.
    skipped: Vec<Skipped>,
}

/// A message larger than `--max-message-size`, read past and acknowledged: kept in a
/// persistent session it would otherwise be redelivered at every reconnect and wedge it.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub topic: String,
    /// The PUBLISH packet's size after its fixed header (topic and payload).
    pub size: usize,
    pub limit: usize,
}

/// " (address)" when the name resolved to something the user did not write: a bare IP
/// address is not repeated ("127.0.0.1:1 (127.0.0.1:1)").
fn resolved_to(broker: &impl std::fmt::Display, addr: &std::net::SocketAddr) -> String {
    if broker.to_string() == addr.to_string() {
        String::new()
    } else {
        format!(" ({addr})")
    }
}

/// Runs DNS, TCP, TLS and CONNECT, reporting each stage to `on` as it ends.
pub async fn open(
    s: &ConnectSettings,
    tls_config: Arc<ClientConfig>,
    on: &mut dyn FnMut(&StageReport),
) -> Result<Session, Failure> {
    let host = s.broker.host.as_str();
    let t = Instant::now();
    let addrs = staged(on, Stage::Dns, t, s.stage_timeout, resolve(s), |a| {
        let list: Vec<String> = a.iter().map(|a| a.ip().to_string()).collect();
        format!("{host} → {}", list.join(", "))
    })
    .await?;
    let t = Instant::now();
    let tcp = staged(
        on,
        Stage::Tcp,
        t,
        s.stage_timeout,
        connect_tcp(s, &addrs),
        |t| t.peer_addr().map(|a| a.to_string()).unwrap_or_default(),
    )
    .await?;
    let t = Instant::now();
    let io = staged(
        on,
        Stage::Tls,
        t,
        s.stage_timeout,
        handshake(s, tls_config, tcp),
        |io| {
            let (_, c) = io.get_ref();
            format!(
                "{}, broker certificate trusted for {host}",
                tls_version_words(c.protocol_version())
            )
        },
    )
    .await?;
    let mut session = Session {
        io,
        rbuf: BytesMut::with_capacity(READ_CHUNK),
        wbuf: BytesMut::with_capacity(4096),
        early: VecDeque::new(),
        last_sent: Instant::now(),
        ping_outstanding: false,
        next_pkid: 1,
        // host:port, as every other sentence names the broker.
        host: s.broker.to_string(),
        session_present: false,
        max_message_size: s.max_message_size,
        skipping: 0,
        skipped: Vec::new(),
    };
    let t = Instant::now();
    let client_id = s.client_id.clone();
    let present = staged(
        on,
        Stage::Connect,
        t,
        s.stage_timeout,
        session.connect(s),
        |p| {
            format!(
                "CONNACK accepted, client ID {client_id}{}",
                if *p { ", session resumed" } else { "" }
            )
        },
    )
    .await?;
    session.session_present = present;
    Ok(session)
}

/// Runs one stage under `limit`, reports it, and turns a timeout into the stage's failure.
async fn staged<T>(
    on: &mut dyn FnMut(&StageReport),
    stage: Stage,
    start: Instant,
    limit: Duration,
    fut: impl Future<Output = Result<T, Failure>>,
    detail: impl FnOnce(&T) -> String,
) -> Result<T, Failure> {
    let result = match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => Err(Failure::timed_out(stage, limit)),
    };
    let report = match &result {
        Ok(v) => StageReport::ok(stage, start.elapsed(), detail(v)),
        Err(f) => StageReport::failed(stage, start.elapsed(), &f.message),
    };
    on(&report);
    result
}

async fn resolve(s: &ConnectSettings) -> Result<Vec<SocketAddr>, Failure> {
    let host = &s.broker.host;
    let fail = |why: String| {
        Failure::new(
            Stage::Dns,
            ExitCode::Unavailable,
            format!(
                "cannot resolve the broker name {host:?} ({why}): check the name ({}) and this machine's DNS",
                s.hints.broker_where()
            ),
        )
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), s.broker.port))
        .await
        .map_err(|e| fail(io_text(&e)))?
        .collect();
    if addrs.is_empty() {
        return Err(fail("no address".into()));
    }
    Ok(addrs)
}

async fn connect_tcp(s: &ConnectSettings, addrs: &[SocketAddr]) -> Result<TcpStream, Failure> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(tcp) => {
                // Centiloc events are small and latency matters more than packet count.
                let _ = tcp.set_nodelay(true);
                return Ok(tcp);
            }
            Err(e) => last = Some((addr, e)),
        }
    }
    let broker = &s.broker;
    Err(match last {
        Some((addr, e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Failure::new(
            Stage::Tcp,
            ExitCode::Unavailable,
            format!(
                "{broker}{} refused the connection: nothing listens on port {}; check the port and that the broker is up",
                resolved_to(broker, addr),
                broker.port
            ),
        ),
        Some((addr, e)) => Failure::new(
            Stage::Tcp,
            ExitCode::Unavailable,
            format!(
                "cannot reach {broker} ({addr}): {}; check the network and firewall for port {}",
                io_text(&e),
                broker.port
            ),
        ),
        None => Failure::new(
            Stage::Tcp,
            ExitCode::Unavailable,
            format!("no address to connect to for {broker}"),
        ),
    })
}

async fn handshake(
    s: &ConnectSettings,
    config: Arc<ClientConfig>,
    tcp: TcpStream,
) -> Result<TlsStream<TcpStream>, Failure> {
    let host = s.broker.host.as_str();
    let name = ServerName::try_from(host.to_owned()).map_err(|_| {
        Failure::new(
            Stage::Tls,
            ExitCode::Usage,
            format!(
                "{host:?} is not a valid host name for TLS: fix {}",
                s.hints.broker_where()
            ),
        )
    })?;
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| io_failure(Stage::Tls, &e, s))
}

impl Session {
    async fn connect(&mut self, s: &ConnectSettings) -> Result<bool, Failure> {
        let mut c = rumqttc::Connect::new(s.client_id.as_str());
        c.keep_alive = KEEP_ALIVE.as_secs() as u16;
        c.clean_session = s.clean_session;
        c.set_login(s.username.as_str(), s.password.as_str());
        self.send(Packet::Connect(c))
            .await
            .map_err(|e| io_failure(Stage::Connect, &e, s))?;
        // The packet held the password: do not leave it in the write buffer's spare room.
        let cap = self.wbuf.capacity();
        self.wbuf.resize(cap, 0);
        self.wbuf.clear();
        loop {
            match self.read_packet(Stage::Connect, s).await? {
                Packet::ConnAck(a) if a.code == ConnectReturnCode::Success => {
                    return Ok(a.session_present);
                }
                Packet::ConnAck(a) => return Err(refused(a.code, s)),
                _ => continue,
            }
        }
    }

    /// SUBSCRIBE with QoS 1 to every filter, then the granted QoS of each, in order.
    pub async fn subscribe(
        &mut self,
        filters: &[String],
        s: &ConnectSettings,
    ) -> Result<Vec<QoS>, Failure> {
        let pkid = self.pkid();
        let mut sub = Subscribe::new_many(
            filters
                .iter()
                .map(|f| rumqttc::SubscribeFilter::new(f.clone(), QoS::AtLeastOnce)),
        );
        sub.pkid = pkid;
        self.send(Packet::Subscribe(sub))
            .await
            .map_err(|e| io_failure(Stage::Subscribe, &e, s))?;
        loop {
            match self.read_packet(Stage::Subscribe, s).await? {
                Packet::SubAck(a) if a.pkid == pkid => {
                    let mut granted = Vec::new();
                    for (code, filter) in a.return_codes.iter().zip(filters) {
                        match code {
                            SubscribeReasonCode::Success(q) => granted.push(*q),
                            SubscribeReasonCode::Failure => {
                                return Err(Failure::new(
                                    Stage::Subscribe,
                                    ExitCode::NoPerm,
                                    format!(
                                        "the broker refused the subscription to {filter:?} (SUBACK 0x80): not authorized for this topic; check the tenant ID and the topic"
                                    ),
                                ));
                            }
                        }
                    }
                    return Ok(granted);
                }
                Packet::Publish(p) => self.early.push_back(p),
                _ => continue,
            }
        }
    }

    /// The next message already received, without waiting. Not acknowledged: the caller
    /// calls [`Session::ack`] once the message is handed on, so that one it could not
    /// hand on is redelivered to a persistent session (issue 14).
    pub fn try_next(&mut self) -> Result<Option<Publish>, Failure> {
        if let Some(p) = self.early.pop_front() {
            return Ok(Some(p));
        }
        loop {
            match self.parse() {
                Ok(Some(Packet::Publish(p))) => return Ok(Some(p)),
                Ok(Some(Packet::PingResp)) => self.ping_outstanding = false,
                Ok(Some(_)) => {}
                Ok(None) => return Ok(None),
                Err(e) => return Err(self.lost(format!("it sent an invalid MQTT packet ({e})"))),
            }
        }
    }

    /// The oversized messages read past since the last call.
    pub fn take_skipped(&mut self) -> Vec<Skipped> {
        std::mem::take(&mut self.skipped)
    }

    /// The next whole packet in the read buffer (`None`: more bytes needed), reading past
    /// a PUBLISH larger than `--max-message-size` as its bytes arrive, never holding it.
    fn parse(&mut self) -> Result<Option<Packet>, mqttbytes::Error> {
        loop {
            if self.skipping > 0 {
                let n = self.skipping.min(self.rbuf.len());
                let _ = self.rbuf.split_to(n);
                self.skipping -= n;
                if self.skipping > 0 {
                    return Ok(None);
                }
            }
            match Packet::read(&mut self.rbuf, self.max_message_size) {
                Ok(p) => return Ok(Some(p)),
                Err(mqttbytes::Error::InsufficientBytes(_)) => return Ok(None),
                Err(mqttbytes::Error::PayloadSizeLimitExceeded(len)) => {
                    if !self.begin_skip(len)? {
                        return Ok(None);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Starts reading past an oversized packet of `remaining` bytes after its fixed
    /// header, once its topic and packet ID are in (`Ok(false)` until then): queues its
    /// PUBACK and records it. Only a PUBLISH can be read past; anything else that large
    /// is not MQTT we understand.
    fn begin_skip(&mut self, remaining: usize) -> Result<bool, mqttbytes::Error> {
        let b = &self.rbuf[..];
        if b.first().map(|b| b >> 4) != Some(3) {
            return Err(mqttbytes::Error::PayloadSizeLimitExceeded(remaining));
        }
        // The fixed header parsed (that is how its length is known): 1 byte, then the
        // remaining length in 1-4 bytes, the last without the continuation bit.
        let head = 1 + b[1..].iter().take_while(|x| **x & 0x80 != 0).count() + 1;
        let qos = (b[0] >> 1) & 3;
        let Some(len) = b.get(head..head + 2) else {
            return Ok(false);
        };
        let topic_len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let id_at = head + 2 + topic_len;
        let Some(id) = b.get(id_at..id_at + if qos > 0 { 2 } else { 0 }) else {
            return Ok(false);
        };
        let topic = String::from_utf8_lossy(&b[head + 2..id_at]).into_owned();
        if qos > 0 {
            let pkid = u16::from_be_bytes([id[0], id[1]]);
            let _ = PubAck::new(pkid).write(&mut self.wbuf);
        }
        self.skipped.push(Skipped {
            topic,
            size: remaining,
            limit: self.max_message_size,
        });
        self.skipping = head + remaining;
        Ok(true)
    }

    /// Sends pending acknowledgements, then waits for more bytes from the broker, pinging
    /// it every keepalive period. Cancel-safe: nothing received is lost if dropped.
    pub async fn fill(&mut self) -> Result<(), Failure> {
        self.flush().await.map_err(|e| self.lost(io_text(&e)))?;
        loop {
            self.rbuf.reserve(READ_CHUNK);
            let ping_at = tokio::time::Instant::from_std(self.last_sent + KEEP_ALIVE);
            match tokio::time::timeout_at(ping_at, self.io.read_buf(&mut self.rbuf)).await {
                Ok(Ok(0)) => return Err(self.lost("the broker closed the connection".into())),
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) => return Err(self.lost(io_text(&e))),
                Err(_) if self.ping_outstanding => {
                    return Err(self.lost("no answer to the keepalive ping".into()));
                }
                Err(_) => {
                    self.ping_outstanding = true;
                    self.send(Packet::PingReq)
                        .await
                        .map_err(|e| self.lost(io_text(&e)))?;
                }
            }
        }
    }

    /// Sends the pending acknowledgements now.
    pub async fn fill_acks(&mut self) -> Result<(), Failure> {
        self.flush().await.map_err(|e| self.lost(io_text(&e)))
    }

    /// DISCONNECT and TLS close_notify, bounded so a dead broker cannot hold us.
    pub async fn disconnect(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            let _ = self.flush().await;
            let _ = self.send(Packet::Disconnect).await;
            let _ = self.io.shutdown().await;
        })
        .await;
    }

    /// Acknowledges a QoS 1 message; the PUBACK goes out with the next
    /// [`Session::fill`], [`Session::fill_acks`] or [`Session::disconnect`], batched.
    pub fn ack(&mut self, p: &Publish) {
        if p.qos == QoS::AtLeastOnce {
            let _ = PubAck::new(p.pkid).write(&mut self.wbuf);
        }
    }

    fn pkid(&mut self) -> u16 {
        let id = self.next_pkid;
        self.next_pkid = self.next_pkid.checked_add(1).unwrap_or(1);
        id
    }

    async fn send(&mut self, packet: Packet) -> std::io::Result<()> {
        packet
            .write(&mut self.wbuf, MAX_PACKET)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        self.flush().await
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if !self.wbuf.is_empty() {
            self.io.write_all(&self.wbuf).await?;
            self.io.flush().await?;
            self.wbuf.clear();
            self.last_sent = Instant::now();
        }
        Ok(())
    }

    /// The next packet of a request/answer stage (CONNACK, SUBACK).
    async fn read_packet(&mut self, stage: Stage, s: &ConnectSettings) -> Result<Packet, Failure> {
        loop {
            match self.parse() {
                Ok(Some(p)) => return Ok(p),
                Ok(None) => {}
                Err(e) => {
                    return Err(Failure::new(
                        stage,
                        ExitCode::Protocol,
                        format!(
                            "{} sent an invalid MQTT packet ({e}): is this an MQTT broker?",
                            s.broker
                        ),
                    ));
                }
            }
            self.rbuf.reserve(READ_CHUNK);
            match self.io.read_buf(&mut self.rbuf).await {
                Ok(0) => return Err(closed_early(stage, s)),
                Ok(_) => {}
                Err(e) => return Err(io_failure(stage, &e, s)),
            }
        }
    }

    fn lost(&self, why: String) -> Failure {
        Failure::new(
            Stage::Messages,
            ExitCode::Unavailable,
            format!("lost the connection to {}: {why}", self.host),
        )
    }
}

/// The broker hung up instead of answering. With TLS 1.3 a rejected client certificate
/// shows up here, after our side of the handshake already succeeded.
fn closed_early(stage: Stage, s: &ConnectSettings) -> Failure {
    Failure::new(
        stage,
        ExitCode::NoPerm,
        format!(
            "{} closed the connection without answering {}: it most likely rejected the client certificate (was it signed by Centiloc for this key?) or the client ID {:?}",
            s.broker,
            if stage == Stage::Connect {
                "CONNECT"
            } else {
                "SUBSCRIBE"
            },
            s.client_id
        ),
    )
}

fn refused(code: ConnectReturnCode, s: &ConnectSettings) -> Failure {
    let broker = &s.broker;
    let message = match code {
        // Mosquitto answers "not authorised" (5) for a wrong password too (issue 5).
        ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized => format!(
            "{broker} refused the login ({}): bad username or password for user {:?}; check the username, the password (mqtt-password or CENTILOC_MQTT_PASSWORD) and that the certificate is the one issued for this username",
            if code == ConnectReturnCode::NotAuthorized {
                "not authorised"
            } else {
                "bad username or password"
            },
            s.username
        ),
        ConnectReturnCode::BadClientId => format!(
            "{broker} refused the client ID {:?}: Centiloc requires a unique ID starting with the tenant ID",
            s.client_id
        ),
        ConnectReturnCode::ServiceUnavailable => {
            return Failure::new(
                Stage::Connect,
                ExitCode::Unavailable,
                format!("{broker} answered \"server unavailable\": retry later"),
            );
        }
        // Only "unacceptable protocol version" (1) is left: said in words, never the
        // library's variant name (issue 10 item 4).
        other => format!(
            "{broker} refused the connection (CONNACK code {}: it does not accept MQTT 3.1.1, which this tool speaks); check that {broker} is Centiloc's MQTT broker",
            other as u8
        ),
    };
    Failure::new(Stage::Connect, ExitCode::NoPerm, message)
}

/// An I/O error during a stage, with rustls's reason translated when there is one.
fn io_failure(stage: Stage, e: &std::io::Error, s: &ConnectSettings) -> Failure {
    if let Some(tls_err) = tls::rustls_error(e) {
        let (blame, message) = tls::explain(
            tls_err,
            &s.broker.host,
            &s.ca_file.display().to_string(),
            &s.hints,
        );
        let code = match blame {
            Blame::ClientCertificate => ExitCode::NoPerm,
            Blame::BrokerCertificate | Blame::Handshake => ExitCode::Protocol,
        };
        return Failure::new(stage, code, message);
    }
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
            if stage != Stage::Tls =>
        {
            closed_early(stage, s)
        }
        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset => Failure::new(
            stage,
            ExitCode::Protocol,
            format!(
                "{} closed the connection during the TLS handshake: check that the port is the broker's TLS port and that it accepts TLS 1.2 or 1.3",
                s.broker
            ),
        ),
        _ => Failure::new(
            stage,
            ExitCode::Unavailable,
            format!("the connection to {} failed: {}", s.broker, io_text(e)),
        ),
    }
}

/// An `io::Error` as a lower-case phrase without "(os error N)".
fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_lowercase(),
        None => s,
    }
}

/// "TLS 1.3", not rustls's `TLSv1_3`.
fn tls_version_words(v: Option<rustls::ProtocolVersion>) -> &'static str {
    match v {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2",
        _ => "TLS",
    }
}
