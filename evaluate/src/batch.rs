//! The engine alone over a data set, on all cores: every image's spike times, frames,
//! releases, logits and class, as the dump's arrays, with no reference and no audit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tdsnn_engine::{Graph, Plan, Record, Simulate, TickMode};
use tdsnn_io::dump::{Dump, DumpArrays};
use tdsnn_io::images::Inputs;

use crate::{check_data, parallel, EvalError};

/// Runs `graph` alone (tick mode `mode`) on every image of `data` on `threads` threads
/// (images split across them first, threads beyond one per image cutting each image's
/// layers): the
/// engine's arrays of the dump (`tdsnn_io::dump`: the input and its spike times, every
/// layer's spike times, frame origin, release and delays, the logits and classes, and the
/// labels when `data` has them), the same bit for bit whatever the thread count. Calls
/// `progress` with the number of images done.
///
/// # Errors
/// [`EvalError::Mismatch`] or [`EvalError::Label`] if the images do not fit the graph;
/// [`EvalError::Image`] for the first image (by index) the engine rejects.
///
/// # Example
/// ```
/// use std::sync::Arc;
/// use tdsnn_engine::{GraphBuilder, Shape, TickMode};
/// use tdsnn_evaluate::simulate;
/// use tdsnn_io::dump::Values;
/// use tdsnn_io::images::Images;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let graph = Arc::new(GraphBuilder::new(Shape::flat(2), 5.0)
///     .dense(2, vec![-1.0, 0.0, 0.0, -1.0], None)
///     .output(2, vec![1.0, -1.0, -1.0, 1.0], None)
///     .build()?);
/// let images = Images { shape: Shape::flat(2), values: vec![0.2, 0.9, 0.7, 0.1], labels: None };
/// let arrays = simulate(&graph, &images, TickMode::ClosedForm, 2, |_| {})?.into_arrays();
/// let classes = arrays.iter().find(|a| a.name == "classes_snn").unwrap();
/// assert_eq!(classes.values, Values::I64(vec![1, 0]));
/// # Ok(()) }
/// ```
pub fn simulate(
    graph: &Arc<Graph>,
    data: &impl Inputs,
    mode: TickMode,
    threads: usize,
    progress: impl Fn(usize) + Sync,
) -> Result<DumpArrays, EvalError> {
    check_data(graph, data)?;
    let n = data.count();
    let labelled = (0..n).all(|i| data.label(i).is_some());
    let plan = Plan::new(Arc::clone(graph), mode);
    let done = AtomicUsize::new(0);
    // Each worker fills the arrays of one consecutive share of the images; the first share's
    // arrays have room for all, and the others are appended to them in order.
    let (workers, simulator) = parallel::simulators(&plan, threads, n);
    let share = n.div_ceil(workers);
    let mut shares = parallel::map_in_order(
        workers,
        workers,
        || (simulator(), Record::default(), Vec::new()),
        |(sim, record, x), t| {
            let images = t * share..n.min((t + 1) * share);
            let sim = sim.as_mut().map_err(|error| EvalError::Image {
                image: images.start,
                error: error.clone(),
            })?;
            let room = if t == 0 { n } else { images.len() };
            let mut dump = DumpArrays::new(graph, None, room, labelled);
            for i in images {
                data.input_into(i, x);
                sim.run_into(x.as_slice(), &mut (), record)
                    .map_err(|error| EvalError::Image { image: i, error })?;
                dump.push(x, record, None, data.label(i))
                    .expect("no reference is dumped");
                progress(done.fetch_add(1, Ordering::Relaxed) + 1);
            }
            Ok::<_, EvalError>(dump)
        },
    )
    .into_iter();
    let mut dump: DumpArrays = shares.next().expect("one share at least")?;
    for other in shares {
        dump.append(other?);
    }
    Ok(dump)
}
