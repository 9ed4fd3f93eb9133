//! Packet decodes for `ntpctl decode`: every field named, like `tcpdump
//! -vv` or Wireshark show it, as text or as JSON.
//!
//! The JSON document of one packet is an object with these keys (times in
//! seconds; timestamps as `{"ntp": "e5f663a8.798eae2b", "utc": "2022-...Z"}`
//! with `utc` null for a zero timestamp):
//!
//! `length`, `leap`, `leap_text`, `version`, `mode`, `mode_name`, `stratum`,
//! `poll`, `precision`, `root_delay`, `root_dispersion`, `reference_id`
//! (`{"hex", "kind", "text"}` where kind is `address`, `clock`, `kiss` or
//! `opaque`), `reference_time`, `origin_time`, `receive_time`,
//! `transmit_time`, `kiss_code` (null or `{"code", "meaning"}`),
//! `extension_fields` (a list of `{"type", "name", "length", "value"}`),
//! `mac` (null or `{"key_id", "digest"}`; a crypto-NAK has a null digest),
//! `control` (mode 6 messages only, with the control header instead of the
//! NTP header fields) and `error` (null, or why the packet does not parse).

use std::fmt::Write as _;

use ntp_wire::control::{ControlMessage, PeerStatus};
use ntp_wire::packet::{Mac, Mode, PacketView};
use ntp_wire::refid::RefIdMeaning;
use ntp_wire::time::{NtpDate, NtpTimestamp};
use serde::Serialize;

/// A timestamp as its NTP value and its UTC date.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimestampJson {
    /// `seconds.fraction` in hexadecimal, as the reference implementation prints it.
    pub ntp: String,
    /// RFC 3339 date with nanoseconds, era chosen by the pivot; null when zero.
    pub utc: Option<String>,
}

impl TimestampJson {
    fn new(ts: NtpTimestamp, pivot: NtpDate) -> Self {
        Self {
            ntp: ts.to_string(),
            utc: (!ts.is_zero()).then(|| ts.to_date(pivot).to_rfc3339()),
        }
    }
}

/// A reference ID and how it reads.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReferenceIdJson {
    /// The four octets in hexadecimal.
    pub hex: String,
    /// `address`, `clock`, `kiss` or `opaque`.
    pub kind: &'static str,
    /// The address, clock name or kiss code as text.
    pub text: String,
}

/// A kiss code and its meaning.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KissJson {
    /// The four-letter code.
    pub code: String,
    /// RFC 5905's description.
    pub meaning: &'static str,
}

/// One extension field.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExtensionFieldJson {
    /// The field type in hexadecimal (`0x0104`).
    #[serde(rename = "type")]
    pub field_type: String,
    /// The registered name, where known.
    pub name: Option<&'static str>,
    /// Length on the wire, octets.
    pub length: usize,
    /// The value (with padding) in hexadecimal.
    pub value: String,
}

/// The MAC trailer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MacJson {
    /// Key identifier.
    pub key_id: u32,
    /// The digest in hexadecimal; null for a crypto-NAK.
    pub digest: Option<String>,
}

/// A mode 6 control message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ControlJson {
    /// Response bit.
    pub response: bool,
    /// Error bit.
    pub error: bool,
    /// More bit.
    pub more: bool,
    /// Operation code number.
    pub opcode: u8,
    /// Operation name (`READSTAT`, ...).
    pub opcode_name: &'static str,
    /// Sequence number.
    pub sequence: u16,
    /// Status word.
    pub status: u16,
    /// Association ID.
    pub association_id: u16,
    /// Data offset.
    pub offset: u16,
    /// Data count.
    pub count: u16,
    /// Data as text when printable, otherwise hexadecimal.
    pub data: String,
    /// For READSTAT responses: association IDs and peer status words.
    pub peers: Vec<(u16, String)>,
}

/// Everything `ntpctl decode` shows of one packet.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DecodedPacket {
    /// Length in octets.
    pub length: usize,
    /// Leap indicator (0-3).
    pub leap: Option<u8>,
    /// What the leap indicator says.
    pub leap_text: Option<&'static str>,
    /// Version number.
    pub version: Option<u8>,
    /// Mode number (0-7).
    pub mode: Option<u8>,
    /// Mode name.
    pub mode_name: Option<&'static str>,
    /// Stratum.
    pub stratum: Option<u8>,
    /// Poll exponent.
    pub poll: Option<i8>,
    /// Precision exponent.
    pub precision: Option<i8>,
    /// Root delay, seconds.
    pub root_delay: Option<f64>,
    /// Root dispersion, seconds.
    pub root_dispersion: Option<f64>,
    /// Reference ID.
    pub reference_id: Option<ReferenceIdJson>,
    /// Reference timestamp.
    pub reference_time: Option<TimestampJson>,
    /// Origin timestamp.
    pub origin_time: Option<TimestampJson>,
    /// Receive timestamp.
    pub receive_time: Option<TimestampJson>,
    /// Transmit timestamp.
    pub transmit_time: Option<TimestampJson>,
    /// Kiss-o'-Death code, for stratum 0 packets.
    pub kiss_code: Option<KissJson>,
    /// Extension fields.
    pub extension_fields: Vec<ExtensionFieldJson>,
    /// MAC trailer.
    pub mac: Option<MacJson>,
    /// Mode 6 control message fields.
    pub control: Option<ControlJson>,
    /// Why the packet (or its trailer) does not parse.
    pub error: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn printable(bytes: &[u8]) -> String {
    let text_like = bytes
        .iter()
        .all(|&b| b.is_ascii_graphic() || b == b' ' || b == b'\r' || b == b'\n' || b == 0);
    if text_like {
        String::from_utf8_lossy(bytes)
            .trim_end_matches('\0')
            .to_owned()
    } else {
        hex(bytes)
    }
}

fn peer_status_text(status: PeerStatus) -> String {
    let mut flags = Vec::new();
    for (on, name) in [
        (status.configured, "conf"),
        (status.auth_enabled, "authenb"),
        (status.authentic, "auth"),
        (status.reachable, "reach"),
        (status.broadcast, "bcst"),
    ] {
        if on {
            flags.push(name);
        }
    }
    format!(
        "{} sel {} events {} last {}",
        flags.join(","),
        status.selection,
        status.event_counter,
        status.event_code
    )
}

/// Decodes one packet. `pivot` chooses the era of timestamps.
pub fn decode(bytes: &[u8], pivot: NtpDate) -> DecodedPacket {
    let mut out = DecodedPacket {
        length: bytes.len(),
        ..DecodedPacket::default()
    };
    if ControlMessage::mode_of(bytes) == Some(Mode::Control) {
        decode_control(bytes, &mut out);
        return out;
    }
    let view = match PacketView::new_checked(bytes) {
        Ok(view) => view,
        Err(err) => {
            out.error = Some(err.to_string());
            return out;
        }
    };
    let h = view.header();
    out.leap = Some(h.leap.to_bits());
    out.leap_text = Some(h.leap.description());
    out.version = Some(h.version);
    out.mode = Some(h.mode.to_bits());
    out.mode_name = Some(h.mode.name());
    out.stratum = Some(h.stratum);
    out.poll = Some(h.poll);
    out.precision = Some(h.precision);
    out.root_delay = Some(h.root_delay.to_seconds_f64());
    out.root_dispersion = Some(h.root_dispersion.to_seconds_f64());
    let (kind, text) = match h.reference_id.interpret(h.stratum) {
        RefIdMeaning::Kiss(code) => ("kiss", code.to_string()),
        RefIdMeaning::Clock(id) => ("clock", id.to_string()),
        RefIdMeaning::Address(addr) => ("address", addr.to_string()),
        RefIdMeaning::Opaque(id) => ("opaque", format!("{:08x}", id.to_u32())),
    };
    out.reference_id = Some(ReferenceIdJson {
        hex: format!("{:08x}", h.reference_id.to_u32()),
        kind,
        text,
    });
    out.reference_time = Some(TimestampJson::new(h.reference_time, pivot));
    out.origin_time = Some(TimestampJson::new(h.origin_time, pivot));
    out.receive_time = Some(TimestampJson::new(h.receive_time, pivot));
    out.transmit_time = Some(TimestampJson::new(h.transmit_time, pivot));
    out.kiss_code = h.kiss_code().map(|code| KissJson {
        code: code.to_string(),
        meaning: code.meaning(),
    });
    if h.mode == Mode::Private {
        // Mode 7 packets are implementation-specific; only the first
        // octet is common, so the rest is shown raw.
        out.error = Some(format!(
            "mode 7 (private) packet: {} octets not decoded",
            bytes.len()
        ));
        return out;
    }
    match view.trailer() {
        Ok(trailer) => {
            out.extension_fields = trailer
                .extension_fields
                .iter()
                .map(|f| ExtensionFieldJson {
                    field_type: format!("{:#06x}", f.field_type),
                    name: f.type_name(),
                    length: f.wire_len(),
                    value: hex(f.value),
                })
                .collect();
            out.mac = trailer.mac.map(|mac| match mac {
                Mac::CryptoNak { key_id } => MacJson {
                    key_id,
                    digest: None,
                },
                Mac::Digest { key_id, digest } => MacJson {
                    key_id,
                    digest: Some(hex(digest)),
                },
            });
        }
        Err(err) => {
            out.error = Some(format!(
                "{err} ({} octets after the header not decoded)",
                view.trailer_bytes().len()
            ));
        }
    }
    out
}

fn decode_control(bytes: &[u8], out: &mut DecodedPacket) {
    let first = bytes.first().copied().unwrap_or_default();
    out.leap = Some(first >> 6);
    out.version = Some((first >> 3) & 7);
    out.mode = Some(6);
    out.mode_name = Some(Mode::Control.name());
    match ControlMessage::parse(bytes) {
        Ok(m) => {
            out.leap_text = Some(m.leap.description());
            let opcode = bytes.get(1).map_or(0, |b| b & 0x1f);
            out.control = Some(ControlJson {
                response: m.response,
                error: m.error,
                more: m.more,
                opcode,
                opcode_name: m.opcode.name(),
                sequence: m.sequence,
                status: m.status,
                association_id: m.association_id,
                offset: m.offset,
                count: m.count,
                data: printable(m.data),
                peers: m
                    .peer_statuses()
                    .map(|(id, status)| (id, peer_status_text(status)))
                    .collect(),
            });
        }
        Err(err) => out.error = Some(err.to_string()),
    }
}

/// Renders a decode as text, one field a line, like `tcpdump -vv`.
pub fn render_text(d: &DecodedPacket) -> String {
    let mut s = String::new();
    let mode = d.mode_name.unwrap_or("?");
    match d.version {
        Some(v) => {
            let _ = writeln!(s, "NTPv{v}, {mode}, length {}", d.length);
        }
        None => {
            let _ = writeln!(s, "NTP?, length {}", d.length);
        }
    }
    if let Some(c) = &d.control {
        let _ = writeln!(
            s,
            "  {} {} (opcode {}), sequence {}, status {:#06x}, association {}, offset {}, count {}{}{}",
            if c.response { "response" } else { "request" },
            c.opcode_name,
            c.opcode,
            c.sequence,
            c.status,
            c.association_id,
            c.offset,
            c.count,
            if c.error { ", error" } else { "" },
            if c.more { ", more" } else { "" },
        );
        for (id, status) in &c.peers {
            let _ = writeln!(s, "  association {id}: {status}");
        }
        if !c.data.is_empty() {
            let _ = writeln!(s, "  data: {:?}", c.data);
        }
    }
    if let (Some(leap), Some(text)) = (d.leap, d.leap_text) {
        let _ = writeln!(s, "  Leap indicator:       {leap} ({text})");
    }
    if let Some(stratum) = d.stratum {
        let what = match stratum {
            0 => "unspecified or Kiss-o'-Death",
            1 => "primary reference",
            2..=15 => "secondary reference",
            16 => "unsynchronized",
            _ => "reserved",
        };
        let _ = writeln!(s, "  Stratum:              {stratum} ({what})");
    }
    if let Some(poll) = d.poll {
        let _ = writeln!(
            s,
            "  Poll:                 {poll} ({} s)",
            2f64.powi(poll.into())
        );
    }
    if let Some(precision) = d.precision {
        let _ = writeln!(
            s,
            "  Precision:            {precision} ({})",
            super::human_interval(2f64.powi(precision.into()))
        );
    }
    if let Some(v) = d.root_delay {
        let _ = writeln!(s, "  Root delay:           {v:.6} s");
    }
    if let Some(v) = d.root_dispersion {
        let _ = writeln!(s, "  Root dispersion:      {v:.6} s");
    }
    if let Some(r) = &d.reference_id {
        let _ = writeln!(
            s,
            "  Reference ID:         {} ({}, 0x{})",
            r.text, r.kind, r.hex
        );
    }
    if let Some(k) = &d.kiss_code {
        let _ = writeln!(s, "  Kiss code:            {}: {}", k.code, k.meaning);
    }
    for (name, ts) in [
        ("Reference timestamp:  ", &d.reference_time),
        ("Origin timestamp:     ", &d.origin_time),
        ("Receive timestamp:    ", &d.receive_time),
        ("Transmit timestamp:   ", &d.transmit_time),
    ] {
        if let Some(ts) = ts {
            let date = ts.utc.as_deref().unwrap_or("(not set)");
            let _ = writeln!(s, "  {name}{} {date}", ts.ntp);
        }
    }
    for f in &d.extension_fields {
        let _ = writeln!(
            s,
            "  Extension field:      type {} ({}), length {}",
            f.field_type,
            f.name.unwrap_or("unknown"),
            f.length
        );
    }
    if let Some(mac) = &d.mac {
        match &mac.digest {
            Some(digest) => {
                let _ = writeln!(
                    s,
                    "  MAC:                  key id {}, digest {digest}",
                    mac.key_id
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "  MAC:                  crypto-NAK (key id {})",
                    mac.key_id
                );
            }
        }
    }
    if let Some(err) = &d.error {
        let _ = writeln!(s, "  error: {err}");
    }
    s
}
