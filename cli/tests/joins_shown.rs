//! A branching graph's joins are shown wherever layers are: `inspect`'s and `convert`'s layer
//! list names each layer's source and synapse groups, the demo's table and the run report
//! give each join's delays `o - o_g` and delayed spikes (text and JSON), the raster draws
//! each delay buffer; and a chain's text and JSON are what they were before graphs branched.

mod cli_support;

use std::sync::Arc;

use cli_support::{fixtures, tdsnn};
use tdsnn::converter::{convert, Dnn, DnnLayer, Source as DnnSource};
use tdsnn::engine::graph::{Conv2d, Dense, Group, Node, Source, Synapses};
use tdsnn::engine::{
    Graph, GraphBuilder, Layer, Params, Record, Shape, Simulate, Simulator, TickMode, TilPolicy,
    Window,
};
use tdsnn::evaluate::report::{Report, Setup};
use tdsnn::evaluate::{evaluate, EvalConfig};
use tdsnn::io::images::Images;
use tdsnn_cli::{layers, plot};

/// `n` values in `[-a, a]` from a fixed sequence.
fn values(seed: u32, n: usize, a: f32) -> Vec<f32> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(12_345);
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            a * ((x >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0)
        })
        .collect()
}

fn conv(c_in: u32, seed: u32) -> Conv2d {
    Conv2d {
        out_channels: 2,
        window: Window::square(3, 1, 1),
        weights: values(seed, (c_in * 9 * 2) as usize, 0.5).into(),
        bias: None,
    }
}

/// A hand-built residual graph on 1x4x4 inputs: conv (0) - conv (1) - conv (2) joining an
/// identity from layer 0 - flatten (3) - output (4) joining a dense group from the input.
fn branching() -> Graph {
    let input = Shape::new(1, 4, 4);
    let nodes = vec![
        Node::new(Layer::Conv2d(conv(1, 1)), Source::Input),
        Node::new(Layer::Conv2d(conv(2, 2)), Source::Layer(0)),
        Node {
            layer: Layer::Conv2d(conv(2, 3)),
            source: Source::Layer(1),
            groups: vec![Group {
                source: Source::Layer(0),
                synapses: Synapses::Identity { weight: -1.0 },
            }],
        },
        Node::new(Layer::Flatten, Source::Layer(2)),
        Node {
            layer: Layer::Output(Dense {
                outputs: 3,
                weights: values(4, 32 * 3, 0.5).into(),
                bias: None,
            }),
            source: Source::Layer(3),
            groups: vec![Group {
                source: Source::Input,
                synapses: Synapses::Dense(Dense {
                    outputs: 3,
                    weights: values(5, 16 * 3, 0.5).into(),
                    bias: None,
                }),
            }],
        },
    ];
    Graph::from_nodes(input, nodes, Params::new(5.0)).unwrap()
}

fn run(graph: &Graph) -> Record {
    let x: Vec<f32> = values(9, graph.input_shape().len() as usize, 1.0)
        .iter()
        .map(|v| v.abs())
        .collect();
    Simulator::new(graph.clone(), TickMode::ClosedForm)
        .run(&x, &mut ())
        .unwrap()
}

#[test]
fn the_layer_list_names_sources_and_groups_of_a_branching_graph() {
    let text = layers::graph_text(&branching());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 2 * 5, "{text}");
    let expect = [
        (1, "  0 conv2d    -> 2x4x4"),
        (2, "      from the input"),
        (4, "      from layer 0"),
        (6, "      from layer 1, + identity from layer 0 (weight -1)"),
        (8, "      from layer 2"),
        (
            10,
            "      from layer 3, + dense from the input (48 weights)",
        ),
    ];
    for (i, start) in expect {
        assert!(
            lines[i].starts_with(start),
            "line {i}: {}\n{text}",
            lines[i]
        );
    }
}

#[test]
fn a_chain_lists_its_layers_as_before() {
    let graph = GraphBuilder::new(Shape::flat(2), 5.0)
        .dense(2, vec![-1.0, 0.0, 0.0, -1.0], Some(vec![0.5, 0.5]))
        .output(2, vec![1.0, 0.0, 0.0, 1.0], None)
        .build()
        .unwrap();
    assert_eq!(
        layers::graph_text(&graph),
        "input 2x1x1  L = 5  threshold = 0  T_il Dynamic\n\
         \x20 0 dense     -> 2x1x1      4 weights, bias true\n\
         \x20 1 output    -> 2x1x1      4 weights, bias false\n"
    );
    let table = layers::record_table(&graph, &run(&graph));
    assert!(!table.contains("join"), "{table}");
    assert_eq!(table.lines().count(), 2 + 2 + 1, "{table}");
}

#[test]
fn the_record_table_gives_each_join_its_delays() {
    let graph = branching();
    let record = run(&graph);
    let table = layers::record_table(&graph, &record);
    // The identity waits for layer 1's inhibitory period; the dense group from the input
    // for every release before the flatten's frame.
    let d2 = record.layers[1].t_il().unwrap();
    assert!(d2 > 0);
    assert_eq!(record.layers[2].delays, [0, d2]);
    let d4 = record.layers[4].frame_origin;
    assert_eq!(record.layers[4].delays, [0, d4]);
    let expect = [
        format!("  layer 2 joins: own from layer 1 (delay 0), identity from layer 0 (delay {d2}); 32 delayed spikes"),
        format!("  layer 4 joins: own from layer 3 (delay 0), dense from the input (delay {d4}); 16 delayed spikes"),
    ];
    for line in &expect {
        assert!(table.lines().any(|l| l == line), "no `{line}` in:\n{table}");
    }
}

#[test]
fn the_raster_draws_each_delay_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let graph = branching();
    let record = run(&graph);
    let path = dir.path().join("r.svg");
    plot::raster(&graph, &record, "joins", &path).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    let (d2, d4) = (record.layers[2].delays[1], record.layers[4].delays[1]);
    for label in [
        format!("delay {d2} from layer 0"),
        format!("delay {d4} from the input"),
        "purple: a join".to_string(),
    ] {
        assert!(svg.contains(&label), "no `{label}` in the raster");
    }
    // Each bracket spans the part's frame to the join's: two of the buffers' colour.
    assert_eq!(svg.matches("stroke=\"#7828A0\"").count(), 2);
    // A chain has none.
    let chain = GraphBuilder::new(Shape::flat(2), 5.0)
        .dense(2, vec![-1.0, 0.0, 0.0, -1.0], None)
        .output(2, vec![1.0, 0.0, 0.0, 1.0], None)
        .build()
        .unwrap();
    plot::raster(&chain, &run(&chain), "chain", &path).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(!svg.contains("delay") && !svg.contains("#7828A0"));
}

/// conv - relu - conv - relu - conv + identity from the first relu - relu - flatten - dense:
/// graph layers 0, 1, 2 (the join), 3 (flatten), 4 (output).
fn residual() -> Dnn {
    let conv = |c_in: usize, seed| DnnLayer::Conv2d {
        out_channels: 2,
        window: Window::square(3, 1, 1),
        weights: values(seed, 2 * c_in * 9, 0.5),
        bias: Some(values(seed + 100, 2, 0.2)),
    };
    Dnn::new(
        Shape::new(1, 4, 4),
        vec![
            conv(1, 1),
            DnnLayer::Relu,
            conv(2, 2),
            DnnLayer::Relu,
            conv(2, 3),
            DnnLayer::Shortcut {
                from: DnnSource::Layer(1),
                projection: None,
            },
            DnnLayer::Relu,
            DnnLayer::Flatten,
            DnnLayer::Dense {
                outputs: 3,
                weights: values(4, 3 * 32, 0.3),
                bias: None,
            },
        ],
    )
    .unwrap()
}

fn report(dnn: &Dnn) -> Report {
    let graph = Arc::new(convert(dnn, 5.0, TilPolicy::Dynamic).unwrap());
    let data = Images {
        shape: Shape::new(1, 4, 4),
        values: values(11, 4 * 16, 1.0).iter().map(|v| v.abs()).collect(),
        labels: Some(vec![0, 1, 2, 0]),
    };
    let eval = evaluate(&graph, dnn, None, &data, &EvalConfig::default(), |_| {}).unwrap();
    let setup = Setup {
        model: "m".into(),
        relu_model: None,
        data: "d".into(),
        leak: 5.0,
        til: "Dynamic".into(),
        tick_mode: "ClosedForm".into(),
        threads: Some(1),
    };
    Report::new(&eval, setup)
}

#[test]
fn the_run_report_gives_each_join_its_delays() {
    let report = report(&residual());
    let table = report.table();
    let join = &report.layers[2];
    assert_eq!(join.source.as_deref(), Some("layer 1"));
    assert_eq!(join.join_parts.len(), 2);
    let (own, identity) = (&join.join_parts[0], &join.join_parts[1]);
    assert_eq!(
        (own.source.as_str(), own.synapses.as_str(), own.delay_max),
        ("layer 1", "own", 0)
    );
    assert_eq!(
        (identity.source.as_str(), identity.synapses.as_str()),
        ("layer 0", "identity")
    );
    assert!(identity.delay_max > 0 && identity.delay_mean > 0.0);
    // Layer 1's T_il, in every image.
    assert_eq!(Some(identity.delay_mean), report.layers[1].t_il_mean);
    assert_eq!(identity.delayed_spikes, 32.0);
    assert_eq!(join.delayed_spikes, Some(32.0));
    let line = format!(
        "  layer 2 joins: own from layer 1 (delay 0), identity from layer 0 (delay mean {:.2}, \
         max {}); delayed spikes 32.0 per image",
        identity.delay_mean, identity.delay_max
    );
    assert!(table.lines().any(|l| l == line), "no `{line}` in:\n{table}");
    assert!(table.contains("Joins (delay o - o_g"), "{table}");
    // The rows are numbered for the joins to refer to.
    assert!(table.contains("\n  2 conv2d          2x4x4 "), "{table}");
    // JSON: the join's parts; every layer's source; no parts elsewhere.
    let json = serde_json::to_value(&report).unwrap();
    let parts = &json["layers"][2]["join_parts"];
    assert_eq!(parts[1]["source"], "layer 0");
    assert_eq!(parts[1]["synapses"], "identity");
    assert_eq!(parts[1]["delay_max"], identity.delay_max);
    assert_eq!(json["layers"][2]["delayed_spikes"], 32.0);
    assert_eq!(json["layers"][0]["source"], "input");
    assert!(json["layers"][1].get("join_parts").is_none());
}

#[test]
fn a_chain_report_has_no_joins_in_text_or_json() {
    let chain = Dnn::new(
        Shape::new(1, 4, 4),
        vec![
            DnnLayer::Conv2d {
                out_channels: 2,
                window: Window::square(3, 1, 1),
                weights: values(1, 18, 0.5),
                bias: None,
            },
            DnnLayer::Relu,
            DnnLayer::Dense {
                outputs: 3,
                weights: values(4, 3 * 32, 0.3),
                bias: None,
            },
        ],
    )
    .unwrap();
    let report = report(&chain);
    let table = report.table();
    assert!(
        !table.contains("join") && !table.contains("Join"),
        "{table}"
    );
    assert!(table.contains("\n  conv2d         2x4x4 "), "{table}");
    let json = serde_json::to_value(&report).unwrap();
    for layer in json["layers"].as_array().unwrap() {
        let mut keys: Vec<&str> = layer
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "kind",
                "shape",
                "snn_engine",
                "snn_paper",
                "spike_time_max",
                "spike_time_mean",
                "t_il_max",
                "t_il_mean"
            ]
        );
    }
}

#[test]
fn the_shipped_resnet_shows_its_joins_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let resnet = fixtures().join("resnet");
    let model = resnet.join("resnet-g.onnx");
    let model = model.to_str().unwrap();
    let inspect = tdsnn(dir.path(), &["inspect", model]);
    assert!(inspect.ok, "{}", inspect.stderr);
    for line in [
        "engine graph (the layers `tdsnn run` numbers its joins by):",
        "      from layer 1, + identity from layer 0 (weight -1)",
    ] {
        assert!(
            inspect.stdout.lines().any(|l| l == line),
            "no `{line}` in:\n{}",
            inspect.stdout
        );
    }
    let inputs = resnet.join("resnet.inputs.npy");
    let relu = resnet.join("resnet-relu.onnx");
    let run = tdsnn(
        dir.path(),
        &[
            "run",
            "--model",
            model,
            "--relu-model",
            relu.to_str().unwrap(),
            "--leak",
            "5",
            "--npy",
            inputs.to_str().unwrap(),
            "--limit",
            "2",
            "--threads",
            "2",
            "--dump",
            "d.npz",
            "--raster",
            "r.svg",
        ],
    );
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    let joins: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("  layer ") && l.contains(" joins: "))
        .collect();
    assert_eq!(joins.len(), 3, "{}", run.stdout);
    assert!(joins[0].starts_with(
        "  layer 2 joins: own from layer 1 (delay 0), identity from layer 0 (delay mean "
    ));
    assert!(joins[1].starts_with(
        "  layer 4 joins: own from layer 3 (delay 0), conv2d from layer 2 (delay mean "
    ));
    let svg = std::fs::read_to_string(dir.path().join("r.svg")).unwrap();
    assert_eq!(svg.matches(" from layer ").count(), 3, "a label per buffer");
    let dump = std::fs::read(dir.path().join("d.npz")).unwrap();
    let named = |name: &str| dump.windows(name.len()).any(|w| w == name.as_bytes());
    for k in [2, 4, 6] {
        assert!(named(&format!("layer{k}_delays.npy")), "layer {k}");
    }
    assert!(!named("layer3_delays.npy"), "a layer that does not join");
}
