//! The poll process (RFC 5905 A.5.7 `poll()` and A.5.7.3 `peer_xmit()`).

use ntp_poll::{PollRole, Uptime};
use ntp_wire::time::NtpTimestamp;

use super::{
    AssocId, DemobiliseReason, Endpoint, Event, Kind, SendFrom, Transmit, TransmitKind, Volley,
};
use crate::dispatch::AssocMode;
use crate::server::{OutgoingMac, PacketBuf};

impl Endpoint {
    /// Runs every poll process due at `now` (RFC 5905 `poll()`); `clock` is
    /// the system clock now, the transmit timestamp of packets sent.
    pub fn handle_timeout(&mut self, now: Uptime, clock: NtpTimestamp) {
        let due: Vec<AssocId> = self
            .assocs
            .values()
            .filter(|a| match &a.ring {
                Some(ring) => ring.poll_timeout() <= now,
                None => a.poller.poll_timeout() <= now,
            })
            .map(|a| a.id)
            .collect();
        for id in due {
            self.poll_one(id, now, clock);
        }
    }

    /// `poll()` for one association (or manycast template) due at `now`.
    fn poll_one(&mut self, id: AssocId, now: Uptime, clock: NtpTimestamp) {
        let system = self.system;
        let found = self
            .assocs
            .values()
            .filter(|a| a.template == Some(id))
            .count();
        let Some(assoc) = self.assocs.get_mut(&id) else {
            return;
        };
        if let Some(ring) = assoc.ring.as_mut() {
            if let Some(ttl) = ring.handle_timeout(now, found) {
                self.send(id, clock, Some(ttl));
            }
            return;
        }
        let event = assoc.poller.handle_timeout(now);
        if event.stuff_filter {
            assoc
                .filter
                .stuff(now, system.poll, system.is_synchronised());
        }
        if event.lost_reach {
            self.events.push_back(Event::Unreachable { id });
        }
        // A broadcast client whose volley went unanswered falls back to
        // the configured delay.
        if assoc.volley == Some(Volley::Running) && !assoc.poller.in_burst() && event.send {
            let delay = if assoc.filter.valid_count() > 0 {
                assoc.filter.delay()
            } else {
                self.config.broadcast_delay
            };
            assoc.volley = Some(Volley::Done(delay));
            assoc.mode = AssocMode::BroadcastClient;
            assoc.poller.set_role(PollRole::ListenOnly);
            return;
        }
        if event.timed_out {
            let removable = match assoc.config.kind {
                Kind::Persistent => false,
                Kind::Preemptable => true,
                Kind::Ephemeral => assoc.mode != AssocMode::SymmetricPassive || assoc.sent > 0,
            };
            if removable {
                self.remove(id, DemobiliseReason::Timeout);
                return;
            }
        }
        if event.send {
            let broadcast_idle =
                assoc.mode == AssocMode::BroadcastServer && !system.is_synchronised();
            if !broadcast_idle {
                let ttl = assoc.config.ttl;
                self.send(id, clock, ttl);
            }
        }
    }

    /// `peer_xmit()`: builds and queues the association's packet.
    fn send(&mut self, id: AssocId, clock: NtpTimestamp, ttl: Option<u8>) {
        let system = self.system;
        let Some(assoc) = self.assocs.get_mut(&id) else {
            return;
        };
        if assoc.denied || self.denied.contains(&assoc.config.address.ip()) {
            assoc.poller.stop();
            return;
        }
        let mut header = system.header(
            assoc.config.version,
            assoc.mode.packet_mode(),
            assoc.poller.packet_poll(),
        );
        if matches!(
            assoc.mode,
            AssocMode::SymmetricActive | AssocMode::SymmetricPassive
        ) {
            header.origin_time = assoc.org;
            header.receive_time = assoc.rec;
        }
        header.transmit_time = clock;
        let mac = match assoc.config.key {
            None => OutgoingMac::None,
            Some(key_id) => match self.auth.key_for(key_id, assoc.config.address.ip()) {
                Some(key) => OutgoingMac::Key(key),
                None => {
                    self.events.push_back(Event::KeyMissing { id, key: key_id });
                    return;
                }
            },
        };
        assoc.xmt = clock;
        assoc.sent += 1;
        let from = match assoc.mode {
            AssocMode::Client | AssocMode::ManycastClient | AssocMode::BroadcastClient => {
                SendFrom::Client
            }
            AssocMode::SymmetricActive
            | AssocMode::SymmetricPassive
            | AssocMode::BroadcastServer => SendFrom::Server,
        };
        self.transmits.push_back(Transmit {
            destination: assoc.config.address,
            source: None,
            ttl,
            association: Some(id),
            from,
            kind: TransmitKind::Association,
            packet: PacketBuf::build(&header, mac),
        });
    }
}
