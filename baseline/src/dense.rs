//! The dense f32 forward pass of a [`Dnn`]: what a conventional inference library computes,
//! the baseline the spiking engine's time per image is compared with.
//!
//! Conv2d is im2col + GEMM: each image's input is unrolled into a `(c_in * kh * kw) x (h_out
//! * w_out)` matrix, which PyTorch's weight layout `[c_out][c_in][kh][kw]` multiplies as a
//! `c_out x (c_in * kh * kw)` row-major matrix, giving the channel-major output directly.
//! Dense layers are one GEMM per batch: weights `[out][in]` times the batch's inputs, so the
//! weights are streamed once per batch, not once per image. Both layouts are PyTorch's own,
//! so the weights are used in place (borrowed from the [`Dnn`], never copied: VGG-16's 553 MB
//! stay single); every scratch buffer is allocated once, at construction, for the largest
//! layer and batch (max-pool alone works out its windows per image, in three small vectors).
//! ReLU, max-pool (padding ignored) and avg-pool (padding counted as 0) run in f32 with the
//! converter's window geometry and pooling loops ([`max_pool_into`], [`pool_into`]).
//!
//! Residual networks (docs/semantics.md, "Branches and joins"): every earlier tensor a
//! [`Shortcut`](DnnLayer::Shortcut) or [`Concat`](DnnLayer::Concat) names is copied aside
//! (batch-sized, allocated at construction) when the layer that makes it has run; a shortcut
//! adds it in place to the current pre-activation, through its projection if it has one (an
//! im2col + GEMM accumulating onto the current tensor, its bias added first); a concat copies
//! the current tensor's channels and then the earlier one's, image by image. Extra cost: one
//! copy of each kept tensor, one addition per output of an identity shortcut.
//!
//! No `G`: this is the plain ReLU network ([`tdsnn_converter::relu_forward`] in f64), whose
//! multiply-accumulates are the DNN's table-2 count ([`Dnn::op_counts`]). One core: GEMM runs
//! with `gemm::Parallelism::None`. Cost: the DNN's multiply-accumulates at GEMM speed, plus
//! one pass over each conv's unrolled input.

use tdsnn_converter::window::{input_position, max_pool_into, pool_into, valid_outputs};
use tdsnn_converter::{Dnn, DnnLayer, Shape, Source, Window};

use crate::gemm::{matmul_add, MatMut, MatRef};

/// Why a forward pass refused its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ForwardError {
    /// The input is not a whole number of images, or holds none.
    #[error("{len} values is not a whole, non-zero number of {per_image}-value images")]
    InputLength {
        /// Values given.
        len: usize,
        /// Values per image (`C * H * W`).
        per_image: usize,
    },
    /// More images than the batch the buffers were sized for.
    #[error("{images} images exceed the batch capacity {capacity}")]
    BatchTooLarge {
        /// Images given.
        images: usize,
        /// Capacity set at construction.
        capacity: usize,
    },
}

/// A dense f32 forward pass of one [`Dnn`], for batches of up to a fixed number of images,
/// with its scratch buffers.
///
/// # Example
/// ```
/// use tdsnn_baseline::DenseForward;
/// use tdsnn_converter::{relu_forward, Dnn, DnnLayer, Shape, Window};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dnn = Dnn::new(Shape::new(1, 4, 4), vec![
///     DnnLayer::Conv2d { out_channels: 2, window: Window::square(3, 1, 1),
///                        weights: vec![0.1; 18], bias: Some(vec![0.0, -0.5]) },
///     DnnLayer::Relu,
///     DnnLayer::MaxPool { window: Window::square(2, 2, 0) },
///     DnnLayer::Dense { outputs: 3, weights: vec![0.2; 24], bias: None },
/// ])?;
/// let mut forward = DenseForward::new(&dnn, 2);
/// let images = [0.5f32; 32]; // two images
/// let logits = forward.run(&images)?;
/// assert_eq!(logits.len(), 2 * 3);
/// let reference = relu_forward(&dnn, &images[..16])?;
/// assert!((f64::from(logits[0]) - reference.logits[0]).abs() < 1e-5);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DenseForward<'a> {
    dnn: &'a Dnn,
    capacity: usize,
    /// The current layer's values, `capacity` images, each channel-major.
    current: Vec<f32>,
    /// The next layer's values.
    next: Vec<f32>,
    /// One image's unrolled conv input.
    columns: Vec<f32>,
    /// Every earlier tensor a shortcut or concat refers to, `capacity` images each, kept from
    /// the layer that made it until the end of the pass.
    kept: Vec<Kept>,
    /// Per layer, the slot of `kept` its output is copied into, if any.
    keep_after: Vec<Option<usize>>,
}

/// An earlier tensor kept for a join.
#[derive(Debug)]
struct Kept {
    source: Source,
    shape: Shape,
    values: Vec<f32>,
}

impl<'a> DenseForward<'a> {
    /// A forward pass of `dnn` for batches of up to `capacity` images (at least 1).
    pub fn new(dnn: &'a Dnn, capacity: usize) -> DenseForward<'a> {
        let capacity = capacity.max(1);
        let widest = dnn
            .output_shapes()
            .iter()
            .chain([&dnn.input_shape()])
            .map(|s| s.len() as usize)
            .max()
            .unwrap_or(0);
        let shape_of = |s: Source| match s {
            Source::Input => dnn.input_shape(),
            Source::Layer(j) => dnn.output_shape(j),
        };
        let columns = dnn
            .layers()
            .iter()
            .enumerate()
            .filter_map(|(k, layer)| {
                let (from, window) = match layer {
                    DnnLayer::Conv2d { window, .. } => (dnn.input_shape_of(k), window),
                    DnnLayer::Shortcut {
                        from,
                        projection: Some(p),
                    } => (shape_of(*from), &p.window),
                    _ => return None,
                };
                let to = dnn.output_shape(k);
                Some(unrolled_len(from, window) * (to.h as usize * to.w as usize))
            })
            .max()
            .unwrap_or(0);
        let mut kept: Vec<Kept> = Vec::new();
        for source in dnn.layers().iter().filter_map(DnnLayer::source) {
            if kept.iter().all(|k| k.source != source) {
                let shape = shape_of(source);
                kept.push(Kept {
                    source,
                    shape,
                    values: vec![0.0; capacity * shape.len() as usize],
                });
            }
        }
        let keep_after = (0..dnn.layers().len())
            .map(|k| kept.iter().position(|s| s.source == Source::Layer(k)))
            .collect();
        DenseForward {
            dnn,
            capacity,
            current: vec![0.0; capacity * widest],
            next: vec![0.0; capacity * widest],
            columns: vec![0.0; columns],
            kept,
            keep_after,
        }
    }

    /// The network.
    pub fn dnn(&self) -> &'a Dnn {
        self.dnn
    }

    /// The largest batch [`run`](Self::run) takes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Runs a batch: `images` holds `n` images of `C * H * W` values each, `1 <= n <=
    /// capacity`. Returns the `n` images' logits, image-major (`n * classes` values).
    pub fn run(&mut self, images: &[f32]) -> Result<&[f32], ForwardError> {
        let dnn = self.dnn;
        let per_image = dnn.input_shape().len() as usize;
        if images.is_empty() || !images.len().is_multiple_of(per_image) {
            return Err(ForwardError::InputLength {
                len: images.len(),
                per_image,
            });
        }
        let n = images.len() / per_image;
        if n > self.capacity {
            return Err(ForwardError::BatchTooLarge {
                images: n,
                capacity: self.capacity,
            });
        }
        self.current[..images.len()].copy_from_slice(images);
        if let Some(input) = self.kept.iter_mut().find(|k| k.source == Source::Input) {
            input.values[..images.len()].copy_from_slice(images);
        }
        for (k, layer) in dnn.layers().iter().enumerate() {
            let (from, to) = (dnn.input_shape_of(k), dnn.output_shape(k));
            let (fl, tl) = (from.len() as usize, to.len() as usize);
            let input = &self.current[..n * fl];
            let output = &mut self.next[..n * tl];
            let kept = |source: Source| {
                self.kept
                    .iter()
                    .find(|k| k.source == source)
                    .expect("every source kept at construction")
            };
            let swap = match layer {
                DnnLayer::Conv2d {
                    window,
                    weights,
                    bias,
                    ..
                } => {
                    for (x, y) in input.chunks_exact(fl).zip(output.chunks_exact_mut(tl)) {
                        fill_bias(y, to.h as usize * to.w as usize, bias.as_deref());
                        conv2d_add(x, y, from, to, window, weights, &mut self.columns);
                    }
                    true
                }
                DnnLayer::Dense {
                    outputs,
                    weights,
                    bias,
                } => {
                    dense(
                        input,
                        output,
                        n,
                        *outputs as usize,
                        weights,
                        bias.as_deref(),
                    );
                    true
                }
                DnnLayer::MaxPool { window } => {
                    for (x, y) in input.chunks_exact(fl).zip(output.chunks_exact_mut(tl)) {
                        max_pool_into(x, from, to, window, f32::NEG_INFINITY, y);
                    }
                    true
                }
                DnnLayer::AvgPool { window } => {
                    let area = (window.kernel[0] * window.kernel[1]) as f32;
                    for (x, y) in input.chunks_exact(fl).zip(output.chunks_exact_mut(tl)) {
                        pool_into(x, from, to, window, 0.0, |a, v| a + v, y);
                        y.iter_mut().for_each(|v| *v /= area);
                    }
                    true
                }
                // In place: the earlier tensor (or its projection) added to the current one.
                DnnLayer::Shortcut { from, projection } => {
                    let earlier = kept(*from);
                    let el = earlier.shape.len() as usize;
                    let current = &mut self.current[..n * tl];
                    match projection {
                        None => current
                            .iter_mut()
                            .zip(&earlier.values)
                            .for_each(|(a, &b)| *a += b),
                        Some(p) => {
                            let images = earlier.values.chunks_exact(el);
                            for (x, y) in images.zip(current.chunks_exact_mut(tl)) {
                                add_bias(y, to.h as usize * to.w as usize, p.bias.as_deref());
                                let (w, columns) = (&p.window, &mut self.columns);
                                conv2d_add(x, y, earlier.shape, to, w, &p.weights, columns);
                            }
                        }
                    }
                    false
                }
                // The earlier tensor's channels after the current ones, image by image.
                DnnLayer::Concat { from } => {
                    let earlier = kept(*from);
                    let el = earlier.shape.len() as usize;
                    let parts = input.chunks_exact(fl).zip(earlier.values.chunks_exact(el));
                    for ((a, b), y) in parts.zip(output.chunks_exact_mut(tl)) {
                        y[..fl].copy_from_slice(a);
                        y[fl..].copy_from_slice(b);
                    }
                    true
                }
                // In place: same values, same order.
                DnnLayer::Flatten => false,
                DnnLayer::Relu => {
                    self.current[..n * fl]
                        .iter_mut()
                        .for_each(|v| *v = v.max(0.0));
                    false
                }
            };
            if swap {
                std::mem::swap(&mut self.current, &mut self.next);
            }
            if let Some(slot) = self.keep_after[k] {
                self.kept[slot].values[..n * tl].copy_from_slice(&self.current[..n * tl]);
            }
        }
        Ok(&self.current[..n * dnn.final_shape().len() as usize])
    }
}

/// Rows of a conv's unrolled input: `c_in * kh * kw`.
fn unrolled_len(from: Shape, window: &Window) -> usize {
    from.c as usize * window.kernel[0] as usize * window.kernel[1] as usize
}

/// One image's conv added to `y`: unroll, then `y += W * columns`.
fn conv2d_add(
    x: &[f32],
    y: &mut [f32],
    from: Shape,
    to: Shape,
    window: &Window,
    weights: &[f32],
    columns: &mut [f32],
) {
    let plane = to.h as usize * to.w as usize;
    let rows = unrolled_len(from, window);
    let columns = &mut columns[..rows * plane];
    im2col(x, columns, from, to, window);
    matmul_add(
        MatMut {
            data: y,
            rows: to.c as usize,
            cols: plane,
            row_stride: plane,
            col_stride: 1,
        },
        MatRef {
            data: weights,
            rows: to.c as usize,
            cols: rows,
            row_stride: rows,
            col_stride: 1,
        },
        MatRef {
            data: columns,
            rows,
            cols: plane,
            row_stride: plane,
            col_stride: 1,
        },
    );
}

/// A batch through a dense layer: `y[i][j] = b_j + sum_k W[j][k] x[i][k]`, as one GEMM
/// (`W` is `outputs x inputs`, the batch `inputs x n` with images as columns).
fn dense(x: &[f32], y: &mut [f32], n: usize, outputs: usize, weights: &[f32], b: Option<&[f32]>) {
    let inputs = x.len() / n;
    fill_bias(y, 1, b);
    matmul_add(
        MatMut {
            data: y,
            rows: outputs,
            cols: n,
            row_stride: 1,
            col_stride: outputs,
        },
        MatRef {
            data: weights,
            rows: outputs,
            cols: inputs,
            row_stride: inputs,
            col_stride: 1,
        },
        MatRef {
            data: x,
            rows: inputs,
            cols: n,
            row_stride: 1,
            col_stride: inputs,
        },
    );
}

/// Adds to `y`, runs of `run` values per bias entry, the bias (nothing without one).
fn add_bias(y: &mut [f32], run: usize, bias: Option<&[f32]>) {
    if let Some(b) = bias {
        for (chunk, &v) in y.chunks_exact_mut(run).zip(b.iter().cycle()) {
            chunk.iter_mut().for_each(|y| *y += v);
        }
    }
}

/// Sets `y`, runs of `run` values per bias entry (cycling over images), to the bias, or 0.
fn fill_bias(y: &mut [f32], run: usize, bias: Option<&[f32]>) {
    match bias {
        None => y.fill(0.0),
        Some(b) => {
            for (chunk, &v) in y.chunks_exact_mut(run).zip(b.iter().cycle()) {
                chunk.fill(v);
            }
        }
    }
}

/// Unrolls one image for a conv: row `(c, ky, kx)`, column `(oy, ox)` holds input
/// `(c, oy * sy + ky - py, ox * sx + kx - px)`, or 0 where that is padding.
fn im2col(x: &[f32], columns: &mut [f32], from: Shape, to: Shape, window: &Window) {
    let [kh, kw] = window.kernel;
    let (hi, wi) = (from.h as usize, from.w as usize);
    let (ho, wo) = (to.h as usize, to.w as usize);
    let stride = window.stride[1] as usize;
    let mut rows = columns.chunks_exact_mut(ho * wo);
    for channel in x.chunks_exact(hi * wi) {
        for ky in 0..kh {
            let out_rows = valid_outputs(window, 0, ky, from.h, to.h);
            for kx in 0..kw {
                let row = rows.next().expect("columns sized for c_in * kh * kw rows");
                let out_cols = valid_outputs(window, 1, kx, from.w, to.w);
                if out_rows.len() < ho || out_cols.len() < wo {
                    row.fill(0.0);
                }
                if out_cols.is_empty() {
                    continue;
                }
                let first = input_position(window, 1, out_cols.start, kx);
                for oy in out_rows.clone() {
                    let src = &channel[input_position(window, 0, oy, ky) * wi..][..wi];
                    let dst = &mut row[oy * wo..(oy + 1) * wo][out_cols.clone()];
                    if stride == 1 {
                        dst.copy_from_slice(&src[first..first + dst.len()]);
                    } else {
                        let src = src[first..].iter().step_by(stride);
                        dst.iter_mut().zip(src).for_each(|(d, &s)| *d = s);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use tdsnn_converter::{relu_forward, Projection};

    /// Values uniform in `[-0.5, 0.5)`, seeded.
    fn values(n: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-0.5..0.5)).collect()
    }

    fn conv(c_in: u32, c_out: u32, window: Window, rng: &mut ChaCha8Rng) -> DnnLayer {
        let [kh, kw] = window.kernel;
        DnnLayer::Conv2d {
            out_channels: c_out,
            window,
            weights: values((c_out * c_in * kh * kw) as usize, rng),
            bias: Some(values(c_out as usize, rng)),
        }
    }

    /// Every kind of join: an identity shortcut from the input, a strided projection
    /// shortcut (with and without bias) from a ReLU, a shortcut after a shortcut, concats of
    /// the input and of a pool, then an average pool, flatten and dense.
    fn residual(bias: bool, rng: &mut ChaCha8Rng) -> Dnn {
        let same = Window::square(3, 1, 1);
        let layers = vec![
            // 0, 1, 2: conv 3x8x8 plus the input, ReLU.
            conv(3, 3, same, rng),
            DnnLayer::Shortcut {
                from: Source::Input,
                projection: None,
            },
            DnnLayer::Relu,
            // 3, 4, 5: conv stride 2 (5x4x4), ReLU, conv.
            conv(3, 5, Window::square(3, 2, 1), rng),
            DnnLayer::Relu,
            conv(5, 5, same, rng),
            // 6, 7, 8: plus a projection of layer 2, plus layer 4, ReLU.
            DnnLayer::Shortcut {
                from: Source::Layer(2),
                projection: Some(Projection {
                    window: Window::square(1, 2, 0),
                    weights: values(5 * 3, rng),
                    bias: bias.then(|| values(5, rng)),
                }),
            },
            DnnLayer::Shortcut {
                from: Source::Layer(4),
                projection: None,
            },
            DnnLayer::Relu,
            // 9, 10: max-pool (5x2x2), concat of itself (10x2x2).
            DnnLayer::MaxPool {
                window: Window::square(2, 2, 0),
            },
            DnnLayer::Concat {
                from: Source::Layer(9),
            },
            // 11 to 15: conv (4x2x2), ReLU, average pool (4x1x1), flatten, dense.
            conv(10, 4, same, rng),
            DnnLayer::Relu,
            DnnLayer::AvgPool {
                window: Window::square(2, 2, 0),
            },
            DnnLayer::Flatten,
            DnnLayer::Dense {
                outputs: 6,
                weights: values(6 * 4, rng),
                bias: Some(values(6, rng)),
            },
        ];
        Dnn::new(Shape::new(3, 8, 8), layers).expect("a valid residual network")
    }

    /// A concat of the input onto a ReLU, then a dense layer.
    fn concat_of_input(rng: &mut ChaCha8Rng) -> Dnn {
        let layers = vec![
            conv(2, 3, Window::square(3, 1, 1), rng),
            DnnLayer::Relu,
            DnnLayer::Concat {
                from: Source::Input,
            },
            DnnLayer::Dense {
                outputs: 4,
                weights: values(4 * 5 * 5 * 5, rng),
                bias: None,
            },
        ];
        Dnn::new(Shape::new(2, 5, 5), layers).expect("a valid network")
    }

    /// The dense pass against the f64 ReLU reference, within 1e-5 of the largest logit
    /// (f32 sums of at most 90 terms), in batches of 1 and 3 over five images.
    fn matches_reference(dnn: &Dnn, rng: &mut ChaCha8Rng) {
        let per = dnn.input_shape().len() as usize;
        let images: Vec<f32> = (0..5 * per).map(|_| rng.random_range(0.0..1.0)).collect();
        let classes = dnn.final_shape().len() as usize;
        for batch in [1, 3] {
            let mut forward = DenseForward::new(dnn, batch);
            for chunk in images.chunks(batch * per) {
                let logits = forward.run(chunk).expect("whole images").to_vec();
                for (x, got) in chunk.chunks(per).zip(logits.chunks(classes)) {
                    let want = relu_forward(dnn, x).expect("a valid input").logits;
                    let scale = want.iter().fold(1e-3f64, |m, v| m.max(v.abs()));
                    for (&g, &w) in got.iter().zip(&want) {
                        assert!((f64::from(g) - w).abs() <= 1e-5 * scale, "{g} vs {w}");
                    }
                }
            }
        }
    }

    #[test]
    fn residual_joins_match_the_reference() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for bias in [true, false] {
            let dnn = residual(bias, &mut rng);
            matches_reference(&dnn, &mut rng);
        }
        matches_reference(&concat_of_input(&mut rng), &mut rng);
    }

    #[test]
    fn only_named_tensors_are_kept() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let dnn = residual(true, &mut rng);
        let forward = DenseForward::new(&dnn, 2);
        let kept: Vec<(Source, usize)> = forward
            .kept
            .iter()
            .map(|k| (k.source, k.values.len()))
            .collect();
        let (input, image) = (Source::Input, 3 * 8 * 8);
        assert_eq!(
            kept,
            [
                (input, 2 * image),
                (Source::Layer(2), 2 * image),
                (Source::Layer(4), 2 * 5 * 16),
                (Source::Layer(9), 2 * 5 * 4),
            ]
        );
    }
}
