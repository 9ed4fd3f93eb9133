//! Symmetric-key authentication: MAC vectors from the reference
//! implementation, NTPsec and RFC 4493, the reference implementation's
//! key-file test cases, and property tests.
//!
//! The data under `tests/data/mac/` is copied from the project's shared test
//! data; see the origin notes there.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use ntp_wire::keys::{KeyFileError, KeyFileWarning, KeyStore, TrustedKeys};
use ntp_wire::mac::{Key, MacAlgorithm, SignError, VerifyError, trailer_key_id};
use proptest::prelude::*;
use serde_json::Value;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mac")
}

fn read(name: &str) -> String {
    let path = data_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

// ---------------------------------------------------------------------------
// MAC vectors

/// Vectors this test runs, with the algorithm each one uses.
const COVERED: &[(&str, MacAlgorithm)] = &[
    ("ntpsec-macencrypt-md5", MacAlgorithm::Md5),
    (
        "ntpsec-macencrypt-null_trunc-cmac-ntp-packet",
        MacAlgorithm::Aes128Cmac,
    ),
    ("rfc4493-example-16", MacAlgorithm::Aes128Cmac),
    ("rfc4493-example-64", MacAlgorithm::Aes128Cmac),
    ("ntp428-sntp-crypto-make-sha1", MacAlgorithm::Sha1),
    ("ntp428-sntp-crypto-make-cmac", MacAlgorithm::Aes128Cmac),
];

/// Vectors of the reference implementation's `tests/libntp/digests.c` whose
/// key comes from `ntp-4.2.8p18-tests-ntp.keys` and whose message is the
/// 40964-octet file `mills,david-03.jpg`. The message file is not part of the
/// shared data, so the MAC cannot be recomputed; the test checks instead that
/// the key loads with the algorithm named here (or is skipped as unsupported
/// when `None`), and that the expected MAC has that algorithm's length.
const KEYFILE_ONLY: &[(&str, Option<MacAlgorithm>)] = &[
    (
        "ntp428-digests-AES128CMAC-A",
        Some(MacAlgorithm::Aes128Cmac),
    ),
    ("ntp428-digests-MD5-A", Some(MacAlgorithm::Md5)),
    ("ntp428-digests-SHA1-A", Some(MacAlgorithm::Sha1)),
    // OpenSSL computes its 'DSA' and 'DSA-SHA' digests as SHA-1.
    ("ntp428-digests-DSA-A", Some(MacAlgorithm::Sha1)),
    ("ntp428-digests-DSA_SHA-A", Some(MacAlgorithm::Sha1)),
    ("ntp428-digests-MD4-A", None),
    ("ntp428-digests-MDC2-A", None),
    ("ntp428-digests-RIPEMD160-A", None),
    ("ntp428-digests-SHAKE128-A", None),
    ("ntp428-digests-SHA-A", None),
];

/// Vectors that are not symmetric-key MACs at all.
const NOT_MAC: &[&str] = &[
    // The IPv6 reference-ID hash belongs to the refid module.
    "refid-ipv6-md5",
];

fn vectors() -> Vec<Value> {
    let doc: Value = serde_json::from_str(&read("ntp-mac-vectors.json")).unwrap();
    doc["vectors"].as_array().unwrap().clone()
}

fn field_bytes(v: &Value, hex: &str, ascii: &str) -> Vec<u8> {
    if let Some(h) = v[hex].as_str() {
        unhex(h)
    } else {
        v[ascii]
            .as_str()
            .unwrap_or_else(|| panic!("{}: neither {hex} nor {ascii}", v["id"]))
            .as_bytes()
            .to_vec()
    }
}

#[test]
fn every_vector_is_accounted_for() {
    let mut covered = 0;
    let mut keyfile_only = 0;
    let mut not_mac = 0;
    for v in vectors() {
        let id = v["id"].as_str().unwrap();
        if COVERED.iter().any(|(c, _)| *c == id) {
            covered += 1;
        } else if KEYFILE_ONLY.iter().any(|(c, _)| *c == id) {
            keyfile_only += 1;
        } else if NOT_MAC.contains(&id) {
            not_mac += 1;
        } else {
            panic!("vector {id} is neither run nor explicitly skipped");
        }
    }
    assert_eq!(covered, COVERED.len());
    assert_eq!(keyfile_only, KEYFILE_ONLY.len());
    assert_eq!(not_mac, NOT_MAC.len());
    eprintln!(
        "MAC vectors: {covered} computed and verified, {keyfile_only} checked through the keys file only, {not_mac} not MACs"
    );
}

#[test]
fn mac_vectors_verify_and_detect_every_flipped_octet() {
    let all = vectors();
    for &(name, algorithm) in COVERED {
        let v = all
            .iter()
            .find(|v| v["id"] == name)
            .unwrap_or_else(|| panic!("vector {name} missing"));
        let secret = field_bytes(v, "key_hex", "key_ascii");
        let data = field_bytes(v, "data_hex", "data_ascii");
        let expected = unhex(v["expected_mac_hex"].as_str().unwrap());
        let key_id = v["keyid_field_hex"].as_str().map_or(0x0102_0304, |h| {
            u32::from_be_bytes(unhex(h).try_into().unwrap())
        });
        let key = Key::new(key_id, algorithm, &secret);
        assert_eq!(expected.len(), algorithm.digest_len(), "{name}");

        // The digest itself.
        let mut out = [0u8; 32];
        let n = key.compute_mac(&data, &mut out);
        assert_eq!(&out[..n], &expected[..], "{name}: digest");
        assert!(key.verify(&data, &expected), "{name}: verify");

        // The whole packet: data, key id, digest.
        let mut packet = data.clone();
        packet.extend_from_slice(&key_id.to_be_bytes());
        packet.extend_from_slice(&expected);
        if let Some(p) = v["expected_packet_hex"].as_str() {
            assert_eq!(packet, unhex(p), "{name}: expected packet");
        }
        let mut buf = vec![0xAA; data.len() + 24];
        buf[..data.len()].copy_from_slice(&data);
        let len = key.sign_into(&mut buf, data.len()).unwrap();
        assert_eq!(&buf[..len], &packet[..], "{name}: sign_into");
        assert!(buf[len..].iter().all(|&b| b == 0xAA), "{name}: wrote past");
        let (d, t) = packet.split_at(data.len());
        assert_eq!(key.verify_trailer(d, t), Ok(()), "{name}: trailer");
        let mut store = KeyStore::new();
        store.insert(key.clone());
        assert_eq!(store.verify_trailer(d, t).map(Key::id), Ok(key_id));

        // Every single flipped octet, in the data, key id or digest, fails.
        for i in 0..packet.len() {
            for flip in [0x01, 0x80, 0xFF] {
                let mut bad = packet.clone();
                bad[i] ^= flip;
                let (d, t) = bad.split_at(data.len());
                assert!(
                    key.verify_trailer(d, t).is_err(),
                    "{name}: flip {flip:#x} at octet {i} accepted"
                );
                if i < data.len() {
                    assert!(!key.verify(d, &expected), "{name}: data octet {i}");
                } else if i >= data.len() + 4 {
                    assert!(!key.verify(&data, &t[4..]), "{name}: mac octet {i}");
                    assert_eq!(key.verify_trailer(d, t), Err(VerifyError::BadMac));
                } else {
                    assert!(matches!(
                        key.verify_trailer(d, t),
                        Err(VerifyError::KeyIdMismatch { .. })
                    ));
                }
            }
        }
        // A truncated or extended MAC fails.
        assert!(!key.verify(&data, &expected[..expected.len() - 1]));
        let mut longer = expected.clone();
        longer.push(0);
        assert!(!key.verify(&data, &longer));
    }
}

/// The ntpsec vector's stated negative case.
#[test]
fn md5_vector_negative_case() {
    let key = Key::new(0, MacAlgorithm::Md5, b"abcdefgh");
    let mut mac = unhex("0c0e84cf0bb7a8688e5238dbbc1c3953");
    assert!(key.verify(b"ijklmnopqrstuvwx", &mac));
    mac[15] = 0x54;
    assert!(!key.verify(b"ijklmnopqrstuvwx", &mac));
}

#[test]
fn keyfile_vectors_load_the_right_keys() {
    let report = KeyStore::parse_report(&read("ntp-4.2.8p18-tests-ntp.keys"));
    let all = vectors();
    for &(name, algorithm) in KEYFILE_ONLY {
        let v = all.iter().find(|v| v["id"] == name).unwrap();
        let id = u32::try_from(v["keyid"].as_u64().unwrap()).unwrap();
        let field = unhex(v["expected_keyid_field_hex"].as_str().unwrap());
        assert_eq!(trailer_key_id(&field), Some(id), "{name}");
        let mac_len = v["expected_mac_hex"].as_str().unwrap().len() / 2;
        match algorithm {
            Some(a) => {
                let key = report.keys.get(id).unwrap_or_else(|| panic!("{name}"));
                assert_eq!(key.algorithm(), a, "{name}");
                assert_eq!(key.secret_len(), 20, "{name}");
                assert_eq!(mac_len, a.digest_len(), "{name}");
            }
            None => {
                assert!(report.keys.get(id).is_none(), "{name}");
                assert!(
                    report.warnings.iter().any(|w| matches!(
                        w, KeyFileWarning::UnsupportedType { id: i, .. } if *i == id
                    )),
                    "{name}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Keys files

fn sntp_case(name: &str) -> String {
    read(&format!("sntp-keyfile-tests/{name}"))
}

/// Checks a key's secret by its MD5 digest (the secret itself is not
/// readable through the API).
fn assert_md5_secret(store: &KeyStore, id: u32, secret: &[u8]) {
    let key = store.get(id).unwrap_or_else(|| panic!("key {id} missing"));
    assert_eq!(key.algorithm(), MacAlgorithm::Md5, "key {id}");
    assert_eq!(key.secret_len(), secret.len(), "key {id} length");
    let reference = Key::new(id, MacAlgorithm::Md5, secret);
    for data in [&b""[..], b"probe", &[0u8; 48]] {
        assert_eq!(key.digest(data), reference.digest(data), "key {id} secret");
    }
}

#[test]
fn sntp_key_test_ascii() {
    let keys = KeyStore::parse(&sntp_case("key-test-ascii")).unwrap();
    assert_eq!(keys.len(), 2);
    assert_md5_secret(&keys, 50, b"asciikeyOne");
    assert_md5_secret(&keys, 40, b"asciikeyTwo");
}

#[test]
fn sntp_key_test_hex() {
    let keys = KeyStore::parse(&sntp_case("key-test-hex")).unwrap();
    assert_eq!(keys.len(), 3);
    assert_md5_secret(&keys, 10, &unhex("0123456789abcdef0123456789"));
    assert_md5_secret(&keys, 20, &unhex("111111111111111111111111111111"));
    assert_md5_secret(&keys, 30, &unhex("01010101010101010101010101"));
}

#[test]
fn sntp_key_test_comments() {
    let keys = KeyStore::parse(&sntp_case("key-test-comments")).unwrap();
    assert_eq!(keys.len(), 2);
    assert_md5_secret(&keys, 34, b"xyz");
    assert_md5_secret(&keys, 10, &unhex("010101010101010101010101010101"));
}

#[test]
fn sntp_key_test_invalid_hex() {
    let text = sntp_case("key-test-invalid-hex");
    // sntp keeps the good line.
    let report = KeyStore::parse_report(&text);
    assert_eq!(report.keys.len(), 1);
    assert!(report.keys.get(30).is_none());
    assert_md5_secret(&report.keys, 10, &unhex("010101010101010101010101010101"));
    assert_eq!(
        report.errors,
        vec![KeyFileError::InvalidHex {
            line: 1,
            id: 30,
            position: 29
        }]
    );
    // ntpd rejects the whole file.
    let err = KeyStore::parse(&text).unwrap_err();
    assert_eq!(err.line(), 1);
    assert!(err.to_string().contains("line 1"), "{err}");
}

#[test]
fn sntp_key_test_empty() {
    let keys = KeyStore::parse(&sntp_case("key-test-empty")).unwrap();
    assert!(keys.is_empty());
}

#[test]
fn reference_keys_file() {
    let text = read("ntp-4.2.8p18-tests-ntp.keys");
    let report = KeyStore::parse_report(&text);
    assert_eq!(report.errors, vec![]);
    let keys = KeyStore::parse(&text).unwrap();
    let loaded: Vec<_> = keys.iter().map(|k| (k.id(), k.algorithm())).collect();
    use MacAlgorithm::*;
    assert_eq!(
        loaded,
        vec![
            (1, Aes128Cmac),
            (3, Md5),
            (6, Sha1),
            (8, Sha1),
            (9, Sha1),
            (51, Aes128Cmac),
            (53, Md5),
            (56, Sha1),
            (58, Sha1),
            (59, Sha1),
        ]
    );
    let mut skipped: Vec<_> = report
        .warnings
        .iter()
        .map(|w| match w {
            KeyFileWarning::UnsupportedType { id, name, .. } => (*id, name.as_str()),
            other => panic!("unexpected warning {other}"),
        })
        .collect();
    skipped.sort();
    assert_eq!(
        skipped,
        vec![
            (2, "MD4"),
            (4, "MDC2"),
            (5, "RIPEMD160"),
            (7, "SHAKE128"),
            (10, "SHA"),
            (52, "MD4"),
            (54, "MDC2"),
            (55, "RIPEMD160"),
            (57, "SHAKE128"),
            (60, "SHA"),
        ]
    );
    // Hex keys are 40 digits, 20 octets.
    assert!(keys.iter().all(|k| k.secret_len() == 20));
    // ASCII key 3 and hex key 53.
    assert_md5_secret(&keys, 3, b">b^IZa4>K6:Au=KS>S-6");
    assert_md5_secret(
        &keys,
        53,
        &unhex("b4c25b70f1fda16a7fef7552c9371e0cedee2e3c"),
    );
}

#[test]
fn keys_file_rules() {
    // Type names are case-insensitive; aliases of the reference.
    let keys = KeyStore::parse(
        "1 md5 a\n2 m b\n3 sha1 c\n4 Aes128Cmac d\n5 cmac e\n6 dsa-sha f\n\t 7\tMD5\tg\t\n",
    )
    .unwrap();
    let algs: Vec<_> = keys.iter().map(|k| k.algorithm()).collect();
    use MacAlgorithm::*;
    assert_eq!(
        algs,
        vec![Md5, Md5, Sha1, Aes128Cmac, Aes128Cmac, Sha1, Md5]
    );

    // 20 characters are ASCII, 21 are hex (odd length: last digit is a high
    // nibble).
    let keys =
        KeyStore::parse("1 MD5 abcdefabcdefabcdefab\n2 MD5 abcdefabcdefabcdefabc\n").unwrap();
    assert_md5_secret(&keys, 1, b"abcdefabcdefabcdefab");
    assert_md5_secret(&keys, 2, &unhex("abcdefabcdefabcdefabc0"));
    // Upper-case hex.
    let keys = KeyStore::parse("1 MD5 ABCDEFABCDEFABCDEFABCD").unwrap();
    assert_md5_secret(&keys, 1, &unhex("abcdefabcdefabcdefabcd"));
    // 128 hex digits (64 octets) is the limit.
    let ok = format!("1 SHA1 {}", "ab".repeat(64));
    assert_eq!(
        KeyStore::parse(&ok).unwrap().get(1).unwrap().secret_len(),
        64
    );
    let long = format!("1 SHA1 {}a", "ab".repeat(64));
    assert_eq!(
        KeyStore::parse(&long).unwrap_err(),
        KeyFileError::SecretTooLong {
            line: 1,
            id: 1,
            octets: 65
        }
    );

    // Errors name their line.
    let cases: &[(&str, KeyFileError)] = &[
        (
            "\n# c\n0 MD5 x",
            KeyFileError::KeyIdOutOfRange {
                line: 3,
                text: "0".into(),
            },
        ),
        (
            "65536 MD5 x",
            KeyFileError::KeyIdOutOfRange {
                line: 1,
                text: "65536".into(),
            },
        ),
        (
            "99999999999999 MD5 x",
            KeyFileError::KeyIdOutOfRange {
                line: 1,
                text: "99999999999999".into(),
            },
        ),
        (
            "-1 MD5 x",
            KeyFileError::InvalidKeyId {
                line: 1,
                text: "-1".into(),
            },
        ),
        ("1 MD5 x\n2", KeyFileError::MissingType { line: 2, id: 2 }),
        ("2 MD5 #x", KeyFileError::MissingSecret { line: 1, id: 2 }),
        (
            "2 MD5 x 192.0.2.1,nonsense",
            KeyFileError::InvalidAddress {
                line: 1,
                id: 2,
                text: "nonsense".into(),
            },
        ),
        (
            "2 MD5 x 192.0.2.1/x",
            KeyFileError::InvalidAddress {
                line: 1,
                id: 2,
                text: "192.0.2.1/x".into(),
            },
        ),
        // An unsupported type does not hide an error later on the line.
        (
            "3 MD4 0123456789012345678901z",
            KeyFileError::InvalidHex {
                line: 1,
                id: 3,
                position: 23,
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(&KeyStore::parse(text).unwrap_err(), expected, "{text:?}");
    }

    // Errors never show a secret.
    let e = KeyStore::parse("9 MD5 0123456789abcdefPASSWORD").unwrap_err();
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("PASS") && !shown.contains("0123"), "{e}");

    // Unknown types are skipped with a warning; 'SHA-1' is not a reference
    // name.
    let r = KeyStore::parse_report("1 SHA-1 abc\n2 MD5 def\n");
    assert!(r.errors.is_empty());
    assert_eq!(r.keys.len(), 1);
    assert_eq!(
        r.warnings,
        vec![KeyFileWarning::UnsupportedType {
            line: 1,
            id: 1,
            name: "SHA-1".into()
        }]
    );

    // Duplicates: the first definition wins.
    let r = KeyStore::parse_report("5 MD5 first\n5 SHA1 second\n");
    assert_md5_secret(&r.keys, 5, b"first");
    assert_eq!(
        r.warnings,
        vec![KeyFileWarning::DuplicateKeyId {
            line: 2,
            id: 5,
            first_line: 1
        }]
    );

    // CRLF line ends.
    let keys = KeyStore::parse("1 MD5 abc\r\n2 MD5 def\r\n").unwrap();
    assert_md5_secret(&keys, 1, b"abc");
    assert_md5_secret(&keys, 2, b"def");

    // Short CMAC keys are zero-extended with a warning.
    let r = KeyStore::parse_report("4 AES128CMAC short");
    assert_eq!(
        r.warnings,
        vec![KeyFileWarning::ShortCmacKey {
            line: 1,
            id: 4,
            octets: 5
        }]
    );
}

#[test]
fn key_access_lists() {
    let r = KeyStore::parse_report(
        "1 MD5 a 192.0.2.1,2001:db8::/32\n2 MD5 b\n3 MD5 c 198.51.100.0/40 extra fields\n",
    );
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let keys = r.keys;
    assert!(keys.allows(1, "192.0.2.1".parse().unwrap()));
    assert!(!keys.allows(1, "192.0.2.2".parse().unwrap()));
    assert!(keys.allows(1, "2001:db8:ffff::1".parse().unwrap()));
    assert!(!keys.allows(1, "2001:db9::1".parse().unwrap()));
    assert!(keys.allows(2, "203.0.113.1".parse().unwrap()));
    assert!(!keys.allows(4, "203.0.113.1".parse().unwrap()));
    assert_eq!(keys.access_list(1).len(), 2);
    assert_eq!(keys.access_list(3)[0].prefix_len(), 32);
    assert!(matches!(
        r.warnings.as_slice(),
        [KeyFileWarning::ExcessivePrefix {
            line: 3,
            id: 3,
            bits: 40,
            ..
        }]
    ));
}

#[test]
fn store_verify_trailer_errors() {
    let mut store = KeyStore::new();
    store.insert(Key::new(7, MacAlgorithm::Sha1, b"k"));
    let data = [0u8; 48];
    let mut buf = [0u8; 48 + 24];
    let len = store.get(7).unwrap().sign_into(&mut buf, 48).unwrap();
    assert_eq!(len, 72);
    let (d, t) = buf.split_at(48);
    assert_eq!(store.verify_trailer(&data, t).map(Key::id), Ok(7));
    assert_eq!(
        store.verify_trailer(d, &t[..3]).err(),
        Some(VerifyError::TrailerLength {
            expected: 4,
            actual: 3
        })
    );
    assert_eq!(
        store.verify_trailer(d, &t[..20]).err(),
        Some(VerifyError::TrailerLength {
            expected: 24,
            actual: 20
        })
    );
    let mut other = [0u8; 24];
    other[3] = 8;
    assert_eq!(
        store.verify_trailer(d, &other).err(),
        Some(VerifyError::UnknownKey(8))
    );
    // A crypto-NAK (key id 0 alone) is not a MAC any key verifies.
    assert_eq!(
        store.verify_trailer(d, &[0, 0, 0, 0]).err(),
        Some(VerifyError::UnknownKey(0))
    );
    let mut small = [0u8; 60];
    assert_eq!(
        store.get(7).unwrap().sign_into(&mut small, 48),
        Err(SignError::BufferTooSmall {
            needed: 72,
            available: 60
        })
    );
}

#[test]
fn trusted_keys_set() {
    let mut t: TrustedKeys = [1, 2].into_iter().collect();
    t.insert_range(5..=9);
    for id in [1, 2, 5, 6, 7, 8, 9] {
        assert!(t.contains(id), "{id}");
    }
    for id in [0, 3, 4, 10, 65535] {
        assert!(!t.contains(id), "{id}");
    }
    assert_eq!(t.count(), 7);
}

// ---------------------------------------------------------------------------
// Properties

fn algorithm() -> impl Strategy<Value = MacAlgorithm> {
    prop::sample::select(MacAlgorithm::ALL.to_vec())
}

proptest! {
    #[test]
    fn keys_parser_never_panics(text in "\\PC*") {
        let _ = KeyStore::parse_report(&text);
    }

    #[test]
    fn keys_parser_never_panics_on_keyish_lines(
        lines in prop::collection::vec(
            "[ \t]*[0-9]{0,6}[ \t]+(MD5|SHA1|AES128CMAC|cmac|M|MD4|x)?[ \t]+[0-9a-fA-Fg#]{0,140}([ \t]+[0-9a-f.:/,]{0,30})?",
            0..8,
        )
    ) {
        let text = lines.join("\n");
        let report = KeyStore::parse_report(&text);
        // Strict parsing fails exactly when the lenient one saw errors.
        prop_assert_eq!(KeyStore::parse(&text).is_err(), !report.errors.is_empty());
        for k in report.keys.iter() {
            prop_assert!((1..=65535).contains(&k.id()));
            prop_assert!((1..=64).contains(&k.secret_len()));
        }
    }

    #[test]
    fn sign_then_verify_round_trips(
        alg in algorithm(),
        id in any::<u32>(),
        secret in prop::collection::vec(any::<u8>(), 1..64),
        data in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let key = Key::new(id, alg, &secret);
        let mut buf = data.clone();
        buf.resize(data.len() + alg.trailer_len(), 0);
        let len = key.sign_into(&mut buf, data.len()).unwrap();
        prop_assert_eq!(len, buf.len());
        let (d, t) = buf.split_at(data.len());
        prop_assert_eq!(key.verify_trailer(d, t), Ok(()));
        prop_assert!(key.verify(&data, &t[4..]));
        let mut store = KeyStore::new();
        store.insert(key.clone());
        prop_assert_eq!(store.verify_trailer(d, t).map(Key::id), Ok(id));
    }

    #[test]
    fn any_flipped_bit_fails(
        alg in algorithm(),
        secret in prop::collection::vec(any::<u8>(), 1..64),
        data in prop::collection::vec(any::<u8>(), 1..100),
        bit in any::<prop::sample::Index>(),
    ) {
        let key = Key::new(42, alg, &secret);
        let mut buf = data.clone();
        buf.resize(data.len() + alg.trailer_len(), 0);
        key.sign_into(&mut buf, data.len()).unwrap();
        let bit = bit.index(buf.len() * 8);
        buf[bit / 8] ^= 1 << (bit % 8);
        let (d, t) = buf.split_at(data.len());
        prop_assert!(key.verify_trailer(d, t).is_err());
    }

    #[test]
    fn different_secret_fails(
        alg in algorithm(),
        secret in prop::collection::vec(any::<u8>(), 16..17),
        data in prop::collection::vec(any::<u8>(), 0..100),
        bit in 0usize..128,
    ) {
        let key = Key::new(1, alg, &secret);
        let mut other = secret.clone();
        other[bit / 8] ^= 1 << (bit % 8);
        let other = Key::new(1, alg, &other);
        let mut mac = [0u8; 20];
        let n = key.compute_mac(&data, &mut mac);
        prop_assert!(!other.verify(&data, &mac[..n]));
    }
}
