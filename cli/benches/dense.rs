//! The dense f32 forward pass (im2col + GEMM, one core) of the shipped LeNet, per batch,
//! parameterised over the batch size. Throughput in the DNN's multiply-accumulates, so
//! criterion reports MACs per second.
//!
//! Run: `cargo bench --bench dense`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tdsnn::baseline::DenseForward;
use tdsnn_cli::bench::Lenet;

fn dense(c: &mut Criterion) {
    let lenet = Lenet::load(128).expect("the shipped fixtures");
    let per = lenet.images.len() / lenet.len();
    let macs = lenet.dnn.op_counts().multiplications();
    let mut group = c.benchmark_group("lenet_dense_f32");
    for batch in [1usize, 8, 64] {
        group.throughput(Throughput::Elements(macs * batch as u64));
        let mut forward = DenseForward::new(&lenet.dnn, batch);
        let batches: Vec<&[f32]> = lenet.images.chunks_exact(batch * per).collect();
        let mut i = 0;
        group.bench_with_input(BenchmarkId::new("batch", batch), &batch, |b, _| {
            b.iter(|| {
                i = (i + 1) % batches.len();
                forward.run(batches[i]).expect("whole images").len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, dense);
criterion_main!(benches);
