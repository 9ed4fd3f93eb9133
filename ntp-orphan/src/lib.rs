//! NTP orphan mode, sans-IO.
//!
//! This crate will own `tos orphan` and `tos orphanwait`, the decision that
//! the host is an orphan, the orphan parent election (lowest address metric,
//! the host itself a candidate) and what an orphan advertises. It takes the
//! candidates and result of `ntp-select`; `ntp-select` knows nothing of
//! orphan mode.
//!
//! The implementation arrives with the system-process issue; today the crate
//! holds only this description.
