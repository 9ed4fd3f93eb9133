//! Device access: the only place in the crate with `unsafe` code.
//!
//! Each submodule wraps one kind of device in a safe API: [`serial`]
//! (termios), [`pps`] (the Linux RFC 2783 ioctls) and [`shm`] (System V
//! shared memory in gpsd's `shmTime` layout). Every `unsafe` block carries a
//! `// SAFETY:` comment saying why it is sound.

pub mod pps;
pub mod serial;
pub mod shm;
