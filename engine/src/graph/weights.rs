//! Weight storage: a view into a shared, aligned `f32` buffer.
//!
//! A graph built in code owns one buffer per tensor; a graph read from a file shares the one
//! aligned buffer the file was read into, so its payloads are used in place, never copied.

use std::ops::{Deref, Range};
use std::sync::Arc;

/// An immutable run of `f32` weights, cheap to clone.
///
/// # Example
/// ```
/// use tdsnn_engine::Weights;
/// let w = Weights::from(vec![0.5f32, -1.0]);
/// assert_eq!(&w[..], &[0.5, -1.0]);
/// ```
#[derive(Clone)]
pub struct Weights {
    buf: Arc<[f32]>,
    range: Range<usize>,
}

impl Weights {
    /// A view of `range` in a shared buffer. The caller has checked the range.
    pub(crate) fn view(buf: Arc<[f32]>, range: Range<usize>) -> Self {
        debug_assert!(
            range.end <= buf.len(),
            "range {range:?} beyond {}",
            buf.len()
        );
        Weights { buf, range }
    }
}

impl From<Vec<f32>> for Weights {
    fn from(v: Vec<f32>) -> Self {
        let len = v.len();
        Weights {
            buf: v.into(),
            range: 0..len,
        }
    }
}

impl Deref for Weights {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.buf[self.range.clone()]
    }
}

impl PartialEq for Weights {
    /// Bit-for-bit equality of the values (so that a NaN compares equal to itself).
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl std::fmt::Debug for Weights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Weights[{}]", self.len())
    }
}
