//! The temporal code of TDSNN: equations (9), (10) and (11) of the paper.
//!
//! A DNN value `x` is carried by one spike at `T(x) = ceil(L * ln(x + 1))` steps after its
//! layer's frame origin, `T(x) = 0` for `x <= 0` (equation (10)). The activation the retrained
//! DNN uses in front of every synapse-based layer is `G(x) = exp(T(x) / L)` (equation (11)).
//!
//! Every transcendental here goes through [`libm`], a pure-Rust port of musl's maths, so
//! spike times are bit-identical on every platform, not just on every run.

/// The spike time `T(x)` of equation (10), in steps after the frame origin.
///
/// `T(x) = 0` for `x <= 0` (and for NaN); times beyond `u32::MAX` saturate.
///
/// # Example
/// ```
/// use tdsnn_engine::coding::spike_time;
/// assert_eq!(spike_time(0.0, 5.0), 0);
/// assert_eq!(spike_time(1e-12, 5.0), 1); // a tiny positive value fires at step 1
/// assert_eq!(spike_time(1.0, 5.0), 4); // ceil(5 ln 2) = ceil(3.47)
/// ```
pub fn spike_time(x: f64, leak: f64) -> u32 {
    if x > 0.0 {
        // `as` saturates for values beyond u32::MAX.
        (leak * libm::log1p(x)).ceil() as u32
    } else {
        0
    }
}

/// The retraining activation `G(x) = exp(T(x) / L)` of equation (11); `G(x) = 1` for `x <= 0`.
///
/// # Example
/// ```
/// use tdsnn_engine::coding::g;
/// assert_eq!(g(-3.0, 5.0), 1.0);
/// assert!((g(1.0, 5.0) - (4.0f64 / 5.0).exp()).abs() < 1e-15);
/// ```
pub fn g(x: f64, leak: f64) -> f64 {
    time_gain(spike_time(x, leak), leak)
}

/// `exp(t / L)`: what a spike at relative time `t` is worth in DNN units.
pub fn time_gain(t: u32, leak: f64) -> f64 {
    libm::exp(f64::from(t) / leak)
}

/// `exp(t / L) - 1`, computed as `expm1` (exact near 0, and exactly 0 at `t = 0`): what a
/// spike at relative time `t` is worth beyond a spike at the frame origin. The kernel
/// accumulates potentials as row sums plus these excesses (see `kernel`).
///
/// # Example
/// ```
/// use tdsnn_engine::coding::{time_gain, time_gain_excess};
/// assert_eq!(time_gain_excess(0, 5.0), 0.0);
/// assert!((time_gain_excess(3, 5.0) - (time_gain(3, 5.0) - 1.0)).abs() < 1e-15);
/// ```
pub fn time_gain_excess(t: u32, leak: f64) -> f64 {
    libm::expm1(f64::from(t) / leak)
}

/// The leak factor `exp(-dt / L)` of `dt` steps (equation (3)). The kernel applies the leak
/// of a whole inhibitory period at once, `exp(-T_il / L)` at the release, and one step per
/// explicit tick.
pub fn decay(dt: u32, leak: f64) -> f64 {
    libm::exp(-f64::from(dt) / leak)
}

/// The ticking neuron's weight for inhibition time `T_il`, equation (9):
/// `w_tick = (1 - exp(-1/L)) * exp(-T_il/L)`.
pub fn tick_weight(t_il: u32, leak: f64) -> f64 {
    (1.0 - decay(1, leak)) * decay(t_il, leak)
}

/// How far `x` lies from a step edge of `T`, measured as `L * ln(x + 1)`: the margin by
/// which its spike time escapes a floating-point tie. For `x > 0` the distance of
/// `L * ln(x + 1)` to the nearest integer; for `-1 < x <= 0`, where `T = 0`, the distance to
/// the only edge, at `x = 0`; `None` for `x <= -1` (far below the edge).
///
/// A spike time computed by accumulating potentials in floating point can differ from the
/// f64 value of `T(x)` only where this margin is within rounding error.
///
/// # Example
/// ```
/// use tdsnn_engine::coding::tie_margin;
/// assert_eq!(tie_margin(0.0, 5.0), Some(0.0)); // x = 0 sits exactly on the step edge
/// assert!(tie_margin(0.6, 5.0).unwrap() > 0.3); // 5 ln 1.6 = 2.35
/// assert!(tie_margin(-0.5, 5.0).unwrap() > 3.0); // only the edge at 0 counts below it
/// ```
pub fn tie_margin(x: f64, leak: f64) -> Option<f64> {
    if x > 0.0 {
        let y = leak * libm::log1p(x);
        Some((y - y.round()).abs())
    } else if x > -1.0 {
        Some(-leak * libm::log1p(x))
    } else {
        None
    }
}

/// Whether `x` lies within `window` of a step edge of `T` (see [`tie_margin`]).
pub fn is_tie(x: f64, leak: f64, window: f64) -> bool {
    tie_margin(x, leak).is_some_and(|m| m <= window)
}
