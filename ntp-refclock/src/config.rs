//! Typed reference-clock options.
//!
//! The daemon's configuration parser fills a [`RefclockOptions`] from either
//! of the two forms users write:
//!
//! - the classic form of the reference implementation,
//!   `server 127.127.20.0 mode 17 prefer` followed by
//!   `fudge 127.127.20.0 time2 0.350 refid GPS`; the address maps to a driver
//!   and unit with [`ClockAddress::from_ipv4`] / [`ClockAddress::parse`];
//! - the NTPsec form, `refclock nmea unit 0 baud 9600 path /dev/gps0 time2
//!   0.350 prefer`; the driver name maps with [`DriverKind::from_name`].
//!
//! Both forms set the same keywords, so [`RefclockOptions::set`] (a keyword
//! with a value) and [`RefclockOptions::set_flag`] (a bare keyword such as
//! `prefer`) accept every option of either form. Nothing here reads a file.
//!
//! ```
//! use ntp_refclock::config::{ClockAddress, DriverKind, RefclockOptions};
//!
//! // server 127.127.20.0 mode 17 prefer
//! // fudge 127.127.20.0 time2 0.35
//! let address = ClockAddress::parse("127.127.20.0").unwrap();
//! let mut classic = RefclockOptions::new(address.kind, address.unit);
//! classic.set("mode", "17").unwrap();
//! classic.set_flag("prefer").unwrap();
//! classic.set("time2", "0.35").unwrap();
//!
//! // refclock nmea unit 0 baud 9600 time2 0.35 prefer
//! let mut ntpsec = RefclockOptions::new(DriverKind::from_name("nmea").unwrap(), 0);
//! ntpsec.set("baud", "9600").unwrap();
//! ntpsec.set("time2", "0.35").unwrap();
//! ntpsec.set_flag("prefer").unwrap();
//!
//! assert_eq!(classic.serial_baud(), ntpsec.serial_baud());
//! assert_eq!(classic.fudge.time2, ntpsec.fudge.time2);
//! assert_eq!(classic.device_path().to_str(), Some("/dev/gps0"));
//! ```

use core::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use ntp_wire::refid::ReferenceId;
use thiserror::Error;

/// A configuration value that this crate cannot accept.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// The address is not of the form `127.127.T.U`.
    #[error("{0} is not a reference clock address (127.127.T.U)")]
    NotRefclockAddress(String),
    /// The driver type number is one the reference implementation knows but
    /// this crate does not implement.
    #[error(
        "reference clock driver type {number} ({name}) is not supported; supported: local (1), nmea (20), pps (22), shm (28)"
    )]
    UnsupportedDriver {
        /// The driver type number.
        number: u8,
        /// Its name, or `unknown`.
        name: &'static str,
    },
    /// The driver name is not known.
    #[error("unknown reference clock driver name {0:?}")]
    UnknownDriverName(String),
    /// A keyword no reference clock understands.
    #[error("unknown reference clock option {0:?}")]
    UnknownOption(String),
    /// A keyword whose value could not be parsed or is out of range.
    #[error("bad value {value:?} for reference clock option {option}: {reason}")]
    BadValue {
        /// The option keyword.
        option: String,
        /// The value given.
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A baud rate outside 4800..115200 (or not a standard rate).
    #[error("unsupported baud rate {0}; use 4800, 9600, 19200, 38400, 57600 or 115200")]
    UnsupportedBaud(u32),
}

/// A reference clock driver this crate implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DriverKind {
    /// Type 1, the undisciplined local clock (`LOCAL`). Orphan mode is the
    /// better fallback for isolated networks; this driver exists for test
    /// set-ups and for hosts whose clock is disciplined by something else.
    Local,
    /// Type 20, a generic NMEA 0183 GPS receiver on a serial line (`GPS_NMEA`).
    Nmea,
    /// Type 22, a pulse-per-second signal through the RFC 2783 API (`PPS`).
    Pps,
    /// Type 28, a System V shared memory segment written by gpsd or another
    /// program (`SHM`).
    Shm,
}

/// One row of the table of reference clock driver types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverInfo {
    /// The type number `T` of the `127.127.T.U` address.
    pub number: u8,
    /// The NTPsec `refclock` name.
    pub name: &'static str,
    /// The reference implementation's driver ID (the clock name in `ntpq`).
    pub clock_name: &'static str,
    /// The default reference ID, or empty.
    pub default_refid: &'static str,
    /// Whether this crate implements the driver.
    pub supported: bool,
}

const fn info(
    number: u8,
    name: &'static str,
    clock_name: &'static str,
    default_refid: &'static str,
    supported: bool,
) -> DriverInfo {
    DriverInfo {
        number,
        name,
        clock_name,
        default_refid,
        supported,
    }
}

/// All driver types of the reference implementation (4.2.8) with their
/// NTPsec names where NTPsec has one, so that a configuration naming a
/// driver this crate lacks gets a clear message.
pub const DRIVER_TABLE: &[DriverInfo] = &[
    info(1, "local", "LOCAL", "LOCL", true),
    info(3, "wwv_pst", "WWV_PST", "WWV", false),
    info(4, "spectracom", "WWVB_SPEC", "WWVB", false),
    info(5, "truetime", "TRUETIME", "TRUE", false),
    info(6, "irig", "IRIG_AUDIO", "IRIG", false),
    info(7, "chu", "CHU", "CHU", false),
    info(8, "generic", "PARSE", "", false),
    info(9, "mx4200", "GPS_MX4200", "GPS", false),
    info(10, "as2201", "GPS_AS2201", "GPS", false),
    info(11, "arbiter", "GPS_ARBITER", "GPS", false),
    info(12, "tpro", "IRIG_TPRO", "IRIG", false),
    info(13, "leitch", "ATOM_LEITCH", "ATOM", false),
    info(14, "msf_ees", "MSF_EES", "MSF", false),
    info(16, "bancomm", "GPS_BANCOMM", "BTFP", false),
    info(17, "datum", "GPS_DATUM", "DATM", false),
    info(18, "modem", "ACTS_MODEM", "NIST", false),
    info(19, "heath", "WWV_HEATH", "WWV", false),
    info(20, "nmea", "GPS_NMEA", "GPS", true),
    info(21, "gpsvme", "GPS_VME", "GPS", false),
    info(22, "pps", "PPS", "PPS", true),
    info(26, "hpgps", "GPS_HP", "GPS", false),
    info(27, "arcron", "MSF_ARCRON", "MSFa", false),
    info(28, "shm", "SHM", "SHM", true),
    info(29, "trimble", "GPS_PALISADE", "GPS", false),
    info(30, "oncore", "GPS_ONCORE", "GPS", false),
    info(31, "jupiter", "GPS_JUPITER", "GPS", false),
    info(32, "chronolog", "CHRONOLOG", "CHRN", false),
    info(33, "dumbclock", "DUMBCLOCK", "dumb", false),
    info(34, "ulink", "ULINK", "WWVB", false),
    info(35, "pcf", "PCF", "PCF", false),
    info(36, "wwv", "WWV", "WWV", false),
    info(37, "fg", "FG", "GPS", false),
    info(38, "hopf_s", "HOPF_S", "hopf", false),
    info(39, "hopf_p", "HOPF_P", "hopf", false),
    info(40, "jjy", "JJY", "JJY", false),
    info(41, "tt560", "TT_IRIG", "IRIG", false),
    info(42, "zyfer", "ZYFER", "GPS", false),
    info(43, "ripencc", "RIPENCC", "GPS", false),
    info(44, "neoclock", "NEOCLK4X", "neol", false),
    info(45, "tsync", "TSYNC", "TSYN", false),
    info(46, "gpsd", "GPSD_JSON", "GPSD", false),
];

impl DriverKind {
    /// All supported drivers.
    pub const ALL: [DriverKind; 4] = [
        DriverKind::Local,
        DriverKind::Nmea,
        DriverKind::Pps,
        DriverKind::Shm,
    ];

    /// The type number `T` in `127.127.T.U`.
    pub const fn number(self) -> u8 {
        match self {
            DriverKind::Local => 1,
            DriverKind::Nmea => 20,
            DriverKind::Pps => 22,
            DriverKind::Shm => 28,
        }
    }

    /// The driver for a type number.
    pub fn from_number(number: u8) -> Result<Self, ConfigError> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.number() == number)
            .ok_or_else(|| ConfigError::UnsupportedDriver {
                number,
                name: DRIVER_TABLE
                    .iter()
                    .find(|row| row.number == number)
                    .map_or("unknown", |row| row.name),
            })
    }

    /// The driver for an NTPsec `refclock` name (case-insensitive); the
    /// reference implementation's driver IDs (`GPS_NMEA`, `SHM`, ...) are
    /// accepted as well.
    pub fn from_name(name: &str) -> Result<Self, ConfigError> {
        let row = DRIVER_TABLE
            .iter()
            .find(|row| {
                row.name.eq_ignore_ascii_case(name) || row.clock_name.eq_ignore_ascii_case(name)
            })
            .ok_or_else(|| ConfigError::UnknownDriverName(name.to_owned()))?;
        Self::from_number(row.number)
    }

    /// The row of [`DRIVER_TABLE`] describing this driver.
    pub fn info(self) -> &'static DriverInfo {
        // The table holds every supported driver; the fallback is never used.
        DRIVER_TABLE
            .iter()
            .find(|row| row.number == self.number())
            .unwrap_or(&DRIVER_TABLE[0])
    }

    /// The NTPsec name (`local`, `nmea`, `pps`, `shm`).
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The reference implementation's driver ID (`LOCAL`, `GPS_NMEA`, `PPS`, `SHM`).
    pub fn clock_name(self) -> &'static str {
        self.info().clock_name
    }

    /// The reference ID the driver uses unless `fudge refid` overrides it.
    pub fn default_refid(self) -> ReferenceId {
        ReferenceId::from_ascii(self.info().default_refid)
    }

    /// The stratum the driver uses unless `fudge stratum` overrides it:
    /// 0 for real clocks (the server then appears at stratum 1), 5 for the
    /// local clock as in the reference implementation.
    pub const fn default_stratum(self) -> u8 {
        match self {
            DriverKind::Local => 5,
            _ => 0,
        }
    }

    /// The precision of the driver's samples in log2 seconds, as the
    /// reference implementation's drivers declare it.
    pub const fn default_precision(self) -> i8 {
        match self {
            DriverKind::Local => -7,
            DriverKind::Nmea => -9,
            DriverKind::Pps => -20,
            DriverKind::Shm => -1,
        }
    }

    /// The device path a driver opens by default for a unit:
    /// `/dev/gpsU` (NMEA), `/dev/ppsU` (PPS); SHM and local have no device,
    /// and return an empty path.
    pub fn default_device_path(self, unit: u8) -> PathBuf {
        match self {
            DriverKind::Nmea => PathBuf::from(format!("/dev/gps{unit}")),
            DriverKind::Pps => PathBuf::from(format!("/dev/pps{unit}")),
            DriverKind::Local | DriverKind::Shm => PathBuf::new(),
        }
    }
}

impl fmt::Display for DriverKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A reference clock's identity: driver and unit, the `T` and `U` of the
/// classic `127.127.T.U` address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClockAddress {
    /// The driver.
    pub kind: DriverKind,
    /// The unit number (0-3 by convention; any byte is accepted).
    pub unit: u8,
}

impl ClockAddress {
    /// Whether an IPv4 address is in the reference-clock range `127.127.0.0/16`.
    pub fn is_refclock_address(address: Ipv4Addr) -> bool {
        let [a, b, _, _] = address.octets();
        a == 127 && b == 127
    }

    /// The driver and unit of a `127.127.T.U` address.
    pub fn from_ipv4(address: Ipv4Addr) -> Result<Self, ConfigError> {
        let [a, b, t, u] = address.octets();
        if a != 127 || b != 127 {
            return Err(ConfigError::NotRefclockAddress(address.to_string()));
        }
        Ok(Self {
            kind: DriverKind::from_number(t)?,
            unit: u,
        })
    }

    /// The driver and unit of the text `127.127.T.U`.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let address: Ipv4Addr = text
            .parse()
            .map_err(|_| ConfigError::NotRefclockAddress(text.to_owned()))?;
        Self::from_ipv4(address)
    }

    /// The classic address `127.127.T.U`.
    pub fn to_ipv4(self) -> Ipv4Addr {
        Ipv4Addr::new(127, 127, self.kind.number(), self.unit)
    }
}

impl fmt::Display for ClockAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_ipv4())
    }
}

/// A serial line speed the NMEA driver can set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BaudRate {
    /// 4800 bit/s, the NMEA 0183 standard rate and the default.
    B4800,
    /// 9600 bit/s.
    B9600,
    /// 19200 bit/s.
    B19200,
    /// 38400 bit/s.
    B38400,
    /// 57600 bit/s.
    B57600,
    /// 115200 bit/s.
    B115200,
}

impl BaudRate {
    /// All rates, slowest first; the index is the value of NMEA mode bits 4-6.
    pub const ALL: [BaudRate; 6] = [
        BaudRate::B4800,
        BaudRate::B9600,
        BaudRate::B19200,
        BaudRate::B38400,
        BaudRate::B57600,
        BaudRate::B115200,
    ];

    /// The rate for a number of bits per second.
    pub fn from_bps(bps: u32) -> Result<Self, ConfigError> {
        Self::ALL
            .into_iter()
            .find(|rate| rate.bps() == bps)
            .ok_or(ConfigError::UnsupportedBaud(bps))
    }

    /// Bits per second.
    pub const fn bps(self) -> u32 {
        match self {
            BaudRate::B4800 => 4800,
            BaudRate::B9600 => 9600,
            BaudRate::B19200 => 19200,
            BaudRate::B38400 => 38400,
            BaudRate::B57600 => 57600,
            BaudRate::B115200 => 115_200,
        }
    }

    /// Seconds one character takes on an 8N1 line (10 bit times).
    pub fn char_time(self) -> f64 {
        10.0 / f64::from(self.bps())
    }
}

/// The `mode` word of the NMEA driver (type 20), bit for bit as in the
/// reference implementation's driver20 page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NmeaMode(pub u32);

impl NmeaMode {
    /// Bit 0: process `RMC`.
    pub const RMC: u32 = 0x1;
    /// Bit 1: process `GGA`.
    pub const GGA: u32 = 0x2;
    /// Bit 2: process `GLL`.
    pub const GLL: u32 = 0x4;
    /// Bit 3: process `ZDA` (and `ZDG`).
    pub const ZDA: u32 = 0x8;
    /// Bits 4-6: line speed (0 = 4800 ... 5 = 115200).
    pub const BAUD_MASK: u32 = 0x70;
    /// Bit 7: write the receive-time fraction to clockstats.
    pub const CLOCKSTATS_FRACTION: u32 = 0x80;
    /// Bit 8: process Garmin `$PGRMF` (not implemented: such sentences are ignored).
    pub const PGRMF: u32 = 0x100;
    /// Bit 9: process u-blox `$PUBX,04` (not implemented: such sentences are ignored).
    pub const PUBX: u32 = 0x200;
    /// Bit 16: append extra statistics to clockstats lines.
    pub const EXTRA_STATS: u32 = 0x10000;
    /// Bit 17: "silent PPS": use PPS for timestamps without claiming PPS status.
    pub const SILENT_PPS: u32 = 0x20000;
    /// Bit 18: trust the receiver's date; no GPS week-rollover repair.
    pub const TRUST_DATE: u32 = 0x40000;

    const SENTENCE_MASK: u32 =
        Self::RMC | Self::GGA | Self::GLL | Self::ZDA | Self::PGRMF | Self::PUBX;

    /// Whether a sentence type is processed. With none of the sentence bits
    /// set (mode 0) every supported sentence is.
    pub fn accepts(self, kind: crate::nmea::SentenceKind) -> bool {
        use crate::nmea::SentenceKind;
        if kind == SentenceKind::Other {
            return false;
        }
        if self.0 & Self::SENTENCE_MASK == 0 {
            return true;
        }
        let bit = match kind {
            SentenceKind::Rmc => Self::RMC,
            SentenceKind::Gga => Self::GGA,
            SentenceKind::Gll => Self::GLL,
            SentenceKind::Zda => Self::ZDA,
            SentenceKind::Other => 0,
        };
        self.0 & bit != 0
    }

    /// The line speed of bits 4-6; values 6 and 7 (reserved) give 4800.
    pub fn baud(self) -> BaudRate {
        let index = ((self.0 & Self::BAUD_MASK) >> 4) as usize;
        BaudRate::ALL.get(index).copied().unwrap_or(BaudRate::B4800)
    }

    /// Whether bit 18 (trust the date) is set.
    pub fn trust_date(self) -> bool {
        self.0 & Self::TRUST_DATE != 0
    }
}

/// The `fudge` parameters of a reference clock.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Fudge {
    /// `time1`: seconds added to every offset (NMEA: the PPS calibration;
    /// PPS, SHM, local: the calibration of the samples).
    pub time1: f64,
    /// `time2`: driver-specific seconds (NMEA: the delay from the second
    /// boundary to the start of the sentence; SHM: the largest accepted
    /// difference between reference and local time).
    pub time2: f64,
    /// `stratum`, 0-15; `None` keeps the driver's default.
    pub stratum: Option<u8>,
    /// `refid`, up to four ASCII characters; `None` keeps the driver's default.
    pub refid: Option<ReferenceId>,
    /// `flag1` to `flag4`, driver-specific (index 0 is `flag1`).
    pub flags: [bool; 4],
    /// `minjitter`: the smallest jitter (seconds) the filter reports.
    pub minjitter: f64,
}

impl Fudge {
    /// `flag1`.
    pub fn flag1(&self) -> bool {
        self.flags[0]
    }
    /// `flag2`.
    pub fn flag2(&self) -> bool {
        self.flags[1]
    }
    /// `flag3`.
    pub fn flag3(&self) -> bool {
        self.flags[2]
    }
    /// `flag4`.
    pub fn flag4(&self) -> bool {
        self.flags[3]
    }

    /// Set one `fudge` keyword (`time1`, `time2`, `stratum`, `refid`,
    /// `flag1`..`flag4`, `minjitter`) from its text value.
    pub fn set(&mut self, option: &str, value: &str) -> Result<(), ConfigError> {
        let bad = |reason| ConfigError::BadValue {
            option: option.to_owned(),
            value: value.to_owned(),
            reason,
        };
        match option {
            "time1" | "time2" | "minjitter" => {
                let seconds: f64 = value.parse().map_err(|_| bad("not a number of seconds"))?;
                if !seconds.is_finite() {
                    return Err(bad("not a finite number"));
                }
                match option {
                    "time1" => self.time1 = seconds,
                    "time2" => self.time2 = seconds,
                    _ if seconds < 0.0 => return Err(bad("must not be negative")),
                    _ => self.minjitter = seconds,
                }
            }
            "stratum" => {
                let stratum: u8 = value.parse().map_err(|_| bad("not a number"))?;
                if stratum > 15 {
                    return Err(bad("must be 0 to 15"));
                }
                self.stratum = Some(stratum);
            }
            "refid" => {
                if value.is_empty() || value.len() > 4 || !value.is_ascii() {
                    return Err(bad("must be one to four ASCII characters"));
                }
                self.refid = Some(ReferenceId::from_ascii(value));
            }
            "flag1" | "flag2" | "flag3" | "flag4" => {
                let index = match option {
                    "flag1" => 0,
                    "flag2" => 1,
                    "flag3" => 2,
                    _ => 3,
                };
                self.flags[index] = match value {
                    "0" => false,
                    "1" => true,
                    _ => return Err(bad("must be 0 or 1")),
                };
            }
            _ => return Err(ConfigError::UnknownOption(option.to_owned())),
        }
        Ok(())
    }
}

/// Everything configured for one reference clock.
#[derive(Debug, Clone, PartialEq)]
pub struct RefclockOptions {
    /// The driver.
    pub kind: DriverKind,
    /// The unit number.
    pub unit: u8,
    /// The driver's `mode` word (NTPsec also calls it `subtype` for some
    /// drivers). For NMEA see [`NmeaMode`]; for SHM bit 0 asks for a
    /// private segment on units above 1.
    pub mode: u32,
    /// `path`: the device; `None` uses [`DriverKind::default_device_path`].
    pub path: Option<PathBuf>,
    /// `ppspath`: a separate PPS device for the NMEA driver (`flag1`).
    pub ppspath: Option<PathBuf>,
    /// `baud`: the serial speed; overrides NMEA mode bits 4-6.
    pub baud: Option<BaudRate>,
    /// `minpoll`, log2 seconds (4-17); default 6.
    pub minpoll: u8,
    /// `maxpoll`, log2 seconds (4-17); default 6.
    pub maxpoll: u8,
    /// `prefer`: mark the clock as the prefer peer.
    pub prefer: bool,
    /// `noselect`: measure but never select.
    pub noselect: bool,
    /// The `fudge` parameters.
    pub fudge: Fudge,
    /// Accept NMEA sentences without a checksum (off by default; some
    /// receivers, such as the HP 58534A, send none). NTPsec has no such
    /// option; the daemon may map it from a keyword such as `nochecksum`.
    pub accept_no_checksum: bool,
    /// The GPS week-rollover base date (`tos basedate`); NMEA dates before
    /// it are moved forward by 1024-week steps. `None` uses
    /// [`crate::nmea::DEFAULT_BASEDATE`].
    pub basedate: Option<chrono::NaiveDate>,
}

/// Smallest poll exponent for reference clocks.
pub const MIN_POLL: u8 = 4;
/// Largest poll exponent for reference clocks.
pub const MAX_POLL: u8 = 17;
/// Default poll exponent for reference clocks (64 s).
pub const DEFAULT_POLL: u8 = 6;

impl RefclockOptions {
    /// Defaults for a driver and unit.
    pub fn new(kind: DriverKind, unit: u8) -> Self {
        Self {
            kind,
            unit,
            mode: 0,
            path: None,
            ppspath: None,
            baud: None,
            minpoll: DEFAULT_POLL,
            maxpoll: DEFAULT_POLL,
            prefer: false,
            noselect: false,
            fudge: Fudge::default(),
            accept_no_checksum: false,
            basedate: None,
        }
    }

    /// The clock's classic address.
    pub fn address(&self) -> ClockAddress {
        ClockAddress {
            kind: self.kind,
            unit: self.unit,
        }
    }

    /// Set a keyword that takes a value: `mode`/`subtype`, `path`,
    /// `ppspath`, `baud`, `minpoll`, `maxpoll`, `unit`, `basedate`
    /// (YYYY-MM-DD) and every `fudge` keyword.
    pub fn set(&mut self, option: &str, value: &str) -> Result<(), ConfigError> {
        let bad = |reason| ConfigError::BadValue {
            option: option.to_owned(),
            value: value.to_owned(),
            reason,
        };
        match option {
            "mode" | "subtype" => {
                self.mode = parse_int(value).ok_or_else(|| bad("not a number"))?;
            }
            "unit" => self.unit = value.parse().map_err(|_| bad("must be 0 to 255"))?,
            "path" | "ppspath" => {
                if value.is_empty() {
                    return Err(bad("empty path"));
                }
                let path = Some(PathBuf::from(value));
                if option == "path" {
                    self.path = path;
                } else {
                    self.ppspath = path;
                }
            }
            "baud" => {
                let bps: u32 = value.parse().map_err(|_| bad("not a number"))?;
                self.baud = Some(BaudRate::from_bps(bps)?);
            }
            "minpoll" | "maxpoll" => {
                let poll: u8 = value.parse().map_err(|_| bad("not a number"))?;
                if !(MIN_POLL..=MAX_POLL).contains(&poll) {
                    return Err(bad("must be 4 to 17"));
                }
                if option == "minpoll" {
                    self.minpoll = poll;
                } else {
                    self.maxpoll = poll;
                }
            }
            "basedate" => {
                let date = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
                    .map_err(|_| bad("not a YYYY-MM-DD date"))?;
                self.basedate = Some(date);
            }
            _ => self.fudge.set(option, value)?,
        }
        Ok(())
    }

    /// Set a bare keyword: `prefer`, `noselect`, `nochecksum`.
    pub fn set_flag(&mut self, option: &str) -> Result<(), ConfigError> {
        match option {
            "prefer" => self.prefer = true,
            "noselect" => self.noselect = true,
            "nochecksum" => self.accept_no_checksum = true,
            _ => return Err(ConfigError::UnknownOption(option.to_owned())),
        }
        Ok(())
    }

    /// The device path: `path` if set, else the driver's default for the unit.
    pub fn device_path(&self) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| self.kind.default_device_path(self.unit))
    }

    /// The serial speed: `baud` if set, else NMEA mode bits 4-6.
    pub fn serial_baud(&self) -> BaudRate {
        self.baud.unwrap_or_else(|| NmeaMode(self.mode).baud())
    }

    /// The effective stratum (fudge or the driver's default).
    pub fn stratum(&self) -> u8 {
        self.fudge
            .stratum
            .unwrap_or_else(|| self.kind.default_stratum())
    }

    /// The effective reference ID (fudge or the driver's default).
    pub fn refid(&self) -> ReferenceId {
        self.fudge
            .refid
            .unwrap_or_else(|| self.kind.default_refid())
    }
}

/// A decimal, `0x` hexadecimal or `0` octal integer, as the reference
/// implementation's configuration accepts for `mode`.
fn parse_int(text: &str) -> Option<u32> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16).ok()
    } else if text.len() > 1 && text.starts_with('0') {
        u32::from_str_radix(&text[1..], 8).ok()
    } else {
        text.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nmea::SentenceKind;

    #[test]
    fn addresses_map_to_drivers() {
        let cases = [
            ("127.127.1.0", Ok((DriverKind::Local, 0))),
            ("127.127.20.3", Ok((DriverKind::Nmea, 3))),
            ("127.127.22.1", Ok((DriverKind::Pps, 1))),
            ("127.127.28.2", Ok((DriverKind::Shm, 2))),
        ];
        for (text, want) in cases {
            let got = ClockAddress::parse(text).map(|a| (a.kind, a.unit));
            assert_eq!(got, want, "{text}");
            assert_eq!(ClockAddress::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(
            ClockAddress::parse("127.127.8.0"),
            Err(ConfigError::UnsupportedDriver {
                number: 8,
                name: "generic"
            })
        );
        assert!(matches!(
            ClockAddress::parse("192.168.1.1"),
            Err(ConfigError::NotRefclockAddress(_))
        ));
        assert!(ClockAddress::parse("ntp.example").is_err());
        assert!(ClockAddress::is_refclock_address(Ipv4Addr::new(
            127, 127, 20, 0
        )));
        assert!(!ClockAddress::is_refclock_address(Ipv4Addr::LOCALHOST));
    }

    #[test]
    fn names_and_numbers_agree() {
        for kind in DriverKind::ALL {
            assert_eq!(DriverKind::from_number(kind.number()), Ok(kind));
            assert_eq!(DriverKind::from_name(kind.name()), Ok(kind));
            assert_eq!(DriverKind::from_name(kind.clock_name()), Ok(kind));
            assert!(kind.info().supported);
        }
        assert_eq!(DriverKind::from_name("NMEA"), Ok(DriverKind::Nmea));
        assert_eq!(
            DriverKind::Nmea.default_refid(),
            ReferenceId::from_ascii("GPS")
        );
        assert_eq!(DriverKind::Local.default_refid(), ReferenceId::LOCAL);
        assert!(matches!(
            DriverKind::from_name("gpsd"),
            Err(ConfigError::UnsupportedDriver { number: 46, .. })
        ));
        assert!(DriverKind::from_name("sundial").is_err());
        let unsupported = DRIVER_TABLE.iter().filter(|r| !r.supported).count();
        assert_eq!(unsupported + 4, DRIVER_TABLE.len());
    }

    #[test]
    fn nmea_mode_bits() {
        use SentenceKind::*;
        // (mode, RMC, GGA, GLL, ZDA, baud)
        let table: &[(u32, [bool; 4], u32)] = &[
            (0, [true, true, true, true], 4800),
            (1, [true, false, false, false], 4800),
            (2, [false, true, false, false], 4800),
            (4, [false, false, true, false], 4800),
            (8, [false, false, false, true], 4800),
            (9, [true, false, false, true], 4800),
            (0x10, [true, true, true, true], 9600),
            (0x11, [true, false, false, false], 9600),
            (0x20, [true, true, true, true], 19200),
            (0x30, [true, true, true, true], 38400),
            (0x42, [false, true, false, false], 57600),
            (0x50, [true, true, true, true], 115_200),
            (0x60, [true, true, true, true], 4800),
            (0x100, [false, false, false, false], 4800),
            (0x40000, [true, true, true, true], 4800),
            (0x4000f, [true, true, true, true], 4800),
        ];
        for &(mode, accepts, baud) in table {
            let m = NmeaMode(mode);
            let got = [
                m.accepts(Rmc),
                m.accepts(Gga),
                m.accepts(Gll),
                m.accepts(Zda),
            ];
            assert_eq!(got, accepts, "mode {mode:#x}");
            assert_eq!(m.baud().bps(), baud, "mode {mode:#x}");
            assert!(!m.accepts(Other));
        }
        assert!(NmeaMode(0x40000).trust_date());
        assert!(!NmeaMode(0x4).trust_date());
    }

    #[test]
    fn fudge_keywords() {
        let mut f = Fudge::default();
        let table: &[(&str, &str, bool)] = &[
            ("time1", "0.0042", true),
            ("time2", "-0.35", true),
            ("time1", "abc", false),
            ("time1", "inf", false),
            ("stratum", "3", true),
            ("stratum", "16", false),
            ("refid", "PPS", true),
            ("refid", "TOOLONG", false),
            ("refid", "", false),
            ("flag1", "1", true),
            ("flag2", "0", true),
            ("flag3", "1", true),
            ("flag4", "2", false),
            ("minjitter", "0.001", true),
            ("minjitter", "-1", false),
            ("time3", "1", false),
        ];
        for &(option, value, ok) in table {
            assert_eq!(f.set(option, value).is_ok(), ok, "{option} {value}");
        }
        assert_eq!(f.time1, 0.0042);
        assert_eq!(f.time2, -0.35);
        assert_eq!(f.stratum, Some(3));
        assert_eq!(f.refid, Some(ReferenceId::from_ascii("PPS")));
        assert_eq!(f.flags, [true, false, true, false]);
        assert!(f.flag1() && !f.flag2() && f.flag3() && !f.flag4());
        assert_eq!(f.minjitter, 0.001);
    }

    #[test]
    fn options_from_both_forms() {
        let mut o = RefclockOptions::new(DriverKind::Nmea, 0);
        assert_eq!(o.device_path(), PathBuf::from("/dev/gps0"));
        assert_eq!(o.serial_baud(), BaudRate::B4800);
        o.set("mode", "0x12").unwrap();
        assert_eq!(o.mode, 0x12);
        assert_eq!(o.serial_baud(), BaudRate::B9600);
        o.set("baud", "115200").unwrap();
        assert_eq!(o.serial_baud(), BaudRate::B115200);
        assert_eq!(o.set("baud", "300"), Err(ConfigError::UnsupportedBaud(300)));
        o.set("path", "/dev/ttyUSB0").unwrap();
        o.set("ppspath", "/dev/pps0").unwrap();
        assert_eq!(o.device_path(), PathBuf::from("/dev/ttyUSB0"));
        o.set("minpoll", "4").unwrap();
        assert!(o.set("maxpoll", "18").is_err());
        o.set("basedate", "2019-01-01").unwrap();
        assert!(o.set("basedate", "yesterday").is_err());
        o.set("subtype", "010").unwrap();
        assert_eq!(o.mode, 8);
        o.set_flag("prefer").unwrap();
        o.set_flag("noselect").unwrap();
        o.set_flag("nochecksum").unwrap();
        assert!(o.prefer && o.noselect && o.accept_no_checksum);
        assert!(o.set_flag("burst").is_err());
        assert_eq!(o.stratum(), 0);
        assert_eq!(o.refid(), ReferenceId::from_ascii("GPS"));
        o.set("stratum", "2").unwrap();
        o.set("refid", "GNSS").unwrap();
        assert_eq!(
            (o.stratum(), o.refid()),
            (2, ReferenceId::from_ascii("GNSS"))
        );
        assert_eq!(RefclockOptions::new(DriverKind::Local, 0).stratum(), 5);
        assert_eq!(
            RefclockOptions::new(DriverKind::Pps, 1).device_path(),
            PathBuf::from("/dev/pps1")
        );
    }
}
