//! What one run is given: the input layer's values, or the spike times they encode to.

use crate::coding;
use crate::error::{ErrorKind, Result};
use crate::graph::Graph;
use crate::record::NOT_FIRED;

/// One input to a run, channel-major (`C * H * W` entries, the input layer's shape).
///
/// Values are encoded by the run: input neuron `i` fires at `T(x_i) = ceil(L ln(x_i + 1))`
/// (non-positive values at 0). Spike times are taken as they are, absolute steps from 0:
/// for inputs coded elsewhere, replayed from a record, or chosen by a test. Both convert
/// from slices, arrays and vectors, so `sim.run(&[0.2, 0.9], &mut ())` and
/// `sim.run(&times, &mut ())` both work.
///
/// # Example
/// ```
/// use tdsnn_engine::{GraphBuilder, Input, Shape, Simulate, Simulator, TickMode};
/// # fn main() -> Result<(), tdsnn_engine::Error> {
/// let graph = GraphBuilder::new(Shape::flat(2), 5.0)
///     .output(2, vec![1.0, -1.0, 0.5, 0.5], None)
///     .build()?;
/// let mut sim = Simulator::new(graph, TickMode::ClosedForm);
/// let from_values = sim.run(&[0.2, 0.9], &mut ())?;
/// // The same spikes, given as times: the same record.
/// let times = from_values.input.clone();
/// let from_times = sim.run(Input::SpikeTimes(&times), &mut ())?;
/// assert_eq!(from_values, from_times);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Input<'a> {
    /// Values `x_i`, finite.
    Values(&'a [f32]),
    /// Spike times, absolute steps from 0; [`NOT_FIRED`] is refused (every input neuron fires
    /// once).
    SpikeTimes(&'a [u32]),
}

impl Input<'_> {
    /// The number of input neurons given.
    pub fn len(&self) -> usize {
        match self {
            Input::Values(v) => v.len(),
            Input::SpikeTimes(t) => t.len(),
        }
    }

    /// Whether no input neuron is given.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks the input against `graph` and writes each input neuron's spike time.
    ///
    /// Errors ([`ErrorKind::Input`]) if the count is not the input layer's, a value is not
    /// finite, or a time is [`NOT_FIRED`].
    ///
    /// # Example
    /// ```
    /// use tdsnn_engine::{GraphBuilder, Input, Shape};
    /// # fn main() -> Result<(), tdsnn_engine::Error> {
    /// let graph = GraphBuilder::new(Shape::flat(2), 5.0)
    ///     .output(1, vec![1.0, 1.0], None)
    ///     .build()?;
    /// let mut times = Vec::new();
    /// Input::from(&[0.0, 1.0]).spike_times(&graph, &mut times)?;
    /// assert_eq!(times, [0, 4]); // ceil(5 ln 2) = 4
    /// assert!(Input::from(&[1.0]).spike_times(&graph, &mut times).is_err());
    /// # Ok(()) }
    /// ```
    pub fn spike_times(&self, graph: &Graph, times: &mut Vec<u32>) -> Result<()> {
        let shape = graph.input_shape();
        let what = match self {
            Input::Values(_) => "values",
            Input::SpikeTimes(_) => "spike times",
        };
        if self.len() as u64 != shape.len() {
            return Err(input_error(format!(
                "{} {what} given, the input layer {shape} takes {}",
                self.len(),
                shape.len()
            )));
        }
        times.clear();
        match *self {
            Input::Values(values) => {
                if let Some(i) = values.iter().position(|x| !x.is_finite()) {
                    return Err(input_error(format!(
                        "value {:?} at index {i} is not finite",
                        values[i]
                    )));
                }
                let leak = graph.params().leak;
                times.extend(
                    values
                        .iter()
                        .map(|&x| coding::spike_time(f64::from(x), leak)),
                );
            }
            Input::SpikeTimes(given) => {
                if let Some(i) = given.iter().position(|&t| t == NOT_FIRED) {
                    return Err(input_error(format!(
                        "spike time {NOT_FIRED} at index {i} means never fired: every input \
                         neuron fires once"
                    )));
                }
                times.extend_from_slice(given);
            }
        }
        Ok(())
    }
}

fn input_error(what: String) -> crate::Error {
    ErrorKind::Input { what }.into()
}

/// `From` a slice, an array and a vector of `$t`, as the variant `$variant`.
macro_rules! input_from {
    ($t:ty, $variant:ident) => {
        impl<'a> From<&'a [$t]> for Input<'a> {
            fn from(v: &'a [$t]) -> Self {
                Input::$variant(v)
            }
        }

        impl<'a, const N: usize> From<&'a [$t; N]> for Input<'a> {
            fn from(v: &'a [$t; N]) -> Self {
                Input::$variant(v)
            }
        }

        impl<'a> From<&'a Vec<$t>> for Input<'a> {
            fn from(v: &'a Vec<$t>) -> Self {
                Input::$variant(v)
            }
        }
    };
}

input_from!(f32, Values);
input_from!(u32, SpikeTimes);
