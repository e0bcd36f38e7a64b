//! Which address families a GET's host is tried over, and what a failed try leads to.
//!
//! With `ipv6` a host name is looked up with AAAA first when the device has an IPv6
//! address beyond link-local, then A; a failed connection over the first family falls back
//! to the other, and both failures make [`HttpError::ConnectFailed`]. Without `ipv6` there
//! is one family and one attempt, and [`Plan`] is an empty type whose answers are constants,
//! so none of the fallback is compiled into an IPv4-only client.

use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{DnsQueryType, IpAddress};

use super::error::ConnectAttempt;
use super::HttpError;
use crate::stack::Stack;

/// An address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    V4,
    #[cfg(feature = "ipv6")]
    V6,
}

impl Family {
    /// The family of `addr`.
    pub(super) fn of(addr: IpAddress) -> Self {
        match addr {
            IpAddress::Ipv4(_) => Self::V4,
            #[cfg(feature = "ipv6")]
            IpAddress::Ipv6(_) => Self::V6,
        }
    }

    /// The DNS record type that holds this family's addresses.
    pub(super) fn query(self) -> DnsQueryType {
        match self {
            Self::V4 => DnsQueryType::A,
            #[cfg(feature = "ipv6")]
            Self::V6 => DnsQueryType::Aaaa,
        }
    }
}

/// The families the current URL's host is tried over, and how far it got.
#[cfg(feature = "ipv6")]
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan {
    /// The family being looked up or connected over.
    family: Family,
    /// The family to fall back to if this one fails (no address or no connection).
    then: Option<Family>,
    /// The failed attempt over the first family, while the other is tried.
    failed: Option<ConnectAttempt>,
    /// When the first connection attempt began: the connect timeout counts from there.
    connect_since: Option<Instant>,
}

#[cfg(feature = "ipv6")]
impl Plan {
    /// Nothing to try yet (no GET).
    pub(super) const NONE: Self = Self {
        family: Family::V4,
        then: None,
        failed: None,
        connect_since: None,
    };

    /// The families to try for a host name on `stack`: IPv6 first (AAAA) when the device has
    /// an IPv6 address beyond link-local, then IPv4 (A) if it has an IPv4 address; else
    /// IPv4 alone.
    pub(super) fn for_name(stack: &Stack<'_>) -> Self {
        let (family, then) = match (stack.global_ipv6().is_some(), stack.ipv4().is_some()) {
            (true, true) => (Family::V6, Some(Family::V4)),
            (true, false) => (Family::V6, None),
            (false, _) => (Family::V4, None),
        };
        Self {
            family,
            then,
            ..Self::NONE
        }
    }

    /// A literal address: its own family only.
    pub(super) fn for_literal(addr: IpAddress) -> Self {
        Self {
            family: Family::of(addr),
            ..Self::NONE
        }
    }

    /// The family being looked up or connected over.
    pub(super) fn family(&self) -> Family {
        self.family
    }

    /// When an attempt starting `now` ends, out of the `budget` for connecting: the first
    /// one (if another family may follow) gets half, the last one what is left of it all.
    pub(super) fn attempt_until(&mut self, now: Instant, budget: Duration) -> Instant {
        let start = *self.connect_since.get_or_insert(now);
        if self.then.is_some() {
            now + budget / 2
        } else {
            start + budget
        }
    }

    /// The lookup found no address of the family asked: `Ok` if the other family is to be
    /// looked up now; else the GET's error (the name is not found, or the first family's
    /// connection failure stands).
    pub(super) fn not_found(&mut self) -> Result<(), HttpError> {
        match (self.then.take(), self.failed) {
            (Some(family), _) => {
                self.family = family;
                Ok(())
            }
            (None, Some(failed)) => Err(failed.alone()),
            (None, None) => Err(HttpError::DnsNotFound),
        }
    }

    /// Connecting failed (`attempt`): `Ok` if the other family is to be looked up now; else
    /// the GET's error, naming both attempts if there were two.
    pub(super) fn attempt_failed(&mut self, attempt: ConnectAttempt) -> Result<(), HttpError> {
        if let Some(family) = self.then.take() {
            self.failed = Some(attempt);
            self.family = family;
            return Ok(());
        }
        Err(match self.failed {
            Some(first) => match Family::of(first.addr) {
                Family::V4 => HttpError::ConnectFailed {
                    v6: attempt,
                    v4: first,
                },
                Family::V6 => HttpError::ConnectFailed {
                    v6: first,
                    v4: attempt,
                },
            },
            None => attempt.alone(),
        })
    }

    /// The error when the fallback family's lookup goes unanswered: the first family's
    /// connection failure, if there was one.
    pub(super) fn first_failure(&self) -> Option<HttpError> {
        self.failed.map(ConnectAttempt::alone)
    }
}

/// IPv4 alone: one family, one attempt with the whole connect timeout, no fallback.
#[cfg(not(feature = "ipv6"))]
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan;

#[cfg(not(feature = "ipv6"))]
impl Plan {
    /// Nothing to try yet (no GET).
    pub(super) const NONE: Self = Self;

    /// IPv4 (A records).
    pub(super) fn for_name(_stack: &Stack<'_>) -> Self {
        Self
    }

    /// IPv4, the only family.
    pub(super) fn for_literal(_addr: IpAddress) -> Self {
        Self
    }

    /// IPv4.
    pub(super) fn family(&self) -> Family {
        Family::V4
    }

    /// The whole `budget` from `now`.
    pub(super) fn attempt_until(&mut self, now: Instant, budget: Duration) -> Instant {
        now + budget
    }

    /// No address: the name is not found.
    pub(super) fn not_found(&mut self) -> Result<(), HttpError> {
        Err(HttpError::DnsNotFound)
    }

    /// The only attempt failed: its error is the GET's.
    pub(super) fn attempt_failed(&mut self, attempt: ConnectAttempt) -> Result<(), HttpError> {
        Err(attempt.alone())
    }

    /// There is no first family to fall back from.
    pub(super) fn first_failure(&self) -> Option<HttpError> {
        None
    }
}
