//! The kernel on the demo network (LeNet-shaped, seeded random weights), per image, in both
//! tick modes, next to a baseline measured in the same run: the f64 reference DNN forward pass
//! of the same network. Throughput is in paper-equivalent synaptic events (every synapse of
//! every spike, bias included), so criterion reports events per second.
//!
//! Run: `cargo bench --bench kernel`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use tdsnn::converter::{convert, reference_forward};
use tdsnn::demo;
use tdsnn::engine::{Simulator, TickMode, TilPolicy};

fn demo_network(c: &mut Criterion) {
    let dnn = demo::network(2019);
    let images = demo::images(2019, 16);
    let graph = convert(&dnn, 5.0, TilPolicy::Dynamic).expect("the demo network converts");
    let events: u64 = {
        let mut sim = Simulator::new(&graph, TickMode::ClosedForm);
        let r = sim.run(&images[0], &mut ()).expect("valid input");
        r.layers.iter().map(|l| l.ops.paper.synaptic_adds).sum()
    };
    let mut group = c.benchmark_group("demo_network");
    group.throughput(Throughput::Elements(events));
    for (name, mode) in [
        ("closed_form", TickMode::ClosedForm),
        ("explicit", TickMode::Explicit),
    ] {
        let mut sim = Simulator::new(&graph, mode);
        let mut i = 0;
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    i = (i + 1) % images.len();
                    &images[i]
                },
                |image| sim.run(image, &mut ()).expect("valid input"),
                BatchSize::SmallInput,
            )
        });
    }
    let mut i = 0;
    group.bench_function("baseline_reference_dnn_f64", |b| {
        b.iter_batched(
            || {
                i = (i + 1) % images.len();
                &images[i]
            },
            |image| reference_forward(&dnn, image, 5.0).expect("valid input"),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, demo_network);
criterion_main!(benches);
