//! The NTPv4 poll process (RFC 5905 section 13, Appendix A.5.7), sans-IO.
//!
//! This crate will own when an association sends: the poll exponent and its
//! bounds (`minpoll`/`maxpoll`), the jitter-driven poll adjustment, the
//! `burst`/`iburst` schedules, the unreachable back-off, the Kiss-o'-Death
//! RATE back-off, the manycast TTL ring and beacon, and the randomisation of
//! send times. It never reads a clock or sleeps: time is an argument and the
//! caller asks for the next deadline.
//!
//! The implementation arrives with the associations issue; today the crate
//! holds only this description.
