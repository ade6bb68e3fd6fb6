//! The simulator, in two paths that give the same spikes, releases, outputs and paper counts
//! bit for bit (only the engine's own work counts, `EngineOps`, differ).
//!
//! - [`Simulator`] (`fast/`): the engine for real work. Layer by layer, each layer's spikes
//!   sorted into integer-time buckets, only spikes later than their frame origin delivered
//!   (a spike at the frame origin is worth exactly zero beyond the row sum, `row_sums.rs`),
//!   conv delivery as contiguous channels-last weight runs, no `exp` per event, flat state
//!   reused across runs, the hot loops compiled for the best SIMD level the CPU has.
//! - [`EventByEvent`] (`event/`): the straightforward path, docs/semantics.md in code: one global queue
//!   of (time, layer, phase) slots, every spike delivered synapse by synapse, frame-origin
//!   spikes included.
//!
//! Both keep potentials in frame-origin units, `U_j = V_j * exp((t - o) / L)`: a spike `tau`
//! steps after the frame origin `o` adds `W_ji * expm1(tau / L)` to `U_j`, which starts at the
//! row sum `S_j`; the leak of every event since `o` is the one factor `exp(-(t - o)/L)`,
//! applied when the potential is read at the release: `V_j(R) = U_j * exp(-T_il / L)`. For a
//! hidden layer (negated weights) `U_j = -A_j`, for the output layer `U_j = A_j`, its logit.
//! Each target's additions happen in the same order in both paths (time, then the part: the
//! layer's own synapses, then each further synapse group of a join; then the pre-synaptic
//! neuron's position, then its channel; the bias last in its step), so they round
//! identically. A join's parts are timed from their sources' frames and delivered that many
//! steps after the join's frame origin, the latest of those frames (the earlier parts' spikes
//! wait in a delay buffer: docs/semantics.md, "Branches and joins").

mod event;
mod fanout;
mod fast;
mod leak;
mod plan;
mod row_sums;
mod simulate;
mod tables;
mod ticking;

use hashbrown::HashMap;

use self::leak::LeakTable;
use self::ticking::TickSchedule;
use crate::coding;
use crate::error::{ErrorKind, Result};
use crate::graph::{self, Params, Source};
use crate::record::{self, OutputRecord};

pub use self::event::EventByEvent;
pub use self::fast::Simulator;
pub use self::plan::Plan;
pub use self::simulate::Simulate;

/// How the active period after a release is simulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TickMode {
    /// The ticking neuron fires once per step and every waiting neuron integrates it: the
    /// paper's mechanism, faithful to its operation accounting.
    Explicit,
    /// Each neuron's firing step is computed at release (the paper's hardware deployment,
    /// figure 6): no per-step pass, the same spike times bit for bit.
    ClosedForm,
}

/// `t + dt`, or [`ErrorKind::ClockOverflow`] at `layer`.
fn add_time(t: u32, dt: u32, layer: usize) -> Result<u32> {
    t.checked_add(dt).ok_or_else(|| {
        ErrorKind::ClockOverflow {
            layer,
            time: u64::from(t) + u64::from(dt),
        }
        .into()
    })
}

/// The [`ErrorKind::LateSpike`] of layer `k` (frame origin `origin`, released at `release`):
/// the first event after the release, at `time`, from pre-synaptic neuron `first`, or from
/// the bias neuron if no neuron spiked then.
fn late_spike(
    k: usize,
    first: Option<(Source, u32)>,
    time: u32,
    origin: u32,
    release: u32,
) -> crate::Error {
    let from = match first {
        Some((Source::Input, i)) => format!("input neuron {i}"),
        Some((Source::Layer(j), i)) => format!("neuron {i} of layer {j}"),
        None => "the bias neuron".to_string(),
    };
    ErrorKind::LateSpike {
        layer: k,
        origin: from,
        time,
        release,
        t_il: release - origin,
    }
    .into()
}

/// [`ErrorKind::TilTooLong`] when layer `k`'s inhibition time exceeds what `L` allows.
fn check_til(k: usize, t_il: u32, leak: f64) -> Result<()> {
    let max = graph::max_t_il(leak);
    if t_il > max {
        return Err(ErrorKind::TilTooLong {
            layer: Some(k),
            t_il,
            max,
        }
        .into());
    }
    Ok(())
}

/// Writes the readout from the output layer's frame-origin potentials `u` (its logits) and
/// the leak factor `scale = exp(-T_il / L)` of its release into `out`, reusing its buffers.
fn output_record(u: &[f64], scale: f64, out: &mut OutputRecord) {
    out.potentials.clear();
    out.potentials.extend(u.iter().map(|u| u * scale));
    out.logits.clear();
    out.logits.extend_from_slice(u);
    out.class = record::argmax(u);
}

/// The firing thresholds of the active period after a release with inhibition time `t_il`,
/// cached per `t_il` across runs.
fn tick_schedule<'s>(
    schedules: &'s mut HashMap<u32, TickSchedule>,
    leak: &LeakTable,
    params: &Params,
    t_il: u32,
) -> &'s mut TickSchedule {
    schedules.entry(t_il).or_insert_with(|| {
        TickSchedule::new(
            leak.factor(1),
            coding::tick_weight(t_il, params.leak),
            params.threshold,
        )
    })
}
