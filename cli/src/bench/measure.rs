//! The timed measurements, each with its set-up kept out of the timed region: passes of the
//! dense forward pass over a set of images (timed interleaved with the engine's,
//! [`tdsnn::evaluate::timing`]), the streaming-add rate, the engine over a data set split statically across threads, and the
//! process's peak memory.

use std::hint::black_box;
use std::time::{Duration, Instant};

use tdsnn::baseline::calibration::add_into;
use tdsnn::baseline::DenseForward;
use tdsnn::engine::{Plan, Record, Simulate, Simulator, SpikeObserver};
pub use tdsnn::evaluate::timing::{median_of, medians_interleaved};

/// One pass of the dense forward pass over every image, in batches of its capacity (the last
/// one possibly smaller), one thread.
pub fn dense_pass<'a, 'd>(
    forward: &'a mut DenseForward<'d>,
    images: &'a [f32],
) -> impl FnMut() + use<'a, 'd> {
    let batch = forward.capacity() * forward.dnn().input_shape().len() as usize;
    move || {
        for x in images.chunks(batch) {
            black_box(forward.run(x).expect("whole images"));
        }
    }
}

/// The streaming-add rate in additions per second: `y += x` over two L2-resident arrays of
/// `values` each, repeated for about `budget`, median of `repetitions` such runs.
pub fn add_rate(values: usize, budget: Duration, repetitions: usize) -> f64 {
    let x = vec![1.0f32; values];
    let mut y = vec![0.0f32; values];
    // Size one run from a first estimate, then time runs of that many sweeps.
    let start = Instant::now();
    let mut sweeps = 0u64;
    while start.elapsed() < budget / 10 {
        add_into(black_box(&mut y), black_box(&x));
        sweeps += 1;
    }
    let time = median_of(repetitions, || {
        for _ in 0..sweeps {
            add_into(black_box(&mut y), black_box(&x));
        }
    });
    (sweeps * values as u64) as f64 / time.as_secs_f64()
}

/// The engine over every image with `threads` scoped threads, each with its own
/// simulator and a contiguous share of the images (a static partition): the wall time and
/// every image's record digest, in image order.
pub fn simulate_split(
    plan: &Plan,
    images: &[f32],
    threads: usize,
) -> Result<(Duration, Vec<u32>), tdsnn::engine::Error> {
    let per = plan.graph().input_shape().len() as usize;
    let n = images.len() / per;
    let share = n.div_ceil(threads.max(1)).max(1);
    let start = Instant::now();
    let parts: Vec<Result<Vec<u32>, tdsnn::engine::Error>> = std::thread::scope(|scope| {
        let workers: Vec<_> = images
            .chunks(share * per)
            .map(|part| {
                scope.spawn(move || {
                    let mut sim = plan.simulator();
                    part.chunks_exact(per)
                        .map(|x| sim.run(x, &mut ()).map(|r| r.digest()))
                        .collect()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("engine workers do not panic"))
            .collect()
    });
    let time = start.elapsed();
    let mut digests = Vec::with_capacity(n);
    for part in parts {
        digests.extend(part?);
    }
    Ok((time, digests))
}

/// The time of each graph layer of `sim` on `image` (seconds, the median of `repetitions`
/// runs): from the end of the layer before (or the start of the run) to the end of this one.
pub fn layer_times(
    sim: &mut Simulator,
    image: &[f32],
    repetitions: usize,
) -> Result<Vec<f64>, tdsnn::engine::Error> {
    /// When each layer finished.
    struct Clock(Vec<Instant>);
    impl SpikeObserver for Clock {
        fn wants_events(&self) -> bool {
            false
        }
        fn layer_done(&mut self, _layer: usize) {
            self.0.push(Instant::now());
        }
    }
    let layers = sim.plan().graph().layers().len();
    let mut times = vec![Vec::new(); layers];
    let mut record = Record::default();
    for _ in 0..repetitions.max(1) {
        let mut clock = Clock(Vec::with_capacity(layers));
        let start = Instant::now();
        sim.run_into(image, &mut clock, &mut record)?;
        let ends = clock.0;
        for (k, times) in times.iter_mut().enumerate() {
            let from = if k == 0 { start } else { ends[k - 1] };
            times.push((ends[k] - from).as_secs_f64());
        }
    }
    Ok(times
        .into_iter()
        .map(|mut t| {
            t.sort_by(f64::total_cmp);
            t[t.len() / 2]
        })
        .collect())
}

/// The process's peak resident memory in bytes (`VmHWM` in `/proc/self/status`), or `None`
/// where there is no such file (not Linux).
pub fn peak_memory() -> Option<u64> {
    status_bytes("VmHWM:")
}

/// The process's resident memory in bytes (`VmRSS` in `/proc/self/status`), or `None` where
/// there is no such file (not Linux).
pub fn resident_memory() -> Option<u64> {
    status_bytes("VmRSS:")
}

/// A size in `/proc/self/status` (given there in KiB), in bytes.
fn status_bytes(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Resets the peak resident memory to the current one (Linux: `5` into
/// `/proc/self/clear_refs`), so that [`peak_memory`] then measures what follows. Where that
/// fails (not Linux, or an old kernel) the peak stays the process's.
pub fn reset_peak_memory() {
    // Best effort by design: without the reset the reading is an upper bound.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
