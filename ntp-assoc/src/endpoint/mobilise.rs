//! Mobilisation and demobilisation (RFC 5905 A.2 `mobilize()`/`clear()`):
//! configured associations, the table's bookkeeping, and preemption.

use std::net::SocketAddr;

use ntp_poll::{ManycastRing, Poller, Uptime};

use super::{
    AssocConfig, AssocId, Association, ConfigError, DemobiliseReason, Endpoint, Event, Kind,
};
use crate::dispatch::AssocMode;
use crate::filter::ClockFilter;
use crate::onwire::version_supported;

impl Endpoint {
    /// Mobilises an association at `now`.
    pub fn mobilise(&mut self, config: AssocConfig, now: Uptime) -> Result<AssocId, ConfigError> {
        let mut config = config;
        config.poll.role = config.role();
        config.poll.validate()?;
        if !version_supported(config.version) {
            return Err(ConfigError::Version(config.version));
        }
        if self.denied.contains(&config.address.ip()) {
            return Err(ConfigError::Denied(config.address.ip()));
        }
        if self.find(config.address).is_some() {
            return Err(ConfigError::Duplicate(config.address));
        }
        Ok(self.insert(config, now, None))
    }

    /// Adds an association (from `template`, a manycast client, if any).
    pub(super) fn insert(
        &mut self,
        config: AssocConfig,
        now: Uptime,
        template: Option<AssocId>,
    ) -> AssocId {
        let id = AssocId(self.next_id);
        self.next_id += 1;
        let seed = self.random.next_u64();
        let mut poller = Poller::new(config.poll, now, seed);
        poller.set_system_poll(self.system.poll);
        let ring = (config.mode == AssocMode::ManycastClient).then(|| {
            ManycastRing::new(
                &self.config.ttls,
                config.poll.minpoll,
                self.config.minclock,
                self.config.beacon,
                now,
            )
        });
        let assoc = Association::new(
            id,
            config,
            poller,
            ClockFilter::new(self.system.precision),
            ring,
            template,
        );
        self.events.push_back(Event::Mobilised {
            id,
            address: config.address,
            mode: config.mode,
            kind: config.kind,
        });
        self.assocs.insert(id, assoc);
        id
    }

    /// Demobilises an association (any kind) at the caller's request.
    pub fn demobilise(&mut self, id: AssocId) -> bool {
        self.remove(id, DemobiliseReason::Removed)
    }

    /// Removes an association and reports why.
    pub(super) fn remove(&mut self, id: AssocId, reason: DemobiliseReason) -> bool {
        match self.assocs.remove(&id) {
            Some(assoc) => {
                self.events.push_back(Event::Demobilised {
                    id,
                    address: assoc.config.address,
                    reason,
                });
                true
            }
            None => false,
        }
    }

    /// `clear(p, X_STEP)` for every association (RFC 5905 A.5.5.3: after
    /// the clock is stepped every sample measured before is wrong by the
    /// step): peer variables, clock filter and poll state start over (reach
    /// 0, poll at minpoll, the next poll within a quarter of a second, an
    /// `iburst` re-armed). Broadcast servers, which only send, and manycast
    /// templates, which hold no samples, keep their schedule.
    pub fn clear_all(&mut self, now: Uptime) {
        for assoc in self.assocs.values_mut() {
            if assoc.mode == AssocMode::BroadcastServer || assoc.ring.is_some() {
                continue;
            }
            assoc.clear_peer_variables();
            assoc.filter.reset(now);
            assoc.poller.reset(now);
        }
    }

    /// Preemption (the system process's "excess association" hook): while
    /// there are more than `maxclock` client associations, demobilise
    /// preemptable ones that are not among `survivors`, worst first in the
    /// order given by `ranked_worst_first` (outlyers, then largest
    /// distance). Persistent associations are never touched. Returns the
    /// associations demobilised.
    pub fn preempt(
        &mut self,
        survivors: &[AssocId],
        ranked_worst_first: &[AssocId],
    ) -> Vec<AssocId> {
        let mut gone = Vec::new();
        for id in ranked_worst_first {
            if self.client_count() <= self.config.maxclock {
                break;
            }
            let Some(assoc) = self.assocs.get(id) else {
                continue;
            };
            if assoc.config.kind == Kind::Preemptable
                && assoc.mode == AssocMode::Client
                && !survivors.contains(id)
            {
                self.remove(*id, DemobiliseReason::Preempted);
                gone.push(*id);
            }
        }
        gone
    }

    /// The association that receives packets from `source` (not a
    /// manycast template nor a broadcast server).
    pub(super) fn find(&self, source: SocketAddr) -> Option<AssocId> {
        self.assocs
            .values()
            .find(|a| {
                a.config.address == source
                    && !matches!(
                        a.mode,
                        AssocMode::ManycastClient | AssocMode::BroadcastServer
                    )
            })
            .map(|a| a.id)
    }
}
