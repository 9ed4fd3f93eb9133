//! The `ntp.conf` parser: a full configuration, both reference clock forms,
//! includes, and one error per kind of mistake with its line number.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ntp_cli::config::{
    AssociationKind, Config, DEFAULT_CONFIG, RefclockDriver, RestrictFlag, RestrictTarget,
};

const FULL: &str = r#"
# A configuration as ntpd users write it.
driftfile /var/lib/ntp/ntp.drift
leapfile /usr/share/zoneinfo/leap-seconds.list
statsdir /var/log/ntpstats/
statistics loopstats peerstats
filegen loopstats file loopstats type day enable
filegen peerstats file peerstats type day enable

server 192.0.2.1 iburst prefer minpoll 4 maxpoll 6
server ntp.example.org burst key 7 version 3 port 10123
pool pool.example.org iburst preempt
peer 198.51.100.7 key 3
broadcast 192.0.2.255 ttl 4 key 1
manycastclient 239.1.1.1 ttl 7
manycastserver 239.1.1.1
multicastclient 224.0.1.1
broadcastclient novolley
broadcastdelay 0.004

tos minclock 4 maxclock 8 minsane 2 mindist 0.002 maxdist 2 orphan 8 orphanwait 60 ceiling 15 floor 1 cohort 1 beacon 3600
tinker panic 0 step 0.2 stepout 600 allan 1500 dispersion 15e-6 freq 12.5
ttl 1 8 32 127

keys /etc/ntp.keys
trustedkey 1 3 5-9
controlkey 2

restrict default kod limited nomodify nopeer noquery
restrict -6 default ignore
restrict 127.0.0.1
restrict 192.0.2.0 mask 255.255.255.0 nomodify
restrict 2001:db8::/32 noserve
restrict source nomodify ippeerlimit 2
discard average 3 minimum 1
enable kernel stats
disable auth monitor
interface listen 127.0.0.1

server 127.127.20.0 mode 17 prefer
fudge 127.127.20.0 time2 0.350 refid GPS flag1 1
server 127.127.22.0 minpoll 4
refclock shm unit 2 refid SHM2 time1 0.01 stratum 1
refclock nmea unit 1 path /dev/pts/5 baud 4800 mode 1 time2 0.2
"#;

#[test]
fn full_configuration() {
    let config = Config::parse_str(FULL, "ntp.conf").unwrap();
    insta::assert_debug_snapshot!(config);
    let server = &config.associations[0];
    assert_eq!(server.kind, AssociationKind::Server);
    assert_eq!(
        (server.options.minpoll, server.options.maxpoll),
        (Some(4), Some(6))
    );
    assert!(server.options.iburst && server.options.prefer);
    assert_eq!(config.associations[1].options.port, 10123);
    assert_eq!(config.associations[1].options.version, 3);
    assert_eq!(config.associations[2].kind, AssociationKind::Pool);
    assert_eq!(config.tos.orphan, Some(8));
    assert_eq!(config.tinker.panic, Some(0.0));
    assert_eq!(config.trusted_keys, vec![1..=1, 3..=3, 5..=9]);
    assert!(!config.flags.auth && config.flags.kernel);
    assert_eq!(config.refclocks.len(), 4);
    let gps = &config.refclocks[0];
    assert_eq!(
        (gps.driver, gps.unit, gps.mode),
        (RefclockDriver::Nmea, 0, Some(17))
    );
    assert_eq!(
        (gps.time2, gps.refid.as_deref(), gps.flags[0]),
        (Some(0.35), Some("GPS"), Some(true))
    );
    assert_eq!(config.refclocks[2].driver, RefclockDriver::Shm);
    assert_eq!(config.refclocks[2].unit, 2);
    assert_eq!(config.refclocks[3].baud, Some(4800));
    assert_eq!(
        config.restrictions[3].target,
        RestrictTarget::Network {
            address: "192.0.2.0".parse().unwrap(),
            prefix_len: 24
        }
    );
    assert!(config.restrictions[0].flags.contains(&RestrictFlag::Kod));
}

#[test]
fn default_configuration_parses() {
    let config = Config::default_config().unwrap();
    assert_eq!(config.associations.len(), 4);
    assert!(
        config
            .associations
            .iter()
            .all(|a| a.kind == AssociationKind::Pool && a.options.iburst)
    );
    assert!(DEFAULT_CONFIG.contains("iburst"));
}

#[test]
fn errors_name_the_line_and_the_expectation() {
    let cases: &[(&str, &str)] = &[
        ("frobnicate 1", "1: unknown command \"frobnicate\""),
        ("\nserver", "2: server: expected an address or host name"),
        (
            "server a minpoll 2",
            "1: server minpoll: expected a number from 3 to 17, found \"2\"",
        ),
        (
            "server a minpoll",
            "1: server minpoll: expected a number from 3 to 17",
        ),
        ("server a bogus", "1: server: unknown option \"bogus\""),
        (
            "server a minpoll 8 maxpoll 6",
            "1: server: minpoll 8 is above maxpoll 6",
        ),
        (
            "peer a iburst",
            "1: peer: iburst is valid only with server and pool",
        ),
        (
            "server a key 0",
            "1: server key: expected a number from 1 to 65535",
        ),
        (
            "server a version 5",
            "1: server version: expected a number from 1 to 4",
        ),
        (
            "server a port 0",
            "1: server port: expected a number from 1 to 65535",
        ),
        (
            "manycastclient 192.0.2.1",
            "1: manycastclient: 192.0.2.1 is not a multicast group address",
        ),
        (
            "tos minclock x",
            "1: tos minclock: expected a number from 1 to 100, found \"x\"",
        ),
        ("tos", "1: tos: expected at least one option"),
        ("tos cohort 2", "1: tos cohort: expected 0 or 1"),
        (
            "tinker freq 900",
            "1: tinker freq: expected -500 to 500 ppm",
        ),
        (
            "restrict 10.0.0.0 mask 255.0.255.0",
            "1: restrict mask: 255.0.255.0 is not a contiguous netmask",
        ),
        (
            "restrict default nosuchflag",
            "1: restrict: unknown flag \"nosuchflag\"",
        ),
        ("trustedkey", "1: trustedkey: expected key ids"),
        ("enable warp", "1: enable: expected auth, bclient"),
        (
            "statistics nonsense",
            "1: statistics: expected one of peerstats",
        ),
        (
            "server 127.127.5.0",
            "1: reference clock type 5 (127.127.5.0) is not supported",
        ),
        (
            "peer 127.127.20.0",
            "1: peer: reference clock address 127.127.20.0 is valid only with server",
        ),
        (
            "fudge 127.127.20.0 time1 0.1",
            "1: fudge: no server line configures 127.127.20.0",
        ),
        (
            "server 127.127.20.0\nfudge 127.127.20.0 refid TOOLONG",
            "2: fudge refid: expected one to four ASCII characters",
        ),
        ("refclock gps", "1: refclock: unknown driver \"gps\""),
        (
            "refclock nmea baud 1200",
            "1: refclock baud: expected one of 4800",
        ),
        (
            "server a autokey",
            "1: server: Autokey (autokey) is not supported",
        ),
        ("driftfile \"/tmp/x", "1: unterminated quoted string"),
        (
            "broadcastclient yes",
            "1: broadcastclient: expected novolley or nothing",
        ),
        ("keys", "1: keys: expected a file name"),
        (
            "discard average 20",
            "1: discard average: expected a number from 0 to 16",
        ),
    ];
    for (text, expected) in cases {
        let err = Config::parse_str(text, "test.conf").unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("test.conf:") && message.contains(expected),
            "{text:?}: got {message:?}, expected it to contain {expected:?}"
        );
    }
}

#[test]
fn includefile_is_relative_to_the_including_file() {
    let dir = std::env::temp_dir().join(format!("ntpctl-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let main = dir.join("ntp.conf");
    std::fs::write(&main, "server 192.0.2.1\nincludefile extra.conf\n").unwrap();
    std::fs::write(dir.join("extra.conf"), "server 192.0.2.2\nbogus line\n").unwrap();
    let err = Config::from_file(&main).unwrap_err();
    assert_eq!(err.line, 2);
    assert!(err.file.ends_with("extra.conf"), "{err}");
    std::fs::write(dir.join("extra.conf"), "server 192.0.2.2\n").unwrap();
    let config = Config::from_file(&main).unwrap();
    assert_eq!(config.associations.len(), 2);
    // An include loop is cut off.
    std::fs::write(dir.join("extra.conf"), "includefile ntp.conf\n").unwrap();
    let err = Config::from_file(&main).unwrap_err();
    assert!(err.message.contains("nested deeper"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
    let err = Config::from_file(dir.join("missing.conf")).unwrap_err();
    assert_eq!(err.line, 0);
}

#[test]
fn config_check_command() {
    let dir = std::env::temp_dir().join(format!("ntpctl-config-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.conf");
    let bad = dir.join("bad.conf");
    std::fs::write(&good, FULL).unwrap();
    std::fs::write(&bad, "server 192.0.2.1\n\ntos minclock zero\n").unwrap();
    let ntpctl = env!("CARGO_BIN_EXE_ntpctl");
    let out = std::process::Command::new(ntpctl)
        .args(["config", "check", "-c"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("OK (6 associations, 4 reference clocks")
    );
    let out = std::process::Command::new(ntpctl)
        .args(["config", "check", "-c"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr
            .contains("bad.conf:3: tos minclock: expected a number from 1 to 100, found \"zero\""),
        "{stderr}"
    );
    let out = std::process::Command::new(ntpctl)
        .args(["config", "print-default"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), DEFAULT_CONFIG);
    std::fs::remove_dir_all(&dir).unwrap();
}
