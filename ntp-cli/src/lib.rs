//! The composition behind `ntpctl`.
//!
//! The library part of `ntp-cli` holds what the binary is made of, split by
//! concern:
//!
//! - [`output`]: how packets and measurements are printed (text and JSON);
//! - [`decode`]: the `ntpctl decode` command's input handling;
//! - [`query`]: `ntpctl query`, the one-shot measurement (resolution, the
//!   blocking `poll(2)` loop, the reply checks, `--step`/`--slew`);
//! - [`config`]: the `ntp.conf` parser;
//! - [`control`]: the control socket protocol, its client and its server;
//! - [`refclock_watch`]: `ntpctl refclock watch`, the reference clock diagnostic;
//! - [`stats`]: `loopstats` and `peerstats` files in the reference format;
//!
//! and, as the daemon arrives, `node` (the
//! sans-IO composition of the peer, poll, system, orphan, discipline and
//! refclock processes), `runtime` (the single-threaded `poll(2)` event loop
//! and its sockets) and `control` (the control socket), and [`sim`] (the
//! deterministic multi-node simulation in virtual time). The binary `ntpctl`
//! is a thin shell over these modules.

pub mod config;
pub mod control;
pub mod decode;
pub mod node;
pub mod output;
pub mod privileges;
pub mod query;
pub mod refclock_watch;
pub mod runtime;
pub mod sim;
pub mod stats;
