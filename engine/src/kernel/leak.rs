//! The lazy leak: `exp(-dt / L)` for integer `dt`, computed once per `dt` and cached.
//!
//! Every leak factor the kernel applies comes from this table, and every entry from
//! [`coding::decay`], so the explicit and closed-form tick modes multiply by the very same
//! bits.

use crate::coding;

/// Cached leak factors `exp(-dt / L)`, `dt = 0, 1, 2, ...`.
#[derive(Debug, Clone)]
pub(crate) struct LeakTable {
    leak: f64,
    factors: Vec<f64>,
}

impl LeakTable {
    pub(crate) fn new(leak: f64) -> Self {
        let mut t = LeakTable {
            leak,
            factors: Vec::new(),
        };
        t.ensure(64);
        t
    }

    /// Makes `factor(dt)` available for every `dt <= max_dt`.
    pub(crate) fn ensure(&mut self, max_dt: u32) {
        let want = max_dt as usize + 1;
        while self.factors.len() < want {
            let dt = self.factors.len() as u32;
            self.factors.push(coding::decay(dt, self.leak));
        }
    }

    /// `exp(-dt / L)`; `dt` must be covered by an earlier [`LeakTable::ensure`].
    #[inline]
    pub(crate) fn factor(&self, dt: u32) -> f64 {
        self.factors[dt as usize]
    }
}
