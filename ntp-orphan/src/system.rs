//! The system process with orphan mode around it.

use ntp_select::{
    Candidate, ClockUpdate, SelectionResult, SystemProcess, SystemVariables, TosError, TosSettings,
};
use ntp_wire::time::{NtpTimestamp, Uptime};

use crate::orphan::{Orphan, OrphanDecision, OrphanSettings, OrphanState};

/// The system process of a host with (possibly) orphan mode configured:
/// [`SystemProcess`] plus [`Orphan`], wired in the order ntpd uses.
#[derive(Clone, Debug)]
pub struct OrphanSystem<K> {
    system: SystemProcess<K>,
    orphan: Orphan,
    last: Option<OrphanDecision<K>>,
}

impl<K: Copy + PartialEq> OrphanSystem<K> {
    /// A host starting at `now` with the `tos` settings (including `orphan`
    /// and `orphanwait`) and its own address metric
    /// ([`address_metric`](crate::address_metric)).
    pub fn new(tos: TosSettings, local_metric: u32, now: Uptime) -> Result<Self, TosError> {
        let orphan = Orphan::new(OrphanSettings::from_tos(&tos), local_metric, now);
        Ok(Self {
            system: SystemProcess::new(tos)?,
            orphan,
            last: None,
        })
    }

    /// Runs selection over `candidates` at `now` with the orphan rules
    /// applied, and decides the orphan state. Call it whenever an
    /// association's clock filter produces a sample, and at
    /// [`OrphanSystem::next_deadline`].
    pub fn update(
        &mut self,
        candidates: &[Candidate<K>],
        now: Uptime,
        clock_now: NtpTimestamp,
    ) -> (SelectionResult<K>, OrphanDecision<K>) {
        let (prepared, elected) = self.orphan.prepare(candidates, self.system.tos(), now);
        let result = self.system.select(&prepared, now);
        let decision =
            self.orphan
                .decide(&result, elected, self.system.variables(), now, clock_now);
        self.last = Some(decision);
        (result, decision)
    }

    /// What the host advertises now: the orphan parent's variables while it
    /// is the parent, otherwise the system variables.
    pub fn advertised(&self, now: Uptime, clock_now: NtpTimestamp) -> SystemVariables {
        match self.last {
            Some(OrphanDecision {
                state: OrphanState::Parent,
                ..
            }) => self.orphan.parent_variables(now, clock_now),
            _ => *self.system.variables(),
        }
    }

    /// The orphan state of the last decision (`Waiting` from start-up until
    /// the first update).
    pub fn state(&self) -> Option<OrphanState<K>> {
        self.last.map(|d| d.state)
    }

    /// When to call [`OrphanSystem::update`] again even without new samples.
    pub fn next_deadline(&self) -> Option<Uptime> {
        self.last.and_then(|d| d.next_deadline)
    }

    /// The system process inside.
    pub fn system(&self) -> &SystemProcess<K> {
        &self.system
    }

    /// The orphan state machine inside.
    pub fn orphan(&self) -> &Orphan {
        &self.orphan
    }

    /// `clock_update()` of the system process with orphan mode's decision
    /// as its input: an orphan parent, or a host still waiting out
    /// `orphanwait`, disciplines nothing (see
    /// [`SystemProcess::clock_update`]).
    pub fn clock_update(
        &mut self,
        result: &SelectionResult<K>,
        now: Uptime,
        clock_now: NtpTimestamp,
    ) -> ClockUpdate<K> {
        match self.last {
            Some(OrphanDecision {
                state: OrphanState::Parent | OrphanState::Waiting { .. },
                ..
            }) => ClockUpdate::NoPeer,
            _ => self.system.clock_update(result, now, clock_now),
        }
    }

    /// The clock was stepped (`clock_update()`'s STEP case): the system
    /// forgets its peer and variables; the orphan wait is not restarted by
    /// this alone.
    pub fn clock_stepped(&mut self) {
        self.system.clock_stepped();
    }

    /// Forgets the system state (as [`OrphanSystem::clock_stepped`]).
    pub fn reset(&mut self) {
        self.system.reset();
    }
}
