//! Reference clock configuration in both forms users have: the classic
//! `server 127.127.T.U mode M` + `fudge 127.127.T.U ...`, and NTPsec's
//! `refclock NAME unit U ...`.

use std::net::Ipv4Addr;
use std::path::PathBuf;

/// The reference clock drivers this implementation has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefclockDriver {
    /// Type 1: the undisciplined local clock (`local`).
    Local,
    /// Type 20: NMEA GPS receiver on a serial line (`nmea`).
    Nmea,
    /// Type 22: PPS through the RFC 2783 API (`pps`).
    Pps,
    /// Type 28: shared memory, as gpsd writes it (`shm`).
    Shm,
}

impl RefclockDriver {
    /// The driver of a classic type number.
    pub const fn from_type(number: u8) -> Option<Self> {
        match number {
            1 => Some(Self::Local),
            20 => Some(Self::Nmea),
            22 => Some(Self::Pps),
            28 => Some(Self::Shm),
            _ => None,
        }
    }

    /// The driver of an NTPsec `refclock` name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "local" => Some(Self::Local),
            "nmea" => Some(Self::Nmea),
            "pps" => Some(Self::Pps),
            "shm" => Some(Self::Shm),
            _ => None,
        }
    }

    /// The classic type number.
    pub const fn type_number(self) -> u8 {
        match self {
            Self::Local => 1,
            Self::Nmea => 20,
            Self::Pps => 22,
            Self::Shm => 28,
        }
    }

    /// The NTPsec name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Nmea => "nmea",
            Self::Pps => "pps",
            Self::Shm => "shm",
        }
    }

    /// The pseudo-address `127.127.T.U` of a unit.
    pub fn address(self, unit: u8) -> Ipv4Addr {
        Ipv4Addr::new(127, 127, self.type_number(), unit)
    }

    /// The supported drivers, for error messages.
    pub const SUPPORTED: &'static str = "1 (local), 20 (nmea), 22 (pps), 28 (shm)";
}

/// One configured reference clock with its options and fudge values.
#[derive(Clone, Debug, PartialEq)]
pub struct RefclockConfig {
    /// The driver.
    pub driver: RefclockDriver,
    /// The unit number.
    pub unit: u8,
    /// `mode` (driver-specific bits).
    pub mode: Option<u32>,
    /// `minpoll`.
    pub minpoll: Option<i8>,
    /// `maxpoll`.
    pub maxpoll: Option<i8>,
    /// `prefer`.
    pub prefer: bool,
    /// `noselect`.
    pub noselect: bool,
    /// `true`.
    pub truechimer: bool,
    /// `path`: the device (NTPsec form; the classic form uses the driver's default).
    pub path: Option<PathBuf>,
    /// `ppspath`: the PPS device.
    pub ppspath: Option<PathBuf>,
    /// `baud`: serial line speed.
    pub baud: Option<u32>,
    /// `time1` fudge, seconds.
    pub time1: Option<f64>,
    /// `time2` fudge, seconds.
    pub time2: Option<f64>,
    /// `stratum` fudge.
    pub stratum: Option<u8>,
    /// `refid` fudge (up to four characters).
    pub refid: Option<String>,
    /// `flag1` to `flag4` fudge.
    pub flags: [Option<bool>; 4],
    /// The line it came from.
    pub line: usize,
}

impl RefclockConfig {
    /// A unit with no options set.
    pub fn new(driver: RefclockDriver, unit: u8, line: usize) -> Self {
        Self {
            driver,
            unit,
            mode: None,
            minpoll: None,
            maxpoll: None,
            prefer: false,
            noselect: false,
            truechimer: false,
            path: None,
            ppspath: None,
            baud: None,
            time1: None,
            time2: None,
            stratum: None,
            refid: None,
            flags: [None; 4],
            line,
        }
    }

    /// Reads a classic `127.127.T.U` address: the driver and unit, or
    /// `None` if the address is not a reference clock address.
    pub fn parse_classic_address(text: &str) -> Option<Result<(RefclockDriver, u8), String>> {
        let address: Ipv4Addr = text.parse().ok()?;
        let [a, b, t, u] = address.octets();
        if (a, b) != (127, 127) {
            return None;
        }
        Some(match RefclockDriver::from_type(t) {
            Some(driver) => Ok((driver, u)),
            None => Err(format!(
                "reference clock type {t} ({text}) is not supported; supported types: {}",
                RefclockDriver::SUPPORTED
            )),
        })
    }
}
