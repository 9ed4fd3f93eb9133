//! The NTPv4 wire format.
