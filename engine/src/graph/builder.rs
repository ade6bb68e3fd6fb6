//! Building a graph in code, layer by layer.

use super::{AvgPool, Conv2d, Dense, Graph, Layer, MaxPool, Params, Shape, TilPolicy, Window};
use crate::error::Result;

/// Builds a [`Graph`] layer by layer; [`GraphBuilder::build`] validates the whole.
///
/// Weights are given as delivered (see [`Layer`] for layouts): the converter negates hidden
/// layers' DNN weights and divides biases by `G(1)`.
///
/// # Example
/// ```
/// use tdsnn_engine::{GraphBuilder, Shape, TilPolicy, Window};
/// # fn main() -> Result<(), tdsnn_engine::Error> {
/// let graph = GraphBuilder::new(Shape::new(1, 4, 4), 5.0)
///     .conv2d(2, Window::square(3, 1, 1), vec![-0.1; 1 * 3 * 3 * 2], Some(vec![0.0, 0.1]))
///     .max_pool(Window::square(2, 2, 0))
///     .flatten()
///     .output(3, vec![0.2; 2 * 2 * 2 * 3], None)
///     .til(TilPolicy::Dynamic)
///     .build()?;
/// assert_eq!(graph.output_shape(1), Shape::new(2, 2, 2));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct GraphBuilder {
    input: Shape,
    layers: Vec<Layer>,
    params: Params,
}

impl GraphBuilder {
    /// Starts a graph with the given input shape and leak constant `L`.
    pub fn new(input: Shape, leak: f64) -> Self {
        GraphBuilder {
            input,
            layers: Vec::new(),
            params: Params::new(leak),
        }
    }

    /// Sets the `T_il` policy (default: dynamic).
    pub fn til(mut self, til: TilPolicy) -> Self {
        self.params.til = til;
        self
    }

    /// Sets the firing threshold (default 0).
    pub fn threshold(mut self, threshold: f64) -> Self {
        self.params.threshold = threshold;
        self
    }

    /// Appends any layer.
    pub fn layer(mut self, layer: Layer) -> Self {
        self.layers.push(layer);
        self
    }

    /// Appends a hidden dense layer (`weights` as `[in][out]`).
    pub fn dense(self, outputs: u32, weights: Vec<f32>, bias: Option<Vec<f64>>) -> Self {
        self.layer(Layer::Dense(Dense {
            outputs,
            weights: weights.into(),
            bias: bias.map(Into::into),
        }))
    }

    /// Appends a hidden conv2d layer (`weights` as `[c_in][kh][kw][c_out]`).
    pub fn conv2d(
        self,
        out_channels: u32,
        window: Window,
        weights: Vec<f32>,
        bias: Option<Vec<f64>>,
    ) -> Self {
        self.layer(Layer::Conv2d(Conv2d {
            out_channels,
            window,
            weights: weights.into(),
            bias: bias.map(Into::into),
        }))
    }

    /// Appends a hidden average-pool layer with the given delivered weight per synapse.
    pub fn avg_pool(self, window: Window, weight: f32) -> Self {
        self.layer(Layer::AvgPool(AvgPool { window, weight }))
    }

    /// Appends a max-pool layer.
    pub fn max_pool(self, window: Window) -> Self {
        self.layer(Layer::MaxPool(MaxPool { window }))
    }

    /// Appends a flatten layer.
    pub fn flatten(self) -> Self {
        self.layer(Layer::Flatten)
    }

    /// Appends the output layer (`weights` as `[in][out]`, not negated).
    pub fn output(self, outputs: u32, weights: Vec<f32>, bias: Option<Vec<f64>>) -> Self {
        self.layer(Layer::Output(Dense {
            outputs,
            weights: weights.into(),
            bias: bias.map(Into::into),
        }))
    }

    /// Validates and returns the graph.
    pub fn build(self) -> Result<Graph> {
        Graph::new(self.input, self.layers, self.params)
    }
}
