//! Every packet vector in tests/data/packets decodes to the expected fields,
//! and re-emits byte for byte where it is a plain NTP packet.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ntp_wire::WireError;
use ntp_wire::control::ControlMessage;
use ntp_wire::packet::{Mac, Mode, Packet, PacketView};
use serde_json::Value;

fn load(name: &str) -> Vec<Value> {
    let path = format!("{}/tests/data/packets/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["vectors"].as_array().unwrap().clone()
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn hex_u32(v: &Value) -> u32 {
    u32::from_str_radix(v.as_str().unwrap(), 16).unwrap()
}

fn hex_u64(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap(), 16).unwrap()
}

/// The title of a vector (the two files name it differently).
fn title(v: &Value) -> String {
    v.get("title")
        .or_else(|| v.get("name"))
        .and_then(Value::as_str)
        .unwrap()
        .to_owned()
}

/// The NTP bytes of a vector. One Scapy vector is a whole Ethernet frame
/// (14 octets Ethernet, 20 octets IPv4, 8 octets UDP before the NTP data).
fn ntp_bytes(v: &Value) -> Vec<u8> {
    let bytes = hex(v["hex"].as_str().unwrap());
    let expected_len = v["independent_decode"]["length"].as_u64();
    match expected_len {
        Some(len) if (len as usize) + 42 == bytes.len() => bytes[42..].to_vec(),
        _ => bytes,
    }
}

/// Checks a header against an `independent_decode` object; returns the
/// packet's trailer result.
fn check_independent_decode(name: &str, bytes: &[u8], d: &Value) {
    let view = PacketView::new_checked(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    let h = view.header();
    assert_eq!(bytes.len() as u64, d["length"].as_u64().unwrap(), "{name}");
    assert_eq!(
        u64::from(h.leap.to_bits()),
        d["LI"].as_u64().unwrap(),
        "{name}"
    );
    assert_eq!(u64::from(h.version), d["VN"].as_u64().unwrap(), "{name}");
    assert_eq!(
        u64::from(h.mode.to_bits()),
        d["mode"].as_u64().unwrap(),
        "{name}"
    );
    assert_eq!(
        u64::from(h.stratum),
        d["stratum"].as_u64().unwrap(),
        "{name}"
    );
    assert_eq!(i64::from(h.poll), d["poll"].as_i64().unwrap(), "{name}");
    // Scapy reports the precision octet unsigned in one vector (32).
    let precision = d["precision"].as_i64().unwrap();
    assert_eq!(h.precision as u8, precision as u8, "{name}");
    assert_eq!(
        h.root_delay.to_bits(),
        hex_u32(&d["root_delay_raw"]),
        "{name}"
    );
    assert!((h.root_delay.to_seconds_f64() - d["root_delay_s"].as_f64().unwrap()).abs() < 1e-6);
    assert_eq!(
        h.root_dispersion.to_bits(),
        hex_u32(&d["root_dispersion_raw"]),
        "{name}"
    );
    assert!(
        (h.root_dispersion.to_seconds_f64() - d["root_dispersion_s"].as_f64().unwrap()).abs()
            < 1e-6
    );
    assert_eq!(h.reference_id.to_u32(), hex_u32(&d["refid_hex"]), "{name}");
    if let Some(text) = d["refid_ascii"].as_str() {
        assert_eq!(h.reference_id.ascii(), Some(text), "{name}");
    }
    for (field, ts) in [
        ("reference_ts_hex", h.reference_time),
        ("origin_ts_hex", h.origin_time),
        ("receive_ts_hex", h.receive_time),
        ("transmit_ts_hex", h.transmit_time),
    ] {
        assert_eq!(ts.to_bits(), hex_u64(&d[field]), "{name}: {field}");
    }
    let after = d["bytes_after_header"].as_u64().unwrap() as usize;
    assert_eq!(view.trailer_bytes().len(), after, "{name}");

    let trailing = d["trailing_after_efs"].as_u64().unwrap_or(0) as usize;
    match view.trailer() {
        Ok(trailer) => {
            assert_eq!(trailing, 0, "{name}: expected undecodable trailing octets");
            let fields: Vec<_> = trailer.extension_fields.iter().collect();
            let expected = d["extension_fields"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert_eq!(fields.len(), expected.len(), "{name}");
            for (field, want) in fields.iter().zip(&expected) {
                let want_type = u16::from_str_radix(
                    want["type"].as_str().unwrap().trim_start_matches("0x"),
                    16,
                )
                .unwrap();
                assert_eq!(field.field_type, want_type, "{name}");
                assert_eq!(field.wire_len() as u64, want["length"].as_u64().unwrap());
            }
            match (trailer.mac, d.get("mac_keyid")) {
                (None, None) => {}
                (Some(Mac::Digest { key_id, digest }), Some(want)) => {
                    assert_eq!(u64::from(key_id), want.as_u64().unwrap(), "{name}");
                    assert_eq!(digest, hex(d["mac_digest_hex"].as_str().unwrap()), "{name}");
                }
                (got, want) => panic!("{name}: MAC {got:?}, expected key id {want:?}"),
            }
        }
        Err(err) => {
            // The one Scapy vector that carries 36 zero octets after the
            // header: not extension fields (length 0) and not a MAC.
            assert!(trailing > 0, "{name}: {err}");
            assert!(
                matches!(
                    err,
                    WireError::BadExtensionLength {
                        offset: 48,
                        length: 0,
                        ..
                    }
                ),
                "{name}: {err}"
            );
            assert!(d["extension_fields"].as_array().unwrap().is_empty());
        }
    }
}

#[test]
fn ntpd_rs_captured_packets() {
    let mut checked = 0;
    for v in load("ntpd-rs-captured-packets.json") {
        let name = title(&v);
        let bytes = hex(v["hex"].as_str().unwrap());
        if name.starts_with("test_version: must be REJECTED") {
            let version = (bytes[0] >> 3) & 7;
            let result = PacketView::new_checked(&bytes);
            // ntpd-rs accepts only versions 3 to 5; the issue asks for 1 to
            // 4. Both reject 0, 6 and 7; we accept 1 and 2, and reject 5.
            if (1..=4).contains(&version) {
                assert!(result.is_ok(), "{name}: version {version} parses here");
            } else {
                assert_eq!(result.err(), Some(WireError::BadVersion(version)), "{name}");
            }
            checked += 1;
            continue;
        }
        let d = &v["independent_decode"];
        check_independent_decode(&name, &bytes, d);
        // Byte-exact round trip.
        let packet = Packet::parse(&bytes).unwrap();
        let mut out = vec![0u8; bytes.len()];
        assert_eq!(packet.emit(&mut out), Ok(bytes.len()), "{name}");
        assert_eq!(out, bytes, "{name}");
        checked += 1;
    }
    assert_eq!(checked, 11);
}

#[test]
fn packed_flags_round_trip_for_every_first_octet() {
    let v = load("ntpd-rs-captured-packets.json")
        .into_iter()
        .find(|v| title(v) == "test_packed_flags")
        .unwrap();
    let mut bytes = hex(v["hex"].as_str().unwrap());
    let mut parsed = 0;
    for first in 0..=255u8 {
        bytes[0] = first;
        if let Ok(packet) = Packet::parse(&bytes) {
            let mut out = [0u8; 48];
            packet.emit(&mut out).unwrap();
            assert_eq!(out[..], bytes[..], "first octet {first:#04x}");
            parsed += 1;
        }
    }
    // Versions 1 to 4, every leap indicator and mode.
    assert_eq!(parsed, 4 * 4 * 8);
}

/// Reads Scapy's simple `assert p.FIELD == VALUE` lines for a control message.
fn check_scapy_control_asserts(name: &str, m: &ControlMessage<'_>, asserts: &[Value]) -> usize {
    let mut checked = 0;
    for line in asserts.iter().filter_map(Value::as_str) {
        let Some(rest) = line.strip_prefix("assert p.") else {
            continue;
        };
        let Some((field, value)) = rest.split_once(" == ") else {
            continue;
        };
        let got: Option<String> = match field {
            "version" => Some(m.version.to_string()),
            "mode" => Some("6".to_owned()),
            "response" => Some(u8::from(m.response).to_string()),
            "err" => Some(u8::from(m.error).to_string()),
            "more" => Some(u8::from(m.more).to_string()),
            "op_code" => Some(u8_of_opcode(m).to_string()),
            "sequence" => Some(m.sequence.to_string()),
            "status" => Some(m.status.to_string()),
            "association_id" => Some(m.association_id.to_string()),
            "offset" => Some(m.offset.to_string()),
            "count" => Some(m.count.to_string()),
            "data" => {
                let want = value
                    .trim_start_matches('b')
                    .trim_matches(|c| c == '\'' || c == '"');
                let want = want.replace("\\r", "\r").replace("\\n", "\n");
                assert_eq!(String::from_utf8_lossy(m.data), want, "{name}: data");
                checked += 1;
                None
            }
            "status.clock_source" => m.system_status().map(|s| s.clock_source.to_string()),
            "status.system_event_counter" => m.system_status().map(|s| s.event_counter.to_string()),
            "status.system_event_code" => m.system_status().map(|s| s.event_code.to_string()),
            "status.leap_indicator" => m.system_status().map(|s| s.leap.to_bits().to_string()),
            _ => None,
        };
        if let Some(got) = got {
            assert_eq!(got, value, "{name}: {field}");
            checked += 1;
        }
        if let Some(rest) = field.strip_prefix("data[") {
            let peers: Vec<_> = m.peer_statuses().collect();
            let (index, sub) = rest.split_once("].").unwrap();
            let (id, status) = peers[index.parse::<usize>().unwrap()];
            let got = match sub {
                "association_id" => id.to_string(),
                "peer_status.configured" => u8::from(status.configured).to_string(),
                "peer_status.auth_enabled" => u8::from(status.auth_enabled).to_string(),
                "peer_status.authentic" => u8::from(status.authentic).to_string(),
                "peer_status.reachability" => u8::from(status.reachable).to_string(),
                "peer_status.reserved" => u8::from(status.broadcast).to_string(),
                "peer_status.peer_sel" => status.selection.to_string(),
                "peer_status.peer_event_counter" => status.event_counter.to_string(),
                "peer_status.peer_event_code" => status.event_code.to_string(),
                other => panic!("{name}: unhandled assert field {other}"),
            };
            assert_eq!(got, value, "{name}: {field}");
            checked += 1;
        }
    }
    checked
}

fn u8_of_opcode(m: &ControlMessage<'_>) -> u8 {
    use ntp_wire::control::Opcode::*;
    match m.opcode {
        ReadStatus => 1,
        ReadVariables => 2,
        WriteVariables => 3,
        ReadClock => 4,
        WriteClock => 5,
        SetTrap => 6,
        AsyncMessage => 7,
        Configure => 8,
        SaveConfig => 9,
        ReadMru => 10,
        ReadOrderedList => 11,
        RequestNonce => 12,
        UnsetTrap => 31,
        Other(v) => v,
    }
}

#[test]
fn scapy_vectors() {
    let mut headers = 0;
    let mut controls = 0;
    let mut control_asserts = 0;
    for v in load("scapy-ntp-vectors.json") {
        let name = title(&v);
        if let Some(d) = v.get("independent_decode") {
            let bytes = ntp_bytes(&v);
            check_independent_decode(&name, &bytes, d);
            if let Ok(packet) = Packet::parse(&bytes) {
                let mut out = vec![0u8; bytes.len()];
                assert_eq!(packet.emit(&mut out), Ok(bytes.len()));
                assert_eq!(out, bytes, "{name}");
            }
            headers += 1;
        } else {
            let bytes = hex(v["hex"].as_str().unwrap());
            assert_eq!(
                ControlMessage::mode_of(&bytes),
                Some(Mode::Control),
                "{name}"
            );
            let m = ControlMessage::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            control_asserts +=
                check_scapy_control_asserts(&name, &m, v["scapy_asserts"].as_array().unwrap());
            controls += 1;
        }
    }
    assert_eq!((headers, controls), (5, 18));
    assert!(
        control_asserts > 100,
        "only {control_asserts} asserts checked"
    );
}

#[test]
fn decoded_packets_snapshot() {
    let mut all = String::new();
    for file in ["ntpd-rs-captured-packets.json", "scapy-ntp-vectors.json"] {
        for v in load(file) {
            if v.get("independent_decode").is_none() {
                continue;
            }
            let bytes = ntp_bytes(&v);
            let decoded = match Packet::parse(&bytes) {
                Ok(p) => format!("{p:#?}"),
                Err(e) => format!(
                    "error: {e}\nheader: {:#?}",
                    Packet::from_header(PacketView::new_checked(&bytes).unwrap().header())
                ),
            };
            all.push_str(&format!("== {}\n{decoded}\n", title(&v)));
        }
    }
    insta::assert_snapshot!(all);
}
