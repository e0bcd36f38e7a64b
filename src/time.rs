//! Deadlines: the one helper every part of the poll uses to combine "when do you next need
//! to run". Time itself is always the caller's ([`Instant`] is an argument everywhere).

use smoltcp::time::Instant;

/// The earlier of two optional deadlines (`None`: no deadline, only input wakes it).
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earlier_deadline_wins_and_none_is_no_deadline() {
        let (a, b) = (Instant::from_millis(5), Instant::from_millis(7));
        assert_eq!(earliest(Some(a), Some(b)), Some(a));
        assert_eq!(earliest(Some(b), Some(a)), Some(a));
        assert_eq!(earliest(None, Some(b)), Some(b));
        assert_eq!(earliest(Some(a), None), Some(a));
        assert_eq!(earliest(None, None), None);
    }
}
