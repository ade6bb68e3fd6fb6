//! Per-step exponentials, computed once per integer step and cached: the leak factor
//! `exp(-dt / L)` and a spike's excess worth `expm1(tau / L) = exp(tau / L) - 1`.
//!
//! Every factor the kernel applies comes from this table, and every entry from [`coding`], so
//! both paths of the engine and both tick modes multiply by the very same bits.

use crate::coding;

/// `u + w * excess` rounded once (a fused multiply-add): the one arithmetic step by which a
/// spike moves a frame-origin potential, in both paths of the engine.
///
/// IEEE 754 defines the fused multiply-add as correctly rounded, and Rust's `mul_add` is that
/// operation on every target (an FMA instruction where the CPU has one, a correctly rounded
/// library routine where it does not), so the result is the same bits everywhere. It is the
/// only use of `mul_add` the project allows (`clippy.toml`): both paths must round alike.
#[inline(always)]
#[allow(clippy::disallowed_methods)] // the one sanctioned fused step, see above
pub(crate) fn add_spike(u: f64, w: impl Into<f64>, excess: f64) -> f64 {
    w.into().mul_add(excess, u)
}

/// Cached `exp(-dt / L)` and `expm1(dt / L)`, `dt = 0, 1, 2, ...`.
#[derive(Debug, Clone)]
pub(crate) struct LeakTable {
    leak: f64,
    factors: Vec<f64>,
    excess: Vec<f64>,
}

impl LeakTable {
    pub(crate) fn new(leak: f64) -> Self {
        let mut t = LeakTable {
            leak,
            factors: Vec::new(),
            excess: Vec::new(),
        };
        t.ensure(64);
        t
    }

    /// Makes every entry with `dt <= max_dt` available.
    pub(crate) fn ensure(&mut self, max_dt: u32) {
        let want = max_dt as usize + 1;
        while self.factors.len() < want {
            let dt = self.factors.len() as u32;
            self.factors.push(coding::decay(dt, self.leak));
            self.excess.push(coding::time_gain_excess(dt, self.leak));
        }
    }

    /// `exp(-dt / L)`; `dt` must be covered by an earlier [`LeakTable::ensure`].
    #[inline]
    pub(crate) fn factor(&self, dt: u32) -> f64 {
        self.factors[dt as usize]
    }

    /// `expm1(tau / L)`, what a spike `tau` steps after the frame origin adds per unit weight
    /// beyond the row sum; exactly 0 at `tau = 0`. `tau` must be covered by
    /// [`LeakTable::ensure`].
    #[inline]
    pub(crate) fn excess(&self, tau: u32) -> f64 {
        self.excess[tau as usize]
    }
}
