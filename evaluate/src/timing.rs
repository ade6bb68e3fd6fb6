//! Timing the engine as `tdsnn bench` does: passes over a set of images, each
//! image run into the same record, the median of several passes; timed interleaved with
//! other passes when they are compared, so that their ratio is steady on a noisy machine.
//!
//! # Example
//! ```
//! use std::sync::Arc;
//! use tdsnn_engine::{GraphBuilder, Plan, Shape, TickMode};
//! use tdsnn_evaluate::timing::engine_speed;
//! # fn main() -> Result<(), tdsnn_engine::Error> {
//! let graph = GraphBuilder::new(Shape::flat(2), 5.0)
//!     .dense(2, vec![-1.0, 0.0, 0.0, -1.0], None)
//!     .output(2, vec![1.0, 0.0, 0.0, 1.0], None)
//!     .build()?;
//! let plan = Plan::new(Arc::new(graph), TickMode::ClosedForm);
//! let speed = engine_speed(&plan, &[0.2, 0.9, 0.7, 0.1], 3, 1)?;
//! assert_eq!(speed.images, 2);
//! assert!(speed.seconds_per_image > 0.0 && speed.delivered_events_per_image > 0.0);
//! # Ok(()) }
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use tdsnn_engine::counters::LayerOps;
use tdsnn_engine::{Plan, Record, Simulate, Simulator};

/// The median of some durations (the upper one of the middle two for an even count).
fn median(mut times: Vec<Duration>) -> Duration {
    times.sort_unstable();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

/// Runs `pass` once untimed (warm-up), then `repetitions` timed times; the median time.
pub fn median_of(repetitions: usize, mut pass: impl FnMut()) -> Duration {
    medians_interleaved(repetitions, &mut [&mut pass])[0]
}

/// The engine's operation counts summed over every image (`images` holds them back to back),
/// one thread, and the number of images.
pub fn total_ops(
    sim: &mut Simulator,
    images: &[f32],
) -> Result<(LayerOps, usize), tdsnn_engine::Error> {
    let per = sim.graph().input_shape().len() as usize;
    let mut total = LayerOps::default();
    let mut n = 0;
    for x in images.chunks_exact(per) {
        total += sim.run(x, &mut ())?.total_ops();
        n += 1;
    }
    Ok((total, n))
}

/// Runs each of `passes` once untimed (warm-up), then `repetitions` rounds in which every pass
/// is timed in turn; each pass's median time. Interleaved, the passes share whatever the
/// machine does meanwhile (frequency, neighbours), so their ratios are steadier than those of
/// medians taken one after the other.
pub fn medians_interleaved(repetitions: usize, passes: &mut [&mut dyn FnMut()]) -> Vec<Duration> {
    passes.iter_mut().for_each(|pass| pass());
    let mut times = vec![Vec::new(); passes.len()];
    for _ in 0..repetitions.max(1) {
        for (pass, times) in passes.iter_mut().zip(&mut times) {
            let start = Instant::now();
            pass();
            times.push(start.elapsed());
        }
    }
    times.into_iter().map(median).collect()
}

/// One pass of the engine over every image, one thread, each run into the same record.
pub fn engine_pass<'a>(sim: &'a mut Simulator, images: &'a [f32]) -> impl FnMut() + use<'a> {
    let per = sim.graph().input_shape().len() as usize;
    let mut record = Record::default();
    move || {
        for x in images.chunks_exact(per) {
            sim.run_into(x, &mut (), &mut record)
                .expect("an input the engine accepted before");
            black_box(&record);
        }
    }
}

/// The engine's speed on a set of images, one thread ([`engine_speed`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineSpeed {
    /// Images in the set.
    pub images: usize,
    /// Seconds per image: the median pass over the set, divided by its images.
    pub seconds_per_image: f64,
    /// Synaptic events the engine delivered per image (`ops.engine.synaptic_adds`).
    pub delivered_events_per_image: f64,
    /// Paper-equivalent synaptic events per image: every synapse of every spike, bias events
    /// included (`ops.paper.synaptic_adds`).
    pub paper_events_per_image: f64,
}

/// Times the engine on `images` (whole images back to back) as `tdsnn bench` does: one
/// untimed pass, then the median of `repetitions` timed passes ([`engine_pass`]), each
/// image's layers cut across `threads` threads (1: one thread, as `tdsnn bench` times
/// LeNet); with the events delivered per image.
///
/// # Errors
/// The engine's error for the first image it rejects (before any timing), or if the
/// operating system refuses the threads.
pub fn engine_speed(
    plan: &Plan,
    images: &[f32],
    repetitions: usize,
    threads: usize,
) -> Result<EngineSpeed, tdsnn_engine::Error> {
    let mut sim = plan.simulator().with_threads(threads)?;
    let (total, n) = total_ops(&mut sim, images)?;
    let time = median_of(repetitions, engine_pass(&mut sim, images));
    let per = n.max(1) as f64;
    Ok(EngineSpeed {
        images: n,
        seconds_per_image: time.as_secs_f64() / per,
        delivered_events_per_image: total.engine.synaptic_adds as f64 / per,
        paper_events_per_image: total.paper.synaptic_adds as f64 / per,
    })
}
