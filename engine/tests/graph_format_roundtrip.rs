//! Round trips through the graph file format: every layer kind, both `T_il` policies, bias
//! present and absent, random small graphs, files on disk; and the byte layout checked
//! against the format's specification, independently of the reader.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use proptest::prelude::*;
use tdsnn_engine::format::{from_bytes, read, to_bytes, write};
use tdsnn_engine::{ErrorKind, Graph, GraphBuilder, Layer, Shape, TilPolicy, Window};

type TestResult = Result<(), tdsnn_engine::Error>;

/// CRC-32 (IEEE 802.3, as zlib), the trailer's checksum.
fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn f64_at(b: &[u8], at: usize) -> f64 {
    f64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// A path under the temp dir no other test (or test run) uses.
fn temp_path(name: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!(
        "tdsnn-format-test-{}-{nanos}-{n}-{name}.grf",
        std::process::id()
    ))
}

/// `n` deterministic distinct values, including awkward ones (signed zero, subnormals,
/// extremes) so that a lossy encoding would show.
/// `f32` values as `f64`, with a third of every other one (no f32 holds it).
fn widen(v: Vec<f32>) -> Vec<f64> {
    v.into_iter()
        .enumerate()
        .map(|(i, v)| {
            if i % 2 == 1 {
                f64::from(v) / 3.0
            } else {
                f64::from(v)
            }
        })
        .collect()
}

/// Bias values: `values` widened, with f64 values no f32 holds mixed in.
fn biases(n: usize, salt: u32) -> Vec<f64> {
    widen(values(n, salt))
}

fn values(n: usize, salt: u32) -> Vec<f32> {
    const SPECIAL: [f32; 6] = [-0.0, 1.0e-45, f32::MIN_POSITIVE, f32::MAX, f32::MIN, 0.1];
    (0..n)
        .map(|i| {
            let i = i as u32;
            if i % 7 == 3 {
                SPECIAL[((i + salt) % 6) as usize]
            } else {
                (i as f32 + 0.25 * salt as f32).sin() * 0.37
            }
        })
        .collect()
}

/// Every layer kind, asymmetric windows, bias present and absent.
fn every_kind(til: TilPolicy, threshold: f64, leak: f64) -> Result<Graph, tdsnn_engine::Error> {
    // 2x7x6 -conv(3, k 3x2, s 1x2, p 1x0)-> 3x7x3 -max(k 3x1, s 2x1, p 1x0)-> 3x4x3
    // -avg(k 2x3, s 2x1, p 1x1)-> 3x3x3 -flatten-> 27 -dense(5)-> 5 -dense(4)-> 4 -output(3)
    let conv = Window {
        kernel: [3, 2],
        stride: [1, 2],
        padding: [1, 0],
    };
    let max = Window {
        kernel: [3, 1],
        stride: [2, 1],
        padding: [1, 0],
    };
    let avg = Window {
        kernel: [2, 3],
        stride: [2, 1],
        padding: [1, 1],
    };
    GraphBuilder::new(Shape::new(2, 7, 6), leak)
        .conv2d(3, conv, values(2 * 3 * 2 * 3, 1), Some(biases(3, 2)))
        .max_pool(max)
        .avg_pool(avg, -1.0 / 6.0)
        .flatten()
        .dense(5, values(27 * 5, 3), None)
        .dense(4, values(5 * 4, 4), Some(biases(4, 5)))
        .output(3, values(4 * 3, 6), Some(biases(3, 7)))
        .til(til)
        .threshold(threshold)
        .build()
}

/// Round trip through bytes: equal graph, and the same bytes again.
fn round_trip(graph: &Graph) -> TestResult {
    let bytes = to_bytes(graph);
    let back = from_bytes(&bytes)?;
    assert_eq!(&back, graph);
    assert_eq!(
        to_bytes(&back),
        bytes,
        "re-serialising a read graph changed its bytes"
    );
    Ok(())
}

#[test]
fn every_layer_kind_dynamic_til() -> TestResult {
    let graph = every_kind(TilPolicy::Dynamic, 0.0, 5.0)?;
    let kinds: Vec<_> = graph.layers().iter().map(Layer::kind).collect();
    assert_eq!(
        kinds,
        ["conv2d", "max_pool", "avg_pool", "flatten", "dense", "dense", "output"]
    );
    round_trip(&graph)
}

#[test]
fn every_layer_kind_fixed_til() -> TestResult {
    round_trip(&every_kind(TilPolicy::Fixed(37), -0.75, 2.5)?)?;
    round_trip(&every_kind(TilPolicy::Fixed(0), -0.0, 1000.0)?)?;
    // The longest fixed T_il a graph admits: 600 L.
    round_trip(&every_kind(TilPolicy::Fixed(600_000), -1e300, 1000.0)?)
}

#[test]
fn bias_present_and_absent() -> TestResult {
    for (hidden, out) in [(false, false), (true, false), (false, true), (true, true)] {
        let graph = GraphBuilder::new(Shape::new(1, 3, 3), 5.0)
            .conv2d(
                2,
                Window::square(2, 1, 0),
                values(8, 1),
                hidden.then(|| biases(2, 2)),
            )
            .output(2, values(16, 3), out.then(|| biases(2, 4)))
            .build()?;
        round_trip(&graph)?;
        let back = from_bytes(&to_bytes(&graph))?;
        assert_eq!(back.layers()[0].bias().is_some(), hidden);
        assert_eq!(back.layers()[1].bias().is_some(), out);
    }
    Ok(())
}

#[test]
fn smallest_graph() -> TestResult {
    let graph = GraphBuilder::new(Shape::flat(1), 5.0)
        .output(1, vec![-0.0], None)
        .build()?;
    round_trip(&graph)?;
    let back = from_bytes(&to_bytes(&graph))?;
    // -0.0 survives bit for bit.
    assert_eq!(
        back.layers()[0].weights().unwrap()[0].to_bits(),
        (-0.0f32).to_bits()
    );
    Ok(())
}

/// The bytes follow the specification field by field.
#[test]
fn layout_matches_the_specification() -> TestResult {
    let graph = every_kind(TilPolicy::Fixed(37), -0.75, 2.5)?;
    let b = to_bytes(&graph);
    let n = graph.layers().len();
    assert_eq!(&b[0..8], b"TDSNNGRF");
    assert_eq!(u32_at(&b, 8), 2);
    assert_eq!(u32_at(&b, 12) as usize, n);
    assert_eq!(f64_at(&b, 16), 2.5);
    assert_eq!(f64_at(&b, 24), -0.75);
    assert_eq!((u32_at(&b, 32), u32_at(&b, 36)), (1, 37));
    assert_eq!((u32_at(&b, 40), u32_at(&b, 44), u32_at(&b, 48)), (2, 7, 6));
    assert_eq!(u32_at(&b, 52), 0);
    assert_eq!(u64_at(&b, 56), b.len() as u64);
    let body = b.len() - 8;
    assert_eq!(u32_at(&b, body), crc32(&b[..body]));
    assert_eq!(&b[body + 4..], b"TDSE");

    // Descriptors: kind codes, parameter slots, tensors in order at multiples of 64.
    let expected: [(u32, [u32; 7]); 7] = [
        (1, [3, 3, 2, 1, 2, 1, 0]),
        (3, [3, 1, 2, 1, 1, 0, 0]),
        (2, [2, 3, 2, 1, 1, 1, (-1.0f32 / 6.0).to_bits()]),
        (4, [0; 7]),
        (0, [5, 0, 0, 0, 0, 0, 0]),
        (0, [4, 0, 0, 0, 0, 0, 0]),
        (5, [3, 0, 0, 0, 0, 0, 0]),
    ];
    // The link table: each layer's source (a chain: layer k's is k), padded to 8 bytes; no
    // groups.
    let sources_at = 64 + 64 * n;
    let sources: Vec<u32> = (0..n).map(|k| u32_at(&b, sources_at + 4 * k)).collect();
    assert_eq!(sources, (0..n as u32).collect::<Vec<_>>());
    let table_end = sources_at + (4 * n).next_multiple_of(8);
    assert!(b[sources_at + 4 * n..table_end].iter().all(|&x| x == 0));
    let mut next = table_end;
    for (i, layer) in graph.layers().iter().enumerate() {
        let d = 64 + 64 * i;
        let (kind, params) = expected[i];
        assert_eq!(u32_at(&b, d), kind, "layer {i} kind");
        let got: Vec<u32> = (0..7).map(|j| u32_at(&b, d + 4 + 4 * j)).collect();
        assert_eq!(got, params, "layer {i} params");
        let weights = layer
            .weights()
            .map(|w| w.iter().map(|v| u64::from(v.to_bits())).collect());
        let bias = layer
            .bias()
            .map(|b| b.iter().map(|v| v.to_bits()).collect());
        let tensors: [(usize, usize, Option<Vec<u64>>); 2] = [(32, 4, weights), (48, 8, bias)];
        for (field, size, tensor) in tensors {
            let (offset, len) = (
                u64_at(&b, d + field) as usize,
                u64_at(&b, d + field + 8) as usize,
            );
            let Some(tensor) = tensor else {
                assert_eq!((offset, len), (0, 0), "layer {i}: absent tensor");
                continue;
            };
            assert_eq!(offset % 64, 0, "layer {i}: aligned payload");
            assert!(offset >= next, "layer {i}: payloads in order");
            assert!(b[next..offset].iter().all(|&x| x == 0), "zero padding");
            assert_eq!(len, tensor.len());
            for (k, v) in tensor.iter().enumerate() {
                let stored = if size == 4 {
                    u64::from(u32_at(&b, offset + 4 * k))
                } else {
                    u64_at(&b, offset + 8 * k)
                };
                assert_eq!(stored, *v, "layer {i} field {field} value {k}");
            }
            next = offset + size * len;
        }
    }
    assert_eq!(next, body, "the trailer follows the last payload");
    Ok(())
}

/// Every tensor of a read graph is a view into one buffer laid out as the file: no copies.
#[test]
fn tensors_are_views_into_one_buffer() -> TestResult {
    let graph = every_kind(TilPolicy::Dynamic, 0.0, 5.0)?;
    let b = to_bytes(&graph);
    let back = from_bytes(&b)?;
    let path = temp_path("views");
    write(&graph, &path)?;
    let from_file = read(&path);
    std::fs::remove_file(&path).ok();
    for g in [back, from_file?] {
        let first = g.layers()[0].weights().unwrap().as_ptr() as usize;
        let first_offset = u64_at(&b, 64 + 32) as usize;
        for (i, layer) in g.layers().iter().enumerate() {
            for (field, tensor) in [(32, layer.weights())] {
                let Some(tensor) = tensor else { continue };
                let offset = u64_at(&b, 64 + 64 * i + field) as usize;
                assert_eq!(
                    (tensor.as_ptr() as usize).wrapping_sub(first),
                    offset - first_offset,
                    "layer {i} field {field}: tensor not in place"
                );
            }
        }
    }
    Ok(())
}

#[test]
fn file_round_trip() -> TestResult {
    for graph in [
        every_kind(TilPolicy::Dynamic, 0.0, 5.0)?,
        every_kind(TilPolicy::Fixed(12), -2.0, 7.0)?,
    ] {
        let path = temp_path("file");
        write(&graph, &path)?;
        let on_disk = std::fs::read(&path).map_err(|e| ErrorKind::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let back = read(&path);
        std::fs::remove_file(&path).ok();
        assert_eq!(on_disk, to_bytes(&graph));
        assert_eq!(back?, graph);
    }
    Ok(())
}

#[test]
fn write_overwrites_an_existing_file() -> TestResult {
    let big = every_kind(TilPolicy::Dynamic, 0.0, 5.0)?;
    let small = GraphBuilder::new(Shape::flat(2), 5.0)
        .output(1, vec![1.0, 2.0], None)
        .build()?;
    let path = temp_path("overwrite");
    write(&big, &path)?;
    write(&small, &path)?;
    let back = read(&path);
    std::fs::remove_file(&path).ok();
    assert_eq!(back?, small);
    Ok(())
}

#[test]
fn read_missing_file_names_the_path() {
    let path = temp_path("missing");
    let err = read(&path).unwrap_err();
    match err.kind() {
        ErrorKind::Io { path: p, message } => {
            assert_eq!(p, &path.display().to_string());
            assert!(!message.is_empty());
        }
        other => panic!("expected an Io error, got {other:?}"),
    }
    assert!(err.to_string().contains(&path.display().to_string()));
}

#[test]
fn write_to_missing_directory_names_the_path() -> TestResult {
    let graph = GraphBuilder::new(Shape::flat(2), 5.0)
        .output(1, vec![1.0, 2.0], None)
        .build()?;
    let path = temp_path("no-such-dir").join("graph.grf");
    let err = write(&graph, &path).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Io { path: p, .. } if p == &path.display().to_string()),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn read_a_directory_is_an_error() {
    let dir = std::env::temp_dir();
    let err = read(&dir).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Io { path, .. } if *path == dir.display().to_string()),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Random small graphs.

/// One windowed stage of a random graph; sizes are clamped to fit when built.
#[derive(Debug, Clone)]
enum Stage {
    Conv { channels: u32, bias: bool },
    Avg { weight: f32 },
    Max,
}

#[derive(Debug, Clone)]
struct Recipe {
    input: (u32, u32, u32),
    stages: Vec<(Stage, [u32; 6])>,
    flatten: bool,
    dense: Vec<(u32, bool)>,
    outputs: (u32, bool),
    til: Option<u32>,
    leak: f64,
    threshold: f64,
    seed: u64,
}

/// Finite `f32`s of arbitrary bit patterns (signed zeros, subnormals, extremes included).
fn random_values(n: usize, state: &mut u64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            let v = f32::from_bits((*state >> 16) as u32);
            if v.is_finite() {
                v
            } else {
                f32::from_bits(v.to_bits() & !0x0080_0000)
            }
        })
        .collect()
}

impl Recipe {
    fn build(&self) -> Result<Graph, tdsnn_engine::Error> {
        let mut rng = self.seed | 1;
        let (c, h, w) = self.input;
        let mut shape = Shape::new(c, h, w);
        let mut b = GraphBuilder::new(shape, self.leak).threshold(self.threshold);
        if let Some(t) = self.til {
            // Within the admitted range, 600 L.
            b = b.til(TilPolicy::Fixed(
                t % (tdsnn_engine::graph::max_t_il(self.leak) + 1),
            ));
        }
        for (stage, geometry) in &self.stages {
            let [kh, kw, sh, sw, ph, pw] = *geometry;
            let pool = !matches!(stage, Stage::Conv { .. });
            // Clamp the window to the current extent; pools pad at most half the kernel.
            let (ph, pw) = if pool {
                (ph.min(kh / 2), pw.min(kw / 2))
            } else {
                (ph, pw)
            };
            let window = Window {
                kernel: [kh.min(shape.h + 2 * ph), kw.min(shape.w + 2 * pw)],
                stride: [sh, sw],
                padding: [ph, pw],
            };
            let (Some(oh), Some(ow)) =
                (window.out_extent(0, shape.h), window.out_extent(1, shape.w))
            else {
                continue;
            };
            // Clamping the kernel may break the pool padding rule: then skip the stage.
            if pool && (2 * ph > window.kernel[0] || 2 * pw > window.kernel[1]) {
                continue;
            }
            match stage {
                Stage::Conv { channels, bias } => {
                    let n = (shape.c * window.kernel[0] * window.kernel[1] * channels) as usize;
                    let bias = bias.then(|| widen(random_values(*channels as usize, &mut rng)));
                    b = b.conv2d(*channels, window, random_values(n, &mut rng), bias);
                    shape = Shape::new(*channels, oh, ow);
                }
                Stage::Avg { weight } => {
                    b = b.avg_pool(window, *weight);
                    shape = Shape::new(shape.c, oh, ow);
                }
                Stage::Max => {
                    b = b.max_pool(window);
                    shape = Shape::new(shape.c, oh, ow);
                }
            }
        }
        if self.flatten {
            b = b.flatten();
            shape = Shape::flat(shape.len() as u32);
        }
        for &(outputs, bias) in &self.dense {
            let n = (shape.len() * u64::from(outputs)) as usize;
            let bias = bias.then(|| widen(random_values(outputs as usize, &mut rng)));
            b = b.dense(outputs, random_values(n, &mut rng), bias);
            shape = Shape::flat(outputs);
        }
        let (outputs, bias) = self.outputs;
        let n = (shape.len() * u64::from(outputs)) as usize;
        let bias = bias.then(|| widen(random_values(outputs as usize, &mut rng)));
        b.output(outputs, random_values(n, &mut rng), bias).build()
    }
}

fn stage() -> impl Strategy<Value = (Stage, [u32; 6])> {
    let kind = prop_oneof![
        (1u32..=3, any::<bool>()).prop_map(|(channels, bias)| Stage::Conv { channels, bias }),
        (-1.0f32..0.0).prop_map(|weight| Stage::Avg { weight }),
        Just(Stage::Max),
    ];
    (
        kind,
        [1u32..=3, 1u32..=3, 1u32..=2, 1u32..=2, 0u32..=1, 0u32..=1],
    )
}

fn recipe() -> impl Strategy<Value = Recipe> {
    (
        (1u32..=3, 1u32..=6, 1u32..=6),
        prop::collection::vec(stage(), 0..=3),
        any::<bool>(),
        prop::collection::vec((1u32..=6, any::<bool>()), 0..=2),
        (1u32..=5, any::<bool>()),
        prop::option::of(any::<u32>()),
        (1e-3f64..=1000.0, -10.0f64..=0.0),
        any::<u64>(),
    )
        .prop_map(
            |(input, stages, flatten, dense, outputs, til, (leak, threshold), seed)| Recipe {
                input,
                stages,
                flatten,
                dense,
                outputs,
                til,
                leak,
                threshold,
                seed,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_graphs_round_trip(recipe in recipe()) {
        let graph = recipe.build().map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let bytes = to_bytes(&graph);
        let back = from_bytes(&bytes).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(&back, &graph);
        prop_assert_eq!(to_bytes(&back), bytes);
    }
}
