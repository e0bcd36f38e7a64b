//! Median, min and max of repeated measurements: one run on a shared 2-core machine is noise,
//! so every figure is several runs, and every comparison is a ratio taken within one run.

use serde::Serialize;

/// Median, min and max of a set of samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub runs: usize,
}

impl Summary {
    /// The summary of `samples` (all zero when empty, so a skipped figure still prints).
    pub fn of(samples: &[f64]) -> Self {
        if samples.is_empty() {
            return Self {
                median: 0.0,
                min: 0.0,
                max: 0.0,
                runs: 0,
            };
        }
        let mut v = samples.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Self {
            median,
            min: v[0],
            max: v[n - 1],
            runs: n,
        }
    }

    /// `median (min–max)` with `prec` decimals.
    pub fn show(&self, prec: usize) -> String {
        if self.runs <= 1 {
            format!("{:.prec$}", self.median)
        } else {
            format!(
                "{:.prec$} ({:.prec$}–{:.prec$})",
                self.median, self.min, self.max
            )
        }
    }
}

/// Per-run ratios `a[i] / b[i]` of measurements taken side by side in the same run.
pub fn ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter()
        .zip(b)
        .filter(|(_, &b)| b > 0.0)
        .map(|(a, b)| a / b)
        .collect()
}

/// `median× (min–max)` of per-run ratios.
pub fn show_ratio(r: &[f64]) -> String {
    let s = Summary::of(r);
    if s.runs == 0 {
        "n/a".into()
    } else if s.runs == 1 {
        format!("{:.2}×", s.median)
    } else {
        format!("{:.2}× ({:.2}–{:.2})", s.median, s.min, s.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(Summary::of(&[3.0, 1.0, 2.0]).median, 2.0);
        assert_eq!(Summary::of(&[4.0, 1.0, 2.0, 3.0]).median, 2.5);
        let s = Summary::of(&[5.0, 1.0, 9.0]);
        assert_eq!((s.min, s.max, s.runs), (1.0, 9.0, 3));
        assert_eq!(ratios(&[2.0, 3.0], &[1.0, 0.0]), vec![2.0]);
    }
}
