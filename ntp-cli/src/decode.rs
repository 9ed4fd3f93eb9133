//! `ntpctl decode`: read packets as hex (arguments or standard input) or
//! raw bytes (a file) and print their decode.

use std::io::{BufRead, Read};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use ntp_wire::time::NtpDate;

use crate::output::decode::{DecodedPacket, decode, render_text};

/// Where the packets come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Hex strings given on the command line.
    Hex(Vec<String>),
    /// Hex lines read from standard input (`-`), one packet a line.
    Stdin,
    /// A file of raw bytes: one packet.
    File(PathBuf),
}

/// Parses a hex string; spaces, colons and a leading `0x` are ignored.
pub fn parse_hex(text: &str) -> Result<Vec<u8>> {
    let text = text.trim();
    let text = text.strip_prefix("0x").unwrap_or(text);
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b':')
        .collect();
    if !digits.len().is_multiple_of(2) {
        bail!("odd number of hex digits ({})", digits.len());
    }
    digits
        .chunks_exact(2)
        .enumerate()
        .map(|(i, pair)| {
            let pair = std::str::from_utf8(pair).unwrap_or("??");
            u8::from_str_radix(pair, 16)
                .with_context(|| format!("not a hex octet at octet {i}: {pair:?}"))
        })
        .collect()
}

/// Reads the packets of an input.
pub fn read_packets(input: &Input) -> Result<Vec<Result<Vec<u8>>>> {
    Ok(match input {
        Input::Hex(args) => args.iter().map(|a| parse_hex(a)).collect(),
        Input::Stdin => {
            let mut packets = Vec::new();
            for line in std::io::stdin().lock().lines() {
                let line = line.context("reading standard input")?;
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                packets.push(parse_hex(line));
            }
            packets
        }
        Input::File(path) => {
            let mut bytes = Vec::new();
            std::fs::File::open(path)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .with_context(|| format!("reading {}", path.display()))?;
            vec![Ok(bytes)]
        }
    })
}

/// Decodes every packet and prints it; returns whether all decoded cleanly.
pub fn run(input: &Input, json: bool, pivot: NtpDate) -> Result<bool> {
    let mut all_ok = true;
    for (index, packet) in read_packets(input)?.into_iter().enumerate() {
        let decoded = match packet {
            Ok(bytes) => decode(&bytes, pivot),
            Err(err) => DecodedPacket {
                error: Some(format!("packet {}: {err:#}", index + 1)),
                ..DecodedPacket::default()
            },
        };
        all_ok &= decoded.error.is_none();
        if json {
            println!("{}", serde_json::to_string(&decoded)?);
        } else {
            print!("{}", render_text(&decoded));
        }
    }
    Ok(all_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_forms() {
        assert_eq!(parse_hex("0x0a0B").unwrap(), vec![10, 11]);
        assert_eq!(parse_hex("0a 0b:0c").unwrap(), vec![10, 11, 12]);
        assert!(parse_hex("abc").is_err());
        assert!(parse_hex("zz").is_err());
    }
}
