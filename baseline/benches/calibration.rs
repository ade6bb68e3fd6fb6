//! The calibration kernel: a streaming f32 add `y += x` (runtime SIMD dispatch, as the
//! engine's), parameterised over the array size: L1-, L2- and L3-resident. Throughput in
//! additions, so criterion reports adds per second; `tdsnn bench` divides event rates by the
//! L2 figure.
//!
//! Run: `cargo bench --bench calibration`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tdsnn_baseline::calibration::{add_into, L2_VALUES};

fn streaming_add(c: &mut Criterion) {
    let mut group = c.benchmark_group("streaming_add_f32");
    for values in [2 * 1024, L2_VALUES, 1024 * 1024] {
        let x = vec![1.0f32; values];
        let mut y = vec![0.0f32; values];
        group.throughput(Throughput::Elements(values as u64));
        group.bench_with_input(BenchmarkId::from_parameter(values), &values, |b, _| {
            b.iter(|| add_into(std::hint::black_box(&mut y), std::hint::black_box(&x)))
        });
    }
    group.finish();
}

criterion_group!(benches, streaming_add);
criterion_main!(benches);
