//! The NTPv4 system process (RFC 5905 section 11, Appendix A.5.5), sans-IO.
//!
//! This crate will own candidate fitness, the selection (intersection)
//! algorithm producing truechimers and falsetickers, clustering, combining,
//! the system peer choice with hysteresis and the `prefer` rule, the `tos`
//! knobs, and the system variables derived from the system peer (stratum,
//! reference ID, root delay and dispersion, leap vote).
//!
//! The implementation arrives with the system-process issue; today the crate
//! holds only this description.
