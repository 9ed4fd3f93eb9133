//! The PROC section of RFC 5905 A.5.1 `receive()` (the timestamp checks,
//! the crypto-NAK, authentication and the Kiss-o'-Death) and A.5.1.1
//! `packet()`: the header variables, the packet checks, the on-wire
//! sample and its hand-off to `clock_filter()` (A.5.2).

use ntp_poll::Uptime;
use ntp_wire::packet::{Header, Mode};
use ntp_wire::refid::KissCode;
use ntp_wire::time::{NtpDuration, NtpTimestamp};

use super::{
    Access, AssocId, Association, DemobiliseReason, Disposition, Endpoint, Event, Kind, Volley,
};
use crate::auth::AuthOutcome;
use crate::dispatch::AssocMode;
use crate::filter::FilterOutcome;
use crate::onwire::{
    MAXSTRAT, Rejection, Sample, TimestampField, Timestamps, broadcast_sample, check_header,
    client_sample,
};

impl Endpoint {
    /// PROC: the timestamp checks of `receive()` and then `packet()`.
    pub(super) fn process(
        &mut self,
        id: AssocId,
        now: Uptime,
        received: NtpTimestamp,
        header: &Header,
        auth: AuthOutcome,
        access: Access,
    ) -> Result<Disposition, Rejection> {
        let Some(assoc) = self.assocs.get_mut(&id) else {
            return Err(Rejection::Malformed);
        };
        if access.ignore {
            return Err(Rejection::AccessDenied);
        }
        assoc.timestamp_checks(header, received)?;
        self.authentication(id, now, auth, access)?;
        self.kiss_o_death(id, now, header)?;
        self.packet(id, now, received, header)
    }

    /// Test 5, once the timestamps are valid and the packet matches the
    /// last one sent: a crypto-NAK (the server may have changed keys)
    /// clears the association; otherwise a keyed (or `notrust`)
    /// association requires a MAC with its key, against a bait-and-switch.
    fn authentication(
        &mut self,
        id: AssocId,
        now: Uptime,
        auth: AuthOutcome,
        access: Access,
    ) -> Result<(), Rejection> {
        if auth == AuthOutcome::CryptoNak {
            self.crypto_nak(id, now);
            return Err(Rejection::CryptoNak);
        }
        let Some(assoc) = self.assocs.get(&id) else {
            return Err(Rejection::Malformed);
        };
        let required = assoc.config.key.is_some() || access.notrust;
        if !auth.acceptable(required) {
            return Err(Rejection::AuthenticationFailed);
        }
        if let (Some(key), AuthOutcome::Ok(got)) = (assoc.config.key, auth)
            && key != got
        {
            return Err(Rejection::AuthenticationFailed);
        }
        Ok(())
    }

    /// The Kiss-o'-Death, honoured only now that origin and MAC passed:
    /// RATE backs the poll off, DENY and RSTR stop every association
    /// with that server.
    fn kiss_o_death(&mut self, id: AssocId, now: Uptime, header: &Header) -> Result<(), Rejection> {
        let Some(code) = header.kiss_code() else {
            return Ok(());
        };
        match code {
            KissCode::Rate => {
                if let Some(assoc) = self.assocs.get_mut(&id) {
                    assoc.poller.handle_rate_kiss(now, header.poll);
                }
                self.events.push_back(Event::Kiss { id, code });
                Err(Rejection::Kiss(code))
            }
            KissCode::Deny | KissCode::Rstr => {
                self.events.push_back(Event::Kiss { id, code });
                self.deny(id, code);
                Err(Rejection::Kiss(code))
            }
            _ => Ok(()),
        }
    }

    /// `packet()`: lights up the header variables, then tests 6-8; the
    /// packet is valid: reachability, and the on-wire sample goes to the
    /// clock filter.
    fn packet(
        &mut self,
        id: AssocId,
        now: Uptime,
        received: NtpTimestamp,
        header: &Header,
    ) -> Result<Disposition, Rejection> {
        let system = self.system;
        let broadcast_delay = self.config.broadcast_delay;
        let Some(assoc) = self.assocs.get_mut(&id) else {
            return Err(Rejection::Malformed);
        };
        assoc.header_variables(header);
        check_header(header)?;
        let symmetric = assoc.is_symmetric();
        assoc
            .poller
            .handle_reply(now, symmetric.then_some(header.poll));
        assoc.received += 1;
        assoc.last_rejection = None;
        let sample = assoc.sample(header, received, broadcast_delay, system.precision);
        self.clock_filter(id, now, &sample);
        Ok(Disposition::Processed(id))
    }

    /// The hand-off to `clock_filter()`, and what the system process hears
    /// of it.
    fn clock_filter(&mut self, id: AssocId, now: Uptime, sample: &Sample) {
        let system = self.system;
        let Some(assoc) = self.assocs.get_mut(&id) else {
            return;
        };
        let outcome = assoc.filter.update(
            sample.offset,
            sample.delay,
            sample.dispersion,
            now,
            system.poll,
            system.is_synchronised(),
        );
        if outcome != FilterOutcome::PopcornSpike {
            self.events.push_back(Event::Sample {
                id,
                offset: sample.offset,
                delay: sample.delay,
                taken: now,
            });
        }
        // ntpd's clock_filter(): "if not synchronised or not in a burst,
        // call clock_select": while unsynchronised every new sample counts,
        // so that an iburst synchronises as soon as the source is fit. A
        // broadcast client's volley is a delay calibration, not a start-up
        // burst: its samples wait for its end, as before (starting the
        // clock on client/server samples and going on with broadcast ones
        // would turn their difference into a frequency error).
        let startup = !system.is_synchronised() && !assoc.in_volley();
        if outcome == FilterOutcome::Accepted && (!assoc.poller.in_burst() || startup) {
            self.events.push_back(Event::ClockUpdate { id });
        }
    }

    /// `clear(p, X_CRYPTO)`: a persistent association starts over, any
    /// other goes.
    fn crypto_nak(&mut self, id: AssocId, now: Uptime) {
        let Some(assoc) = self.assocs.get_mut(&id) else {
            return;
        };
        if assoc.config.kind == Kind::Persistent {
            assoc.clear_peer_variables();
            assoc.filter.reset(now);
            assoc.poller.reset(now);
        } else {
            self.remove(id, DemobiliseReason::CryptoNak);
        }
    }

    /// A DENY or RSTR kiss: the address is remembered and every
    /// association with it goes.
    fn deny(&mut self, id: AssocId, code: KissCode) {
        let Some(assoc) = self.assocs.get(&id) else {
            return;
        };
        let address = assoc.config.address.ip();
        self.denied.insert(address);
        let same: Vec<AssocId> = self
            .assocs
            .values()
            .filter(|a| a.config.address.ip() == address)
            .map(|a| a.id)
            .collect();
        for other in same {
            self.remove(other, DemobiliseReason::Denied(code));
        }
    }
}

impl Association {
    /// Whether this is a symmetric (active or passive) association.
    fn is_symmetric(&self) -> bool {
        matches!(
            self.mode,
            AssocMode::SymmetricActive | AssocMode::SymmetricPassive
        )
    }

    /// The timestamp checks of PROC: test 3 (a zero transmit timestamp),
    /// test 1 (duplicate), test 2 (bogus origin, or zero: not yet heard
    /// from us); org and rec are updated as the RFC says (a client's only
    /// from a reply that matches), and a client's xmt is cleared so a
    /// replayed reply finds no request.
    fn timestamp_checks(
        &mut self,
        header: &Header,
        received: NtpTimestamp,
    ) -> Result<(), Rejection> {
        // Test 3: a zero transmit timestamp is broken.
        if header.transmit_time.is_zero() {
            return Err(Rejection::InvalidTimestamp(TimestampField::Transmit));
        }
        // Test 1: duplicate / replay.
        if header.transmit_time == self.org {
            return Err(Rejection::Duplicate);
        }
        let symmetric = self.is_symmetric();
        // Test 2: bogus (origin check), and test 3 for a zero origin.
        let mut synch = Ok(());
        if header.mode != Mode::Broadcast {
            if header.origin_time.is_zero() {
                synch = Err(Rejection::InvalidTimestamp(TimestampField::Origin));
            } else if header.origin_time != self.xmt {
                synch = Err(Rejection::Bogus);
            }
        }
        if symmetric || header.mode == Mode::Broadcast || synch.is_ok() {
            self.org = header.transmit_time;
            self.rec = received;
        }
        synch?;
        if header.mode != Mode::Broadcast && !symmetric {
            // Protect against a replay of the request: one reply per request.
            self.xmt = NtpTimestamp::ZERO;
        }
        Ok(())
    }

    /// `packet()`'s first step: the header variables (stratum 0 read as
    /// MAXSTRAT).
    fn header_variables(&mut self, header: &Header) {
        self.leap = header.leap;
        self.stratum = if header.stratum == 0 {
            MAXSTRAT
        } else {
            header.stratum
        };
        self.ppoll = header.poll;
        self.root_delay = header.root_delay.to_duration();
        self.root_dispersion = header.root_dispersion.to_duration();
        self.refid = header.reference_id;
        self.reftime = header.reference_time;
    }

    /// The on-wire sample of a valid packet: broadcast (with the volley's
    /// delay, or `broadcastdelay`) or client/symmetric.
    fn sample(
        &self,
        header: &Header,
        received: NtpTimestamp,
        broadcast_delay: NtpDuration,
        precision: i8,
    ) -> Sample {
        if header.mode == Mode::Broadcast {
            let delay = match self.volley {
                Some(Volley::Done(delay)) => delay,
                _ => broadcast_delay,
            };
            broadcast_sample(
                header.transmit_time,
                received,
                delay,
                header.precision,
                precision,
            )
        } else {
            client_sample(
                &Timestamps::from_reply(header, received),
                header.precision,
                precision,
            )
        }
    }
}
