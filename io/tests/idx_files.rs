//! IDX files: the shipped MNIST fixtures load with the counts `fixtures/mnist/make_fixtures.py`
//! printed, random data sets survive a write/read round trip, and malformed files (truncated
//! anywhere, wrong magic, wrong type, zero or huge dimensions, mismatched counts, trailing
//! bytes) give the specific typed error, never a panic, and never an allocation sized by the
//! header rather than by the bytes present. Gzip-compressed files, as MNIST is distributed,
//! read as the plain ones do; gzip data that inflates past its header's length (a "bomb") or
//! is damaged is an error.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use proptest::prelude::*;
use tdsnn_io::idx::{Dataset, FileRole, IdxError};
use tdsnn_io::input::InputErrorKind;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .join("fixtures/mnist")
        .join(name)
}

/// A fresh, empty directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tdsnn-idx-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

// --- the shipped fixtures ---------------------------------------------------------------

/// Per-class counts printed by `make_fixtures.py` (and listed in its README).
const TRAIN_COUNTS: [usize; 10] = [791, 906, 811, 840, 767, 686, 794, 868, 757, 780];
const TEST_COUNTS: [usize; 10] = [210, 221, 180, 192, 213, 177, 220, 202, 187, 198];

fn load(split: &str) -> Dataset {
    Dataset::read(
        fixture(&format!("{split}-images-idx3-ubyte")),
        fixture(&format!("{split}-labels-idx1-ubyte")),
    )
    .unwrap_or_else(|e| panic!("{split} fixture: {e}"))
}

fn byte_sum(image: &[u8]) -> u64 {
    image.iter().map(|&b| u64::from(b)).sum()
}

fn nonzero(image: &[u8]) -> usize {
    image.iter().filter(|&&b| b != 0).count()
}

#[test]
fn mnist_fixtures_load_with_the_generator_counts() {
    for (split, n, counts) in [("train", 8000, TRAIN_COUNTS), ("test", 2000, TEST_COUNTS)] {
        let ds = load(split);
        assert_eq!(ds.len(), n, "{split}");
        assert_eq!((ds.rows, ds.cols), (28, 28), "{split}");
        assert_eq!(ds.images.len(), n * 28 * 28, "{split}");
        assert_eq!(ds.max_label(), Some(9), "{split}");
        assert_eq!(ds.classes(), 10, "{split}");
        // Every class is present in both splits, with the counts the script printed.
        assert_eq!(ds.class_counts(), counts, "{split}");
    }
}

#[test]
fn mnist_first_images_match_the_generator() {
    // Printed by make_fixtures.py: "first test image: label 6, byte sum 29589, nonzero
    // bytes 180" and "first train image: label 4, byte sum 25979, nonzero bytes 158".
    let test = load("test");
    assert_eq!(test.label(0), Some(6));
    assert_eq!(byte_sum(test.image(0)), 29_589);
    assert_eq!(nonzero(test.image(0)), 180);
    let train = load("train");
    assert_eq!(train.label(0), Some(4));
    assert_eq!(byte_sum(train.image(0)), 25_979);
    assert_eq!(nonzero(train.image(0)), 158);

    // Pixels are bytes / 255, in [0, 1], with both ends reached.
    let pixels = test.pixels(0);
    assert_eq!(pixels.len(), 784);
    assert!(pixels.iter().all(|p| (0.0..=1.0).contains(p)));
    assert_eq!(pixels.iter().copied().fold(0.0, f32::max), 1.0);
    assert_eq!(test.pixels(0)[0], 0.0);
}

// --- round trips --------------------------------------------------------------------------

fn dataset() -> impl Strategy<Value = Dataset> {
    (1u32..=6, 1u32..=6, 1usize..=12).prop_flat_map(|(rows, cols, n)| {
        let px = (rows * cols) as usize;
        (
            prop::collection::vec(any::<u8>(), n * px),
            prop::collection::vec(any::<u8>(), n),
        )
            .prop_map(move |(images, labels)| Dataset {
                images,
                labels,
                rows,
                cols,
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Write, read back (from files and from bytes): the same data set, bit for bit.
    #[test]
    fn random_datasets_round_trip(ds in dataset()) {
        let dir = TempDir::new("roundtrip");
        let (images, labels) = (dir.path("images"), dir.path("labels"));
        ds.write(&images, &labels).unwrap();
        prop_assert_eq!(&Dataset::read(&images, &labels).unwrap(), &ds);

        let (image_bytes, label_bytes) = ds.to_bytes().unwrap();
        prop_assert_eq!(&std::fs::read(&images).unwrap(), &image_bytes);
        prop_assert_eq!(&std::fs::read(&labels).unwrap(), &label_bytes);
        prop_assert_eq!(&Dataset::from_bytes(&image_bytes, &label_bytes).unwrap(), &ds);

        // Labels are arbitrary bytes: any max is accepted and reported.
        prop_assert_eq!(ds.classes(), usize::from(*ds.labels.iter().max().unwrap()) + 1);
        for i in 0..ds.len() {
            let px = (ds.rows * ds.cols) as usize;
            prop_assert_eq!(ds.image(i), &ds.images[i * px..(i + 1) * px]);
        }
        prop_assert_eq!(ds.get(ds.len()), None);
    }
}

// --- malformed files ----------------------------------------------------------------------

/// Three 2x3 images, labels 0, 7 and 200 (a label above 9 is not an error).
fn small() -> Dataset {
    Dataset {
        images: (0..18).map(|i| i * 14).collect(),
        labels: vec![0, 7, 200],
        rows: 2,
        cols: 3,
    }
}

fn small_bytes() -> (Vec<u8>, Vec<u8>) {
    small().to_bytes().unwrap()
}

/// A big-endian header: magic `0x0000 {code} {dims.len()}`, then the dimensions.
fn header(code: u8, dims: &[u32]) -> Vec<u8> {
    let mut b = vec![0, 0, code, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b
}

#[test]
fn small_pair_is_valid_and_labels_above_9_are_allowed() {
    let (images, labels) = small_bytes();
    assert_eq!(images.len(), 16 + 18);
    assert_eq!(labels.len(), 8 + 3);
    assert_eq!(images[..16], header(0x08, &[3, 2, 3])[..]);
    let ds = Dataset::from_bytes(&images, &labels).unwrap();
    assert_eq!(ds, small());
    assert_eq!((ds.max_label(), ds.classes()), (Some(200), 201));
}

/// The truncation every cut of a valid file must report.
fn expect_truncated(err: &IdxError, role: FileRole, cut: usize, full: usize, header_len: usize) {
    let (part, expected) = match cut {
        0..=3 => ("header", 4),
        _ if cut < header_len => ("header", header_len),
        _ => ("data", full),
    };
    assert!(
        matches!(
            err,
            IdxError::Truncated { role: r, part: p, expected: e, actual: a, .. }
                if *r == role && *p == part && *e == expected as u64 && *a == cut as u64
        ),
        "{role} cut at {cut}: {err:?}"
    );
    assert!(
        err.to_string()
            .contains(&format!("truncated at byte {cut}")),
        "{err}"
    );
}

#[test]
fn truncation_at_every_offset_is_a_truncated_error() {
    let (images, labels) = small_bytes();
    for cut in 0..images.len() {
        let err = Dataset::from_bytes(&images[..cut], &labels).unwrap_err();
        expect_truncated(&err, FileRole::Images, cut, images.len(), 16);
        assert!(err.to_string().starts_with("<memory> (images): "), "{err}");
    }
    for cut in 0..labels.len() {
        let err = Dataset::from_bytes(&images, &labels[..cut]).unwrap_err();
        expect_truncated(&err, FileRole::Labels, cut, labels.len(), 8);
        assert!(err.to_string().starts_with("<memory> (labels): "), "{err}");
    }
}

#[test]
fn truncated_files_on_disk_name_the_file() {
    let (images, labels) = small_bytes();
    let dir = TempDir::new("truncated");
    let (image_path, label_path) = (dir.path("images"), dir.path("labels"));
    std::fs::write(&label_path, &labels).unwrap();
    for cut in 0..images.len() {
        std::fs::write(&image_path, &images[..cut]).unwrap();
        let err = Dataset::read(&image_path, &label_path).unwrap_err();
        expect_truncated(&err, FileRole::Images, cut, images.len(), 16);
        assert!(
            matches!(&err, IdxError::Truncated { path, .. } if *path == image_path),
            "{err:?}"
        );
        assert!(err.to_string().contains(&*image_path.to_string_lossy()));
    }
    std::fs::write(&image_path, &images).unwrap();
    for cut in 0..labels.len() {
        std::fs::write(&label_path, &labels[..cut]).unwrap();
        let err = Dataset::read(&image_path, &label_path).unwrap_err();
        expect_truncated(&err, FileRole::Labels, cut, labels.len(), 8);
        assert!(
            matches!(&err, IdxError::Truncated { path, .. } if *path == label_path),
            "{err:?}"
        );
    }
}

#[test]
fn wrong_magic_is_bad_magic() {
    let (mut images, labels) = small_bytes();
    images[0] = 0x50; // e.g. a zip archive ("PK")
    images[1] = 0x4B;
    let err = Dataset::from_bytes(&images, &labels).unwrap_err();
    assert!(
        matches!(
            err,
            IdxError::BadMagic {
                role: FileRole::Images,
                found: 0x504B_0803,
                expected: 0x0803,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("bad magic 0x504b0803 at byte 0"),
        "{err}"
    );
}

#[test]
fn swapped_files_are_a_dimensions_error() {
    let (images, labels) = small_bytes();
    let err = Dataset::from_bytes(&labels, &images).unwrap_err();
    assert!(
        matches!(
            err,
            IdxError::Dimensions {
                role: FileRole::Images,
                found: 1,
                expected: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("at byte 3"), "{err}");
    let err = Dataset::from_bytes(&images, &images).unwrap_err();
    assert!(
        matches!(
            err,
            IdxError::Dimensions {
                role: FileRole::Labels,
                found: 3,
                expected: 1,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn float_elements_are_an_unsupported_element_type() {
    // A well-formed float IDX file: 1 image of 1x1, one 4-byte float.
    let mut images = header(0x0D, &[1, 1, 1]);
    images.extend_from_slice(&0.5f32.to_be_bytes());
    let mut labels = header(0x08, &[1]);
    labels.push(3);
    let err = Dataset::from_bytes(&images, &labels).unwrap_err();
    assert!(
        matches!(
            err,
            IdxError::UnsupportedType {
                role: FileRole::Images,
                code: 0x0D,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "<memory> (images): unsupported element type 0x0d (float) at byte 2: only unsigned \
         byte (0x08) is supported"
    );
}

#[test]
fn a_zero_dimension_is_an_error() {
    let (_, labels) = small_bytes();
    for axis in 0..3 {
        let mut dims = [3, 2, 3];
        dims[axis] = 0;
        let images = header(0x08, &dims);
        let err = Dataset::from_bytes(&images, &labels).unwrap_err();
        assert!(
            matches!(err, IdxError::ZeroDimension { role: FileRole::Images, axis: a, .. } if a == axis),
            "axis {axis}: {err:?}"
        );
        assert!(
            err.to_string()
                .contains(&format!("at byte {} is 0", 4 + 4 * axis)),
            "{err}"
        );
    }
    let err = Dataset::from_bytes(&small_bytes().0, &header(0x08, &[0])).unwrap_err();
    assert!(
        matches!(
            err,
            IdxError::ZeroDimension {
                role: FileRole::Labels,
                axis: 0,
                ..
            }
        ),
        "{err:?}"
    );
}

/// Dimensions of 2^32 - 1 each: the product (about 7.9e28 bytes) overflows a u64, which is
/// its own error, naming the dimensions and the actual length.
#[test]
fn maximal_dimensions_with_a_short_body_are_a_size_overflow() {
    let max = u32::MAX;
    let mut images = header(0x08, &[max, max, max]);
    images.extend_from_slice(&[1, 2, 3, 4, 5]);
    let (_, labels) = small_bytes();
    let err = Dataset::from_bytes(&images, &labels).unwrap_err();
    assert!(
        matches!(&err, IdxError::SizeOverflow { role: FileRole::Images, dims, actual: 21, .. }
            if *dims == [max, max, max]),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "<memory> (images): the dimensions 4294967295 x 4294967295 x 4294967295 at bytes 4..16 \
         need more than 18446744073709551615 bytes of data; the file holds 21 bytes"
    );

    // The same from a file: the length comes from counting, not from the header.
    let dir = TempDir::new("overflow");
    let (image_path, label_path) = (dir.path("images"), dir.path("labels"));
    std::fs::write(&image_path, &images).unwrap();
    std::fs::write(&label_path, &labels).unwrap();
    let err = Dataset::read(&image_path, &label_path).unwrap_err();
    assert!(
        matches!(&err, IdxError::SizeOverflow { actual: 21, path, .. } if *path == image_path),
        "{err:?}"
    );
}

/// A header that claims 2^32 - 1 MNIST-sized images (3.4 TB) over a 5-byte body: the error
/// gives both lengths. The reader must not allocate from the header; had it tried, the
/// allocation would fail (an `Io` out-of-memory error, or an abort) instead of this error.
#[test]
fn a_huge_header_with_a_short_body_is_truncated_without_allocating() {
    let max = u32::MAX;
    let expected = 16 + u64::from(max) * 28 * 28;
    let mut images = header(0x08, &[max, 28, 28]);
    images.extend_from_slice(&[1, 2, 3, 4, 5]);
    let mut labels = header(0x08, &[max]);
    labels.extend_from_slice(&[1, 2, 3]);

    let err = Dataset::from_bytes(&images, &labels).unwrap_err();
    assert!(
        matches!(err, IdxError::Truncated { part: "data", expected: e, actual: 21, .. } if e == expected),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("<memory> (images): data truncated at byte 21: the file holds 21 bytes, expected {expected}")
    );

    let dir = TempDir::new("huge");
    let (image_path, label_path) = (dir.path("images"), dir.path("labels"));
    std::fs::write(&image_path, &images).unwrap();
    std::fs::write(&label_path, &labels).unwrap();
    let err = Dataset::read(&image_path, &label_path).unwrap_err();
    assert!(
        matches!(err, IdxError::Truncated { expected: e, actual: 21, .. } if e == expected),
        "{err:?}"
    );
    // The labels file on its own: 2^32 - 1 labels claimed, 3 present.
    let (good_images, _) = small_bytes();
    std::fs::write(&image_path, good_images).unwrap();
    let err = Dataset::read(&image_path, &label_path).unwrap_err();
    assert!(
        matches!(
            err,
            IdxError::Truncated {
                role: FileRole::Labels,
                expected: 4_294_967_303,
                actual: 11,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn image_and_label_counts_must_agree() {
    let (images, _) = small_bytes();
    let mut labels = header(0x08, &[2]);
    labels.extend_from_slice(&[1, 2]);
    let err = Dataset::from_bytes(&images, &labels).unwrap_err();
    assert!(
        matches!(
            err,
            IdxError::CountMismatch {
                images: 3,
                labels: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "<memory> holds 3 images but <memory> holds 2 labels (counts at byte 4)"
    );
}

#[test]
fn trailing_bytes_are_an_error() {
    let (images, labels) = small_bytes();
    let mut long = images.clone();
    long.push(0);
    let err = Dataset::from_bytes(&long, &labels).unwrap_err();
    assert!(
        matches!(
            err,
            IdxError::TrailingBytes {
                role: FileRole::Images,
                expected: 34,
                actual: 35,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("1 trailing byte(s) from byte 34"),
        "{err}"
    );

    // On disk, the reader stops at the expected length plus one, then counts the rest.
    let dir = TempDir::new("trailing");
    let (image_path, label_path) = (dir.path("images"), dir.path("labels"));
    std::fs::write(&image_path, &images).unwrap();
    let mut long = labels.clone();
    long.extend_from_slice(&[0; 1000]);
    std::fs::write(&label_path, &long).unwrap();
    let err = Dataset::read(&image_path, &label_path).unwrap_err();
    assert!(
        matches!(&err, IdxError::TrailingBytes { role: FileRole::Labels, expected: 11, actual: 1011, path }
            if *path == label_path),
        "{err:?}"
    );
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let dir = TempDir::new("missing");
    let (image_path, label_path) = (dir.path("images"), dir.path("labels"));
    small().write(&image_path, &label_path).unwrap();
    let missing = dir.path("nope");
    let err = Dataset::read(&image_path, &missing).unwrap_err();
    assert!(
        matches!(&err, IdxError::Io { role: FileRole::Labels, kind: std::io::ErrorKind::NotFound, path, .. }
            if *path == missing),
        "{err:?}"
    );
    assert!(err
        .to_string()
        .starts_with(&format!("{} (labels): ", missing.display())));
}

#[test]
fn an_inconsistent_dataset_is_not_written() {
    let mut ds = small();
    ds.images.pop();
    assert!(matches!(
        ds.to_bytes(),
        Err(IdxError::Inconsistent {
            images: 17,
            labels: 3,
            rows: 2,
            cols: 3
        })
    ));
    let empty = Dataset {
        images: vec![],
        labels: vec![],
        rows: 28,
        cols: 28,
    };
    assert!(empty.is_empty());
    assert!(matches!(
        empty.to_bytes(),
        Err(IdxError::Inconsistent { .. })
    ));
    let dir = TempDir::new("inconsistent");
    let err = ds
        .write(dir.path("images"), dir.path("labels"))
        .unwrap_err();
    assert!(matches!(err, IdxError::Inconsistent { .. }), "{err:?}");
    assert!(!dir.path("images").exists());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any damage to the headers (or a random cut): an error or a data set, never a panic;
    /// a data set that is accepted writes back to the same bytes.
    #[test]
    fn damaged_headers_never_panic(
        flips in prop::collection::vec((0usize..16, 1u8..=255), 1..=4),
        label_flips in prop::collection::vec((0usize..8, 1u8..=255), 0..=2),
        cut in prop::option::of(0usize..40),
    ) {
        let (mut images, mut labels) = small_bytes();
        for &(pos, flip) in &flips {
            images[pos] ^= flip;
        }
        for &(pos, flip) in &label_flips {
            labels[pos] ^= flip;
        }
        if let Some(cut) = cut {
            images.truncate(cut);
        }
        if let Ok(ds) = Dataset::from_bytes(&images, &labels) {
            prop_assert_eq!(ds.to_bytes().unwrap(), (images, labels));
        }
    }
}

// --- gzip-compressed files, as distributed -------------------------------------------------

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

#[test]
fn gzip_files_read_as_the_plain_ones() {
    let (images, labels) = small_bytes();
    let (gz_images, gz_labels) = (gzip(&images), gzip(&labels));
    assert_eq!(
        Dataset::from_bytes(&gz_images, &gz_labels).unwrap(),
        small()
    );
    // One of the pair compressed, the other not.
    assert_eq!(Dataset::from_bytes(&images, &gz_labels).unwrap(), small());

    // On disk, named as distributed; and compressed under a plain name (the magic decides).
    let dir = TempDir::new("gzip");
    let (image_path, label_path) = (
        dir.path("t10k-images-idx3-ubyte.gz"),
        dir.path("t10k-labels-idx1-ubyte"),
    );
    std::fs::write(&image_path, &gz_images).unwrap();
    std::fs::write(&label_path, &gz_labels).unwrap();
    assert_eq!(Dataset::read(&image_path, &label_path).unwrap(), small());

    // Concatenated members (`gzip -c a >> b`) are one stream, as gunzip reads them.
    let mut two_members = gzip(&images[..10]);
    two_members.extend(gzip(&images[10..]));
    assert_eq!(Dataset::from_bytes(&two_members, &labels).unwrap(), small());
}

#[test]
fn the_mnist_fixtures_read_the_same_gzip_compressed() {
    let plain = load("test");
    let dir = TempDir::new("mnist-gz");
    let mut paths = Vec::new();
    for name in ["test-images-idx3-ubyte", "test-labels-idx1-ubyte"] {
        let path = dir.path(&format!("{name}.gz"));
        std::fs::write(&path, gzip(&std::fs::read(fixture(name)).unwrap())).unwrap();
        paths.push(path);
    }
    assert_eq!(Dataset::read(&paths[0], &paths[1]).unwrap(), plain);
}

/// 100 MB of zeros, compressed to about 100 KB, under a header claiming 10 images of 28x28:
/// inflating stops at the 7,856 bytes the header describes.
#[test]
fn a_gzip_bomb_is_an_error_after_the_header_length() {
    let mut bomb = GzEncoder::new(Vec::new(), Compression::fast());
    bomb.write_all(&header(0x08, &[10, 28, 28])).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..100 {
        bomb.write_all(&zeros).unwrap();
    }
    let bomb = bomb.finish().unwrap();
    assert!(bomb.len() < 1 << 20, "{} compressed bytes", bomb.len());
    let labels = gzip(&[header(0x08, &[10]), vec![1; 10]].concat());

    let limit = 16 + 10 * 28 * 28;
    let started = std::time::Instant::now();
    let err = Dataset::from_bytes(&bomb, &labels).unwrap_err();
    assert!(
        matches!(
            &err,
            IdxError::Input { role: FileRole::Images, error }
                if error.kind == InputErrorKind::InflatesPast { limit }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "<memory> (images): the gzip data inflates to more than 7856 bytes, the most expected"
    );
    // Stopping at the header's length takes milliseconds; inflating all 100 MB takes longer.
    assert!(
        started.elapsed().as_secs_f64() < 5.0,
        "{:?}",
        started.elapsed()
    );

    // On disk, the same.
    let dir = TempDir::new("bomb");
    let (image_path, label_path) = (dir.path("images.gz"), dir.path("labels.gz"));
    std::fs::write(&image_path, &bomb).unwrap();
    std::fs::write(&label_path, &labels).unwrap();
    let err = Dataset::read(&image_path, &label_path).unwrap_err();
    assert!(
        matches!(&err, IdxError::Input { error, .. } if error.path == image_path),
        "{err:?}"
    );
}

#[test]
fn a_huge_gzip_header_with_a_short_body_is_truncated_without_allocating() {
    // 2^40 pixels claimed (65536 images of 4096 x 4096), 5 present.
    let mut images = header(0x08, &[1 << 16, 1 << 12, 1 << 12]);
    images.extend_from_slice(&[1, 2, 3, 4, 5]);
    let labels = header(0x08, &[1 << 16]);
    let err = Dataset::from_bytes(&gzip(&images), &gzip(&labels)).unwrap_err();
    assert!(
        matches!(
            err,
            IdxError::Truncated { role: FileRole::Images, part: "data", expected, actual: 21, .. }
                if expected == 16 + (1 << 40)
        ),
        "{err:?}"
    );
}

#[test]
fn damaged_gzip_data_is_an_error() {
    let (images, labels) = small_bytes();
    let gz = gzip(&images);

    // Cut short: the member's end (and its CRC) missing.
    let err = Dataset::from_bytes(&gz[..gz.len() - 6], &labels).unwrap_err();
    assert!(
        matches!(&err, IdxError::Input { role: FileRole::Images, error }
            if matches!(error.kind, InputErrorKind::Gzip { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("damaged gzip data"), "{err}");

    // A flipped byte in the compressed data: the CRC, the inflater or the bound on the
    // inflated length (the header's 34 bytes; this flip inflates past them) catches it.
    let mut flipped = gz.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x55;
    let err = Dataset::from_bytes(&flipped, &labels).unwrap_err();
    assert!(
        matches!(&err, IdxError::Input { role: FileRole::Images, error }
        if matches!(
            error.kind,
            InputErrorKind::Gzip { .. } | InputErrorKind::InflatesPast { .. }
        )),
        "{err:?}"
    );

    // The gzip magic and nothing else.
    let err = Dataset::from_bytes(&[0x1f, 0x8b], &labels).unwrap_err();
    assert!(
        matches!(&err, IdxError::Input { role: FileRole::Images, error }
            if matches!(error.kind, InputErrorKind::Gzip { .. })),
        "{err:?}"
    );

    // Inflating to too few bytes is a truncated file, as for a plain one.
    let err = Dataset::from_bytes(&gzip(&images[..20]), &labels).unwrap_err();
    assert!(
        matches!(
            err,
            IdxError::Truncated {
                expected: 34,
                actual: 20,
                ..
            }
        ),
        "{err:?}"
    );
}
