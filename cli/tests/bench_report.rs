//! `tdsnn bench`'s measurement code on a tiny configuration (3 images, 1 repetition, no big
//! networks): it runs, its figures are consistent, and its JSON has every documented key.
//! The big networks' measurement ([`net`]) runs on small networks in their place, a residual
//! one (as ResNet-18) and a chain (as AlexNet and VGG-16): ResNet-18 itself is tested
//! structurally in `tdsnn-train`'s zoo, and takes seconds in release, minutes in debug.
//! No timed assertion: speeds depend on the machine.

use std::time::Duration;

use tdsnn::converter::{Architecture, LayerSpec, Projection, Shape, Source, Window};
use tdsnn_cli::bench::{net, run, BenchConfig, NetBench};

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
    assert_keys(
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
    assert_keys(
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
    assert_keys(
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
    assert_keys(
        &json["lenet"]["events"],
        &["paper", "delivered", "alpha", "dnn_macs"],
    );
    for mode in ["closed_form", "explicit"] {
        assert_keys(
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
        assert_keys(
            &json["lenet"][dense],
            &["batch", "ns_per_image", "images_per_s", "macs_per_s"],
        );
    }
    assert_keys(
        &json["calibration"],
        &["values", "adds_per_s", "ns_per_add"],
    );
    assert_keys(&json["op_table"][0], &["net", "dnn", "snn", "ratio"]);
    assert_keys(&json["op_table"][0]["dnn"], &["mult", "add", "total"]);
    assert_keys(&json["host"], &["threads_available", "simd"]);
}

/// `v` is an object with exactly the keys `ks`.
fn assert_keys(v: &serde_json::Value, ks: &[&str]) {
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
}

/// Exactly the keys README documents for an entry of `nets[]`.
const NET_KEYS: &[&str] = &[
    "net",
    "neurons",
    "parameters",
    "events",
    "build_s",
    "convert_s",
    "snn_s",
    "threads",
    "snn_threads_s",
    "thread_speedup",
    "records_identical",
    "layers",
    "dense_s",
    "snn_vs_dense_latency_ratio",
    "paper_events_per_s",
    "peak_memory_bytes",
    "resident_at_start_bytes",
    "ops",
    "joins",
    "delayed_spikes",
    "max_delay",
];

/// The figures of a measured network that hold whatever it is.
fn check_net(n: &NetBench, name: &str, label: &str) {
    assert_eq!(n.net, name);
    assert_eq!(n.ops.net, label);
    assert_keys(&serde_json::to_value(n).unwrap(), NET_KEYS);
    for (what, x) in [
        ("snn_s", n.snn_s),
        ("dense_s", n.dense_s),
        ("ratio", n.snn_vs_dense_latency_ratio),
        ("paper_events_per_s", n.paper_events_per_s),
        ("alpha", n.events.alpha),
    ] {
        assert!(x.is_finite() && x > 0.0, "{what} = {x}");
    }
    assert_eq!(n.snn_vs_dense_latency_ratio, n.snn_s / n.dense_s);
    assert!(n.events.paper > 0.0 && n.events.delivered > 0.0);
    // One image on two threads: the same record; per layer, every layer of the graph, the
    // delivered events summing to the network's.
    assert_eq!(n.threads, 2);
    assert!(n.records_identical);
    assert_eq!(n.thread_speedup, n.snn_s / n.snn_threads_s);
    let layers: Vec<usize> = n.layers.iter().map(|l| l.layer).collect();
    assert_eq!(layers, (0..n.layers.len()).collect::<Vec<_>>());
    let delivered: u64 = n.layers.iter().map(|l| l.delivered).sum();
    assert_eq!(delivered as f64, n.events.delivered);
    assert!(n.layers.iter().all(|l| l.s > 0.0 && l.threads_s > 0.0));
    assert_keys(
        &serde_json::to_value(&n.layers[0]).unwrap(),
        &["delivered", "kind", "layer", "s", "shape", "threads_s"],
    );
    if cfg!(target_os = "linux") {
        let (peak, start) = (
            n.peak_memory_bytes.unwrap(),
            n.resident_at_start_bytes.unwrap(),
        );
        assert!(start > 0 && peak >= start, "{peak} < {start}");
    }
}

fn conv(out_channels: u32, k: u32, s: u32, p: u32) -> LayerSpec {
    LayerSpec::Conv2d {
        out_channels,
        window: Window::square(k, s, p),
        weights: (),
        bias: Some(()),
    }
}

/// ResNet-18 in miniature: a stem (conv, ReLU, max-pool), a block with an identity shortcut,
/// a strided block with a 1x1 projection shortcut, a global average pool, dense 10.
fn small_resnet() -> Architecture {
    let block = |c, stride, from, projection: bool| {
        [
            conv(c, 3, stride, 1),
            LayerSpec::Relu,
            conv(c, 3, 1, 1),
            LayerSpec::Shortcut {
                from: Source::Layer(from),
                projection: projection.then_some(Projection {
                    window: Window::square(1, stride, 0),
                    weights: (),
                    bias: Some(()),
                }),
            },
            LayerSpec::Relu,
        ]
    };
    let mut layers = vec![
        conv(8, 3, 1, 1),
        LayerSpec::Relu,
        LayerSpec::MaxPool {
            window: Window::square(2, 2, 0),
        },
    ];
    layers.extend(block(8, 1, 2, false));
    layers.extend(block(16, 2, 7, true));
    layers.extend([
        LayerSpec::AvgPool {
            window: Window::square(4, 4, 0),
        },
        LayerSpec::Flatten,
        LayerSpec::Dense {
            outputs: 10,
            weights: (),
            bias: Some(()),
        },
    ]);
    Architecture {
        input: Shape::new(3, 16, 16),
        layers,
    }
}

#[test]
fn a_residual_network_reports_its_delay_buffers() {
    let mut stages = Vec::new();
    let n = net(
        "small_resnet",
        "small ResNet",
        &small_resnet(),
        2,
        &mut |p| stages.push((p.stage, p.done)),
    )
    .expect("a valid residual network");
    assert_eq!(stages.first(), Some(&("small_resnet", 0)));
    assert_eq!(stages.last(), Some(&("small_resnet", 4)));
    check_net(&n, "small_resnet", "small ResNet");
    // Two joins; each shortcut's spikes wait at least for its block's first conv.
    assert_eq!(n.joins, 2);
    assert!(n.delayed_spikes > 0 && n.max_delay > 0, "{n:?}");
    // At most every spike of both blocks' inputs (8x8x8 each) waited.
    assert!(n.delayed_spikes <= 2 * 512, "{}", n.delayed_spikes);
}

#[test]
fn a_chain_has_no_delay_buffers() {
    let n = net("lenet5", "LeNet-5", &Architecture::lenet5(), 2, &mut |_| {}).unwrap();
    check_net(&n, "lenet5", "LeNet-5");
    assert_eq!((n.joins, n.delayed_spikes, n.max_delay), (0, 0, 0));
}
