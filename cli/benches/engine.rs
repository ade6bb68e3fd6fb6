//! The engine per image, both tick modes, on the shipped LeNet (test-split digits) and on the
//! demo network (seeded random weights and images), each next to baselines measured in the
//! same binary: the dense f32 forward pass of the same network and, for the demo network, the
//! f64 reference DNN. Throughput is in paper-equivalent synaptic events (every synapse of
//! every spike, bias included), so criterion reports events per second.
//!
//! Run: `cargo bench --bench engine`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tdsnn::baseline::DenseForward;
use tdsnn::converter::{convert, reference_forward, Dnn};
use tdsnn::engine::{Plan, Simulate, TickMode, TilPolicy};
use tdsnn::evaluate::timing::total_ops;
use tdsnn_cli::bench::{Events, Lenet};
use tdsnn_cli::demo;

/// Both tick modes and the dense baseline on `images` (back to back), one image per
/// iteration, cycling.
fn per_image(c: &mut Criterion, name: &str, dnn: &Dnn, plan: &Plan, images: &[f32]) {
    let per = plan.graph().input_shape().len() as usize;
    let (total, n) = total_ops(&mut plan.simulator(), images).expect("valid inputs");
    let events = Events::of(&total, n, dnn);
    let images: Vec<&[f32]> = images.chunks_exact(per).collect();
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(events.paper.round() as u64));
    for mode in [TickMode::ClosedForm, TickMode::Explicit] {
        let mut sim = plan.with_mode(mode).simulator();
        let mut i = 0;
        group.bench_function(format!("{mode:?}"), |b| {
            b.iter(|| {
                i = (i + 1) % images.len();
                sim.run(images[i], &mut ()).expect("valid input")
            })
        });
    }
    let mut forward = DenseForward::new(dnn, 1);
    let mut i = 0;
    group.bench_function("baseline_dense_f32_batch1", |b| {
        b.iter(|| {
            i = (i + 1) % images.len();
            forward.run(images[i]).expect("one image").len()
        })
    });
    group.finish();
}

fn lenet(c: &mut Criterion) {
    let lenet = Lenet::load(64).expect("the shipped fixtures");
    per_image(c, "lenet", &lenet.dnn, &lenet.plan, &lenet.images);
}

fn demo_network(c: &mut Criterion) {
    let dnn = demo::network(2019);
    let images = demo::images(2019, 16);
    let graph = convert(&dnn, 5.0, TilPolicy::Dynamic).expect("the demo network converts");
    let plan = Plan::new(graph, TickMode::ClosedForm);
    per_image(c, "demo_network", &dnn, &plan, &images.concat());
    let mut i = 0;
    c.bench_function("demo_network/baseline_reference_dnn_f64", |b| {
        b.iter(|| {
            i = (i + 1) % images.len();
            reference_forward(&dnn, &images[i], 5.0).expect("valid input")
        })
    });
}

criterion_group!(benches, lenet, demo_network);
criterion_main!(benches);
