//! A custom `SpikeObserver`: watch a run as it happens, without touching the engine.
//!
//! `Histogram` counts, for each synapse-based layer, the spikes at each step after the layer's
//! release, and asks for the membrane potentials at each release (`wants_potentials`). A
//! neuron whose potential is already `>= 0` at the release fires at once (`A <= 0`, so
//! `T(A) = 0`): the count of such potentials must equal the histogram's step 0.
//!
//! One generic function over `impl Simulate` runs it on the fast `Simulator` and on the
//! straightforward `EventByEvent` path: the same histogram. `()` is the observer that costs
//! nothing: its `wants_events()` is false, so the fast path does not even order spikes for it.
//!
//! ```sh
//! cargo run --release --example custom_observer
//! ```

use std::error::Error;
use std::time::Instant;

use tdsnn::io::idx::{load_split, Split};
use tdsnn::prelude::*;

/// Spike counts per layer and step after the release; potentials `>= 0` at each release.
#[derive(Debug, PartialEq)]
struct Histogram {
    /// `counts[layer][step]`.
    counts: Vec<Vec<u64>>,
    /// Each synapse-based layer's release in the current run (`None`: max-pool, flatten).
    releases: Vec<Option<u32>>,
    /// Per layer: potentials seen at releases, and how many of them were `>= 0`.
    potentials: Vec<(u64, u64)>,
}

impl Histogram {
    fn new(layers: usize) -> Self {
        Histogram {
            counts: vec![Vec::new(); layers],
            releases: vec![None; layers],
            potentials: vec![(0, 0); layers],
        }
    }
}

impl SpikeObserver for Histogram {
    fn release(&mut self, layer: usize, time: u32, _t_il: u32) {
        self.releases[layer] = Some(time);
    }

    fn spike(&mut self, layer: usize, _neuron: u32, time: u32) {
        // On both paths a layer's release comes before its spikes.
        let Some(release) = self.releases[layer] else {
            return; // a max-pool or flatten layer: its spikes are timed from the layer before
        };
        let step = (time - release) as usize;
        let counts = &mut self.counts[layer];
        if counts.len() <= step {
            counts.resize(step + 1, 0);
        }
        counts[step] += 1;
    }

    fn wants_potentials(&self) -> bool {
        true
    }

    fn potentials(&mut self, layer: usize, v: &[f64]) {
        self.potentials[layer].0 += v.len() as u64;
        self.potentials[layer].1 += v.iter().filter(|&&v| v >= 0.0).count() as u64;
    }
}

/// An observer that ignores everything but, unlike `()`, still asks for the events.
struct Ignore;
impl SpikeObserver for Ignore {}

/// Runs every image through `sim`, reusing one record: any path, any observer. Returns the
/// time taken, in microseconds per image.
fn observe(
    sim: &mut impl Simulate,
    images: &[Vec<f32>],
    observer: &mut impl SpikeObserver,
) -> Result<f64, tdsnn::engine::Error> {
    let (start, mut record) = (Instant::now(), Record::default());
    for image in images {
        sim.run_into(image, observer, &mut record)?;
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / images.len() as f64)
}

fn main() -> Result<(), Box<dyn Error>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = read_model(root.join("fixtures/lenet/lenet5-g-L5.safetensors"))?;
    let leak = model.info.leak.ok_or("the model file gives no L")?;
    let graph = convert(&model.dnn, leak, TilPolicy::Dynamic)?;
    let plan = Plan::new(graph, TickMode::ClosedForm);
    let data = load_split(&root.join("fixtures/mnist"), Split::Test)?;
    let images: Vec<Vec<f32>> = (0..200).map(|i| data.pixels(i)).collect();

    // The same observer on both paths: the same histogram, the same potentials.
    let layers = plan.graph().layers().len();
    let (mut fast, mut slow) = (Histogram::new(layers), Histogram::new(layers));
    observe(&mut plan.simulator(), &images[..20], &mut fast)?;
    observe(&mut plan.event_by_event(), &images[..20], &mut slow)?;
    assert_eq!(fast, slow, "the two paths must report the same events");
    println!("Simulator and EventByEvent: the same histogram on 20 images");

    let mut hist = Histogram::new(layers);
    observe(&mut plan.simulator(), &images, &mut hist)?;
    let n = images.len();
    println!("spikes per step after the release, {n} images (# = 2% of the layer)");
    for (k, counts) in hist.counts.iter().enumerate() {
        if counts.is_empty() {
            continue; // max-pool, flatten, and the output layer, which does not fire
        }
        let total: u64 = counts.iter().sum();
        println!("layer {k} ({}):", plan.graph().layers()[k].kind());
        for (step, &n) in counts.iter().enumerate() {
            let bar = "#".repeat((n * 50).div_ceil(total) as usize);
            println!("  {step:>3} {n:>8} {bar}");
        }
        // V >= 0 at the release means A <= 0: T(A) = 0, the spike at step 0.
        let (seen, nonneg) = hist.potentials[k];
        assert_eq!(nonneg, counts[0]);
        println!("  {nonneg} of {seen} potentials were >= 0 at the release: step 0");
    }

    // What observing costs on the fast path.
    let mut sim = plan.simulator();
    observe(&mut sim, &images, &mut ())?; // warm-up
    let nothing = observe(&mut sim, &images, &mut ())?;
    let ignore = observe(&mut sim, &images, &mut Ignore)?;
    let histogram = observe(&mut sim, &images, &mut Histogram::new(layers))?;
    println!("us per image: () {nothing:.0}, Ignore {ignore:.0}, Histogram {histogram:.0}");
    Ok(())
}
