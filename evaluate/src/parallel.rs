//! Work spread over scoped threads, handed out in order, gathered in order.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use tdsnn_engine::{Plan, Simulator};

/// `work(state, i)` for every `i` in `0..n` on `threads` threads (at least one, at most `n`:
/// the calling thread and scoped ones), each with its own `state()`; items are handed out in increasing order as
/// workers free up. The results, in item order: the same whatever the thread count, as long
/// as `work` depends on its item alone.
pub(crate) fn map_in_order<S, R: Send>(
    n: usize,
    threads: usize,
    state: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, usize) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..n).map(|_| None).collect());
    let worker = || {
        let mut state = state();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                break;
            }
            let r = work(&mut state, i);
            results.lock().expect("no worker panics")[i] = Some(r);
        }
    };
    // The calling thread is one of the workers: with one thread nothing is spawned, and what
    // the work allocates (arrays handed back to the caller) comes from the caller's own
    // allocator heap, which gets it back when the caller frees it.
    std::thread::scope(|scope| {
        for _ in 1..threads.clamp(1, n.max(1)) {
            scope.spawn(worker);
        }
        worker();
    });
    results
        .into_inner()
        .expect("no worker panics")
        .into_iter()
        .map(|r| r.expect("every item done"))
        .collect()
}

/// Simulators of `plan` for `threads` threads over `n` images: one per worker, at most one
/// worker per image, each simulator cutting an image's layers across the threads left over
/// (`Simulator::set_threads`). Images are split first, which costs nothing; only threads
/// beyond one per image go into the images (one big image gets them all). Returns the
/// workers and a maker of their simulators (an error if the operating system refuses the
/// threads).
pub(crate) fn simulators(
    plan: &Plan,
    threads: usize,
    n: usize,
) -> (
    usize,
    impl Fn() -> Result<Simulator, tdsnn_engine::Error> + Sync + '_,
) {
    let workers = threads.clamp(1, n.max(1));
    let each = (threads / workers).max(1);
    (workers, move || plan.simulator().with_threads(each))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_go_to_images_first() {
        let graph = tdsnn_engine::GraphBuilder::new(tdsnn_engine::Shape::flat(1), 5.0)
            .output(1, vec![1.0], None)
            .build()
            .unwrap();
        let plan = Plan::new(graph, tdsnn_engine::TickMode::ClosedForm);
        for (threads, n, workers, each) in
            [(2, 1, 1, 2), (2, 2000, 2, 1), (8, 3, 3, 2), (1, 0, 1, 1)]
        {
            let (w, make) = simulators(&plan, threads, n);
            assert_eq!(
                (w, make().unwrap().threads()),
                (workers, each),
                "{threads} threads, {n} images"
            );
        }
    }

    #[test]
    fn results_are_in_item_order_for_any_thread_count() {
        for threads in [0, 1, 2, 7, 100] {
            let squares = map_in_order(
                50,
                threads,
                || 0usize,
                |calls, i| {
                    *calls += 1;
                    i * i
                },
            );
            assert_eq!(squares, (0..50).map(|i| i * i).collect::<Vec<_>>());
        }
        assert!(map_in_order(0, 4, || (), |_, i| i).is_empty());
    }
}
