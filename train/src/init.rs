//! Seeded initial weights for a network given by its architecture: the one place training
//! and the benchmarks get fresh weights from.
//!
//! Conv and dense layers, and the convs of projection shortcuts, are filled in layer order
//! from one ChaCha8 generator seeded with `seed`, so a network is the same on every platform
//! (candle's own CPU initialisation is not seeded). Cost: one draw per weight (and per bias, for [`Init::Uniform`]).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use tdsnn_converter::{Architecture, Dnn, DnnLayer, ModelError, Projection};

/// How initial weights are drawn; `fan_in` is a layer's inputs per output
/// (`c_in * kh * kw` for a conv).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Init {
    /// PyTorch's default for `Conv2d` and `Linear`: weights and biases uniform in
    /// `+-1/sqrt(fan_in)`. Training starts here ([`recipe`](crate::recipe)).
    Uniform,
    /// He (Kaiming normal, fan-in mode): weights from `N(0, sqrt(2 / fan_in))`, biases 0.
    /// The untrained big networks of the [`zoo`](crate::zoo) get these: their activations
    /// neither vanish nor explode through the depth.
    He,
}

/// A network of architecture `arch` with weights drawn as `scheme` says, from `seed`.
/// Weights and biases start at 0 and are filled in place (no copy of a large network).
///
/// # Example
/// ```
/// use tdsnn_train::zoo::lenet5;
/// use tdsnn_train::{init, Init};
/// # fn main() -> Result<(), tdsnn_converter::ModelError> {
/// let a = init(&lenet5(), Init::He, 7)?;
/// assert_eq!(a, init(&lenet5(), Init::He, 7)?); // seeded
/// assert_ne!(a, init(&lenet5(), Init::Uniform, 7)?);
/// # Ok(()) }
/// ```
pub fn init(arch: &Architecture, scheme: Init, seed: u64) -> Result<Dnn, ModelError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let zeros = arch.build(|_, _, shape| {
        // Saturating, as the dimensions are: an absurd size fails to allocate.
        let len = shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d as usize));
        Ok::<_, std::convert::Infallible>(vec![0.0; len.unwrap_or(usize::MAX)])
    });
    let skeleton = match zeros {
        Ok(result) => result?,
        Err(never) => match never {},
    };
    // A projection shortcut's conv has as many output channels as the shortcut's output.
    let channels: Vec<u32> = skeleton.output_shapes().iter().map(|s| s.c).collect();
    let (input, mut layers) = skeleton.into_parts();
    for (layer, &c) in layers.iter_mut().zip(&channels) {
        let (n, weights, bias) = match layer {
            DnnLayer::Shortcut {
                projection: Some(Projection { weights, bias, .. }),
                ..
            } => (c, weights, bias),
            layer => match layer.parameters_mut() {
                Some(parameters) => parameters,
                None => continue,
            },
        };
        let fan_in = weights.len() / n as usize;
        match scheme {
            Init::Uniform => {
                let bound = 1.0 / (fan_in as f32).sqrt();
                let values = weights.iter_mut().chain(bias.iter_mut().flatten());
                values.for_each(|w| *w = rng.random_range(-bound..bound));
            }
            Init::He => {
                let std = (2.0 / fan_in as f64).sqrt() as f32;
                let normal = Normal::new(0.0f32, std).expect("a finite, positive deviation");
                weights
                    .iter_mut()
                    .for_each(|w| *w = normal.sample(&mut rng));
            }
        }
    }
    Dnn::new(input, layers)
}
