//! From an ONNX file to spike times: read a model exported by `torch.onnx.export`, convert it
//! into a temporal-coding SNN (`L = 5`, dynamic `T_il`), simulate one MNIST test digit, and
//! print what happened layer by layer: each synapse-based layer's release `R_k` and inhibition
//! time `T_il`, the first spike times relative to the frame they are timed in, and the class.
//! The audit then recomputes every neuron's pre-activation `A` in f64 and checks that it fired
//! exactly `T(A) = ceil(L ln(A + 1))` steps after its layer's release (equation (10)).
//!
//! ```sh
//! cargo run --release --example onnx_to_spike_times                    # shipped LeNet, digit 0
//! cargo run --release --example onnx_to_spike_times -- model.onnx 42   # your model, digit 42
//! ```

use std::error::Error;
use std::path::Path;

use tdsnn::converter::layer_map;
use tdsnn::engine::coding::spike_time;
use tdsnn::io::idx::{load_split, Split};
use tdsnn::prelude::*;

/// The leak constant. ONNX files carry none: it must be the `L` the network was trained with
/// `G` for (the shipped LeNet: 5).
const LEAK: f64 = 5.0;

fn main() -> Result<(), Box<dyn Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args().skip(1);
    let model_path = args.next().map_or_else(
        || root.join("fixtures/onnx/lenet_g_external.onnx"),
        Into::into,
    );
    let index: usize = args.next().map_or(Ok(0), |s| s.parse())?;

    // 1. Read the model (weights in `lenet_g_external.onnx.data`, found beside it) and convert.
    let model = read_onnx(&model_path)?;
    let graph = convert(&model.dnn, LEAK, TilPolicy::Dynamic)?;

    // 2. One digit of the shipped MNIST test split, pixels as bytes / 255.
    let data = load_split(&root.join("fixtures/mnist"), Split::Test)?;
    if index >= data.len() {
        return Err(format!("image {index} is past the {} test images", data.len()).into());
    }
    let pixels = data.pixels(index);

    // 3. Simulate. A `Plan` holds the graph and its tables; a simulator holds one run's state.
    let plan = Plan::new(graph, TickMode::ClosedForm);
    let record = plan.simulator().run(&pixels, &mut ())?;

    // 4. Layer by layer. The reference DNN gives each hidden neuron's `A` for comparison
    //    (`layer_map` says which DNN layer became which graph layer: ReLUs are dropped).
    let reference = reference_forward(&model.dnn, &pixels, LEAK)?;
    let dnn_layer_of: Vec<usize> = layer_map(&model.dnn)
        .iter()
        .enumerate()
        .filter_map(|(d, g)| g.map(|_| d))
        .collect();
    println!("{} on test image {index}, L = {LEAK}", model_path.display());
    for (k, layer) in plan.graph().layers().iter().enumerate() {
        let rec = &record.layers[k];
        let shape = plan.graph().output_shape(k);
        print!("layer {k} {:<8} {:<9}", layer.kind(), shape.to_string());
        let Some(release) = rec.release else {
            // Max-pool and flatten release nothing: their spikes stay in the frame of the
            // synapse-based layer that fed them (its release is their frame origin).
            println!(
                "frame origin {:>3}, no release of its own",
                rec.frame_origin
            );
            continue;
        };
        let t_il = rec.t_il().unwrap_or_default();
        print!(
            "frame origin {:>3}, release {release:>3} (T_il = {t_il:>2})",
            rec.frame_origin
        );
        if rec.spikes.is_empty() {
            // The output layer does not fire: its logits are read at the release.
            println!(", logits read out");
            continue;
        }
        // A neuron with `A <= 0` fires at the release itself (`T(A) = 0`): count those, show
        // the first few that fire later.
        let at_release = rec.spikes.iter().filter(|&&t| t == release).count();
        println!(", {at_release} of {} fire at the release", rec.spikes.len());
        let a = reference.layers[dnn_layer_of[k]]
            .pre_activations()
            .unwrap_or_default();
        let neurons = rec.spikes.iter().zip(a).enumerate();
        for (j, (&t, &a)) in neurons.filter(|(_, (&t, _))| t > release).take(3) {
            let (after, tee) = (t - release, spike_time(a, LEAK));
            println!("    neuron {j:>4}: fires at release + {after:>2}, A = {a:8.4}, T(A) = {tee}");
        }
    }
    let label = data.label(index).map_or("?".into(), |l| l.to_string());
    println!("logits {:.2?}", record.output.logits);
    println!(
        "class {} (label {label}, reference DNN {})",
        record.output.class, reference.class
    );

    // 5. The audit: teacher-forced, from the spike times that actually reached each layer.
    let report = audit::audit(plan.graph(), &pixels, &record, Tolerance::default())?;
    println!(
        "audit: {} neurons, {} at a tie, {} off T(A): {}",
        report.neurons(),
        report.ties(),
        report.mismatches.len(),
        if report.passed() { "passed" } else { "FAILED" }
    );
    if !report.passed() {
        return Err(format!("the audit failed: {:?}", report.mismatches.first()).into());
    }
    Ok(())
}
