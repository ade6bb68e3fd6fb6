//! The calibration kernel: a streaming f32 add `y[i] += x[i]` over two arrays small enough to
//! stay in L2. It is the fastest a core can add values it has to fetch, with nothing to
//! schedule, so an event rate divided by its add rate says what fraction of the machine's
//! streaming-add speed the event-driven engine reaches, on any machine.
//!
//! Vectorised with `pulp`'s runtime dispatch (`pulp::Arch::new().dispatch`): the loop is
//! compiled for each instruction set pulp knows (SSE, AVX2, AVX-512, NEON) and the widest the
//! CPU has runs, the same dispatch the engine's hot loops use, so both sides of the ratio get
//! the same instructions. Cost: `x.len()` additions, two loads and a store each.

/// Values per array for an L2-resident run: 16,384 `f32` (64 KiB) each, 128 KiB for both,
/// larger than a 32-48 KiB L1 and well inside any L2 of 256 KiB or more.
pub const L2_VALUES: usize = 16 * 1024;

/// `y[i] += x[i]` over the common length, vectorised for the CPU it runs on.
///
/// # Example
/// ```
/// let mut y = vec![1.0f32; 1000];
/// tdsnn_baseline::calibration::add_into(&mut y, &vec![0.5; 1000]);
/// assert!(y.iter().all(|&v| v == 1.5));
/// ```
pub fn add_into(y: &mut [f32], x: &[f32]) {
    pulp::Arch::new().dispatch(
        #[inline(always)]
        || {
            for (a, &b) in y.iter_mut().zip(x) {
                *a += b;
            }
        },
    );
}
