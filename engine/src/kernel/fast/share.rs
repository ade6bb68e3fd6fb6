//! One image on several threads: a layer's potentials cut into contiguous shares, one per
//! thread, each share whole output positions (conv), whole vectors (dense) or whole
//! channels (pooling). Every thread walks all of the layer's spikes, step by step in the same
//! order, and adds only into its own share, so each potential sees exactly the additions it
//! sees on one thread, in the same order: the same bits, whatever the thread count.

use std::ops::Range;

use rayon_core::ThreadPool;
use smallvec::SmallVec;

/// A contiguous share of a layer's slots: `u` holds slots `lo..lo + u.len()`.
pub(super) struct Share<'a> {
    u: &'a mut [f64],
    lo: usize,
}

impl<'a> Share<'a> {
    /// Slots `lo..lo + u.len()`.
    pub(super) fn new(u: &'a mut [f64], lo: usize) -> Self {
        Share { u, lo }
    }

    /// The first slot of the share.
    #[inline(always)]
    pub(super) fn lo(&self) -> usize {
        self.lo
    }

    /// Every potential of the share.
    #[inline(always)]
    pub(super) fn all(&mut self) -> &mut [f64] {
        self.u
    }

    /// The part of slots `at..at + len` the share holds, if any, and how many of those slots
    /// come before it.
    #[inline(always)]
    pub(super) fn run(&mut self, at: usize, len: usize) -> Option<(&mut [f64], usize)> {
        let (start, end) = (at.max(self.lo), (at + len).min(self.lo + self.u.len()));
        (start < end).then(|| (&mut self.u[start - self.lo..end - self.lo], start - at))
    }

    /// Slot `at` if the share holds it.
    #[inline(always)]
    pub(super) fn slot(&mut self, at: usize) -> Option<&mut f64> {
        self.u.get_mut(at.checked_sub(self.lo)?)
    }
}

/// `len` slots cut into at most `parts` contiguous ranges of whole `unit`s (the last may end
/// in a partial one), as even as whole units allow; one empty range if `len` is 0.
pub(super) fn ranges(len: usize, unit: usize, parts: usize) -> SmallVec<[Range<usize>; 8]> {
    let unit = unit.max(1);
    let units = len.div_ceil(unit);
    let parts = parts.clamp(1, units.max(1));
    let edge = |i: usize| (i * units / parts * unit).min(len);
    (0..parts).map(|i| edge(i)..edge(i + 1)).collect()
}

/// `items` cut at the ranges `cuts` (contiguous from 0, as [`ranges`] gives them).
pub(super) fn split<'a, T>(
    mut items: &'a mut [T],
    cuts: &[Range<usize>],
) -> SmallVec<[&'a mut [T]; 8]> {
    let mut parts = SmallVec::new();
    for r in cuts {
        let (head, tail) = std::mem::take(&mut items).split_at_mut(r.len());
        parts.push(head);
        items = tail;
    }
    parts
}

/// `f` on every item, the first on the calling thread and the others on `pool`'s threads
/// (all on the calling thread without a pool); the results in item order. A panic in `f`
/// is resumed here.
pub(super) fn on_threads<T: Send, R: Send>(
    pool: Option<&ThreadPool>,
    items: impl IntoIterator<Item = T>,
    f: impl Fn(T) -> R + Sync,
) -> SmallVec<[R; 8]> {
    let mut items = items.into_iter();
    let Some(first) = items.next() else {
        return SmallVec::new();
    };
    let rest: SmallVec<[T; 8]> = items.collect();
    let Some(pool) = pool.filter(|_| !rest.is_empty()) else {
        return std::iter::once(first).chain(rest).map(f).collect();
    };
    let f = &f;
    let mut results: SmallVec<[Option<R>; 8]> = (0..=rest.len()).map(|_| None).collect();
    let (head, tail) = results.split_first_mut().expect("one result per item");
    pool.in_place_scope(|scope| {
        for (item, slot) in rest.into_iter().zip(tail) {
            scope.spawn(move |_| *slot = Some(f(item)));
        }
        *head = Some(f(first));
    });
    results
        .into_iter()
        .map(|r| r.expect("the scope ran every item"))
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The ranges cover `0..len` in order, each of whole units but the last, no more of
        /// them than asked.
        #[test]
        fn ranges_tile_the_slots(len in 0usize..5000, unit in 1usize..100, parts in 1usize..9) {
            let rs = ranges(len, unit, parts);
            prop_assert!(rs.len() <= parts);
            prop_assert!(!rs.is_empty());
            let mut next = 0;
            for (i, r) in rs.iter().enumerate() {
                prop_assert_eq!(r.start, next);
                prop_assert!(!r.is_empty() || len == 0);
                if i + 1 < rs.len() {
                    prop_assert_eq!(r.len() % unit, 0);
                }
                next = r.end;
            }
            prop_assert_eq!(next, len);
        }
    }

    #[test]
    fn work_runs_on_every_item_in_order() {
        let mut data = vec![0u32; 10];
        let cuts = ranges(10, 3, 3);
        let pool = rayon_core::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let items = split(&mut data, &cuts).into_iter().enumerate();
        let sums = on_threads(Some(&pool), items, |(i, part): (usize, &mut [u32])| {
            part.iter_mut().for_each(|x| *x = i as u32);
            part.len()
        });
        assert_eq!(sums.as_slice(), &[3, 3, 4]);
        assert_eq!(data, [0, 0, 0, 1, 1, 1, 2, 2, 2, 2]);
    }
}
