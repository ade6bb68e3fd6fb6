//! The event queue: what happens next, in (time, stage, phase) order.
//!
//! Spikes themselves wait in per-layer time buckets ([`Buckets`](super::buckets::Buckets));
//! the queue orders the *slots* at which a layer has work: deliver the spikes arriving at
//! `t`, release, tick, fire. It is a keyed priority queue (the `priority-queue` crate), so
//! scheduling a slot that is already pending is a no-op: a thousand spikes arriving at one
//! layer at one time make one slot.

use priority_queue::PriorityQueue;
use std::cmp::Reverse;

/// Phases within one time step of one layer, in the order docs/semantics.md fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Phase {
    /// Integrate the spikes (and the bias spike) arriving now.
    Deliver,
    /// End of the inhibitory period: bring every potential to `R_k`.
    Release,
    /// One tick of the ticking neuron (explicit tick mode).
    Tick,
    /// Emit the spikes of the neurons that crossed threshold now.
    Fire,
}

/// A unit of work. Stage 0 is the input layer, stage `k + 1` graph layer `k`; the derived
/// order is the event order: time, then stage, then phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Slot {
    pub(crate) time: u32,
    pub(crate) stage: u32,
    pub(crate) phase: Phase,
}

/// Pending slots, earliest first.
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    pending: PriorityQueue<Slot, Reverse<Slot>>,
}

impl EventQueue {
    /// Schedules `slot` (once, however often it is pushed before it runs).
    pub(crate) fn push(&mut self, slot: Slot) {
        self.pending.push(slot, Reverse(slot));
    }

    /// The earliest pending slot.
    pub(crate) fn pop(&mut self) -> Option<Slot> {
        self.pending.pop().map(|(slot, _)| slot)
    }

    pub(crate) fn clear(&mut self) {
        self.pending.clear();
    }
}
