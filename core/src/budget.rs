//! Budgets for what one participant may send on the signalling socket (PROTOCOL.md section 2,
//! "Budgets"): a token bucket per message kind, and a second bucket of refusals past which the
//! sender counts as a flooder and is removed.
//!
//! Everything here is pure: the caller passes the time in, so the budgets are tested in
//! virtual time and the socket task stays the only thing that reads a clock. Each budget is
//! sized so that an honest client (the web client: a `ping` every 10 s, a click per `hand`,
//! `grant` or `publish`, one `answer` per offer) never meets it, while a client sending
//! thousands a second is refused after its burst and removed soon after.

use std::time::{Duration, Instant};

use crate::proto::ClientMsg;

/// How many messages may come at once, and how many a second after that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub burst: u32,
    pub per_second: u32,
}

/// Tokens are counted in millionths, so a refill of any elapsed time is exact in integers.
const MICRO: u64 = 1_000_000;

/// A token bucket: full at the start, one token per message, refilled at `per_second`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: Rate,
    /// Tokens left, in millionths.
    level: u64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn full(rate: Rate, now: Instant) -> Self {
        Self {
            rate,
            level: u64::from(rate.burst) * MICRO,
            last: now,
        }
    }

    /// Takes one token if there is one; false if the budget is spent for now.
    pub fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.level < MICRO {
            return false;
        }
        self.level -= MICRO;
        true
    }

    /// How long from `now` until a token is there (zero if one is there now).
    pub fn wait(&self, now: Instant) -> Duration {
        let mut probe = self.clone();
        probe.refill(now);
        let missing = MICRO.saturating_sub(probe.level);
        if missing == 0 || self.rate.per_second == 0 {
            return Duration::ZERO;
        }
        // missing µ-tokens at per_second tokens a second: missing / per_second µs, rounded up.
        Duration::from_micros(missing.div_ceil(u64::from(self.rate.per_second)))
    }

    /// Whether the bucket is full at `now` (its owner has been idle long enough to forget).
    pub fn is_full(&self, now: Instant) -> bool {
        let mut probe = self.clone();
        probe.refill(now);
        probe.level >= u64::from(self.rate.burst) * MICRO
    }

    fn refill(&mut self, now: Instant) {
        // A clock that went backwards (it cannot, with `Instant`) would simply add nothing.
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now.max(self.last);
        let capacity = u64::from(self.rate.burst) * MICRO;
        // Micro-tokens gained = elapsed µs × tokens per second; u128 so hours cannot overflow.
        let gained = elapsed.as_micros().saturating_mul(u128::from(self.rate.per_second));
        self.level = u64::try_from(u128::from(self.level).saturating_add(gained))
            .unwrap_or(u64::MAX)
            .min(capacity);
    }
}

/// What a participant sends, grouped as the budgets count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Ping,
    /// A frame that is not a message of the protocol, or a second `join`.
    Bad,
    Publish,
    Unpublish,
    Answer,
    Candidate,
    Grant,
    Revoke,
    Mute,
    Remove,
    EndLesson,
    Hand,
    Admit,
    Refuse,
    LowerHand,
}

impl Kind {
    /// Every kind, in the order of [`Budgets`]' buckets.
    pub const ALL: [Kind; 15] = [
        Kind::Ping,
        Kind::Bad,
        Kind::Publish,
        Kind::Unpublish,
        Kind::Answer,
        Kind::Candidate,
        Kind::Grant,
        Kind::Revoke,
        Kind::Mute,
        Kind::Remove,
        Kind::EndLesson,
        Kind::Hand,
        Kind::Admit,
        Kind::Refuse,
        Kind::LowerHand,
    ];

    /// The kind of a parsed message (`join` after joining is a bad message).
    pub fn of(msg: &ClientMsg) -> Kind {
        match msg {
            ClientMsg::Join { .. } => Kind::Bad,
            ClientMsg::Ping => Kind::Ping,
            ClientMsg::Publish { .. } => Kind::Publish,
            ClientMsg::Unpublish { .. } => Kind::Unpublish,
            ClientMsg::Answer { .. } => Kind::Answer,
            ClientMsg::Candidate { .. } => Kind::Candidate,
            ClientMsg::Grant { .. } => Kind::Grant,
            ClientMsg::Revoke { .. } => Kind::Revoke,
            ClientMsg::Mute { .. } => Kind::Mute,
            ClientMsg::Remove { .. } => Kind::Remove,
            ClientMsg::EndLesson => Kind::EndLesson,
            ClientMsg::Hand { .. } => Kind::Hand,
            ClientMsg::Admit { .. } => Kind::Admit,
            ClientMsg::Refuse { .. } => Kind::Refuse,
            ClientMsg::LowerHand { .. } => Kind::LowerHand,
        }
    }

    /// The budget of this kind, per participant (PROTOCOL.md has the same table).
    pub fn rate(self) -> Rate {
        let rate = |burst, per_second| Rate { burst, per_second };
        match self {
            // Answered by the socket itself and only to the sender, whose own reading paces
            // the answers: generous, it bounds CPU only.
            Kind::Ping => rate(5_000, 50),
            Kind::Bad => rate(1_000, 20),
            // Each one opens or closes a peer connection for every other member.
            Kind::Publish | Kind::Unpublish => rate(10, 1),
            // One per offer the server sends: a burst when joining a lesson with many streams.
            Kind::Answer | Kind::Candidate => rate(200, 20),
            // A teacher's click each (pupils get `forbidden_role` for them, within this budget).
            Kind::Grant | Kind::Revoke | Kind::Mute | Kind::Remove | Kind::Admit | Kind::Refuse | Kind::LowerHand => {
                rate(30, 5)
            }
            Kind::EndLesson => rate(5, 1),
            // Each change goes to everyone; the web client sends at most 4 a second.
            Kind::Hand => rate(20, 5),
        }
    }
}

/// Refused messages a participant may send before they are removed as a flooder: a client
/// that meets a budget now and then is told `rate_limited` and stays; one that keeps sending
/// past it goes.
pub const STRIKES: Rate = Rate {
    burst: 100,
    per_second: 1,
};

/// What to do with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the budget: handle it.
    Pass,
    /// Over the budget: answer `rate_limited` and drop it.
    Refuse,
    /// Over the budget, and too many refusals already: remove the sender.
    Flooding,
}

/// One participant's budgets, one bucket per [`Kind`] plus the refusals.
#[derive(Debug, Clone)]
pub struct Budgets {
    buckets: Vec<TokenBucket>,
    strikes: TokenBucket,
}

impl Budgets {
    /// Full budgets at `now`.
    pub fn new(now: Instant) -> Self {
        Self {
            buckets: Kind::ALL.iter().map(|k| TokenBucket::full(k.rate(), now)).collect(),
            strikes: TokenBucket::full(STRIKES, now),
        }
    }

    /// Counts one message of `kind` at `now`.
    pub fn check(&mut self, kind: Kind, now: Instant) -> Verdict {
        let at = Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        if self.buckets[at].take(now) {
            Verdict::Pass
        } else if self.strikes.take(now) {
            Verdict::Refuse
        } else {
            Verdict::Flooding
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_bucket_gives_its_burst_then_its_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::full(
            Rate {
                burst: 3,
                per_second: 2,
            },
            t0,
        );
        assert!((0..3).all(|_| b.take(t0)));
        assert!(!b.take(t0), "the burst is spent");
        assert!(!b.take(t0 + ms(499)));
        assert!(b.take(t0 + ms(500)), "one token every 500 ms");
        assert!(!b.take(t0 + ms(500)));
        // A long quiet refills to the burst, never beyond it.
        let later = t0 + Duration::from_secs(3600);
        assert!((0..3).all(|_| b.take(later)));
        assert!(!b.take(later));
    }

    #[test]
    fn a_bucket_counts_fractions_exactly() {
        let t0 = Instant::now();
        let mut b = TokenBucket::full(
            Rate {
                burst: 1,
                per_second: 3,
            },
            t0,
        );
        assert!(b.take(t0));
        // 333 ms is 0.999 of a token; 1 ms more makes a whole one, however the time is split.
        let mut t = t0;
        for _ in 0..333 {
            t += ms(1);
            assert!(!b.take(t));
        }
        assert!(b.take(t + ms(1)));
    }

    #[test]
    fn a_sustained_flood_gets_only_the_rate() {
        // 2,000 messages a second for 10 s against 20 at once and 5 a second.
        let t0 = Instant::now();
        let mut b = TokenBucket::full(Kind::Hand.rate(), t0);
        let passed = (0..20_000u64)
            .filter(|i| b.take(t0 + Duration::from_micros(i * 500)))
            .count();
        assert!((69..=71).contains(&passed), "{passed} passed");
    }

    #[test]
    fn an_honest_client_never_meets_a_budget() {
        // The web client: a ping every 10 s, a hand toggle every 250 ms (its own limit), a
        // teacher granting 30 pupils one after another, answers to 60 offers at once.
        let t0 = Instant::now();
        let mut b = Budgets::new(t0);
        for i in 0..100u64 {
            assert_eq!(b.check(Kind::Ping, t0 + Duration::from_secs(10 * i)), Verdict::Pass);
        }
        let mut b = Budgets::new(t0);
        for i in 0..1_000u64 {
            assert_eq!(b.check(Kind::Hand, t0 + ms(250 * i)), Verdict::Pass, "hand {i}");
        }
        let mut b = Budgets::new(t0);
        assert!((0..30).all(|_| b.check(Kind::Grant, t0) == Verdict::Pass));
        assert!((0..60).all(|_| b.check(Kind::Answer, t0) == Verdict::Pass));
        assert!((0..10).all(|_| b.check(Kind::Publish, t0) == Verdict::Pass));
    }

    #[test]
    fn a_flooder_is_refused_then_removed_and_kinds_do_not_share() {
        let t0 = Instant::now();
        let mut b = Budgets::new(t0);
        let verdicts: Vec<Verdict> = (0..200).map(|_| b.check(Kind::Hand, t0)).collect();
        assert!(verdicts[..20].iter().all(|v| *v == Verdict::Pass));
        assert!(verdicts[20..120].iter().all(|v| *v == Verdict::Refuse), "{verdicts:?}");
        assert!(verdicts[120..].iter().all(|v| *v == Verdict::Flooding));
        // Another kind has its own budget; refusals are shared, so a flooder stays a flooder.
        assert_eq!(b.check(Kind::Ping, t0), Verdict::Pass);
        assert_eq!(b.check(Kind::Hand, t0), Verdict::Flooding);
        // Refused now and then, well under a strike a second: never removed.
        let mut b = Budgets::new(t0);
        for _ in 0..20 {
            b.check(Kind::Hand, t0);
        }
        for i in 1..=1_000u64 {
            let t = t0 + Duration::from_secs(i);
            let v: Vec<Verdict> = (0..6).map(|_| b.check(Kind::Hand, t)).collect();
            assert!(!v.contains(&Verdict::Flooding), "second {i}: {v:?}");
        }
    }

    #[test]
    fn every_message_has_a_kind_and_a_budget() {
        for kind in Kind::ALL {
            let r = kind.rate();
            assert!(r.burst >= 1 && r.per_second >= 1, "{kind:?}");
        }
        assert_eq!(Kind::of(&ClientMsg::Hand { raised: true }), Kind::Hand);
        assert_eq!(
            Kind::of(&ClientMsg::Join {
                protocol: 1,
                ticket: "t".into()
            }),
            Kind::Bad
        );
    }
}
