//! A participant's outbox: what the lesson has to tell one socket, in order, with the state of
//! the lesson coalesced so a reader who falls behind gets the latest state, not a backlog.
//!
//! Messages that are events (an offer, an answer, an error, `joined`, `removed`...) queue in a
//! bounded channel, in order. State (how each participant looks now, who waits in the lobby,
//! your grants) does not: the lesson writes it into a slot shared with the socket and queues
//! one marker, at the place of the first change the socket has not taken yet; later changes
//! only overwrite the slot. When the socket reaches the marker it takes the newest state. So
//! 2,000 raised and lowered hands reach a slow reader as at most one `participant_updated`,
//! and the channel fills only with events, which someone else's traffic cannot make many of
//! (each is bounded by the sender's budget and the lesson's streams). A reader who never reads
//! at all still fills it and alone is dropped (`Left::Slow`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use livegate_core::ids::ParticipantId;
use livegate_core::proto::{LobbyEntry, Media, Participant, ServerMsg};

/// One item of an outbox channel.
pub enum Outgoing {
    Msg(ServerMsg),
    /// The lesson's state changed: send what [`Coalesced::take`] returns.
    State(Arc<Coalesced>),
}

/// Why a message could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unsent {
    /// The reader is too far behind.
    Full,
    /// The socket has gone.
    Closed,
}

/// The lesson's end of one outbox.
pub(super) struct Outbox {
    tx: mpsc::Sender<Outgoing>,
    state: Arc<Coalesced>,
}

impl Outbox {
    pub fn new(tx: mpsc::Sender<Outgoing>) -> Self {
        Self {
            tx,
            state: Arc::new(Coalesced::default()),
        }
    }

    /// Queues a message, or folds it into the pending state.
    pub fn send(&self, msg: ServerMsg) -> Result<(), Unsent> {
        let item = match self.state.add(msg) {
            Added::Folded => {
                return if self.tx.is_closed() {
                    Err(Unsent::Closed)
                } else {
                    Ok(())
                }
            }
            Added::Marker => Outgoing::State(self.state.clone()),
            Added::Event(msg) => Outgoing::Msg(msg),
        };
        self.tx.try_send(item).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Unsent::Full,
            mpsc::error::TrySendError::Closed(_) => Unsent::Closed,
        })
    }
}

/// The state not yet sent to one socket, shared by the lesson (which writes) and the socket
/// (which takes). The lock is held for a few map operations, never across an `.await`.
#[derive(Default)]
pub struct Coalesced {
    changes: Mutex<Changes>,
}

impl Coalesced {
    fn add(&self, msg: ServerMsg) -> Added {
        self.changes.lock().expect("outbox lock").add(msg)
    }

    /// The newest state, as the messages to send now (possibly none).
    pub fn take(&self) -> Vec<ServerMsg> {
        self.changes.lock().expect("outbox lock").take()
    }
}

/// What [`Changes::add`] did with a message.
#[derive(Debug, PartialEq)]
enum Added {
    /// Folded into state already marked in the channel.
    Folded,
    /// Folded into state; the channel needs a marker.
    Marker,
    /// Not state: it goes in the channel itself.
    Event(ServerMsg),
}

/// How one participant changed, from the reader's point of view.
#[derive(Debug)]
struct Change {
    /// Whether the reader knew the participant before the first pending change.
    was_known: bool,
    /// How the reader sees them now; `None` if gone or hidden.
    now: Option<Participant>,
}

/// The pure part: pending state changes, folded.
#[derive(Debug, Default)]
struct Changes {
    /// A marker is in the channel and has not been taken.
    marked: bool,
    /// Participants in the order they first changed.
    people: Vec<(ParticipantId, Change)>,
    index: HashMap<ParticipantId, usize>,
    lobby: Option<Vec<LobbyEntry>>,
    grants: Option<Vec<Media>>,
}

impl Changes {
    fn add(&mut self, msg: ServerMsg) -> Added {
        match msg {
            ServerMsg::ParticipantJoined { participant } => {
                self.person(participant.id.clone(), false, Some(participant))
            }
            ServerMsg::ParticipantUpdated { participant } => {
                self.person(participant.id.clone(), true, Some(participant))
            }
            ServerMsg::ParticipantLeft { participant_id } => self.person(participant_id, true, None),
            ServerMsg::LobbyUpdated { waiting } => self.lobby = Some(waiting),
            ServerMsg::Grants { grants } => self.grants = Some(grants),
            other => return Added::Event(other),
        }
        if std::mem::replace(&mut self.marked, true) {
            Added::Folded
        } else {
            Added::Marker
        }
    }

    /// `was_known` is what the message implies the reader knew (true for an update or a leave).
    fn person(&mut self, id: ParticipantId, was_known: bool, now: Option<Participant>) {
        match self.index.get(&id) {
            Some(&at) => self.people[at].1.now = now,
            None => {
                self.index.insert(id.clone(), self.people.len());
                self.people.push((id, Change { was_known, now }));
            }
        }
    }

    fn take(&mut self) -> Vec<ServerMsg> {
        self.marked = false;
        self.index.clear();
        let people = std::mem::take(&mut self.people)
            .into_iter()
            .filter_map(|(id, c)| match (c.was_known, c.now) {
                (false, Some(participant)) => Some(ServerMsg::ParticipantJoined { participant }),
                (true, Some(participant)) => Some(ServerMsg::ParticipantUpdated { participant }),
                (true, None) => Some(ServerMsg::ParticipantLeft { participant_id: id }),
                // Came and went before the reader heard of them.
                (false, None) => None,
            });
        let lobby = self.lobby.take().map(|waiting| ServerMsg::LobbyUpdated { waiting });
        let grants = self.grants.take().map(|grants| ServerMsg::Grants { grants });
        people.chain(lobby).chain(grants).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livegate_core::codes::ErrorCode;
    use livegate_core::proto::LessonRole;

    fn person(id: &str, hand: bool) -> Participant {
        Participant {
            id: ParticipantId::parse(id).unwrap(),
            display_name: id.into(),
            role: LessonRole::Pupil,
            grants: vec![],
            hand_raised: hand,
            publishing: vec![],
            privacy: None,
        }
    }

    fn updated(id: &str, hand: bool) -> ServerMsg {
        ServerMsg::ParticipantUpdated {
            participant: person(id, hand),
        }
    }

    fn left(id: &str) -> ServerMsg {
        ServerMsg::ParticipantLeft {
            participant_id: ParticipantId::parse(id).unwrap(),
        }
    }

    #[test]
    fn thousands_of_changes_fold_into_the_latest() {
        let mut c = Changes::default();
        assert_eq!(c.add(updated("p_a", true)), Added::Marker);
        for i in 0..2_000 {
            assert_eq!(c.add(updated("p_a", i % 2 == 0)), Added::Folded);
        }
        assert_eq!(c.add(updated("p_b", true)), Added::Folded);
        assert_eq!(c.take(), vec![updated("p_a", false), updated("p_b", true)]);
        assert_eq!(c.take(), vec![], "nothing left");
        assert_eq!(
            c.add(updated("p_a", true)),
            Added::Marker,
            "a new change needs a new marker"
        );
    }

    #[test]
    fn joins_and_leaves_fold_by_what_the_reader_knew() {
        let joined = |id: &str, hand| ServerMsg::ParticipantJoined {
            participant: person(id, hand),
        };
        let mut c = Changes::default();
        // Joined then changed: joined, as they are now.
        c.add(joined("p_a", false));
        c.add(updated("p_a", true));
        // Came and went unseen: nothing.
        c.add(joined("p_b", false));
        c.add(left("p_b"));
        // Known, changed, then left: left.
        c.add(updated("p_c", true));
        c.add(left("p_c"));
        // Known, hidden and shown again (a privacy profile): updated.
        c.add(left("p_d"));
        c.add(joined("p_d", true));
        assert_eq!(c.take(), vec![joined("p_a", true), left("p_c"), updated("p_d", true)]);
    }

    #[test]
    fn lobby_and_grants_keep_only_the_newest_and_events_stay_in_the_channel() {
        let mut c = Changes::default();
        for n in 0..50 {
            c.add(ServerMsg::LobbyUpdated {
                waiting: Vec::with_capacity(n),
            });
            c.add(ServerMsg::Grants {
                grants: vec![Media::Microphone],
            });
        }
        c.add(ServerMsg::Grants { grants: vec![] });
        assert_eq!(
            c.take(),
            vec![
                ServerMsg::LobbyUpdated { waiting: vec![] },
                ServerMsg::Grants { grants: vec![] }
            ]
        );
        let event = ServerMsg::error(ErrorCode::RateLimited, None);
        assert_eq!(c.add(event.clone()), Added::Event(event));
        assert_eq!(c.add(ServerMsg::Pong), Added::Event(ServerMsg::Pong));
    }

    #[tokio::test]
    async fn a_reader_that_falls_behind_is_not_full_and_gets_the_latest() {
        let (tx, mut rx) = mpsc::channel(4);
        let outbox = Outbox::new(tx);
        outbox.send(ServerMsg::Pong).unwrap();
        for i in 0..10_000 {
            outbox.send(updated("p_a", i % 2 == 1)).unwrap();
        }
        outbox.send(ServerMsg::Pong).unwrap();
        // The pong, one marker, the second pong: the state came at its first change's place.
        let mut got = Vec::new();
        while let Ok(item) = rx.try_recv() {
            match item {
                Outgoing::Msg(m) => got.push(m),
                Outgoing::State(s) => got.extend(s.take()),
            }
        }
        assert_eq!(got, vec![ServerMsg::Pong, updated("p_a", true), ServerMsg::Pong]);
        // Events alone fill the channel; a reader that is gone is reported.
        for _ in 0..4 {
            outbox.send(ServerMsg::Pong).unwrap();
        }
        assert_eq!(outbox.send(ServerMsg::Pong), Err(Unsent::Full));
        drop(rx);
        assert_eq!(outbox.send(updated("p_a", true)), Err(Unsent::Closed));
    }
}
