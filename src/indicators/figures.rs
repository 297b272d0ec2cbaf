//! One scope's running figures (count, sum, extremes, values past a threshold) and the
//! aggregates computed from them.

use super::compile::Aggregate;

/// The `p` (0–1) quantile of `values`, interpolated between the two ranks around it (as
/// a sort would give it), found by selection: linear, not a sort per tick.
fn quantile(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let rank = p * (values.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let (_, &mut at, above) = values.select_nth_unstable_by(lo, f64::total_cmp);
    let next = above.iter().copied().fold(f64::INFINITY, f64::min);
    if next.is_finite() && rank > lo as f64 {
        Some(at + (next - at) * (rank - lo as f64))
    } else {
        Some(at)
    }
}

/// One scope's running figures over the counted values.
#[derive(Clone, Copy, Debug)]
pub(super) struct Acc {
    pub n: usize,
    sum: f64,
    max: f64,
    min: f64,
    /// Values past the aggregate's threshold; for devices, sensors online.
    pub hits: usize,
}

impl Acc {
    pub const EMPTY: Acc = Acc {
        n: 0,
        sum: 0.0,
        max: f64::MIN,
        min: f64::MAX,
        hits: 0,
    };

    #[inline]
    pub fn add(&mut self, v: f64, hit: bool) {
        self.n += 1;
        self.sum += v;
        self.max = self.max.max(v);
        self.min = self.min.min(v);
        self.hits += usize::from(hit);
    }

    /// Takes `v` out; true if it was an extreme (the max or min is then unknown).
    #[inline]
    pub fn remove(&mut self, v: f64, hit: bool) -> bool {
        self.n = self.n.saturating_sub(1);
        self.sum -= v;
        self.hits = self.hits.saturating_sub(usize::from(hit));
        v >= self.max || v <= self.min
    }

    /// The aggregate's value; `values` holds the values, for `p95` only.
    pub fn value(&self, a: Aggregate, values: &mut [f64]) -> Option<f64> {
        if let Aggregate::CountAbove(_) | Aggregate::CountBelow(_) = a {
            return Some(self.hits as f64);
        }
        if self.n == 0 {
            return None;
        }
        let n = self.n as f64;
        match a {
            Aggregate::Max => Some(self.max),
            Aggregate::Min => Some(self.min),
            Aggregate::Mean => Some(self.sum / n),
            Aggregate::P95 => quantile(values, 0.95),
            Aggregate::ShareAbove(_) | Aggregate::ShareBelow(_) => {
                Some(100.0 * self.hits as f64 / n)
            }
            Aggregate::CountAbove(_) | Aggregate::CountBelow(_) => Some(self.hits as f64),
        }
    }
}

/// Whether `v` counts for a count or share aggregate.
#[inline]
pub(super) fn hit(a: Aggregate, v: f64) -> bool {
    match a {
        Aggregate::CountAbove(t) | Aggregate::ShareAbove(t) => v > t,
        Aggregate::CountBelow(t) | Aggregate::ShareBelow(t) => v < t,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn the_quantile_is_the_sorted_one() {
        let mut v = vec![5.0, 1.0, 4.0, 2.0, 3.0];
        assert_eq!(quantile(&mut v, 0.5), Some(3.0));
        assert_eq!(quantile(&mut v, 0.95), Some(4.8));
        assert_eq!(quantile(&mut v, 1.0), Some(5.0));
        assert_eq!(quantile(&mut [7.0], 0.95), Some(7.0));
        assert_eq!(quantile(&mut [], 0.95), None);
    }
}
