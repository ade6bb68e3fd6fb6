//! A safe face on the `gemm` crate: `dst += lhs * rhs` for f32 matrices given as slices with
//! row and column strides, on one core (`Parallelism::None`), with gemm's runtime dispatch
//! to the widest instruction set the CPU has (AVX2/FMA, AVX-512 or NEON).
//!
//! `gemm::gemm` takes raw pointers; this is the crate's only `unsafe` block. Every matrix is
//! checked to lie inside its slice before the call, and the borrow checker guarantees that
//! `dst` aliases neither operand.

#![allow(unsafe_code)]

/// A read-only strided view: element `(i, j)` is `data[i * row_stride + j * col_stride]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MatRef<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

/// A mutable strided view, laid out as [`MatRef`].
#[derive(Debug)]
pub(crate) struct MatMut<'a> {
    pub data: &'a mut [f32],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

/// Whether every element of a `rows x cols` view with these strides lies in `len` values.
fn fits(len: usize, rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> bool {
    if rows == 0 || cols == 0 {
        return true;
    }
    let last = (rows - 1).checked_mul(row_stride).and_then(|r| {
        (cols - 1)
            .checked_mul(col_stride)
            .and_then(|c| r.checked_add(c))
    });
    // gemm offsets pointers by `isize`.
    last.is_some_and(|last| last < len && isize::try_from(last).is_ok())
}

/// `dst += lhs * rhs` (`m x k` times `k x n` into `m x n`). Panics if the shapes disagree or a
/// view does not fit its slice.
pub(crate) fn matmul_add(dst: MatMut<'_>, lhs: MatRef<'_>, rhs: MatRef<'_>) {
    let (m, n, k) = (dst.rows, dst.cols, lhs.cols);
    assert!(
        lhs.rows == m && rhs.rows == k && rhs.cols == n,
        "gemm shapes: dst {m}x{n}, lhs {}x{}, rhs {}x{}",
        lhs.rows,
        lhs.cols,
        rhs.rows,
        rhs.cols
    );
    assert!(fits(dst.data.len(), m, n, dst.row_stride, dst.col_stride));
    assert!(fits(lhs.data.len(), m, k, lhs.row_stride, lhs.col_stride));
    assert!(fits(rhs.data.len(), k, n, rhs.row_stride, rhs.col_stride));
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let s = |x: usize| x as isize; // fits() checked every offset fits an isize
                                   // SAFETY: `fits` checked that every element the three views address lies inside its
                                   // slice, with offsets representable as `isize`; `dst` is a unique borrow, so it aliases
                                   // neither `lhs` nor `rhs`; f32 needs no initialisation beyond what the slices hold.
                                   // `read_dst` makes gemm compute `dst = 1 * dst + 1 * lhs * rhs`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr(),
            s(dst.col_stride),
            s(dst.row_stride),
            true,
            lhs.data.as_ptr(),
            s(lhs.col_stride),
            s(lhs.row_stride),
            rhs.data.as_ptr(),
            s(rhs.col_stride),
            s(rhs.row_stride),
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_product_with_strides() {
        // lhs 2x3 row-major, rhs 3x2 given column-major, dst 2x2 column-major.
        let lhs = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let rhs = [1.0, 0.0, -1.0, 2.0, 1.0, 0.0]; // columns (1, 0, -1) and (2, 1, 0)
        let mut dst = [10.0, 0.0, 0.0, 0.0];
        matmul_add(
            MatMut {
                data: &mut dst,
                rows: 2,
                cols: 2,
                row_stride: 1,
                col_stride: 2,
            },
            MatRef {
                data: &lhs,
                rows: 2,
                cols: 3,
                row_stride: 3,
                col_stride: 1,
            },
            MatRef {
                data: &rhs,
                rows: 3,
                cols: 2,
                row_stride: 1,
                col_stride: 3,
            },
        );
        // [1 2 3; 4 5 6] * [1 2; 0 1; -1 0] = [-2 4; -2 13]; dst(0, 0) started at 10.
        assert_eq!(dst, [8.0, -2.0, 4.0, 13.0]);
    }

    #[test]
    #[should_panic]
    fn view_outside_its_slice_panics() {
        let (a, mut d) = ([0.0f32; 4], [0.0f32; 4]);
        let view = |rows| MatRef {
            data: &a,
            rows,
            cols: 2,
            row_stride: 2,
            col_stride: 1,
        };
        let dst = MatMut {
            data: &mut d,
            rows: 3,
            cols: 2,
            row_stride: 2,
            col_stride: 1,
        };
        matmul_add(dst, view(3), view(2));
    }
}
