//! `tdsnn bench`'s measurement code on a tiny configuration (3 images, 1 repetition, no big
//! networks): it runs, its figures are consistent, and its JSON has every documented key.
//! No timed assertion: speeds depend on the machine.

use std::time::Duration;

use tdsnn_cli::bench::{run, BenchConfig};

#[test]
fn tiny_bench_has_every_documented_key() {
    let config = BenchConfig {
        images: 3,
        repetitions: 1,
        batch: 2,
        threads: 2,
        scaling_images: Some(4),
        calibration_budget: Duration::from_millis(5),
        big: false,
    };
    let mut stages = Vec::new();
    let report = run(&config, &mut |p| stages.push(p.stage)).expect("the shipped fixtures");
    assert!(["lenet", "calibration", "scaling"]
        .iter()
        .all(|s| stages.contains(s)));
    assert_eq!(report.lenet.images, 3);
    assert!(report.thread_scaling.records_identical);
    assert_eq!(report.thread_scaling.images, 4);
    let e = &report.lenet.events;
    assert!(e.paper > 0.0 && e.delivered > 0.0 && e.alpha > 0.0);
    // LeNet has no padding: paper events = MACs + one bias event per biased neuron.
    assert_eq!(e.paper, e.dnn_macs + 15_230.0);
    // The headline ratios are the figures they are documented as.
    let (l, r) = (&report.lenet, &report);
    assert_eq!(e.alpha, e.delivered / e.paper);
    assert_eq!(r.alpha, e.alpha);
    assert_eq!(
        r.snn_vs_dense_latency_ratio,
        l.closed_form.ns_per_image / l.dense_batch1.ns_per_image
    );
    assert_eq!(
        r.event_rate_vs_add_rate,
        l.closed_form.paper_events_per_s / r.calibration.adds_per_s
    );
    let paper_rate = e.paper / (l.closed_form.ns_per_image * 1e-9);
    assert!((l.closed_form.paper_events_per_s / paper_rate - 1.0).abs() < 1e-12);
    let t = &r.thread_scaling;
    assert_eq!(t.speedup, t.images_per_s_n / t.images_per_s_1);
    assert_eq!(report.op_table.len(), 1);
    assert_eq!(report.op_table[0].net, report.lenet.ops.net);
    assert!(report.table().contains("Table 2"));

    let json = serde_json::to_value(&report).unwrap();
    // Exactly the keys README documents: none missing, none undocumented.
    let keys = |v: &serde_json::Value, ks: &[&str]| {
        let mut got: Vec<&str> = v
            .as_object()
            .unwrap_or_else(|| panic!("an object: {v}"))
            .keys()
            .map(String::as_str)
            .collect();
        let mut want = ks.to_vec();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "keys of {v}");
    };
    keys(
        &json,
        &[
            "snn_vs_dense_latency_ratio",
            "snn_vs_dense_latency_ratio_explicit",
            "snn_vs_dense_batched_latency_ratio",
            "event_rate_vs_add_rate",
            "delivered_rate_vs_add_rate",
            "alpha",
            "thread_scaling",
            "lenet",
            "calibration",
            "nets",
            "op_table",
            "host",
        ],
    );
    keys(
        &json["thread_scaling"],
        &[
            "threads",
            "images",
            "images_per_s_1",
            "images_per_s_n",
            "speedup",
            "records_identical",
        ],
    );
    keys(
        &json["lenet"],
        &[
            "images",
            "repetitions",
            "events",
            "closed_form",
            "explicit",
            "dense_batch1",
            "dense_batched",
            "ops",
        ],
    );
    keys(
        &json["lenet"]["events"],
        &["paper", "delivered", "alpha", "dnn_macs"],
    );
    for mode in ["closed_form", "explicit"] {
        keys(
            &json["lenet"][mode],
            &[
                "mode",
                "ns_per_image",
                "images_per_s",
                "paper_events_per_s",
                "delivered_events_per_s",
                "ns_per_paper_event",
                "ns_per_delivered_event",
            ],
        );
    }
    for dense in ["dense_batch1", "dense_batched"] {
        keys(
            &json["lenet"][dense],
            &["batch", "ns_per_image", "images_per_s", "macs_per_s"],
        );
    }
    keys(
        &json["calibration"],
        &["values", "adds_per_s", "ns_per_add"],
    );
    keys(&json["op_table"][0], &["net", "dnn", "snn", "ratio"]);
    keys(&json["op_table"][0]["dnn"], &["mult", "add", "total"]);
    keys(&json["host"], &["threads_available", "simd"]);
}
