//! `ntpctl decode`: every packet vector decodes (JSON snapshots), and the
//! command's inputs, outputs and exit status.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use ntp_cli::output::decode::{decode, render_text};
use ntp_wire::time::NtpDate;
use serde_json::Value;

/// The middle of era 0 (1968-01-20T03:14:08Z): every timestamp reads in era
/// 0, as the vectors' "era-0 interpretation" does.
const ERA0_PIVOT: &str = "1968-01-20T03:14:08Z";

fn era0_pivot() -> NtpDate {
    NtpDate::from_era_parts(0, 1 << 31, 0)
}

fn vectors() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for file in ["ntpd-rs-captured-packets.json", "scapy-ntp-vectors.json"] {
        let path = format!(
            "{}/../ntp-wire/tests/data/packets/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        for v in doc["vectors"].as_array().unwrap() {
            let name = v
                .get("title")
                .or_else(|| v.get("name"))
                .and_then(Value::as_str)
                .unwrap()
                .to_owned();
            let mut hex = v["hex"].as_str().unwrap().to_owned();
            // One Scapy vector is a whole Ethernet/IPv4/UDP frame.
            let frame_len = v["independent_decode"]["length"]
                .as_u64()
                .map(|l| l as usize + 42);
            if frame_len == Some(hex.len() / 2) {
                hex = hex[84..].to_owned();
            }
            out.push((name, hex));
        }
    }
    out
}

#[test]
fn every_vector_decodes_snapshot() {
    let mut json = Vec::new();
    let mut text = String::new();
    for (name, hex) in vectors() {
        let bytes = ntp_cli::decode::parse_hex(&hex).unwrap();
        let d = decode(&bytes, era0_pivot());
        let mut value = serde_json::to_value(&d).unwrap();
        value["vector"] = Value::String(name.clone());
        json.push(value);
        text.push_str(&format!("== {name}\n{}", render_text(&d)));
    }
    insta::assert_json_snapshot!("decoded_vectors_json", json);
    insta::assert_snapshot!("decoded_vectors_text", text);
}

fn ntpctl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ntpctl"))
}

#[test]
fn json_output_has_the_documented_keys() {
    let (_, hex) = vectors()
        .into_iter()
        .find(|(name, _)| name == "NTPHeader - KoD")
        .unwrap();
    let out = ntpctl()
        .args(["decode", "--json", "--era-pivot", ERA0_PIVOT, &hex])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "leap",
        "version",
        "mode",
        "stratum",
        "poll",
        "precision",
        "root_delay",
        "root_dispersion",
        "reference_id",
        "reference_time",
        "origin_time",
        "receive_time",
        "transmit_time",
        "kiss_code",
        "extension_fields",
        "mac",
    ] {
        assert!(v.get(key).is_some(), "missing key {key}");
    }
    assert_eq!(v["stratum"], 0);
    assert_eq!(v["kiss_code"]["code"], "INIT");
    assert_eq!(v["mac"]["key_id"], 1);
    assert!(v["transmit_time"]["utc"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn bad_packet_gives_its_error_and_nonzero_exit() {
    let good = "240206e900000236000003b7c035676ce5f661fd6f165f03e5f663a87619ef40e5f663a8798c6581e5f663a8798eae2b";
    let bad_version = format!("3c{}", &good[2..]);
    let out = ntpctl()
        .args(["decode", good, &bad_version, "0102"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("NTPv4, server, length 48"), "{stdout}");
    assert!(stdout.contains("unsupported NTP version 7"), "{stdout}");
    assert!(stdout.contains("packet too short: 2 octets"), "{stdout}");

    let out = ntpctl().args(["decode", "xyz1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not a hex octet"));

    // Usage error: no packet at all.
    let out = ntpctl().args(["decode"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn stdin_and_file_inputs() {
    let good = "240206e900000236000003b7c035676ce5f661fd6f165f03e5f663a87619ef40e5f663a8798c6581e5f663a8798eae2b";
    let mut child = ntpctl()
        .args(["decode", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("# a comment\n{good}\n\n{good}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2);

    let path = std::env::temp_dir().join(format!("ntpctl-decode-{}.bin", std::process::id()));
    std::fs::write(&path, ntp_cli::decode::parse_hex(good).unwrap()).unwrap();
    let out = ntpctl()
        .args(["decode", "--json", "--file"])
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["reference_id"]["text"], "192.53.103.108");
}
