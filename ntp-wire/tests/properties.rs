//! Property tests: emit then parse returns the same value for any valid
//! packet; parsing never panics on any byte string up to 1500 octets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ntp_wire::control::ControlMessage;
use ntp_wire::packet::{ExtensionField, Header, LeapIndicator, Mac, Mode, Packet, PacketView};
use ntp_wire::refid::ReferenceId;
use ntp_wire::time::{NtpDate, NtpDuration, NtpShort, NtpTimestamp};
use proptest::prelude::*;

fn header() -> impl Strategy<Value = Header> {
    (
        (
            0u8..4,
            1u8..=4,
            0u8..8,
            any::<u8>(),
            any::<i8>(),
            any::<i8>(),
        ),
        (any::<u32>(), any::<u32>(), any::<[u8; 4]>()),
        (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()),
    )
        .prop_map(
            |((li, vn, mode, stratum, poll, precision), (rd, rdisp, id), (a, b, c, d))| Header {
                leap: LeapIndicator::from_bits(li),
                version: vn,
                mode: Mode::from_bits(mode),
                stratum,
                poll,
                precision,
                root_delay: NtpShort::from_bits(rd),
                root_dispersion: NtpShort::from_bits(rdisp),
                reference_id: ReferenceId::from_bytes(id),
                reference_time: NtpTimestamp::from_bits(a),
                origin_time: NtpTimestamp::from_bits(b),
                receive_time: NtpTimestamp::from_bits(c),
                transmit_time: NtpTimestamp::from_bits(d),
            },
        )
}

/// Extension field values: 12 to 200 octets in steps of 4 (fields of 16 to
/// 204 octets), with a last field of at least 28 octets when a MAC follows.
fn fields() -> impl Strategy<Value = Vec<(u16, Vec<u8>)>> {
    prop::collection::vec(
        (
            any::<u16>(),
            (3usize..50).prop_flat_map(|words| prop::collection::vec(any::<u8>(), words * 4)),
        ),
        0..4,
    )
}

fn mac() -> impl Strategy<Value = Option<(u32, Vec<u8>)>> {
    prop_oneof![
        Just(None),
        any::<u32>().prop_map(|k| Some((k, Vec::new()))),
        (any::<u32>(), prop::collection::vec(any::<u8>(), 16)).prop_map(Some),
        (any::<u32>(), prop::collection::vec(any::<u8>(), 20)).prop_map(Some),
    ]
}

proptest! {
    #[test]
    fn header_round_trip(h in header()) {
        let mut buf = [0u8; 48];
        h.emit(&mut buf).unwrap();
        prop_assert_eq!(Header::parse(&buf).unwrap(), h);
    }

    #[test]
    fn packet_round_trip(mut h in header(), fields in fields(), mac in mac()) {
        h.version = 4;
        // RFC 7822: the last field before a MAC is at least 28 octets. Without
        // a MAC a last field of 20 or 24 octets would read as a MAC, so the
        // generator keeps every last field at 28 octets or more.
        let mut fields = fields;
        if let Some((_, value)) = fields.last_mut().filter(|(_, v)| v.len() < 24) {
            value.resize(24, 0);
        }
        let mut buf = vec![0u8; 1500];
        let mut at = h.emit(&mut buf).unwrap();
        for (field_type, value) in &fields {
            at += ExtensionField { field_type: *field_type, value }.emit(&mut buf[at..]).unwrap();
        }
        if let Some((key_id, digest)) = &mac {
            let m = if digest.is_empty() {
                Mac::CryptoNak { key_id: *key_id }
            } else {
                Mac::Digest { key_id: *key_id, digest }
            };
            at += m.emit(&mut buf[at..]).unwrap();
        }
        let bytes = &buf[..at];
        let packet = Packet::parse(bytes).unwrap();
        prop_assert_eq!(packet.header, h);
        let parsed: Vec<_> = packet.extension_fields.iter().map(|f| (f.field_type, f.value.to_vec())).collect();
        prop_assert_eq!(parsed, fields);
        prop_assert_eq!(packet.mac.map(|m| m.key_id()), mac.as_ref().map(|m| m.0));
        let mut out = vec![0u8; bytes.len()];
        prop_assert_eq!(packet.emit(&mut out), Ok(bytes.len()));
        prop_assert_eq!(&out[..], bytes);
    }

    #[test]
    fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..1500)) {
        if let Ok(view) = PacketView::new_checked(&bytes) {
            let _ = view.header();
            if let Ok(trailer) = view.trailer() {
                for field in trailer.extension_fields {
                    prop_assert!(field.wire_len() >= 16);
                }
            }
        }
        if let Ok(packet) = Packet::parse(&bytes) {
            let mut out = vec![0u8; bytes.len()];
            prop_assert_eq!(packet.emit(&mut out), Ok(bytes.len()));
            prop_assert_eq!(out, bytes.clone());
        }
        let _ = ControlMessage::parse(&bytes).map(|m| m.peer_statuses().count());
    }

    #[test]
    fn timestamp_difference_is_exact(a in any::<u64>(), d in any::<i64>()) {
        let t = NtpTimestamp::from_bits(a);
        let dur = NtpDuration::from_bits(d);
        prop_assert_eq!((t + dur) - t, dur);
    }

    #[test]
    fn era_choice_is_within_68_years_of_pivot(ts in any::<u64>(), era in -3i32..3, offset in any::<u32>()) {
        let pivot = NtpDate::from_era_parts(era, offset, 0);
        let date = NtpTimestamp::from_bits(ts).to_date(pivot);
        prop_assert_eq!(date.to_timestamp().to_bits(), ts);
        let distance = (date - pivot).to_bits() >> 32;
        prop_assert!((-(1i64 << 31)..(1i64 << 31)).contains(&distance));
    }

    #[test]
    fn unix_round_trip(secs in -(1i64 << 40)..(1i64 << 40), nanos in 0u32..1_000_000_000) {
        let date = NtpDate::from_unix(secs, nanos);
        prop_assert_eq!(date.to_unix(), (secs, nanos));
    }
}

#[cfg(feature = "chrono")]
proptest! {
    #[test]
    fn rfc3339_text_is_chronos(seconds in -(1i64 << 42)..(1i64 << 42), fraction in any::<u32>()) {
        // 2^42 s is about 139,000 years, inside chrono's range either side.
        let date = NtpDate::from_ntp_seconds(seconds, fraction);
        let chrono_text = date
            .to_datetime()
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true));
        prop_assert_eq!(Some(date.to_rfc3339()), chrono_text);
    }
}
