//! Hostile graph files: truncated, flipped, and tampered with (the checksum recomputed so
//! that the reader's structural checks, not the CRC, must catch them). Every case must give
//! a typed error, never a panic, and never a large allocation.

use proptest::prelude::*;
use tdsnn_engine::format::{from_bytes, read, to_bytes};
use tdsnn_engine::{Error, ErrorKind, Graph, GraphBuilder, Shape, Window};

/// CRC-32 (IEEE 802.3, as zlib), the trailer's checksum.
fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

// Header fields (byte offsets, from the specification).
const VERSION: usize = 8;
const LAYER_COUNT: usize = 12;
const LEAK: usize = 16;
const THRESHOLD: usize = 24;
const TIL_KIND: usize = 32;
const TIL_FIXED: usize = 36;
const INPUT_C: usize = 40;
const GROUPS: usize = 52;
const FILE_LEN: usize = 56;

// Descriptor fields, relative to the descriptor.
const KIND: usize = 0;
const fn param(slot: usize) -> usize {
    4 + 4 * slot
}
const W_OFFSET: usize = 32;
const W_LEN: usize = 40;
const B_OFFSET: usize = 48;
const B_LEN: usize = 56;

// Layers of the small graph.
const CONV: usize = 0;
const AVG: usize = 1;
const MAX: usize = 2;
const FLATTEN: usize = 3;
const DENSE: usize = 4;
const OUTPUT: usize = 5;
const LAYERS: usize = 6;

/// Byte offset of layer `i`'s descriptor.
const fn desc(i: usize) -> usize {
    64 + 64 * i
}

/// The first payload byte: after the descriptors, the sources (6 × 4 bytes), no group
/// entries, aligned to 64.
const PAYLOADS: usize = 512;

/// A small graph with every layer kind:
/// 1x4x4 -conv(2, 3x3 pad 1)-> 2x4x4 -avg(2x2 s2)-> 2x2x2 -max(1x1)-> 2x2x2 -flatten-> 8
/// -dense(3, bias)-> 3 -output(2)-> 2.
fn small_graph() -> Graph {
    let ramp = |n: usize, scale: f32| (0..n).map(|i| (i as f32 - 3.0) * scale).collect();
    GraphBuilder::new(Shape::new(1, 4, 4), 5.0)
        .conv2d(
            2,
            Window::square(3, 1, 1),
            ramp(18, -0.05),
            Some(vec![0.1, -0.2]),
        )
        .avg_pool(Window::square(2, 2, 0), -0.25)
        .max_pool(Window::square(1, 1, 0))
        .flatten()
        .dense(3, ramp(24, 0.01), Some(vec![0.0, -0.1, 0.2]))
        .output(2, ramp(6, 0.5), None)
        .build()
        .expect("the small graph is valid")
}

fn valid_file() -> Vec<u8> {
    to_bytes(&small_graph())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// Rewrites the trailer's CRC to match the body.
fn fix_crc(b: &mut [u8]) {
    let body = b.len() - 8;
    let crc = crc32(&b[..body]);
    b[body..body + 4].copy_from_slice(&crc.to_le_bytes());
}

/// The valid file with `value` written at `at`, checksum recomputed.
fn patched(at: usize, value: &[u8]) -> Vec<u8> {
    let mut b = valid_file();
    b[at..at + value.len()].copy_from_slice(value);
    fix_crc(&mut b);
    b
}

fn patched_u32(at: usize, v: u32) -> Vec<u8> {
    patched(at, &v.to_le_bytes())
}

fn patched_u64(at: usize, v: u64) -> Vec<u8> {
    patched(at, &v.to_le_bytes())
}

fn error_of(bytes: &[u8]) -> Error {
    match from_bytes(bytes) {
        Ok(g) => panic!("a hostile file was accepted: {g:?}"),
        Err(e) => e,
    }
}

/// Asserts a format error at exactly byte `offset`.
#[track_caller]
fn assert_format_at(bytes: &[u8], offset: usize) {
    let err = error_of(bytes);
    match err.kind() {
        ErrorKind::Format { offset: o, what } => {
            assert_eq!(*o, offset as u64, "wrong offset for: {what}");
            assert!(!what.is_empty());
        }
        other => panic!("expected a format error at byte {offset}, got {other:?}"),
    }
}

#[test]
fn the_small_file_is_valid() {
    let b = valid_file();
    assert_eq!(from_bytes(&b), Ok(small_graph()));
    assert_eq!(u32_at(&b, LAYER_COUNT) as usize, LAYERS);
    // The tensors are where the specification puts them (the tests below rely on it).
    assert_eq!(u64_at(&b, desc(CONV) + W_OFFSET), PAYLOADS as u64);
    assert_eq!(u64_at(&b, desc(CONV) + W_LEN), 18);
    assert_eq!(u64_at(&b, desc(DENSE) + B_LEN), 3);
    assert_eq!(u64_at(&b, desc(OUTPUT) + B_OFFSET), 0);
}

// ---------------------------------------------------------------------------------------
// Truncation, extension, flips.

#[test]
fn truncation_at_every_offset_is_a_typed_error() {
    let b = valid_file();
    for k in 0..b.len() {
        let err = error_of(&b[..k]);
        match err.kind() {
            ErrorKind::Format { offset, .. } if k < 72 => assert_eq!(*offset, k as u64),
            ErrorKind::Format { .. } | ErrorKind::Checksum { .. } if k >= 72 => {}
            other => panic!("truncated to {k} bytes: unexpected {other:?}"),
        }
    }
}

/// Truncated, then given a consistent trailer and length: the structural checks must catch it.
#[test]
fn truncation_with_a_consistent_trailer_is_a_typed_error() {
    let b = valid_file();
    for k in 0..b.len() - 8 {
        let mut t = b[..k].to_vec();
        t.extend_from_slice(&[0; 8]);
        if t.len() >= 64 {
            let len = t.len() as u64;
            t[FILE_LEN..FILE_LEN + 8].copy_from_slice(&len.to_le_bytes());
        }
        let n = t.len();
        t[n - 4..].copy_from_slice(b"TDSE");
        fix_crc(&mut t);
        let err = error_of(&t);
        assert!(
            matches!(err.kind(), ErrorKind::Format { .. }),
            "truncated to {k} bytes: {err:?}"
        );
    }
}

#[test]
fn extension_is_an_error() {
    let b = valid_file();
    for extra in [1usize, 4, 8, 64] {
        let mut e = b.clone();
        e.extend(std::iter::repeat_n(0, extra));
        let err = error_of(&e);
        assert!(
            matches!(
                err.kind(),
                ErrorKind::Format { .. } | ErrorKind::Checksum { .. }
            ),
            "{err:?}"
        );
    }
}

#[test]
fn a_truncated_file_on_disk_is_a_format_error() {
    let b = valid_file();
    let path = std::env::temp_dir().join(format!(
        "tdsnn-hostile-truncated-{}-{:?}.grf",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&path, &b[..50]).unwrap();
    let result = read(&path);
    std::fs::remove_file(&path).ok();
    let err = result.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Format { offset: 50, .. }),
        "{err:?}"
    );
}

/// The file reader checks the header before reading the rest, yet a file on disk gets the
/// error its bytes get in memory: for every truncation, and for every damaged header field.
#[test]
fn read_gives_the_error_from_bytes_gives() {
    let b = valid_file();
    let path = std::env::temp_dir().join(format!(
        "tdsnn-hostile-same-{}-{:?}.grf",
        std::process::id(),
        std::thread::current().id()
    ));
    let mut cases: Vec<Vec<u8>> = (0..b.len()).map(|k| b[..k].to_vec()).collect();
    cases.extend([
        patched(0, b"TDSNNGRX"),
        patched(0, &[0; 8]),
        patched_u32(VERSION, 3),
        patched_u64(FILE_LEN, b.len() as u64 + 64),
        patched_u64(FILE_LEN, 0),
        patched_u32(LAYER_COUNT, u32::MAX),
    ]);
    let mut extended = b.clone();
    extended.extend_from_slice(&[0; 64]);
    cases.push(extended);
    for case in cases {
        std::fs::write(&path, &case).unwrap();
        let (on_disk, in_memory) = (read(&path), from_bytes(&case));
        assert_eq!(on_disk, in_memory, "{} bytes", case.len());
        let err = in_memory.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::Format { .. }),
            "{} bytes: {err:?}",
            case.len()
        );
    }
    std::fs::remove_file(&path).ok();
}

/// Byte offsets worth aiming at: the header and the descriptor table, then anywhere.
fn position(len: usize) -> impl Strategy<Value = usize> {
    prop_oneof![0..desc(LAYERS), 0..len - 8]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any one damaged byte is caught: by the checksum, or by the trailer checks.
    #[test]
    fn one_flipped_byte_is_an_error(pos in 0usize..1024, flip in 1u8..=255) {
        let mut b = valid_file();
        let pos = pos % b.len();
        b[pos] ^= flip;
        let result = from_bytes(&b);
        prop_assert!(
            matches!(
                result.as_ref().map_err(Error::kind),
                Err(ErrorKind::Format { .. } | ErrorKind::Checksum { .. })
            ),
            "flip {flip:#04x} at {pos}: {result:?}"
        );
    }

    /// Random damage with the checksum recomputed: an error or a valid graph, never a panic.
    /// A graph that is accepted must survive its own round trip.
    #[test]
    fn flipped_bytes_with_a_fixed_checksum_never_panic(
        flips in prop::collection::vec((position(valid_file().len()), 1u8..=255), 1..=8)
    ) {
        let mut b = valid_file();
        for &(pos, flip) in &flips {
            b[pos] ^= flip;
        }
        fix_crc(&mut b);
        if let Ok(graph) = from_bytes(&b) {
            prop_assert_eq!(from_bytes(&to_bytes(&graph)), Ok(graph));
        }
    }

    /// Whole fields overwritten with boundary values, checksum recomputed: never a panic.
    #[test]
    fn overwritten_fields_never_panic(
        slot in 0usize..desc(LAYERS) / 4,
        wide in any::<bool>(),
        value in prop_oneof![
            Just(0u64), Just(1), Just(3), Just(63), Just(64), Just(u64::from(u32::MAX)),
            Just(u64::MAX), Just(u64::MAX / 4), Just(u64::MAX - 63), any::<u64>(),
        ],
    ) {
        let at = 4 * slot;
        let mut b = valid_file();
        if wide && at % 8 == 0 {
            b[at..at + 8].copy_from_slice(&value.to_le_bytes());
        } else {
            b[at..at + 4].copy_from_slice(&(value as u32).to_le_bytes());
        }
        fix_crc(&mut b);
        if let Ok(graph) = from_bytes(&b) {
            prop_assert_eq!(from_bytes(&to_bytes(&graph)), Ok(graph));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Header.

#[test]
fn too_short_is_a_format_error_at_the_length() {
    let file = valid_file();
    for len in [0, 1, 8, 63, 64, 71] {
        assert_format_at(&file[..len], len);
    }
}

#[test]
fn too_short_and_not_a_graph_file_is_a_bad_magic() {
    // Whatever the length, bytes that are not the magic's are reported as such first.
    for len in [1, 7, 8, 63, 71] {
        let err = from_bytes(&vec![0u8; len]).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::Format { offset: 0, what } if what.contains("not a TDSNN graph file")),
            "{len} bytes: {err}"
        );
    }
}

#[test]
fn wrong_magic() {
    let mut b = valid_file();
    b[0] = b'X';
    assert_format_at(&b, 0);
    assert_format_at(&patched(0, b"TDSNNGRX"), 0);
    assert_format_at(&patched(0, &[0; 8]), 0);
}

#[test]
fn wrong_version() {
    for v in [0, 3, u32::MAX] {
        assert_format_at(&patched_u32(VERSION, v), VERSION);
    }
}

#[test]
fn wrong_trailer_tag() {
    let mut b = valid_file();
    let n = b.len();
    b[n - 4..].copy_from_slice(b"TDSX");
    assert_format_at(&b, n - 4);
}

#[test]
fn checksum_mismatch() {
    let good = valid_file();
    let body = good.len() - 8;
    let stored = crc32(&good[..body]);
    assert_eq!(u32_at(&good, body), stored);

    // A damaged payload byte.
    let mut b = good.clone();
    b[desc(LAYERS) + 5] ^= 0x40;
    let computed = crc32(&b[..body]);
    assert_eq!(
        error_of(&b).kind(),
        &ErrorKind::Checksum { stored, computed }
    );

    // A damaged checksum.
    let mut b = good.clone();
    b[body] ^= 1;
    assert_eq!(
        error_of(&b).kind(),
        &ErrorKind::Checksum {
            stored: stored ^ 1,
            computed: stored
        }
    );

    // A tampered header field without a recomputed checksum.
    let mut b = good;
    b[LAYER_COUNT..LAYER_COUNT + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(error_of(&b).kind(), ErrorKind::Checksum { .. }));
}

#[test]
fn stored_file_length_wrong() {
    let len = valid_file().len() as u64;
    for v in [0, len - 1, len + 1, len + 64, u64::MAX] {
        assert_format_at(&patched_u64(FILE_LEN, v), FILE_LEN);
    }
}

#[test]
fn layer_count_that_cannot_fit() {
    let len = valid_file().len();
    // The descriptors alone would need more than the file: rejected before any allocation.
    for count in [u32::MAX, u32::MAX / 64, (len / 64) as u32] {
        assert_format_at(&patched_u32(LAYER_COUNT, count), LAYER_COUNT);
    }
}

#[test]
fn layer_count_that_fits_but_is_wrong() {
    // More descriptors: the first payload now lies inside the descriptor table.
    assert_format_at(
        &patched_u32(LAYER_COUNT, LAYERS as u32 + 1),
        desc(CONV) + W_OFFSET,
    );
    // Fewer: the output layer is cut off, which Graph::new reports.
    for count in [0, LAYERS as u32 - 1] {
        let err = error_of(&patched_u32(LAYER_COUNT, count));
        assert!(matches!(err.kind(), ErrorKind::Structure { .. }), "{err:?}");
    }
}

#[test]
fn til_fields() {
    assert_format_at(&patched_u32(TIL_KIND, 2), TIL_KIND);
    assert_format_at(&patched_u32(TIL_KIND, u32::MAX), TIL_KIND);
    // Dynamic T_il with a fixed value set.
    assert_format_at(&patched_u32(TIL_FIXED, 7), TIL_FIXED);
    // Fixed T_il of any value is structurally fine.
    let mut b = patched_u32(TIL_KIND, 1);
    b[TIL_FIXED..TIL_FIXED + 4].copy_from_slice(&9u32.to_le_bytes());
    fix_crc(&mut b);
    let graph = from_bytes(&b).unwrap();
    assert_eq!(graph.params().til, tdsnn_engine::TilPolicy::Fixed(9));
}

#[test]
fn a_group_count_the_file_cannot_hold() {
    for count in [1_000, u32::MAX] {
        assert_format_at(&patched_u32(GROUPS, count), GROUPS);
    }
    // One group entry would lie where the payloads are.
    assert_format_at(&patched_u32(GROUPS, 1), desc(CONV) + W_OFFSET);
}

/// A chain written before graphs could branch: version 1, no link table, `f32` biases.
/// Made from the version 2 bytes of a graph without biases: the link table and its padding
/// (64 bytes) taken out, every offset moved back by 64.
fn version_1_file(graph: &Graph) -> Vec<u8> {
    let v2 = to_bytes(graph);
    let n = graph.layers().len();
    let table_end = desc(n);
    let payloads = (table_end + 4 * n).next_multiple_of(8).next_multiple_of(64);
    let shift = payloads - table_end;
    let mut b = [&v2[..table_end], &v2[payloads..]].concat();
    b[VERSION..VERSION + 4].copy_from_slice(&1u32.to_le_bytes());
    let len = b.len() as u64;
    b[FILE_LEN..FILE_LEN + 8].copy_from_slice(&len.to_le_bytes());
    for i in 0..n {
        let at = desc(i) + W_OFFSET;
        let offset = u64_at(&b, at);
        if offset != 0 {
            b[at..at + 8].copy_from_slice(&(offset - shift as u64).to_le_bytes());
        }
    }
    fix_crc(&mut b);
    b
}

#[test]
fn version_1_files_still_read() {
    let ramp = |n: usize, scale: f32| (0..n).map(|i| (i as f32 - 3.0) * scale).collect();
    let graph = GraphBuilder::new(Shape::new(1, 4, 4), 5.0)
        .conv2d(2, Window::square(3, 1, 1), ramp(18, -0.05), None)
        .max_pool(Window::square(2, 2, 0))
        .flatten()
        .output(2, ramp(16, 0.5), None)
        .build()
        .unwrap();
    let v1 = version_1_file(&graph);
    assert_eq!(u32_at(&v1, VERSION), 1);
    assert_eq!(from_bytes(&v1), Ok(graph));
    // Byte 52 was reserved in version 1: it must be 0 there.
    let mut b = v1.clone();
    b[GROUPS] = 1;
    fix_crc(&mut b);
    assert_format_at(&b, GROUPS);
}

#[test]
fn graph_parameters_are_checked_by_graph_new() {
    for leak in [f64::NAN, f64::INFINITY, 0.0, -5.0, 1e9] {
        let err = error_of(&patched(LEAK, &leak.to_le_bytes()));
        assert!(
            matches!(err.kind(), ErrorKind::InvalidLeak { .. }),
            "{err:?}"
        );
    }
    for threshold in [f64::NAN, 1.0, f64::NEG_INFINITY] {
        let err = error_of(&patched(THRESHOLD, &threshold.to_le_bytes()));
        assert!(
            matches!(err.kind(), ErrorKind::InvalidThreshold { .. }),
            "{err:?}"
        );
    }
    // An empty input.
    let err = error_of(&patched_u32(INPUT_C, 0));
    assert!(matches!(err.kind(), ErrorKind::Structure { .. }), "{err:?}");
    // A huge input: the conv weights no longer fit it.
    let err = error_of(&patched_u32(INPUT_C, u32::MAX));
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Structure { .. } | ErrorKind::Shape { .. }
        ),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Descriptors.

#[test]
fn unknown_kind() {
    for kind in [6, 7, u32::MAX] {
        assert_format_at(&patched_u32(desc(AVG) + KIND, kind), desc(AVG) + KIND);
    }
}

#[test]
fn nonzero_unused_parameter() {
    let cases = [
        (DENSE, 1),
        (DENSE, 6),
        (OUTPUT, 3),
        (MAX, 6),
        (FLATTEN, 0),
        (FLATTEN, 6),
    ];
    for (layer, slot) in cases {
        let at = desc(layer) + param(slot);
        assert_format_at(&patched_u32(at, 1), at);
    }
}

#[test]
fn tensor_fields_of_a_layer_without_tensors() {
    for layer in [AVG, MAX, FLATTEN] {
        for field in [W_OFFSET, W_LEN, B_OFFSET, B_LEN] {
            let at = desc(layer) + field;
            assert_format_at(&patched_u64(at, 64), at);
        }
    }
}

#[test]
fn weights_length_huge_or_overflowing() {
    let at = desc(CONV) + W_LEN;
    // 4 * len overflows.
    assert_format_at(&patched_u64(at, u64::MAX), at);
    // 4 * len fits, offset + 4 * len overflows.
    assert_format_at(&patched_u64(at, u64::MAX / 4), at);
    // No overflow, but far past the end of the file.
    assert_format_at(&patched_u64(at, 1 << 40), at);
    // An aligned offset so large that offset + 4 * len overflows.
    let mut b = patched_u64(desc(CONV) + W_OFFSET, u64::MAX - 63);
    assert_format_at(&b, at);
    b[at..at + 8].copy_from_slice(&0u64.to_le_bytes());
    fix_crc(&mut b);
    assert_format_at(&b, at);
}

#[test]
fn last_tensor_one_element_too_long_runs_into_the_trailer() {
    let at = desc(OUTPUT) + W_LEN;
    let b = valid_file();
    assert_format_at(&patched_u64(at, u64_at(&b, at) + 1), at);
}

#[test]
fn offset_not_aligned() {
    let at = desc(CONV) + W_OFFSET;
    let offset = u64_at(&valid_file(), at);
    for delta in [1, 4, 32] {
        assert_format_at(&patched_u64(at, offset + delta), at);
    }
    let at = desc(DENSE) + B_OFFSET;
    let offset = u64_at(&valid_file(), at);
    assert_format_at(&patched_u64(at, offset - 4), at);
}

#[test]
fn offset_inside_the_header_or_descriptor_table() {
    let at = desc(CONV) + W_OFFSET;
    for offset in [0, 64, desc(OUTPUT) as u64] {
        assert_format_at(&patched_u64(at, offset), at);
    }
    // A bias pointing into the header.
    let at = desc(DENSE) + B_OFFSET;
    assert_format_at(&patched_u64(at, 0), at);
}

#[test]
fn overlapping_tensors() {
    let b = valid_file();
    // The dense bias on top of the dense weights.
    let at = desc(DENSE) + B_OFFSET;
    let weights = u64_at(&b, desc(DENSE) + W_OFFSET);
    assert_format_at(&patched_u64(at, weights), at);
    // The output weights on top of the conv weights.
    let at = desc(OUTPUT) + W_OFFSET;
    let conv = u64_at(&b, desc(CONV) + W_OFFSET);
    assert_format_at(&patched_u64(at, conv), at);
}

#[test]
fn nan_weight_is_reported_by_graph_new() {
    let b = valid_file();
    let conv = u64_at(&b, desc(CONV) + W_OFFSET) as usize;
    let err = error_of(&patched(conv + 4 * 5, &f32::NAN.to_le_bytes()));
    match err.kind() {
        ErrorKind::NonFinite {
            layer,
            kind,
            tensor,
            index,
            value,
        } => {
            assert_eq!(
                (*layer, *kind, *tensor, *index),
                (CONV, "conv2d", "weights", 5)
            );
            assert!(value.is_nan());
        }
        other => panic!("expected NonFinite, got {other:?}"),
    }

    let bias = u64_at(&b, desc(DENSE) + B_OFFSET) as usize;
    let err = error_of(&patched(bias + 8 * 2, &f64::NEG_INFINITY.to_le_bytes()));
    assert_eq!(
        err.kind(),
        &ErrorKind::NonFinite {
            layer: DENSE,
            kind: "dense",
            tensor: "bias",
            index: 2,
            value: f32::NEG_INFINITY
        }
    );

    let err = error_of(&patched_u32(desc(AVG) + param(6), f32::INFINITY.to_bits()));
    assert!(
        matches!(
            err.kind(),
            ErrorKind::NonFinite {
                layer: AVG,
                kind: "avg_pool",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn dims_that_mismatch_the_weights_are_reported_by_graph_new() {
    let shape_error = |bytes: Vec<u8>, expected: usize| {
        let err = error_of(&bytes);
        assert!(
            matches!(err.kind(), ErrorKind::Shape { layer, .. } if *layer == expected),
            "expected a shape error in layer {expected}: {err:?}"
        );
    };
    // More dense outputs than the weights hold.
    shape_error(patched_u32(desc(DENSE) + param(0), 4), DENSE);
    // More conv output channels; a smaller conv kernel.
    shape_error(patched_u32(desc(CONV) + param(0), 3), CONV);
    shape_error(patched_u32(desc(CONV) + param(1), 2), CONV);
    // Two input channels: the conv weights are too few.
    shape_error(patched_u32(INPUT_C, 2), CONV);
    // A weight tensor one element longer, still inside the payload area.
    let at = desc(CONV) + W_LEN;
    shape_error(patched_u64(at, 19), CONV);
    // A missing weight tensor.
    let mut b = patched_u64(desc(DENSE) + W_OFFSET, 0);
    b[desc(DENSE) + W_LEN..desc(DENSE) + W_LEN + 8].copy_from_slice(&0u64.to_le_bytes());
    fix_crc(&mut b);
    shape_error(b, DENSE);
    // A zero-size pool window.
    shape_error(patched_u32(desc(MAX) + param(0), 0), MAX);
}

/// Padding near `u32::MAX` (where `2 * padding` or `position + padding` would overflow a
/// `u32`) is a shape error naming the layer: a pool's padding exceeds half its kernel, a
/// conv's output grows past the neuron limit.
#[test]
fn huge_padding() {
    // Pool padding slots are 4 and 5, conv padding slots 5 and 6.
    for (layer, slot) in [(AVG, 4), (AVG, 5), (MAX, 4), (MAX, 5), (CONV, 5), (CONV, 6)] {
        let at = desc(layer) + param(slot);
        for padding in [(1u32 << 31) - 1, 1 << 31, u32::MAX] {
            let err = error_of(&patched_u32(at, padding));
            assert!(
                matches!(err.kind(), ErrorKind::Shape { layer: l, .. } if *l == layer),
                "layer {layer} slot {slot} padding {padding}: {err:?}"
            );
        }
    }
}

/// An input shape whose size overflows a `u64` (`Shape::len` saturates) or merely exceeds
/// the neuron limit is a structure error.
#[test]
fn input_shape_whose_size_overflows() {
    for dims in [[u32::MAX, u32::MAX, 4], [u32::MAX, u32::MAX, 1]] {
        let bytes: Vec<u8> = dims.iter().flat_map(|d| d.to_le_bytes()).collect();
        let err = error_of(&patched(INPUT_C, &bytes));
        assert!(
            matches!(err.kind(), ErrorKind::Structure { .. }),
            "{dims:?}: {err:?}"
        );
    }
}

/// A conv whose output shape holds more than 2^64 neurons (so `Shape::len` must saturate,
/// not overflow) is a shape error naming the layer.
#[test]
fn conv_output_shape_overflow_is_an_error() {
    let mut b = valid_file();
    // Padding 2^31 - 2 on both axes: output 2 x (2^32 - 2) x (2^32 - 2) neurons.
    for slot in [5, 6] {
        let at = desc(CONV) + param(slot);
        b[at..at + 4].copy_from_slice(&((1u32 << 31) - 2).to_le_bytes());
    }
    fix_crc(&mut b);
    let err = error_of(&b);
    assert!(
        matches!(err.kind(), ErrorKind::Shape { layer: CONV, .. }),
        "{err:?}"
    );
}

/// A conv whose weight count `c_in * kh * kw * out_channels` overflows a `u64` is a shape
/// error naming the layer, not an overflow.
#[test]
fn conv_weight_count_overflow_is_an_error() {
    let mut b = valid_file();
    let at = desc(CONV);
    // out_channels 2^32 - 1, kernel 2^17 x 2^17, padding 2^16 (so that the kernel fits).
    let params = [u32::MAX, 1 << 17, 1 << 17, 1, 1, 1 << 16, 1 << 16];
    for (slot, p) in params.into_iter().enumerate() {
        b[at + param(slot)..at + param(slot) + 4].copy_from_slice(&p.to_le_bytes());
    }
    fix_crc(&mut b);
    let err = error_of(&b);
    assert!(
        matches!(err.kind(), ErrorKind::Shape { layer: CONV, .. }),
        "{err:?}"
    );
}
