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
//! No `G`: this is the plain ReLU network ([`tdsnn_converter::relu_forward`] in f64), whose
//! multiply-accumulates are the DNN's table-2 count ([`Dnn::op_counts`]). One core: GEMM runs
//! with `gemm::Parallelism::None`. Cost: the DNN's multiply-accumulates at GEMM speed, plus
//! one pass over each conv's unrolled input.

use tdsnn_converter::window::{input_position, max_pool_into, pool_into, valid_outputs};
use tdsnn_converter::{Dnn, DnnLayer, Shape, Window};

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
    /// The network joins branches (a shortcut or concat): this forward pass keeps only the
    /// current tensor, so it runs chains only.
    #[error("layer {layer} ({kind}): the dense forward pass runs chains only, not branches")]
    Branches {
        /// Index of the layer.
        layer: usize,
        /// The layer's kind.
        kind: &'static str,
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
        let columns = dnn
            .layers()
            .iter()
            .enumerate()
            .filter_map(|(k, layer)| match layer {
                DnnLayer::Conv2d { window, .. } => {
                    let from = dnn.input_shape_of(k);
                    let to = dnn.output_shape(k);
                    Some(unrolled_len(from, window) * (to.h as usize * to.w as usize))
                }
                _ => None,
            })
            .max()
            .unwrap_or(0);
        DenseForward {
            dnn,
            capacity,
            current: vec![0.0; capacity * widest],
            next: vec![0.0; capacity * widest],
            columns: vec![0.0; columns],
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
        for (k, layer) in dnn.layers().iter().enumerate() {
            let (from, to) = (dnn.input_shape_of(k), dnn.output_shape(k));
            let (fl, tl) = (from.len() as usize, to.len() as usize);
            let input = &self.current[..n * fl];
            let output = &mut self.next[..n * tl];
            match layer {
                DnnLayer::Conv2d {
                    window,
                    weights,
                    bias,
                    ..
                } => {
                    for (x, y) in input.chunks_exact(fl).zip(output.chunks_exact_mut(tl)) {
                        conv2d(
                            x,
                            y,
                            from,
                            to,
                            window,
                            weights,
                            bias.as_deref(),
                            &mut self.columns,
                        );
                    }
                }
                DnnLayer::Dense {
                    outputs,
                    weights,
                    bias,
                } => dense(
                    input,
                    output,
                    n,
                    *outputs as usize,
                    weights,
                    bias.as_deref(),
                ),
                DnnLayer::MaxPool { window } => {
                    for (x, y) in input.chunks_exact(fl).zip(output.chunks_exact_mut(tl)) {
                        max_pool_into(x, from, to, window, f32::NEG_INFINITY, y);
                    }
                }
                DnnLayer::AvgPool { window } => {
                    let area = (window.kernel[0] * window.kernel[1]) as f32;
                    for (x, y) in input.chunks_exact(fl).zip(output.chunks_exact_mut(tl)) {
                        pool_into(x, from, to, window, 0.0, |a, v| a + v, y);
                        y.iter_mut().for_each(|v| *v /= area);
                    }
                }
                DnnLayer::Shortcut { .. } | DnnLayer::Concat { .. } => {
                    return Err(ForwardError::Branches {
                        layer: k,
                        kind: layer.kind(),
                    })
                }
                // In place: same values, same order.
                DnnLayer::Flatten => continue,
                DnnLayer::Relu => {
                    self.current[..n * fl]
                        .iter_mut()
                        .for_each(|v| *v = v.max(0.0));
                    continue;
                }
            }
            std::mem::swap(&mut self.current, &mut self.next);
        }
        Ok(&self.current[..n * dnn.final_shape().len() as usize])
    }
}

/// Rows of a conv's unrolled input: `c_in * kh * kw`.
fn unrolled_len(from: Shape, window: &Window) -> usize {
    from.c as usize * window.kernel[0] as usize * window.kernel[1] as usize
}

/// One image's conv: unroll, fill the output with the bias, then `y += W * columns`.
#[allow(clippy::too_many_arguments)]
fn conv2d(
    x: &[f32],
    y: &mut [f32],
    from: Shape,
    to: Shape,
    window: &Window,
    weights: &[f32],
    bias: Option<&[f32]>,
    columns: &mut [f32],
) {
    let plane = to.h as usize * to.w as usize;
    let rows = unrolled_len(from, window);
    let columns = &mut columns[..rows * plane];
    im2col(x, columns, from, to, window);
    fill_bias(y, plane, bias);
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
