//! The NTPv4 peer process (RFC 5905 sections 8-10, Appendix A.5.1-A.5.3),
//! sans-IO.
//!
//! This crate will own the associations of every mode (client, server,
//! symmetric active/passive, broadcast/multicast, manycast, pool), their
//! persistent/preemptable/ephemeral lifecycle, the dispatch matrix of
//! incoming packets, the packet checks, the on-wire offset and delay
//! computation, the clock filter, reachability, Kiss-o'-Death handling and
//! server replies. Packets come in as bytes and go out as values for the
//! caller to send; time is an argument.
//!
//! The implementation arrives with the associations issue; today the crate
//! holds only this description.
