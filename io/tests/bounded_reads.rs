//! Every reader is bounded: a device or a pipe without an end (`/dev/zero`, a pipe that
//! starts like a graph file and never stops) is a typed error after a bounded number of
//! bytes, not a read until memory runs out. The readers: graph files, model files, IDX data
//! sets, NPY arrays, and the converter's bounded reader they share.
#![cfg(unix)]

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tdsnn_engine::format::{self, MAGIC};
use tdsnn_engine::{ErrorKind, Graph, GraphBuilder, Shape};
use tdsnn_io::idx::{Dataset, FileRole, IdxError};
use tdsnn_io::images::{Images, NpyErrorKind};
use tdsnn_io::input::{self, InputErrorKind, STREAM_LIMIT};
use tdsnn_io::model_file::{read_model, ModelFileError};

const DEV_ZERO: &str = "/dev/zero";

/// Reading `STREAM_LIMIT` bytes takes milliseconds; a reader that is not bounded never
/// returns. The margin allows for a loaded machine.
const QUICK: Duration = Duration::from_secs(10);

/// Runs `read`, asserting it returns within [`QUICK`].
#[track_caller]
fn quickly<T>(what: &str, read: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = read();
    assert!(
        started.elapsed() < QUICK,
        "{what} took {:?}",
        started.elapsed()
    );
    out
}

/// Every reader, on `/dev/zero`.
fn read_dev_zero_with_every_reader() {
    let err = quickly("graph", || format::read(DEV_ZERO).unwrap_err());
    assert!(
        matches!(err.kind(), ErrorKind::Format { offset: 0, what } if what.contains("not a TDSNN graph file")),
        "{err}"
    );

    let stream_too_long = InputErrorKind::StreamTooLong {
        limit: STREAM_LIMIT,
    };
    let err = quickly("bounded reader", || {
        input::read_bounded(DEV_ZERO, u64::MAX).unwrap_err()
    });
    assert_eq!(
        (err.path.as_path(), &err.kind),
        (Path::new(DEV_ZERO), &stream_too_long)
    );

    let err = quickly("model", || read_model(DEV_ZERO).unwrap_err());
    assert!(
        matches!(&err, ModelFileError::Input(e) if e.kind == stream_too_long),
        "{err}"
    );
    assert!(err.to_string().contains("/dev/zero"), "{err}");

    let err = quickly("idx", || Dataset::read(DEV_ZERO, DEV_ZERO).unwrap_err());
    assert!(
        matches!(&err, IdxError::Input { role: FileRole::Images, error } if error.kind == stream_too_long),
        "{err}"
    );

    let err = quickly("npy", || Images::read_npy(DEV_ZERO).unwrap_err());
    assert_eq!(err.kind, NpyErrorKind::Input(stream_too_long.clone()));
    assert_eq!(err.path, DEV_ZERO);
}

#[test]
fn dev_zero_is_refused_by_every_reader() {
    read_dev_zero_with_every_reader();
}

/// Peak resident memory of this process, in KiB (`VmHWM`).
#[cfg(target_os = "linux")]
fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Run by [`dev_zero_costs_at_most_the_stream_limit`] in a process of its own, so that no
/// other test's memory counts.
#[cfg(target_os = "linux")]
#[test]
#[ignore = "run in a process of its own by dev_zero_costs_at_most_the_stream_limit"]
fn peak_memory_probe() {
    let before = peak_kib();
    read_dev_zero_with_every_reader();
    println!("peak KiB before {before} after {}", peak_kib());
}

#[cfg(target_os = "linux")]
#[test]
fn dev_zero_costs_at_most_the_stream_limit() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["peak_memory_probe", "--exact", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let line = stdout
        .lines()
        .find_map(|l| l.find("peak KiB").map(|at| &l[at..]))
        .unwrap_or_else(|| panic!("no measurement in: {stdout}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let (before, after): (u64, u64) = (words[3].parse().unwrap(), words[5].parse().unwrap());
    // Each reader holds at most STREAM_LIMIT bytes of zeros, then drops them.
    let limit_kib = STREAM_LIMIT / 1024;
    assert!(
        after - before <= limit_kib + limit_kib / 4,
        "peak grew by {} KiB reading /dev/zero (stream limit {limit_kib} KiB)",
        after - before
    );
}

/// A named pipe fed by a thread: `head`, then zeros forever if `endless`, else the end.
struct Pipe {
    path: PathBuf,
}

impl Pipe {
    fn new(head: Vec<u8>, endless: bool) -> Pipe {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "tdsnn-pipe-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let status = Command::new("mkfifo").arg(&path).status().unwrap();
        assert!(status.success(), "mkfifo {}", path.display());
        let writer_path = path.clone();
        std::thread::spawn(move || {
            // Opening blocks until the reader opens; writing fails once it has closed.
            let Ok(mut pipe) = OpenOptions::new().write(true).open(&writer_path) else {
                return;
            };
            if pipe.write_all(&head).is_err() || !endless {
                return;
            }
            let zeros = [0u8; 1 << 16];
            while pipe.write_all(&zeros).is_ok() {}
        });
        Pipe { path }
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        std::fs::remove_file(&self.path).ok();
    }
}

fn small_graph() -> Graph {
    GraphBuilder::new(Shape::flat(3), 5.0)
        .dense(
            2,
            vec![-0.5, 0.25, 0.0, 0.0, -1.0, 0.5],
            Some(vec![0.0, 0.1]),
        )
        .output(2, vec![1.0, 0.0, 0.0, 1.0], None)
        .build()
        .unwrap()
}

/// A valid graph file's header with the stored length replaced by `len`.
fn header_declaring(len: u64) -> Vec<u8> {
    let mut head = format::to_bytes(&small_graph())[..format::HEADER_LEN].to_vec();
    head[56..64].copy_from_slice(&len.to_le_bytes());
    head
}

#[test]
fn a_pipe_that_starts_like_a_graph_file_and_never_ends_is_an_error() {
    // The magic, then zeros: the version is wrong.
    let pipe = Pipe::new(MAGIC.to_vec(), true);
    let err = quickly("magic", || format::read(&pipe.path).unwrap_err());
    assert!(
        matches!(err.kind(), ErrorKind::Format { offset: 8, .. }),
        "{err}"
    );

    // A whole header declaring 2^40 bytes: refused before reading on.
    let pipe = Pipe::new(header_declaring(1 << 40), true);
    let err = quickly("2^40", || format::read(&pipe.path).unwrap_err());
    assert_eq!(
        err.kind(),
        &ErrorKind::StreamTooLong {
            path: pipe.path.display().to_string(),
            declared: 1 << 40,
            limit: STREAM_LIMIT,
        }
    );
    assert!(
        err.to_string().contains("save it to a regular file"),
        "{err}"
    );

    // Declaring 1 MiB, then going on: refused after 1 MiB and one byte.
    let pipe = Pipe::new(header_declaring(1 << 20), true);
    let err = quickly("1 MiB", || format::read(&pipe.path).unwrap_err());
    assert!(
        matches!(err.kind(), ErrorKind::Format { offset, what } if *offset == 1 << 20 && what.contains("goes on past")),
        "{err}"
    );

    // Declaring a length shorter than a header.
    let pipe = Pipe::new(header_declaring(10), true);
    let err = quickly("10", || format::read(&pipe.path).unwrap_err());
    assert!(
        matches!(err.kind(), ErrorKind::Format { offset: 56, .. }),
        "{err}"
    );
}

#[test]
fn a_graph_file_reads_through_a_pipe_as_from_a_file() {
    let bytes = format::to_bytes(&small_graph());
    let pipe = Pipe::new(bytes.clone(), false);
    assert_eq!(format::read(&pipe.path).unwrap(), small_graph());

    // Cut short: the error its bytes get in memory.
    for cut in [4, 40, 64, 100, bytes.len() - 1] {
        let pipe = Pipe::new(bytes[..cut].to_vec(), false);
        assert_eq!(
            format::read(&pipe.path),
            format::from_bytes(&bytes[..cut]),
            "cut at {cut}"
        );
    }
}

#[test]
fn endless_pipes_are_refused_by_the_converter_readers() {
    let stream_too_long = InputErrorKind::StreamTooLong {
        limit: STREAM_LIMIT,
    };
    // An IDX header claiming 2^40 pixels, then zeros forever.
    let mut head = vec![0, 0, 8, 3];
    for d in [1u32 << 16, 1 << 12, 1 << 12] {
        head.extend(d.to_be_bytes());
    }
    let images = Pipe::new(head, true);
    let err = quickly("idx", || Dataset::read(&images.path, DEV_ZERO).unwrap_err());
    assert!(
        matches!(&err, IdxError::Input { role: FileRole::Images, error }
            if error.kind == stream_too_long && error.path == images.path),
        "{err}"
    );

    // A smaller limit than the stream limit is kept.
    let pipe = Pipe::new(Vec::new(), true);
    let err = quickly("limit", || {
        input::read_bounded(&pipe.path, 1000).unwrap_err()
    });
    assert_eq!(err.kind, InputErrorKind::StreamTooLong { limit: 1000 });

    // A pipe that ends within the limit reads whole.
    let pipe = Pipe::new(vec![7; 100_000], false);
    assert_eq!(
        input::read_bounded(&pipe.path, 100_000).unwrap(),
        vec![7; 100_000]
    );
}

#[test]
fn regular_files_over_the_limit_are_refused_before_reading() {
    let path = std::env::temp_dir().join(format!("tdsnn-sparse-{}", std::process::id()));
    // A sparse file of 5 GiB: over FILE_LIMIT, and costing no disk.
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(5 << 30).unwrap();
    drop(file);
    let err = quickly("sparse", || {
        input::read_bounded(&path, input::FILE_LIMIT).unwrap_err()
    });
    assert_eq!(
        err.kind,
        InputErrorKind::TooLarge {
            size: 5 << 30,
            limit: input::FILE_LIMIT
        }
    );
    let err = quickly("sparse model", || read_model(&path).unwrap_err());
    assert!(
        matches!(&err, ModelFileError::Input(e)
            if matches!(e.kind, InputErrorKind::TooLarge { size, .. } if size == 5 << 30)),
        "{err}"
    );
    // The graph reader checks the magic first: zeros are not a graph file.
    let err = quickly("sparse graph", || format::read(&path).unwrap_err());
    assert!(
        matches!(err.kind(), ErrorKind::Format { offset: 0, .. }),
        "{err}"
    );
    std::fs::remove_file(&path).ok();
}
