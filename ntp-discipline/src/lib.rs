//! The NTPv4 clock discipline and clock-adjust processes (RFC 5905 section
//! 11.3, Appendix A.5.5.6-A.5.6).
//!
//! This crate will own the hybrid PLL/FLL and its state machine (NSET, FSET,
//! SPIK, FREQ, SYNC), the step, stepout and panic thresholds, the frequency
//! file, leap-second handling, and the `Clock` trait with a Linux system
//! clock (`clock_adjtime`) and a simulated clock for tests and simulation.
//!
//! The implementation arrives with the discipline issue; today the crate
//! holds only this description.
