//! The two MQTT versions a device may speak, behind one set of packets: 3.1.1 (rumqttc's
//! `mqttbytes::v4`) and 5 (`v5::mqttbytes::v5`). A connection speaks the version of its
//! CONNECT; every later packet is read and written in it. Framing and parsing are the
//! codec's; this module only maps its packets to what the session needs ([`In`]) and back
//! ([`Out`]).
//!
//! Longer than 500 lines on purpose: each packet is read and written for both versions side
//! by side, so that a change to one version is made next to the other.

use bytes::{Bytes, BytesMut};
use rumqttc::mqttbytes::{self as m4, v4};
use rumqttc::v5::mqttbytes::{self as m5, v5};
use std::collections::HashMap;

pub(super) use rumqttc::mqttbytes::QoS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Version {
    V4,
    V5,
}

/// Why the next packet could not be read.
#[derive(Debug)]
pub(super) enum ReadError {
    /// More bytes are needed (at least this many).
    Incomplete(usize),
    /// Larger than `mqtt.max_packet_bytes`.
    TooLarge(String),
    /// Not MQTT, or against the protocol.
    Malformed(String),
    /// A CONNECT of a protocol version other than 3.1.1 and 5.
    Version(u8),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Incomplete(n) => write!(f, "{n} more bytes needed"),
            Self::TooLarge(e) | Self::Malformed(e) => f.write_str(e),
            Self::Version(level) => write!(f, "MQTT protocol level {level}"),
        }
    }
}

/// A CONNECT, whatever its version.
#[derive(Debug)]
pub(super) struct Connect {
    pub version: Version,
    pub client_id: String,
    /// Start afresh: forget any session this client id had.
    pub clean_start: bool,
    /// The session outlives the connection (3.1.1: clean session off; 5: a session
    /// expiry interval above 0, kept until the session table is full).
    pub persistent: bool,
    pub keep_alive: u16,
    pub will: Option<(String, Bytes)>,
    pub login: Option<(String, String)>,
    /// 5 only: the client wants extended authentication, which is not offered.
    pub auth_method: bool,
}

/// What a connection may receive after its CONNECT.
#[derive(Debug)]
pub(super) enum In {
    Publish {
        topic: String,
        payload: Bytes,
        qos: QoS,
        pkid: u16,
    },
    PubRel(u16),
    PingReq,
    Subscribe {
        pkid: u16,
        filters: Vec<(String, QoS)>,
    },
    Unsubscribe {
        pkid: u16,
        filters: Vec<String>,
    },
    /// The device leaves; `will` (5: reason 0x04) asks for its will all the same.
    Disconnect {
        will: bool,
    },
    /// An acknowledgement of something cityops sent: nothing to do.
    Ack,
}

/// How a CONNECT is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ConnectCode {
    Accepted,
    BadVersion,
    BadClientId,
    Unavailable,
    BadCredentials,
    NotAuthorized,
    BadAuthMethod,
}

/// What a filter of a SUBSCRIBE is granted.
#[derive(Debug, Clone, Copy)]
pub(super) enum Granted {
    QoS(QoS),
    NotAuthorized,
    QuotaExceeded,
}

/// Why cityops closes a connection (said in a DISCONNECT on 5, silently on 3.1.1).
#[derive(Debug, Clone, Copy)]
pub(super) enum Why {
    ShuttingDown,
    TakenOver,
    KeepAlive,
    TooLarge,
    Malformed,
}

/// What a connection may send.
#[derive(Debug)]
pub(super) enum Out {
    ConnAck {
        code: ConnectCode,
        session_present: bool,
        /// 5: the client id cityops gave a client that sent none.
        assigned_id: Option<String>,
        /// 5: the in-flight window (receive maximum) and largest packet.
        receive_max: u16,
        max_packet: u32,
    },
    PubAck(u16),
    PubRec(u16),
    PubComp(u16),
    PingResp,
    SubAck {
        pkid: u16,
        granted: Vec<Granted>,
    },
    UnsubAck {
        pkid: u16,
        filters: usize,
    },
    Disconnect(Why),
}

/// Topic aliases a 5 client may set up (`topic_alias_max` in the CONNACK), each for a
/// topic of at most [`super::MAX_NAME_BYTES`]: what a connection keeps stays small.
pub(super) const TOPIC_ALIASES: u16 = 64;

/// Reads the first packet, which must be a CONNECT of either version.
pub(super) fn read_connect(buf: &mut BytesMut, max: usize) -> Result<Connect, ReadError> {
    // Parsed as 3.1.1 on a copy (the codec consumes what it parses), and as 5 when that
    // is not a 3.1.1 CONNECT (the 3.1.1 codec takes a level-5 header for its own, then
    // misreads the properties). A CONNECT is read once per connection.
    flags_ok(buf)?;
    // Framed before it is copied: a CONNECT trickling in byte by byte must not be copied
    // once per byte.
    m4::check(buf.iter(), max).map_err(v4_error)?;
    let mut probe = buf.clone();
    let v4_error = match v4::Packet::read(&mut probe, max) {
        Ok(v4::Packet::Connect(c)) if c.protocol == m4::Protocol::V4 => {
            *buf = probe;
            return Ok(Connect {
                version: Version::V4,
                persistent: !c.clean_session,
                clean_start: c.clean_session,
                client_id: c.client_id,
                keep_alive: c.keep_alive,
                will: c.last_will.map(|w| (w.topic, w.message)),
                login: c.login.map(|l| (l.username, l.password)),
                auth_method: false,
            });
        }
        Ok(v4::Packet::Connect(_)) => None,
        Ok(other) => {
            return Err(ReadError::Malformed(format!(
                "first packet {}, not CONNECT",
                v4_kind(&other)
            )));
        }
        Err(e) => match v4_error(e) {
            e @ (ReadError::Incomplete(_) | ReadError::TooLarge(_)) => return Err(e),
            e => Some(e),
        },
    };
    let mut probe = buf.clone();
    match v5::Packet::read(&mut probe, Some(max_u32(max))) {
        Ok(v5::Packet::Connect(c, will, login)) => {
            *buf = probe;
            let props = c.properties.unwrap_or_default();
            let will = match will {
                Some(w) => Some((
                    String::from_utf8(w.topic.to_vec())
                        .map_err(|_| ReadError::Malformed("will topic not UTF-8".into()))?,
                    w.message,
                )),
                None => None,
            };
            Ok(Connect {
                version: Version::V5,
                client_id: c.client_id,
                clean_start: c.clean_start,
                persistent: props.session_expiry_interval.unwrap_or(0) > 0,
                keep_alive: c.keep_alive,
                will,
                login: login.map(|l| (l.username, l.password)),
                auth_method: props.authentication_method.is_some(),
            })
        }
        Ok(_) => Err(ReadError::Malformed("first packet not CONNECT".into())),
        Err(m5::Error::InvalidProtocolLevel(level)) if level != 4 && level != 5 => {
            Err(ReadError::Version(level))
        }
        // "MQIsdp": MQTT 3.1 (level 3) or older.
        Err(m5::Error::InvalidProtocol) => Err(ReadError::Version(3)),
        Err(e) => Err(v4_error.unwrap_or_else(|| v5_error(e))),
    }
}

/// Reads packets after the CONNECT, in the connection's version.
pub(super) struct Reader {
    version: Version,
    max: usize,
    /// 5: the topic aliases the client has set up.
    aliases: HashMap<u16, String>,
}

impl Reader {
    pub fn new(version: Version, max: usize) -> Self {
        Self {
            version,
            max,
            aliases: HashMap::new(),
        }
    }

    pub fn read(&mut self, buf: &mut BytesMut) -> Result<In, ReadError> {
        flags_ok(buf)?;
        match self.version {
            Version::V4 => self.read_v4(buf),
            Version::V5 => self.read_v5(buf),
        }
    }

    fn read_v4(&mut self, buf: &mut BytesMut) -> Result<In, ReadError> {
        Ok(match v4::Packet::read(buf, self.max).map_err(v4_error)? {
            v4::Packet::Publish(p) => In::Publish {
                topic: p.topic,
                payload: p.payload,
                qos: p.qos,
                pkid: p.pkid,
            },
            v4::Packet::PubRel(r) => In::PubRel(r.pkid),
            v4::Packet::PingReq => In::PingReq,
            v4::Packet::Subscribe(s) => In::Subscribe {
                pkid: s.pkid,
                filters: s.filters.into_iter().map(|f| (f.path, f.qos)).collect(),
            },
            v4::Packet::Unsubscribe(u) => In::Unsubscribe {
                pkid: u.pkid,
                filters: u.topics,
            },
            v4::Packet::Disconnect => In::Disconnect { will: false },
            v4::Packet::PubAck(_) | v4::Packet::PubRec(_) | v4::Packet::PubComp(_) => In::Ack,
            other => {
                return Err(ReadError::Malformed(format!(
                    "unexpected {}",
                    v4_kind(&other)
                )));
            }
        })
    }

    fn read_v5(&mut self, buf: &mut BytesMut) -> Result<In, ReadError> {
        let packet = v5::Packet::read(buf, Some(max_u32(self.max))).map_err(v5_error)?;
        Ok(match packet {
            v5::Packet::Publish(p) => {
                let alias = p.properties.as_ref().and_then(|pr| pr.topic_alias);
                let topic = if p.topic.is_empty() {
                    let a = alias.ok_or_else(|| {
                        ReadError::Malformed("PUBLISH without topic or alias".into())
                    })?;
                    self.aliases
                        .get(&a)
                        .cloned()
                        .ok_or_else(|| ReadError::Malformed(format!("unknown topic alias {a}")))?
                } else {
                    let t = String::from_utf8(p.topic.to_vec())
                        .map_err(|_| ReadError::Malformed("topic not UTF-8".into()))?;
                    if let Some(a) = alias {
                        if a == 0 || a > TOPIC_ALIASES {
                            return Err(ReadError::Malformed(format!("topic alias {a}")));
                        }
                        if t.len() > super::MAX_NAME_BYTES {
                            return Err(ReadError::Malformed(format!(
                                "an alias for a topic of {} bytes (at most {})",
                                t.len(),
                                super::MAX_NAME_BYTES
                            )));
                        }
                        self.aliases.insert(a, t.clone());
                    }
                    t
                };
                In::Publish {
                    topic,
                    payload: p.payload,
                    qos: qos_from_v5(p.qos),
                    pkid: p.pkid,
                }
            }
            v5::Packet::PubRel(r) => In::PubRel(r.pkid),
            v5::Packet::PingReq(_) => In::PingReq,
            v5::Packet::Subscribe(s) => In::Subscribe {
                pkid: s.pkid,
                filters: s
                    .filters
                    .into_iter()
                    .map(|f| (f.path, qos_from_v5(f.qos)))
                    .collect(),
            },
            v5::Packet::Unsubscribe(u) => In::Unsubscribe {
                pkid: u.pkid,
                filters: u.filters,
            },
            v5::Packet::Disconnect(d) => In::Disconnect {
                will: d.reason_code == v5::DisconnectReasonCode::DisconnectWithWillMessage,
            },
            v5::Packet::PubAck(_) | v5::Packet::PubRec(_) | v5::Packet::PubComp(_) => In::Ack,
            other => {
                return Err(ReadError::Malformed(format!(
                    "unexpected {:?}",
                    std::mem::discriminant(&other)
                )));
            }
        })
    }
}

/// Appends `out` to `buf` in `version`; false if there was nothing to write (a
/// DISCONNECT on 3.1.1, which has no server-sent one).
pub(super) fn write(version: Version, out: Out, buf: &mut BytesMut) -> bool {
    match version {
        Version::V4 => {
            let p = match out {
                Out::ConnAck {
                    code,
                    session_present,
                    ..
                } => v4::Packet::ConnAck(v4::ConnAck::new(v4_code(code), session_present)),
                Out::PubAck(id) => v4::Packet::PubAck(v4::PubAck::new(id)),
                Out::PubRec(id) => v4::Packet::PubRec(v4::PubRec::new(id)),
                Out::PubComp(id) => v4::Packet::PubComp(v4::PubComp::new(id)),
                Out::PingResp => v4::Packet::PingResp,
                Out::SubAck { pkid, granted } => v4::Packet::SubAck(v4::SubAck::new(
                    pkid,
                    granted
                        .into_iter()
                        .map(|g| match g {
                            Granted::QoS(q) => v4::SubscribeReasonCode::Success(q),
                            _ => v4::SubscribeReasonCode::Failure,
                        })
                        .collect(),
                )),
                Out::UnsubAck { pkid, .. } => v4::Packet::UnsubAck(v4::UnsubAck::new(pkid)),
                Out::Disconnect(_) => return false,
            };
            p.write(buf, usize::MAX).is_ok()
        }
        Version::V5 => {
            let p = match out {
                Out::ConnAck {
                    code,
                    session_present,
                    assigned_id,
                    receive_max,
                    max_packet,
                } => v5::Packet::ConnAck(v5::ConnAck {
                    session_present,
                    code: v5_code(code),
                    properties: (code == ConnectCode::Accepted).then(|| v5::ConnAckProperties {
                        session_expiry_interval: None,
                        receive_max: Some(receive_max),
                        max_qos: None,
                        retain_available: Some(0),
                        max_packet_size: Some(max_packet),
                        assigned_client_identifier: assigned_id,
                        topic_alias_max: Some(TOPIC_ALIASES),
                        reason_string: None,
                        user_properties: Vec::new(),
                        wildcard_subscription_available: None,
                        subscription_identifiers_available: Some(0),
                        shared_subscription_available: Some(0),
                        server_keep_alive: None,
                        response_information: None,
                        server_reference: None,
                        authentication_method: None,
                        authentication_data: None,
                    }),
                }),
                Out::PubAck(id) => v5::Packet::PubAck(v5::PubAck::new(id, None)),
                Out::PubRec(id) => v5::Packet::PubRec(v5::PubRec::new(id, None)),
                Out::PubComp(id) => v5::Packet::PubComp(v5::PubComp::new(id, None)),
                Out::PingResp => v5::Packet::PingResp(v5::PingResp),
                Out::SubAck { pkid, granted } => v5::Packet::SubAck(v5::SubAck {
                    pkid,
                    return_codes: granted
                        .into_iter()
                        .map(|g| match g {
                            Granted::QoS(q) => v5::SubscribeReasonCode::Success(qos_to_v5(q)),
                            Granted::NotAuthorized => v5::SubscribeReasonCode::NotAuthorized,
                            Granted::QuotaExceeded => v5::SubscribeReasonCode::QuotaExceeded,
                        })
                        .collect(),
                    properties: None,
                }),
                Out::UnsubAck { pkid, filters } => v5::Packet::UnsubAck(v5::UnsubAck {
                    pkid,
                    reasons: vec![v5::UnsubAckReason::Success; filters],
                    properties: None,
                }),
                Out::Disconnect(why) => {
                    use v5::DisconnectReasonCode as R;
                    let (reason_code, text) = match why {
                        Why::ShuttingDown => (R::ServerShuttingDown, "cityops is stopping"),
                        Why::TakenOver => (
                            R::SessionTakenOver,
                            "another connection took this client id",
                        ),
                        Why::KeepAlive => (
                            R::KeepAliveTimeout,
                            "nothing heard for 1.5 times the keep-alive",
                        ),
                        Why::TooLarge => (R::PacketTooLarge, "packet above the maximum size"),
                        Why::Malformed => (R::MalformedPacket, "malformed packet"),
                    };
                    v5::Packet::Disconnect(v5::Disconnect {
                        reason_code,
                        // A reason string, which also keeps the codec off its two-byte
                        // form (which it would take for a reason without properties).
                        properties: Some(v5::DisconnectProperties {
                            session_expiry_interval: None,
                            reason_string: Some(text.into()),
                            user_properties: Vec::new(),
                            server_reference: None,
                        }),
                    })
                }
            };
            p.write(buf, None).is_ok()
        }
    }
}

/// The codec reads only a packet's type from its first byte; the flags beside it are
/// fixed for every type but PUBLISH, and anything else must close the connection
/// (3.1.1 2.2.2-2, 5 2.1.3).
fn flags_ok(buf: &BytesMut) -> Result<(), ReadError> {
    let Some(&byte1) = buf.first() else {
        return Ok(());
    };
    let expected = match byte1 >> 4 {
        3 => return Ok(()),
        6 | 8 | 10 => 0b0010,
        _ => 0,
    };
    if byte1 & 0x0F == expected {
        Ok(())
    } else {
        Err(ReadError::Malformed(format!(
            "packet type {} with flags {:04b}",
            byte1 >> 4,
            byte1 & 0x0F
        )))
    }
}

fn max_u32(max: usize) -> u32 {
    u32::try_from(max).unwrap_or(u32::MAX)
}

fn v4_error(e: m4::Error) -> ReadError {
    match e {
        m4::Error::InsufficientBytes(n) => ReadError::Incomplete(n),
        e @ m4::Error::PayloadSizeLimitExceeded(_) => ReadError::TooLarge(e.to_string()),
        e => ReadError::Malformed(e.to_string()),
    }
}

fn v5_error(e: m5::Error) -> ReadError {
    match e {
        m5::Error::InsufficientBytes(n) => ReadError::Incomplete(n),
        e @ m5::Error::PayloadSizeLimitExceeded { .. } => ReadError::TooLarge(e.to_string()),
        e => ReadError::Malformed(e.to_string()),
    }
}

fn v4_kind(p: &v4::Packet) -> &'static str {
    match p {
        v4::Packet::Connect(_) => "CONNECT",
        v4::Packet::ConnAck(_) => "CONNACK",
        v4::Packet::Publish(_) => "PUBLISH",
        v4::Packet::PubAck(_) => "PUBACK",
        v4::Packet::PubRec(_) => "PUBREC",
        v4::Packet::PubRel(_) => "PUBREL",
        v4::Packet::PubComp(_) => "PUBCOMP",
        v4::Packet::Subscribe(_) => "SUBSCRIBE",
        v4::Packet::SubAck(_) => "SUBACK",
        v4::Packet::Unsubscribe(_) => "UNSUBSCRIBE",
        v4::Packet::UnsubAck(_) => "UNSUBACK",
        v4::Packet::PingReq => "PINGREQ",
        v4::Packet::PingResp => "PINGRESP",
        v4::Packet::Disconnect => "DISCONNECT",
    }
}

fn v4_code(c: ConnectCode) -> v4::ConnectReturnCode {
    use v4::ConnectReturnCode as R;
    match c {
        ConnectCode::Accepted => R::Success,
        ConnectCode::BadVersion => R::RefusedProtocolVersion,
        ConnectCode::BadClientId => R::BadClientId,
        ConnectCode::Unavailable => R::ServiceUnavailable,
        ConnectCode::BadCredentials => R::BadUserNamePassword,
        ConnectCode::NotAuthorized | ConnectCode::BadAuthMethod => R::NotAuthorized,
    }
}

fn v5_code(c: ConnectCode) -> v5::ConnectReturnCode {
    use v5::ConnectReturnCode as R;
    match c {
        ConnectCode::Accepted => R::Success,
        ConnectCode::BadVersion => R::UnsupportedProtocolVersion,
        ConnectCode::BadClientId => R::ClientIdentifierNotValid,
        ConnectCode::Unavailable => R::ServerUnavailable,
        ConnectCode::BadCredentials => R::BadUserNamePassword,
        ConnectCode::NotAuthorized => R::NotAuthorized,
        ConnectCode::BadAuthMethod => R::BadAuthenticationMethod,
    }
}

fn qos_from_v5(q: m5::QoS) -> QoS {
    match q {
        m5::QoS::AtMostOnce => QoS::AtMostOnce,
        m5::QoS::AtLeastOnce => QoS::AtLeastOnce,
        m5::QoS::ExactlyOnce => QoS::ExactlyOnce,
    }
}

fn qos_to_v5(q: QoS) -> m5::QoS {
    match q {
        QoS::AtMostOnce => m5::QoS::AtMostOnce,
        QoS::AtLeastOnce => m5::QoS::AtLeastOnce,
        QoS::ExactlyOnce => m5::QoS::ExactlyOnce,
    }
}
