//! The dispatch matrix (RFC 5905 figure 20): what to do with a packet by
//! the mode of the association it matches and the mode of the packet.

use core::fmt;

use ntp_wire::packet::Mode;

/// The mode of an association (the RFC's hmode, with the reference
/// implementation's manycast and broadcast-volley refinements).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AssocMode {
    /// `peer`: symmetric active (1).
    SymmetricActive,
    /// Mobilised by a symmetric-active packet: symmetric passive (2).
    SymmetricPassive,
    /// `server`/`pool` or discovered by manycast: client (3).
    Client,
    /// `broadcast`: broadcast or multicast server (5).
    BroadcastServer,
    /// Mobilised by a broadcast packet: broadcast client (the RFC's 6),
    /// first in its client/server volley, then listen-only.
    BroadcastClient,
    /// `manycastclient`: a template that sends client packets to a group
    /// address and mobilises client associations from the replies.
    ManycastClient,
}

impl AssocMode {
    /// The mode written in packets this association sends.
    pub fn packet_mode(self) -> Mode {
        match self {
            Self::SymmetricActive => Mode::SymmetricActive,
            Self::SymmetricPassive => Mode::SymmetricPassive,
            Self::Client | Self::BroadcastClient | Self::ManycastClient => Mode::Client,
            Self::BroadcastServer => Mode::Broadcast,
        }
    }

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Self::SymmetricActive => "symmetric active",
            Self::SymmetricPassive => "symmetric passive",
            Self::Client => "client",
            Self::BroadcastServer => "broadcast server",
            Self::BroadcastClient => "broadcast client",
            Self::ManycastClient => "manycast client",
        }
    }
}

impl fmt::Display for AssocMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The row of the matrix: no association, or the mode of the one matched
/// (a broadcast client is split by whether its volley is running).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Row {
    /// No association matches the source (the RFC's mode 0).
    NoAssociation,
    /// An association in this mode.
    Assoc(AssocMode),
    /// A broadcast client still running its client/server volley.
    BroadcastVolley,
}

/// What to do with the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// PROC: run the packet checks and the on-wire protocol.
    Process,
    /// FXMIT: answer as a server without keeping state.
    FastReply,
    /// NEWPS: mobilise an ephemeral symmetric passive association, then process.
    NewPassive,
    /// NEWBC: mobilise an ephemeral broadcast client, then process.
    NewBroadcastClient,
    /// MANY: a server reply to a manycast client packet: mobilise a
    /// preemptable client association from the template, then process.
    NewManycast,
    /// ERR: the error condition (both ends passive, or modes that do not
    /// pair): ignored and never answered; an ephemeral association is
    /// demobilised.
    Error,
    /// DSCRD: discard silently.
    Discard,
}

/// The dispatch matrix. Client (mode 3) packets never match an
/// association, as in the reference implementation, so a host that polls a
/// server in client mode still answers that server's own client requests;
/// the caller looks associations up with that rule and passes
/// [`Row::NoAssociation`].
pub fn dispatch(row: Row, packet: Mode) -> Action {
    use Action::*;
    use AssocMode as A;
    match (row, packet) {
        (_, Mode::Reserved | Mode::Control | Mode::Private) => Discard,
        (Row::NoAssociation, Mode::SymmetricActive) => NewPassive,
        (Row::NoAssociation, Mode::SymmetricPassive) => Discard,
        (_, Mode::Client) => FastReply,
        (Row::NoAssociation, Mode::Server) => NewManycast,
        (Row::NoAssociation, Mode::Broadcast) => NewBroadcastClient,
        (Row::Assoc(A::SymmetricActive), Mode::SymmetricActive | Mode::SymmetricPassive) => Process,
        (Row::Assoc(A::SymmetricPassive), Mode::SymmetricActive) => Process,
        (Row::Assoc(A::SymmetricPassive), Mode::SymmetricPassive) => Error,
        (Row::Assoc(A::Client), Mode::Server) => Process,
        (Row::Assoc(A::BroadcastClient), Mode::Broadcast) => Process,
        (Row::BroadcastVolley, Mode::Server) => Process,
        (Row::BroadcastVolley, Mode::Broadcast) => Discard,
        _ => Discard,
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write;

    use super::*;

    #[test]
    fn whole_matrix() {
        let rows = [
            Row::NoAssociation,
            Row::Assoc(AssocMode::SymmetricActive),
            Row::Assoc(AssocMode::SymmetricPassive),
            Row::Assoc(AssocMode::Client),
            Row::Assoc(AssocMode::BroadcastServer),
            Row::Assoc(AssocMode::BroadcastClient),
            Row::BroadcastVolley,
            Row::Assoc(AssocMode::ManycastClient),
        ];
        let modes = (0..8).map(Mode::from_bits).collect::<Vec<_>>();
        let mut table = format!("{:<20}", "assoc \\ packet");
        for m in &modes {
            write!(table, "{:<19}", format!("{} {}", m.to_bits(), m)).unwrap();
        }
        table.push('\n');
        for row in rows {
            let name = match row {
                Row::NoAssociation => "none".to_string(),
                Row::Assoc(m) => m.to_string(),
                Row::BroadcastVolley => "bcast client volley".to_string(),
            };
            write!(table, "{name:<20}").unwrap();
            for m in &modes {
                write!(table, "{:<19}", format!("{:?}", dispatch(row, *m))).unwrap();
            }
            table.push('\n');
        }
        insta::assert_snapshot!(table);
    }

    #[test]
    fn error_condition_is_both_passive() {
        assert_eq!(
            dispatch(
                Row::Assoc(AssocMode::SymmetricPassive),
                Mode::SymmetricPassive
            ),
            Action::Error
        );
        assert_eq!(
            dispatch(Row::NoAssociation, Mode::SymmetricPassive),
            Action::Discard
        );
    }
}
