//! The stateless server: the FXMIT action of RFC 5905 A.5.1 `receive()`,
//! handing over to `fast_xmit()` (A.5.3).

use std::net::{IpAddr, SocketAddr};

use ntp_poll::Uptime;
use ntp_wire::packet::{Header, Mode};
use ntp_wire::time::NtpTimestamp;

use super::receive::Refusal;
use super::{Access, Disposition, Endpoint, SendFrom, Transmit, TransmitKind};
use crate::auth::AuthOutcome;
use crate::onwire::{MAXSTRAT, Rejection};
use crate::server::{OutgoingMac, ReplyKind, fast_xmit};

impl Endpoint {
    /// The stateless server (FXMIT).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn serve(
        &mut self,
        received: NtpTimestamp,
        _now: Uptime,
        source: SocketAddr,
        destination: SocketAddr,
        request: &Header,
        request_len: usize,
        auth: AuthOutcome,
        access: Access,
    ) -> Result<Disposition, Refusal> {
        if access.noserve {
            return Err((None, Rejection::AccessDenied));
        }
        let system = self.system;
        let manycast = destination.ip().is_multicast()
            || matches!(destination.ip(), IpAddr::V4(v4) if v4.is_broadcast());
        if manycast {
            // A manycast client: answer only when synchronised, at a
            // stratum at or below the client's, authenticated as required;
            // never a crypto-NAK.
            if !self.config.manycast_server {
                return Err((None, Rejection::AccessDenied));
            }
            let client_stratum = if request.stratum == 0 {
                MAXSTRAT
            } else {
                request.stratum
            };
            let too_high = if self.config.cohort {
                system.stratum > client_stratum
            } else {
                system.stratum >= client_stratum
            };
            if !system.is_synchronised() {
                return Err((None, Rejection::Unsynchronised));
            }
            if too_high {
                return Err((None, Rejection::StratumTooHigh(system.stratum)));
            }
            if !auth.acceptable(access.notrust) {
                return Err((None, Rejection::AuthenticationFailed));
            }
        }
        let mac = match auth {
            AuthOutcome::Ok(key_id) => self
                .auth
                .key_for(key_id, source.ip())
                .map_or(OutgoingMac::CryptoNak, OutgoingMac::Key),
            AuthOutcome::Error(_) => OutgoingMac::CryptoNak,
            AuthOutcome::None if access.notrust => {
                return Err((None, Rejection::AuthenticationFailed));
            }
            AuthOutcome::None | AuthOutcome::CryptoNak => OutgoingMac::None,
        };
        let kind = access.kiss.map_or(ReplyKind::Time, ReplyKind::Kiss);
        let mode = if request.mode == Mode::SymmetricActive {
            Mode::SymmetricPassive
        } else {
            Mode::Server
        };
        // The transmit timestamp is the receive timestamp here: the caller
        // can restamp it at send time if it wants to (sans-IO).
        let reply = fast_xmit(
            request,
            request_len,
            mode,
            received,
            received,
            &system,
            kind,
            mac,
        )
        .ok_or((None, Rejection::Malformed))?;
        self.transmits.push_back(Transmit {
            destination: source,
            source: (!manycast).then_some(destination.ip()),
            ttl: None,
            association: None,
            from: SendFrom::Server,
            kind: TransmitKind::Reply {
                kiss: access.kiss,
                crypto_nak: matches!(mac, OutgoingMac::CryptoNak),
            },
            packet: reply,
        });
        Ok(Disposition::Replied)
    }
}
