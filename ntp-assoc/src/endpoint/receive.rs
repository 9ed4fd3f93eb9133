//! RFC 5905 A.5.1 `receive()`: the access and version checks, the
//! authentication code, the association the packet matches, and the
//! action of the dispatch matrix (figure 20): DSCRD, ERR, FXMIT, NEWPS,
//! NEWBC, the manycast client's MANY, or PROC.

use std::net::SocketAddr;

use ntp_poll::{PollConfig, PollRole, Uptime};
use ntp_wire::packet::{Header, Mode, Packet, PacketView};
use ntp_wire::time::NtpTimestamp;

use super::{
    Access, AssocConfig, AssocId, DemobiliseReason, Disposition, Endpoint, Event, Kind, Volley,
};
use crate::auth::AuthOutcome;
use crate::dispatch::{Action, AssocMode, Row, dispatch};
use crate::onwire::{MAXSTRAT, Rejection, version_supported};

/// Why `receive()` refused a packet, and the association it matched.
pub(super) type Refusal = (Option<AssocId>, Rejection);

impl Endpoint {
    /// Handles a packet from `source` to local `destination` that arrived
    /// at `received` (the receive timestamp, T4) and at `now` (monotonic),
    /// with the caller's `access` decision for the source.
    pub fn handle(
        &mut self,
        now: Uptime,
        received: NtpTimestamp,
        source: SocketAddr,
        destination: SocketAddr,
        bytes: &[u8],
        access: Access,
    ) -> Disposition {
        let outcome = self.receive(now, received, source, destination, bytes, access);
        if let Err((id, reason)) = outcome {
            if let Some(assoc) = id.and_then(|id| self.assocs.get_mut(&id)) {
                assoc.last_rejection = Some(reason);
            }
            self.events
                .push_back(Event::Rejected { id, source, reason });
            return Disposition::Dropped(reason);
        }
        outcome.unwrap_or(Disposition::Dropped(Rejection::Malformed))
    }

    /// `receive()`: the checks every packet passes, then the dispatch
    /// matrix's action; PROC (and the mobilising actions) continue in
    /// [`Endpoint::process`].
    fn receive(
        &mut self,
        now: Uptime,
        received: NtpTimestamp,
        source: SocketAddr,
        destination: SocketAddr,
        bytes: &[u8],
        access: Access,
    ) -> Result<Disposition, Refusal> {
        let malformed = |_| (None, Rejection::Malformed);
        let view = PacketView::new_checked(bytes).map_err(malformed)?;
        if matches!(view.mode(), Mode::Control | Mode::Private) {
            return Ok(Disposition::Control);
        }
        if access.ignore {
            return Err((None, Rejection::AccessDenied));
        }
        let packet = Packet::parse(bytes).map_err(malformed)?;
        let header = packet.header;
        if !version_supported(header.version) {
            return Err((None, Rejection::BadVersion(header.version)));
        }
        let auth = self.auth.check(bytes, packet.mac, source.ip());

        let (found, row) = self.matching(source, &header);
        let id = match dispatch(row, header.mode) {
            Action::Discard => {
                return Err((found, Rejection::ModeError(header.mode, row_name(row))));
            }
            Action::Error => {
                self.mode_error(found);
                return Err((found, Rejection::ModeError(header.mode, row_name(row))));
            }
            Action::FastReply => {
                return self.serve(
                    received,
                    now,
                    source,
                    destination,
                    &header,
                    bytes.len(),
                    auth,
                    access,
                );
            }
            Action::NewPassive => self.new_passive(now, source, &header, auth, access)?,
            Action::NewBroadcastClient => {
                let id = self.new_broadcast_client(now, source, &header, auth, access)?;
                if self.start_volley(id, &header, received) {
                    // The volley packet goes out at once.
                    return Ok(Disposition::Processed(id));
                }
                id
            }
            Action::NewManycast => self.new_manycast(now, source, &header, auth, access)?,
            Action::Process => found.ok_or((None, Rejection::Malformed))?,
        };
        self.process(id, now, received, &header, auth, access)
            .map_err(|reason| (Some(id), reason))
    }

    /// The association a packet from `source` matches (none for a client
    /// packet: it is served statelessly), and its row of the dispatch
    /// matrix.
    fn matching(&self, source: SocketAddr, header: &Header) -> (Option<AssocId>, Row) {
        let found = if header.mode == Mode::Client {
            None
        } else {
            self.find(source)
        };
        let row = match found.and_then(|id| self.assocs.get(&id)) {
            None => Row::NoAssociation,
            Some(a) if a.volley == Some(Volley::Running) => Row::BroadcastVolley,
            Some(a) => Row::Assoc(a.mode),
        };
        (found, row)
    }

    /// ERR: an invalid mode combination; an ephemeral association is
    /// demobilised (`clear(p, X_ERROR)`).
    fn mode_error(&mut self, found: Option<AssocId>) {
        if let Some(id) = found
            && self
                .assocs
                .get(&id)
                .is_some_and(|a| a.config.kind == Kind::Ephemeral)
        {
            self.remove(id, DemobiliseReason::ModeError);
        }
    }

    /// NEWPS: a symmetric active packet matching no association mobilises
    /// an ephemeral symmetric passive one, in the packet's version.
    fn new_passive(
        &mut self,
        now: Uptime,
        source: SocketAddr,
        header: &Header,
        auth: AuthOutcome,
        access: Access,
    ) -> Result<AssocId, Refusal> {
        if !auth.acceptable(access.notrust || self.auth.required) {
            return Err((None, Rejection::AuthenticationFailed));
        }
        if access.nopeer || access.noserve {
            return Err((None, Rejection::AccessDenied));
        }
        let mut config = AssocConfig::client(source).with_mode(AssocMode::SymmetricPassive);
        config.kind = Kind::Ephemeral;
        config.version = header.version;
        config.key = received_key(auth);
        config.poll.role = PollRole::Symmetric;
        config.poll = polled_like(config.poll, header.poll);
        Ok(self.insert(config, now, None))
    }

    /// NEWBC: a broadcast packet matching no association mobilises an
    /// ephemeral broadcast client (when `broadcastclient` is on), in the
    /// packet's version, with an iburst for the volley if there is one.
    fn new_broadcast_client(
        &mut self,
        now: Uptime,
        source: SocketAddr,
        header: &Header,
        auth: AuthOutcome,
        access: Access,
    ) -> Result<AssocId, Refusal> {
        if !self.config.broadcast_client {
            return Err((None, Rejection::ModeError(header.mode, "no")));
        }
        if !auth.acceptable(access.notrust || self.auth.required) {
            return Err((None, Rejection::AuthenticationFailed));
        }
        if access.nopeer {
            return Err((None, Rejection::AccessDenied));
        }
        let mut config = AssocConfig::client(source).with_mode(AssocMode::BroadcastClient);
        config.kind = Kind::Ephemeral;
        config.version = header.version;
        config.key = received_key(auth);
        config.poll = polled_like(config.poll, header.poll);
        config.poll.iburst = self.config.broadcast_volley;
        Ok(self.insert(config, now, None))
    }

    /// The reference implementation's initial volley of a new broadcast
    /// client: with `broadcast_volley`, the client/server exchange that
    /// measures the delay starts (and `true` is returned: the packet that
    /// mobilised it is not processed further); without, the client listens
    /// with the configured `broadcastdelay`.
    fn start_volley(&mut self, id: AssocId, header: &Header, received: NtpTimestamp) -> bool {
        let volley = self.config.broadcast_volley;
        let broadcast_delay = self.config.broadcast_delay;
        let Some(assoc) = self.assocs.get_mut(&id) else {
            return false;
        };
        if volley {
            assoc.volley = Some(Volley::Running);
            assoc.org = header.transmit_time;
            assoc.rec = received;
            return true;
        }
        assoc.volley = Some(Volley::Done(broadcast_delay));
        assoc.poller.set_role(PollRole::ListenOnly);
        false
    }

    /// MANY: a server's reply to one of our manycast client templates
    /// mobilises a preemptable client of that server, from the template,
    /// while it is at or below our stratum and there are fewer than
    /// `maxclock` clients.
    fn new_manycast(
        &mut self,
        now: Uptime,
        source: SocketAddr,
        header: &Header,
        auth: AuthOutcome,
        access: Access,
    ) -> Result<AssocId, Refusal> {
        let template = self
            .assocs
            .values()
            .find(|a| {
                a.mode == AssocMode::ManycastClient
                    && !a.xmt.is_zero()
                    && a.xmt == header.origin_time
            })
            .map(|a| (a.id, a.config));
        let Some((template_id, template)) = template else {
            return Err((None, Rejection::ModeError(header.mode, "no")));
        };
        if !auth.acceptable(access.notrust || self.auth.required || template.key.is_some()) {
            return Err((None, Rejection::AuthenticationFailed));
        }
        if self.denied.contains(&source.ip()) || access.nopeer {
            return Err((None, Rejection::AccessDenied));
        }
        let server_stratum = if header.stratum == 0 {
            MAXSTRAT
        } else {
            header.stratum
        };
        if server_stratum > self.system.stratum || self.client_count() >= self.config.maxclock {
            return Err((None, Rejection::StratumTooHigh(header.stratum)));
        }
        let mut config = template;
        config.address = source;
        config.mode = AssocMode::Client;
        config.kind = Kind::Preemptable;
        config.poll.role = PollRole::Client;
        let id = self.insert(config, now, Some(template_id));
        if let Some(assoc) = self.assocs.get_mut(&id) {
            assoc.xmt = header.origin_time;
        }
        if let Some(ring) = self
            .assocs
            .get_mut(&template_id)
            .and_then(|t| t.ring.as_mut())
        {
            ring.servers_changed(now, 0);
        }
        Ok(id)
    }
}

/// The key of an authenticated packet, which an association it mobilises
/// goes on using.
fn received_key(auth: AuthOutcome) -> Option<u32> {
    match auth {
        AuthOutcome::Ok(key) => Some(key),
        _ => None,
    }
}

/// The poll bounds of an association mobilised by a packet (symmetric
/// passive, broadcast client): the minimum is the sender's poll exponent
/// and the maximum the default, as the reference implementation's
/// `newpeer(..., pkt->ppoll, NTP_MAXDPOLL, ...)`, so that the passive side
/// answers at its peer's rate even while it cannot use the peer's packets
/// (an unsynchronised peer).
fn polled_like(poll: PollConfig, peer_poll: i8) -> PollConfig {
    let minpoll = peer_poll.clamp(ntp_poll::MINPOLL_LIMIT, ntp_poll::MAXPOLL_LIMIT);
    PollConfig {
        minpoll,
        maxpoll: ntp_poll::DEFAULT_MAXPOLL.max(minpoll),
        ..poll
    }
}

/// The dispatch matrix row's name, for the mode error's message.
fn row_name(row: Row) -> &'static str {
    match row {
        Row::NoAssociation => "no",
        Row::Assoc(mode) => mode.name(),
        Row::BroadcastVolley => "broadcast client (volley)",
    }
}
