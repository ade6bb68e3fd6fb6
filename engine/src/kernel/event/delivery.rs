//! Synaptic delivery, one synapse at a time: a pre-synaptic spike `tau` steps after the
//! frame origin adds `W_ji * expm1(tau / L)` to the frame-origin potential `U_j` of each of
//! its targets (see `row_sums.rs`), a spike at the frame origin adding exactly zero.
//! Potentials are channel-major; conv connectivity is found from the geometry.

use super::super::fanout;
use super::super::leak::add_spike;
use crate::graph::{Conv2d, Dense, Shape};

/// A spike of input `src`, worth `excess`, into a dense layer; returns the synapses used.
pub(crate) fn dense(d: &Dense, src: u32, excess: f64, u: &mut [f64]) -> u64 {
    let n = d.outputs as usize;
    let row = &d.weights[src as usize * n..(src as usize + 1) * n];
    for (j, &w) in row.iter().enumerate() {
        u[j] = add_spike(u[j], w, excess);
    }
    n as u64
}

/// A spike of input `src` (channel-major in `inp`) into a conv layer with output `out`.
pub(crate) fn conv(
    c: &Conv2d,
    inp: Shape,
    out: Shape,
    src: u32,
    excess: f64,
    u: &mut [f64],
) -> u64 {
    let plane = (out.h * out.w) as usize;
    fanout::conv_taps(c, inp, out, src, |pos, run| {
        for (co, &w) in run.iter().enumerate() {
            let at = co * plane + pos;
            u[at] = add_spike(u[at], w, excess);
        }
    })
}

/// The bias neuron's spike: `bias[channel]` onto every neuron of each channel (a dense
/// layer's channels are its neurons).
pub(crate) fn bias(bias: &[f64], out: Shape, excess: f64, u: &mut [f64]) -> u64 {
    let plane = (out.h * out.w) as usize;
    for (j, u) in u.iter_mut().enumerate() {
        *u = add_spike(*u, bias[j / plane], excess);
    }
    out.len()
}
