//! NPY files: images (`N x C x H x W` float32 in `[0, 1]`) and labels read strictly. The
//! header must describe exactly the data that follows it (truncated data and trailing bytes
//! are errors, worded as for IDX files); a shape whose element count overflows is an error,
//! not a wrapped count; a header claiming more than the file holds costs no allocation; and
//! hostile bytes never panic.

use proptest::prelude::*;
use tdsnn_io::images::{Images, NpyErrorKind};

/// An NPY file, version 1.0, with the dict `header` and the raw `data`; the header padded
/// with spaces to end a 64-byte block, as numpy writes it.
fn npy(header: &str, data: &[u8]) -> Vec<u8> {
    let unpadded = 10 + header.len() + 1;
    let padded = unpadded.div_ceil(64) * 64;
    let text = format!("{header:<width$}\n", width = padded - 10 - 1);
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend((text.len() as u16).to_le_bytes());
    b.extend(text.as_bytes());
    b.extend(data);
    b
}

fn dict(descr: &str, shape: &str) -> String {
    format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}")
}

fn f32s(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Two 1x2x2 images.
fn two_images() -> (Vec<u8>, Vec<f32>) {
    let values = vec![0.0, 0.25, 0.5, 1.0, 0.125, 0.0, 1.0, 0.75];
    (npy(&dict("<f4", "(2, 1, 2, 2)"), &f32s(&values)), values)
}

fn kind_of(bytes: &[u8]) -> NpyErrorKind {
    match Images::from_npy_bytes(bytes, "test.npy") {
        Ok(images) => panic!("accepted: {images:?}"),
        Err(e) => {
            assert_eq!(e.path, "test.npy");
            e.kind
        }
    }
}

#[test]
fn a_valid_file_reads_in_either_byte_order() {
    let (bytes, values) = two_images();
    let images = Images::from_npy_bytes(&bytes, "two.npy").unwrap();
    assert_eq!(images.values, values);
    assert_eq!((images.shape.c, images.shape.h, images.shape.w), (1, 2, 2));
    assert_eq!(images.labels, None);

    let be: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
    let images = Images::from_npy_bytes(&npy(&dict(">f4", "(2, 1, 2, 2)"), &be), "be").unwrap();
    assert_eq!(images.values, values);
}

#[test]
fn what_numpy_writes_reads() {
    // The fixture written by numpy itself (fixtures/onnx/make_onnx_fixtures.py).
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .join("fixtures/onnx/inputs.npy");
    let images = Images::read_npy(&path).unwrap();
    assert!(!images.values.is_empty());
    assert_eq!(images.values.len() % images.shape.len() as usize, 0);
}

#[test]
fn a_shape_whose_element_count_overflows_is_an_error() {
    // 2^60 + 1 images of 28x28: 784 (2^60 + 1) wraps to 784 in 64 bits, one image's worth.
    let n = (1u64 << 60) + 1;
    let bytes = npy(
        &dict("<f4", &format!("({n}, 1, 28, 28)")),
        &f32s(&[0.0; 784]),
    );
    assert_eq!(
        kind_of(&bytes),
        NpyErrorKind::SizeOverflow {
            shape: vec![n, 1, 28, 28]
        }
    );

    // Overflowing in the byte count only: 2^62 elements of 4 bytes.
    let bytes = npy(&dict("<f4", &format!("({}, 1, 1, 1)", 1u64 << 62)), &[]);
    assert!(matches!(kind_of(&bytes), NpyErrorKind::SizeOverflow { .. }));

    // A zero dimension does not hide an overflowing product of the others.
    let bytes = npy(&dict("<f4", &format!("(0, {0}, {0}, 1)", 1u64 << 40)), &[]);
    assert!(matches!(kind_of(&bytes), NpyErrorKind::SizeOverflow { .. }));

    // Beyond 64 bits in one dimension.
    let bytes = npy(&dict("<f4", "(36893488147419103232, 1, 1, 1)"), &[]);
    assert!(matches!(kind_of(&bytes), NpyErrorKind::NotNpy { .. }));
}

#[test]
fn a_huge_shape_with_a_short_body_is_truncated_without_allocating() {
    // 2^40 elements claimed, 8 bytes present.
    let bytes = npy(&dict("<f4", "(65536, 1, 4096, 4096)"), &[0; 8]);
    let header_end = bytes.len() as u64 - 8;
    assert_eq!(
        kind_of(&bytes),
        NpyErrorKind::Truncated {
            part: "data",
            expected: header_end + 4 * (1 << 40),
            actual: header_end + 8,
        }
    );
}

#[test]
fn trailing_bytes_are_an_error_worded_as_for_idx() {
    let (mut bytes, _) = two_images();
    let expected = bytes.len() as u64;
    bytes.extend([0; 3]);
    let err = Images::from_npy_bytes(&bytes, "two.npy").unwrap_err();
    assert_eq!(
        err.kind,
        NpyErrorKind::TrailingBytes {
            expected,
            actual: expected + 3
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "two.npy: 3 trailing byte(s) from byte {expected}: the header describes {expected} \
             bytes, the file holds {}",
            expected + 3
        )
    );
    // The IDX reader's words for the same fault.
    let (images, labels) = tdsnn_io::idx::Dataset {
        images: vec![0; 4],
        labels: vec![1],
        rows: 2,
        cols: 2,
    }
    .to_bytes()
    .unwrap();
    let mut images = images;
    images.extend([0; 3]);
    let idx = tdsnn_io::idx::Dataset::from_bytes(&images, &labels).unwrap_err();
    assert!(
        matches!(
            idx,
            tdsnn_io::idx::IdxError::TrailingBytes {
                role: tdsnn_io::idx::FileRole::Images,
                expected: 20,
                actual: 23,
                ..
            }
        ),
        "{idx:?}"
    );
    assert!(
        idx.to_string().ends_with(
            "3 trailing byte(s) from byte 20: the header describes 20 bytes, the file holds 23"
        ),
        "{idx}"
    );
}

#[test]
fn truncation_anywhere_is_an_error() {
    let (bytes, _) = two_images();
    for cut in 0..bytes.len() {
        let kind = kind_of(&bytes[..cut]);
        let part = match &kind {
            NpyErrorKind::Truncated { part, actual, .. } => {
                assert_eq!(*actual, cut as u64);
                *part
            }
            NpyErrorKind::NotNpy { .. } if cut == 0 => "magic",
            other => panic!("cut at {cut}: {other:?}"),
        };
        let header_end = bytes.len() - 32;
        assert_eq!(part == "data", cut >= header_end, "cut at {cut}: {kind:?}");
    }
}

#[test]
fn a_header_longer_than_numpy_reads_is_refused_before_reading_it() {
    // Version 2.0: a 4-byte header length, here u32::MAX, in a 12-byte file.
    let mut bytes = b"\x93NUMPY\x02\x00".to_vec();
    bytes.extend(u32::MAX.to_le_bytes());
    let kind = kind_of(&bytes);
    assert!(
        matches!(&kind, NpyErrorKind::NotNpy { what } if what.contains("4294967295 bytes")),
        "{kind:?}"
    );

    // Within numpy's limit but past the end of the file.
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend(5000u16.to_le_bytes());
    bytes.extend(b"{'descr'");
    assert_eq!(
        kind_of(&bytes),
        NpyErrorKind::Truncated {
            part: "header",
            expected: 5010,
            actual: 18
        }
    );
}

#[test]
fn a_deeply_nested_header_is_refused() {
    let nested = format!("{}{}", "(".repeat(4000), ")".repeat(4000));
    let bytes = npy(&dict("<f4", &nested), &[]);
    let kind = kind_of(&bytes);
    assert!(
        matches!(&kind, NpyErrorKind::NotNpy { what } if what.contains("nests")),
        "{kind:?}"
    );
}

#[test]
fn a_header_nesting_past_what_numpy_writes_is_refused_at_once() {
    // Found by the fuzzer: 12 levels of brackets made the Python-literal parser backtrack for
    // over 3 s. Four levels are already more than numpy writes.
    let nested = format!("{}1{}", "[".repeat(4), "]".repeat(4));
    let kind = kind_of(&npy(&dict("<f4", &nested), &[]));
    assert!(
        matches!(&kind, NpyErrorKind::NotNpy { what } if what.contains("nests brackets more than 3")),
        "{kind:?}"
    );
    let fuzzed = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fuzz/npy/timeout-nested-brackets-in-the-header"
    ))
    .unwrap();
    // Refused by the depth check, before the parser sees it.
    let kind = kind_of(&fuzzed);
    assert!(
        matches!(&kind, NpyErrorKind::NotNpy { what } if what.contains("nests")),
        "{kind:?}"
    );
}

#[test]
fn not_npy_wrong_version_dtype_order_rank_and_range() {
    assert!(matches!(
        kind_of(b"PK\x03\x04 a zip file"),
        NpyErrorKind::NotNpy { .. }
    ));
    let mut v9 = two_images().0;
    v9[6] = 9;
    assert!(matches!(kind_of(&v9), NpyErrorKind::NotNpy { what } if what.contains("version 9.0")));

    let f64s: Vec<u8> = [0.5f64; 4].iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(
        kind_of(&npy(&dict("<f8", "(1, 1, 2, 2)"), &f64s)),
        NpyErrorKind::Dtype {
            found: "'<f8'".into(),
            expected: "float32"
        }
    );

    let fortran = "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1, 2, 2), }";
    assert_eq!(
        kind_of(&npy(fortran, &f32s(&[0.5; 4]))),
        NpyErrorKind::FortranOrder
    );

    assert!(matches!(
        kind_of(&npy(&dict("<f4", "(2, 4)"), &f32s(&[0.5; 8]))),
        NpyErrorKind::Shape { shape, .. } if shape == [2, 4]
    ));
    assert!(matches!(
        kind_of(&npy(&dict("<f4", "(1, 0, 2, 2)"), &[])),
        NpyErrorKind::Shape { .. }
    ));

    let kind = kind_of(&npy(
        &dict("<f4", "(1, 1, 2, 2)"),
        &f32s(&[0.0, 0.5, f32::NAN, 1.0]),
    ));
    assert!(
        matches!(kind, NpyErrorKind::OutOfRange { index: 2, value } if value.is_nan()),
        "{kind:?}"
    );
    let err = Images::from_npy_bytes(
        &npy(&dict("<f4", "(1, 1, 2, 2)"), &f32s(&[0.0, 1.5, 0.0, 1.0])),
        "x",
    )
    .unwrap_err();
    assert_eq!(
        err.kind,
        NpyErrorKind::OutOfRange {
            index: 1,
            value: 1.5
        }
    );
    assert_eq!(
        err.to_string(),
        "x: value 1.5 at flat index 1 is outside [0, 1]"
    );
}

#[test]
fn labels_in_every_accepted_dtype_and_their_faults() {
    let (bytes, _) = two_images();
    let mut images = Images::from_npy_bytes(&bytes, "two.npy").unwrap();

    let i64s: Vec<u8> = [3i64, 9].iter().flat_map(|v| v.to_le_bytes()).collect();
    images
        .npy_labels_from_bytes(&npy(&dict("<i8", "(2,)"), &i64s), "l")
        .unwrap();
    assert_eq!(images.labels.as_deref(), Some(&[3, 9][..]));
    let i32s: Vec<u8> = [255i32, 0].iter().flat_map(|v| v.to_be_bytes()).collect();
    images
        .npy_labels_from_bytes(&npy(&dict(">i4", "(2,)"), &i32s), "l")
        .unwrap();
    assert_eq!(images.labels.as_deref(), Some(&[255, 0][..]));
    images
        .npy_labels_from_bytes(&npy(&dict("|u1", "(2,)"), &[7, 1]), "l")
        .unwrap();
    assert_eq!(images.labels.as_deref(), Some(&[7, 1][..]));

    let fail = |bytes: Vec<u8>, images: &mut Images| {
        images
            .npy_labels_from_bytes(&bytes, "labels.npy")
            .unwrap_err()
    };
    let neg: Vec<u8> = [1i64, -1].iter().flat_map(|v| v.to_le_bytes()).collect();
    let err = fail(npy(&dict("<i8", "(2,)"), &neg), &mut images);
    assert_eq!(
        err.kind,
        NpyErrorKind::LabelOutOfRange {
            index: 1,
            value: -1
        }
    );
    assert_eq!(
        err.to_string(),
        "labels.npy: label -1 at index 1 is outside 0..=255"
    );

    let err = fail(npy(&dict("<u2", "(2,)"), &[0; 4]), &mut images);
    assert!(matches!(err.kind, NpyErrorKind::Dtype { .. }), "{err}");
    let err = fail(npy(&dict("|u1", "(3,)"), &[0; 3]), &mut images);
    assert!(matches!(err.kind, NpyErrorKind::Shape { .. }), "{err}");
    let err = fail(npy(&dict("|u1", "(2,)"), &[0; 3]), &mut images);
    assert!(
        matches!(err.kind, NpyErrorKind::TrailingBytes { .. }),
        "{err}"
    );
    // A failed read leaves the labels as they were.
    assert_eq!(images.labels.as_deref(), Some(&[7, 1][..]));
}

#[test]
fn files_on_disk_are_named_in_errors() {
    let dir = std::env::temp_dir().join(format!("tdsnn-npy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cut.npy");
    let (bytes, values) = two_images();
    std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
    let err = Images::read_npy(&path).unwrap_err();
    assert_eq!(err.path, path.display().to_string());
    assert!(matches!(
        err.kind,
        NpyErrorKind::Truncated { part: "data", .. }
    ));

    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(Images::read_npy(&path).unwrap().values, values);
    let err = Images::read_npy(dir.join("missing.npy")).unwrap_err();
    assert!(matches!(err.kind, NpyErrorKind::Input(_)), "{err}");
    assert!(err.to_string().contains("missing.npy"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Damaged bytes anywhere (and a random cut): an error or images, never a panic; images
    /// accepted hold exactly the values their shape describes.
    #[test]
    fn damaged_files_never_panic(
        flips in prop::collection::vec((0usize..160, any::<u8>()), 1..=6),
        cut in prop::option::of(0usize..160),
    ) {
        let (mut bytes, _) = two_images();
        for &(pos, value) in &flips {
            let n = bytes.len();
            bytes[pos % n] = value;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut);
        }
        if let Ok(images) = Images::from_npy_bytes(&bytes, "x") {
            prop_assert_eq!(images.values.len() % images.shape.len() as usize, 0);
        }
    }

    /// Any shape in the header: an error or images, never a panic or a wrapped count.
    #[test]
    fn any_shape_never_panics(dims in prop::collection::vec(any::<u64>(), 0..=5)) {
        let shape = format!(
            "({}{})",
            dims.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
            if dims.len() == 1 { "," } else { "" }
        );
        let bytes = npy(&dict("<f4", &shape), &f32s(&[0.5; 4]));
        if let Ok(images) = Images::from_npy_bytes(&bytes, "x") {
            prop_assert_eq!(images.values.len(), 4);
            prop_assert_eq!(dims.iter().product::<u64>(), 4);
        }
    }
}
