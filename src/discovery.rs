//! SLAAC's router discovery as smoltcp 0.14 runs it, watched for two of its flaws.
//!
//! * Its interface's deadline leaves out the next router solicitation when no socket has a
//!   timer, so a platform that sleeps until the deadline sends only the first one. The stack
//!   adds the solicitations' times ([`Discovery::poll_at`]).
//! * When none of the three solicitations (4 s apart) is answered, the interface reports a
//!   deadline in the past from then on, so a platform would spin. The stack gives SLAAC up
//!   then ([`Discovery::unanswered`]), as a host does after its solicitations go unanswered
//!   (RFC 4861 6.3.7), by rebuilding the interface without it; a router that appears later
//!   is heard after the next start.

use smoltcp::time::{Duration, Instant};

/// smoltcp's router solicitations: three, this far apart; one interval after the last,
/// discovery is over.
const SOLICITATION_INTERVAL: Duration = Duration::from_secs(4);
const SOLICITATIONS: u32 = 3;

/// Where router discovery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Discovery {
    /// No SLAAC, or it is settled (a router answered, or the stack gave up).
    Off,
    /// SLAAC on; the first poll sends the first solicitation.
    Starting,
    /// The first solicitation went out at `started`. The interface had `addresses` IPv6
    /// addresses then (SLAAC adds one per advertised prefix).
    Soliciting { started: Instant, addresses: usize },
}

impl Discovery {
    /// Discovery for an interface with SLAAC on or off.
    pub(crate) const fn new(slaac: bool) -> Self {
        if slaac {
            Self::Starting
        } else {
            Self::Off
        }
    }

    /// Called at the start of each poll, with the interface's IPv6 address count and whether
    /// it has learned a router. True once: discovery just ended unanswered, and the interface
    /// must lose SLAAC.
    pub(crate) fn unanswered(&mut self, now: Instant, addresses: usize, router: bool) -> bool {
        match *self {
            Self::Off => false,
            Self::Starting => {
                *self = Self::Soliciting {
                    started: now,
                    addresses,
                };
                false
            }
            Self::Soliciting {
                addresses: before, ..
            } if router || addresses > before => {
                // An advertisement answered: smoltcp keeps what it learned up to date.
                *self = Self::Off;
                false
            }
            Self::Soliciting { started, .. } => {
                let over = now >= started + SOLICITATION_INTERVAL * SOLICITATIONS;
                if over {
                    *self = Self::Off;
                }
                over
            }
        }
    }

    /// While discovery runs: the next solicitation, or its end.
    pub(crate) fn poll_at(&self, now: Instant) -> Option<Instant> {
        let Self::Soliciting { started, .. } = *self else {
            return None;
        };
        (1..=SOLICITATIONS)
            .map(|k| started + SOLICITATION_INTERVAL * k)
            .find(|at| *at > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_settles_it_and_silence_ends_it_once_after_12_s() {
        let at = Instant::from_secs;
        let mut answered = Discovery::new(true);
        assert!(!answered.unanswered(at(0), 1, false));
        assert_eq!(answered.poll_at(at(0)), Some(at(4)));
        assert!(
            !answered.unanswered(at(1), 2, false),
            "SLAAC added an address"
        );
        assert_eq!((answered, answered.poll_at(at(1))), (Discovery::Off, None));

        let mut silent = Discovery::new(true);
        assert!(!silent.unanswered(at(0), 1, false));
        assert_eq!(silent.poll_at(at(4)), Some(at(8)));
        assert_eq!(silent.poll_at(at(9)), Some(at(12)));
        assert!(!silent.unanswered(at(11), 1, false));
        assert!(silent.unanswered(at(12), 1, false));
        assert!(!silent.unanswered(at(13), 1, false), "once");
        assert_eq!(silent.poll_at(at(13)), None);

        assert_eq!(Discovery::new(false), Discovery::Off);
    }
}
