//! `tdsnn run --shard I/N` and `tdsnn merge`: the shipped LeNet on the 2,000 shipped digits,
//! cut 1, 3 and 7 ways, merged, gives the unsharded run's report (every figure; only
//! `setup.threads` differs, `null` after a merge) and its dump, array for array. Parts
//! missing, repeated or from another run are refused, naming them, and nothing is written.

mod cli_support;

use std::io::Read;
use std::path::Path;

use cli_support::tdsnn;

/// A report without its thread count (each shard had its own).
fn without_threads(path: &Path) -> serde_json::Value {
    let mut report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    report["setup"].as_object_mut().unwrap().remove("threads");
    report
}

/// Every array of an NPZ archive, by name: its NPY bytes (header and values).
fn arrays(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut entry = zip.by_index(i).unwrap();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            (entry.name().unwrap().to_string(), bytes)
        })
        .collect()
}

#[test]
fn shards_merge_into_the_whole_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let whole = tdsnn(
        d,
        &[
            "run",
            "--threads",
            "2",
            "--json",
            "whole.json",
            "--dump",
            "whole.npz",
        ],
    );
    assert!(whole.ok, "{}", whole.stderr);
    let expected = without_threads(&d.join("whole.json"));
    assert_eq!(expected["images"], 2000);
    assert!(
        expected.get("shard").is_none(),
        "a whole run's report has no shard"
    );
    let whole_arrays = arrays(&d.join("whole.npz"));
    for n in [1usize, 3, 7] {
        let parts = d.join(format!("parts{n}"));
        std::fs::create_dir(&parts).unwrap();
        let mut names = Vec::new();
        for i in 0..n {
            let json = format!("parts{n}/shard-{i}.json");
            let npz = format!("parts{n}/shard-{i}.npz");
            let shard = format!("{i}/{n}");
            let threads = if i % 2 == 0 { "1" } else { "2" };
            let run = tdsnn(
                d,
                &[
                    "run",
                    "--shard",
                    &shard,
                    "--threads",
                    threads,
                    "--json",
                    &json,
                    "--dump",
                    &npz,
                ],
            );
            assert!(run.ok, "shard {shard}: {}", run.stderr);
            names.push(json);
        }
        // A partial report says what it covers.
        let part: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join(&names[0])).unwrap()).unwrap();
        let shard = &part["shard"];
        assert_eq!(
            (shard["index"].as_u64(), shard["count"].as_u64()),
            (Some(0), Some(n as u64))
        );
        assert_eq!(shard["images"][0], 0);
        assert_eq!(shard["data_images"], 2000);
        assert_eq!(shard["dump"], "shard-0.npz");
        for key in ["model_digest", "graph_digest", "data_digest"] {
            assert_eq!(shard[key].as_str().map(str::len), Some(64), "{key}");
        }
        // Merged in any order.
        let mut args = vec!["merge".to_string()];
        args.extend(names.iter().rev().cloned());
        let merged_json = format!("merged{n}.json");
        let merged_npz = format!("merged{n}.npz");
        args.extend([
            "--json".into(),
            merged_json.clone(),
            "--dump".into(),
            merged_npz.clone(),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let merge = tdsnn(d, &args);
        assert!(merge.ok, "{n} shards: {}", merge.stderr);
        assert!(
            merge.stdout.contains("spike time = T(A)"),
            "the tables are printed"
        );
        let merged = without_threads(&d.join(&merged_json));
        assert_eq!(merged, expected, "{n} shards");
        let merged_arrays = arrays(&d.join(&merged_npz));
        assert_eq!(merged_arrays.len(), whole_arrays.len());
        for ((name, bytes), (whole_name, whole_bytes)) in merged_arrays.iter().zip(&whole_arrays) {
            assert_eq!(name, whole_name);
            assert!(bytes == whole_bytes, "{n} shards: {name} differs");
        }
    }

    // Missing, repeated, or from another run: refused, naming the parts; nothing written.
    let refused = |args: &[&str], words: &[&str]| {
        let mut all = vec!["merge"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--json", "refused.json"]);
        tdsnn(d, &all).assert_refused(words);
        assert!(!d.join("refused.json").exists());
    };
    refused(
        &["parts3/shard-0.json", "parts3/shard-2.json"],
        &["missing shard 1 of 3 (images 666..1333)"],
    );
    refused(
        &[
            "parts3/shard-0.json",
            "parts3/shard-0.json",
            "parts3/shard-1.json",
        ],
        &["are both shard 0 of 3"],
    );
    refused(
        &["parts3/shard-0.json", "parts7/shard-1.json"],
        &[
            "parts3/shard-0.json",
            "parts7/shard-1.json",
            "are not shards of one run",
        ],
    );
    refused(
        &["whole.json"],
        &["whole.json is the report of a whole run"],
    );
    let other = tdsnn(
        d,
        &[
            "run",
            "--shard",
            "1/3",
            "--leak",
            "4",
            "--limit",
            "30",
            "--json",
            "other.json",
        ],
    );
    assert!(other.ok, "{}", other.stderr);
    refused(
        &["parts3/shard-0.json", "other.json", "parts3/shard-2.json"],
        &["other.json", "are not shards of one run"],
    );
    // A part's dump cut short: refused naming it, before anything is printed or written.
    let dump = d.join("parts3/shard-1.npz");
    let bytes = std::fs::read(&dump).unwrap();
    std::fs::write(&dump, &bytes[..bytes.len() / 2]).unwrap();
    let parts = [
        "parts3/shard-0.json",
        "parts3/shard-1.json",
        "parts3/shard-2.json",
    ];
    let mut args = vec!["merge"];
    args.extend(parts);
    args.extend(["--json", "refused.json", "--dump", "refused.npz"]);
    let cut = tdsnn(d, &args);
    cut.assert_refused(&["shard-1.npz"]);
    assert!(cut.stdout.is_empty(), "nothing printed: {}", cut.stdout);
    assert!(!d.join("refused.json").exists() && !d.join("refused.npz").exists());
}

#[test]
fn a_shard_needs_a_report_and_a_sound_index() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tdsnn(d, &["run", "--shard", "3/3", "--json", "p.json"]).assert_refused(&["`3/3`", "I < N"]);
    tdsnn(d, &["run", "--shard", "0/3"]).assert_refused(&["--json"]);
    tdsnn(
        d,
        &["run", "--limit", "2", "--shard", "0/3", "--json", "p.json"],
    )
    .assert_refused(&["--shard 0/3: no image falls in it"]);
}
