//! Dumps on disk: the NPZ archive and the directory of NPY files hold the same arrays as the
//! dump built in memory; dumps of consecutive parts merge into the dump of the whole, in
//! either layout; parts that do not fit together are refused naming them.

use std::io::Read;
use std::path::Path;

use tdsnn_converter::{convert, reference_forward, Dnn, DnnLayer, Shape, TilPolicy};
use tdsnn_engine::{Simulate, Simulator, TickMode};
use tdsnn_io::dump::{merge, Dump, DumpArrays, DumpError, DumpFile, Format, Values};

fn network() -> Dnn {
    Dnn::new(
        Shape::flat(3),
        vec![
            DnnLayer::Dense {
                outputs: 2,
                weights: vec![0.5, -1.0, 0.25, 1.0, 0.5, -0.5],
                bias: Some(vec![0.1, -0.2]),
            },
            DnnLayer::Relu,
            DnnLayer::Dense {
                outputs: 2,
                weights: vec![1.0, -1.0, -0.5, 2.0],
                bias: None,
            },
        ],
    )
    .unwrap()
}

fn images(n: usize) -> Vec<[f32; 3]> {
    (0..n)
        .map(|i| {
            let x = i as f32 / n as f32;
            [x, 1.0 - x, (x * 7.0).fract()]
        })
        .collect()
}

/// Images `range` pushed to `dump`, with the reference and labels.
fn fill(dump: &mut dyn Dump, dnn: &Dnn, xs: &[[f32; 3]], first: usize) {
    let graph = convert(dnn, 5.0, TilPolicy::Dynamic).unwrap();
    let mut sim = Simulator::new(graph, TickMode::ClosedForm);
    for (i, x) in xs.iter().enumerate() {
        let record = sim.run(x, &mut ()).unwrap();
        let reference = reference_forward(dnn, x, 5.0).unwrap();
        dump.push(x, &record, Some(&reference), Some((first + i) % 2))
            .unwrap();
    }
}

/// One NPY file's bytes as (shape, values) of the dtype `values` has.
fn npy(bytes: &[u8], like: &Values) -> (Vec<u64>, Values) {
    let file = npyz::NpyFile::new(bytes).unwrap();
    let shape = file.shape().to_vec();
    let values = match like {
        Values::F32(_) => Values::F32(file.into_vec().unwrap()),
        Values::U32(_) => Values::U32(file.into_vec().unwrap()),
        Values::I64(_) => Values::I64(file.into_vec().unwrap()),
        Values::F64(_) => Values::F64(file.into_vec().unwrap()),
    };
    (shape, values)
}

/// The bytes of array `name` in a dump on disk, either layout.
fn read(dump: &Path, name: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    if dump.is_dir() {
        bytes = std::fs::read(dump.join(format!("{name}.npy"))).unwrap();
    } else {
        let mut zip = zip::ZipArchive::new(std::fs::File::open(dump).unwrap()).unwrap();
        zip.by_name(&format!("{name}.npy"))
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
    }
    bytes
}

#[test]
fn both_layouts_hold_the_arrays_and_merge_into_the_whole() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let dnn = network();
    let graph = convert(&dnn, 5.0, TilPolicy::Dynamic).unwrap();
    let xs = images(7);
    let mut memory = DumpArrays::new(&graph, Some(&dnn), 7, true);
    fill(&mut memory, &dnn, &xs, 0);
    let expected = memory.into_arrays();
    // input, input_spikes, both networks' classes and logits, labels, and per layer its frame
    // origin, release and pre-activations (and the hidden layer's spikes).
    assert_eq!(
        expected.len(),
        14,
        "the documented arrays of a two-layer network"
    );

    let create = |path: &Path, format, n| {
        DumpFile::create(path, format, &graph, Some(&dnn), n, true).unwrap()
    };
    for (name, format) in [("whole.npz", Format::Npz), ("whole", Format::Directory)] {
        let path = d.join(name);
        let mut file = create(&path, format, 7);
        fill(&mut file, &dnn, &xs, 0);
        assert_eq!(file.finish().unwrap(), expected.len());
        for array in &expected {
            let (shape, values) = npy(&read(&path, &array.name), &array.values);
            let want: Vec<u64> = array.shape.iter().map(|&s| s as u64).collect();
            assert_eq!(
                (shape, &values),
                (want, &array.values),
                "{name}: {}",
                array.name
            );
        }
    }
    // Parts of 3 and 4 images, one of each layout, merged into each layout.
    let mut first = create(&d.join("a.npz"), Format::Npz, 3);
    fill(&mut first, &dnn, &xs[..3], 0);
    first.finish().unwrap();
    let mut second = create(&d.join("b"), Format::Directory, 4);
    fill(&mut second, &dnn, &xs[3..], 3);
    second.finish().unwrap();
    let parts = [d.join("a.npz"), d.join("b")];
    for (name, format) in [("merged.npz", Format::Npz), ("merged", Format::Directory)] {
        assert_eq!(
            merge(&parts, &d.join(name), format).unwrap(),
            expected.len()
        );
        for array in &expected {
            let whole = if format == Format::Npz {
                "whole.npz"
            } else {
                "whole"
            };
            assert_eq!(
                read(&d.join(name), &array.name),
                read(&d.join(whole), &array.name),
                "{name}: {}",
                array.name
            );
        }
    }
    // The staging directory of an archive is gone once it is packed.
    let hidden: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
}

#[test]
fn parts_that_do_not_fit_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let dnn = network();
    let graph = convert(&dnn, 5.0, TilPolicy::Dynamic).unwrap();
    let xs = images(2);
    // One part with the reference's arrays, one without.
    let mut with = DumpFile::create(
        &d.join("with.npz"),
        Format::Npz,
        &graph,
        Some(&dnn),
        2,
        true,
    )
    .unwrap();
    fill(&mut with, &dnn, &xs, 0);
    with.finish().unwrap();
    let mut without =
        DumpFile::create(&d.join("without.npz"), Format::Npz, &graph, None, 2, true).unwrap();
    let mut sim = Simulator::new(graph.clone(), TickMode::ClosedForm);
    for x in &xs {
        without
            .push(x, &sim.run(x, &mut ()).unwrap(), None, Some(0))
            .unwrap();
    }
    without.finish().unwrap();
    let out = d.join("out.npz");
    let err = merge(
        &[d.join("with.npz"), d.join("without.npz")],
        &out,
        Format::Npz,
    )
    .unwrap_err();
    assert!(matches!(err, DumpError::Read { .. }), "{err}");
    assert!(err.to_string().contains("without.npz"), "{err}");
    assert!(!out.exists());
    // A part that is neither an archive nor a directory.
    let err = merge(&[d.join("missing.npz")], &out, Format::Npz).unwrap_err();
    assert!(err.to_string().contains("missing.npz"), "{err}");
    // A dump pushed more images than it was made for.
    let mut over =
        DumpFile::create(&d.join("over.npz"), Format::Npz, &graph, None, 1, false).unwrap();
    let record = sim.run(&xs[0], &mut ()).unwrap();
    over.push(&xs[0], &record, None, None).unwrap();
    let err = over.push(&xs[1], &record, None, None).unwrap_err();
    assert!(
        matches!(
            err,
            DumpError::Count {
                expected: 1,
                got: 2,
                ..
            }
        ),
        "{err}"
    );
}
