//! The active period: the ticking neuron, in explicit and closed form.
//!
//! After release a neuron's potential `V_0 = V(R_k)` evolves, one tick per step, as
//! `V_s = g(V_{s-1})` with `g(V) = V * d + w` (`d = exp(-1/L)`, `w = w_tick` of equation (9)),
//! each operation rounded in f64. The neuron fires at the first `s` with `V_s >= theta`.
//! Mathematically that `s` is `T(A) = ceil(L ln(A + 1))` (equation (10)); in floating point it
//! can differ from the formula at a step edge.
//!
//! The closed form must give the *same* `s` as the explicit recurrence, bit for bit. It does
//! so without any per-neuron iteration: `g` is monotone (a multiplication by `d > 0` and an
//! addition, each correctly rounded, never reverse an order), so `{V : g^s(V) >= theta}` is an
//! up-set `[theta_s, inf)`, and `theta_s = min {V : g(V) >= theta_{s-1}}` because
//! `g^s = g^{s-1} o g`. Each `theta_s` is found by bisection over the ordered f64 values
//! (64 evaluations of `g`). With `M_s = min_{r <= s} theta_r`, the first `s` with
//! `V_0 >= theta_s` is the first with `V_0 >= M_s`, and `M` is non-increasing, so the firing
//! step is the number of `M_s` above `V_0`: one binary search per neuron (`EventByEvent`), or
//! one vectorised comparison per level over a block of neurons, down to the block's lowest
//! potential (`Simulator`, `fast/fire.rs`). The thresholds depend
//! only on `T_il` (through `w`), so the simulators cache one table per `T_il` across runs: a
//! cost of `O(64 * max_s)` per distinct `T_il`.

/// Exact firing thresholds of the active period for one `T_il`.
#[derive(Debug, Clone)]
pub(crate) struct TickSchedule {
    decay: f64,
    weight: f64,
    /// `theta_s` of the latest step computed.
    last: f64,
    /// `M_s`, the running minimum of `theta_0..=theta_s`; `M_0 = theta`.
    bound: Vec<f64>,
}

impl TickSchedule {
    /// The schedule for a tick with leak factor `decay = exp(-1/L)`, tick weight `weight` and
    /// firing threshold `threshold`.
    pub(crate) fn new(decay: f64, weight: f64, threshold: f64) -> Self {
        TickSchedule {
            decay,
            weight,
            last: threshold,
            bound: vec![threshold],
        }
    }

    /// One tick: leak one step, add the tick weight. The explicit mode calls this too, so
    /// both modes round identically.
    #[inline]
    pub(crate) fn step(&self, v: f64) -> f64 {
        v * self.decay + self.weight
    }

    /// The step (0 = at release) at which a neuron with potential `v` at release fires.
    pub(crate) fn firing_step(&mut self, v: f64) -> u32 {
        self.cover(v);
        self.covered_step(v)
    }

    /// Makes [`TickSchedule::covered_step`] valid for every potential `>= v`.
    #[inline]
    pub(crate) fn cover(&mut self, v: f64) {
        debug_assert!(v.is_finite(), "potential {v} at release is not finite");
        if *self.bound.last().expect("bound starts with theta") > v {
            self.extend(v);
        }
    }

    /// The firing step of potential `v`, covered by an earlier [`TickSchedule::cover`]: the
    /// number of thresholds `M_s > v` (non-increasing, the last one `<= v`).
    #[inline]
    pub(crate) fn covered_step(&self, v: f64) -> u32 {
        debug_assert!(
            *self.bound.last().expect("non-empty") <= v,
            "{v} not covered"
        );
        self.bound.partition_point(|&m| m > v) as u32
    }

    /// The thresholds `M_0, M_1, ...` computed so far (after [`TickSchedule::cover`]`(v)`,
    /// the last is `<= v`): the firing step of `v` is the number of them above `v`.
    pub(crate) fn bounds(&self) -> &[f64] {
        &self.bound
    }

    /// Computes thresholds until the last is at most `v`.
    #[cold]
    #[inline(never)]
    fn extend(&mut self, v: f64) {
        while *self.bound.last().expect("bound starts with theta") > v {
            self.last = self.preimage(self.last);
            let m = self.bound[self.bound.len() - 1].min(self.last);
            self.bound.push(m);
        }
    }

    /// `min {V : step(V) >= c}`: `-inf` when every finite `V` qualifies.
    fn preimage(&self, c: f64) -> f64 {
        let (mut lo, mut hi) = (order_key(-f64::MAX), order_key(f64::MAX));
        if self.step(-f64::MAX) >= c {
            return f64::NEG_INFINITY;
        }
        debug_assert!(self.step(f64::MAX) >= c, "threshold {c} is out of reach");
        // Invariant: step(from_key(lo)) < c <= step(from_key(hi)).
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.step(from_key(mid)) >= c {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        from_key(hi)
    }
}

/// A key whose integer order is the numeric order of non-NaN f64 values.
fn order_key(x: f64) -> i128 {
    let b = x.to_bits() as i64;
    i128::from(if b < 0 { b ^ i64::MAX } else { b })
}

/// The inverse of [`order_key`].
fn from_key(k: i128) -> f64 {
    let b = k as i64;
    f64::from_bits((if b < 0 { b ^ i64::MAX } else { b }) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coding;

    fn explicit(s: &TickSchedule, threshold: f64, mut v: f64) -> u32 {
        let mut step = 0;
        while v < threshold {
            v = s.step(v);
            step += 1;
        }
        step
    }

    #[test]
    fn order_key_round_trips_and_orders() {
        let xs = [
            -f64::MAX,
            -1.5,
            -f64::MIN_POSITIVE,
            -0.0,
            0.0,
            1e-300,
            2.0,
            f64::MAX,
        ];
        for w in xs.windows(2) {
            assert!(order_key(w[0]) < order_key(w[1]), "{} !< {}", w[0], w[1]);
        }
        for x in xs {
            assert_eq!(from_key(order_key(x)).to_bits(), x.to_bits());
        }
    }

    #[test]
    fn closed_form_matches_recurrence_at_step_edges() {
        for (leak, t_il) in [(5.0, 7), (1.0, 3), (8.0, 40), (2.5, 0)] {
            let w = coding::tick_weight(t_il, leak);
            let mut s = TickSchedule::new(coding::decay(1, leak), w, 0.0);
            let scale = coding::decay(t_il, leak);
            for step in 0..30u32 {
                // A potential exactly at the mathematical edge of `step`, and its neighbours.
                let a = (f64::from(step) / leak).exp() - 1.0;
                for v in [
                    -scale * a,
                    -scale * a * (1.0 + 1e-15),
                    -scale * a * (1.0 - 1e-15),
                ] {
                    let v = if v == 0.0 { -1e-300 } else { v };
                    assert_eq!(s.firing_step(v), explicit(&s, 0.0, v), "L={leak} v={v}");
                }
            }
        }
    }
}
