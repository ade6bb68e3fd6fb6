//! Residual networks in the converter: the reference DNN of a small network with an identity
//! shortcut, two projection shortcuts and a concat, against values computed here by hand;
//! the graph `convert` makes of it (sources, groups, signs, layouts, the folded bias); the
//! operation counts; and every rule of joins refused with its own message.

use tdsnn_converter::{
    convert, layer_map, reference_forward, relu_forward, Dnn, DnnLayer, ModelError, Projection,
    Shape, Source, TilPolicy, Window,
};
use tdsnn_engine::coding::g;
use tdsnn_engine::graph::{Group, Source as GraphSource, Synapses};
use tdsnn_engine::Layer;

const L: f64 = 5.0;

fn dense(outputs: u32, weights: &[f32], bias: Option<&[f32]>) -> DnnLayer {
    DnnLayer::Dense {
        outputs,
        weights: weights.to_vec(),
        bias: bias.map(<[f32]>::to_vec),
    }
}

/// A 1x1 projection from `c_in` to `c_out` channels (on flat tensors, a matrix).
fn projection(weights: &[f32], bias: Option<&[f32]>) -> Option<Projection<Vec<f32>>> {
    Some(Projection {
        window: Window::square(1, 1, 0),
        weights: weights.to_vec(),
        bias: bias.map(<[f32]>::to_vec),
    })
}

const W0: [f32; 4] = [0.5, -0.25, 0.75, 0.125]; // [2][2]
const B0: [f32; 2] = [0.1, -0.3];
const W3: [f32; 6] = [0.2, -0.4, 0.6, 0.1, -0.3, 0.05]; // [3][2]
const B3: [f32; 3] = [0.05, -0.1, 0.2];
const P: [f32; 6] = [0.3, 0.2, -0.1, 0.4, 0.25, -0.5]; // [3][2], from layer 2
const BP: [f32; 3] = [0.01, 0.02, -0.03];
const Q: [f32; 6] = [-0.2, 0.1, 0.15, -0.35, 0.4, 0.3]; // [3][2], from the input
const W8: [f32; 10] = [0.1, 0.2, 0.3, 0.4, 0.5, -0.5, -0.4, -0.3, -0.2, -0.1]; // [2][5]
const B8: [f32; 2] = [0.0, 0.25];

/// input (2) -> dense 2 + identity from the input -> relu (layer 2) -> dense 3 + projection
/// from layer 2 (with bias) + projection from the input -> relu (layer 6) -> concat with
/// layer 2 -> dense 2 (the output).
fn net() -> Dnn {
    Dnn::new(
        Shape::flat(2),
        vec![
            dense(2, &W0, Some(&B0)),
            DnnLayer::Shortcut {
                from: Source::Input,
                projection: None,
            },
            DnnLayer::Relu,
            dense(3, &W3, Some(&B3)),
            DnnLayer::Shortcut {
                from: Source::Layer(2),
                projection: projection(&P, Some(&BP)),
            },
            DnnLayer::Shortcut {
                from: Source::Input,
                projection: projection(&Q, None),
            },
            DnnLayer::Relu,
            DnnLayer::Concat {
                from: Source::Layer(2),
            },
            dense(2, &W8, Some(&B8)),
        ],
    )
    .unwrap()
}

/// `W x + b` for `W` in PyTorch layout `[out][in]`, in f64.
fn affine(w: &[f32], x: &[f64], b: Option<&[f32]>) -> Vec<f64> {
    w.chunks_exact(x.len())
        .enumerate()
        .map(|(j, row)| {
            let s: f64 = row.iter().zip(x).map(|(&w, &x)| f64::from(w) * x).sum();
            s + b.map_or(0.0, |b| f64::from(b[j]))
        })
        .collect()
}

fn add(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| a + b).collect()
}

fn relu(a: &[f64]) -> Vec<f64> {
    a.iter().map(|&v| v.max(0.0)).collect()
}

/// The network by hand, every synapse group seeing `f` of its source.
fn by_hand(input: &[f32], f: impl Fn(f64) -> f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let x: Vec<f64> = input.iter().map(|&v| f64::from(v)).collect();
    let fx: Vec<f64> = x.iter().map(|&v| f(v)).collect();
    let a0 = add(&affine(&W0, &fx, Some(&B0)), &fx);
    let h1 = relu(&a0);
    let fh1: Vec<f64> = h1.iter().map(|&v| f(v)).collect();
    let a3 = add(
        &add(&affine(&W3, &fh1, Some(&B3)), &affine(&P, &fh1, Some(&BP))),
        &affine(&Q, &fx, None),
    );
    let h2 = relu(&a3);
    let cat: Vec<f64> = h2.iter().chain(&h1).map(|&v| f(v)).collect();
    (a0, a3, affine(&W8, &cat, Some(&B8)))
}

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= 1e-12 * w.abs().max(1.0),
            "{what}: {got:?} vs {want:?}"
        );
    }
}

#[test]
fn reference_sees_g_of_every_group() {
    let dnn = net();
    assert_eq!(
        dnn.output_shape(7),
        Shape::flat(5),
        "concat: 3 + 2 channels"
    );
    for input in [[0.3f32, 1.0], [0.0, 0.0], [2.5, 0.05]] {
        let (a0, a3, logits) = by_hand(&input, |v| g(v, L));
        let r = reference_forward(&dnn, &input, L).unwrap();
        assert_close(&r.logits, &logits, "logits");
        // A conv or dense layer's pre-activations are the joined ones.
        assert_close(r.layers[0].pre_activations().unwrap(), &a0, "layer 0");
        assert_close(r.layers[3].pre_activations().unwrap(), &a3, "layer 3");
        assert_close(&r.layers[5].values, &a3, "the last shortcut's running sum");
        assert_eq!(
            r.layers[5].pre_activations(),
            None,
            "a shortcut is not synaptic"
        );
        // The plain network: every group sees its source as is.
        let (_, _, plain) = by_hand(&input, |v| v);
        assert_close(&relu_forward(&dnn, &input).unwrap().logits, &plain, "relu");
    }
}

/// A bias weight as f64, whatever the engine stores it in.
fn wide(v: impl Into<f64>) -> f64 {
    v.into()
}

#[test]
fn conversion_makes_groups() {
    let dnn = net();
    let graph = convert(&dnn, L, TilPolicy::Dynamic).unwrap();
    assert_eq!(
        layer_map(&dnn),
        [
            Some(0),
            None,
            None,
            Some(1),
            None,
            None,
            None,
            None,
            Some(2)
        ]
    );
    let kinds: Vec<_> = graph.layers().iter().map(Layer::kind).collect();
    assert_eq!(kinds, ["dense", "dense", "output"]);
    let g1 = g(1.0, L);

    // Layer 0: the identity shortcut from the input, negated.
    assert_eq!(graph.source(0), GraphSource::Input);
    assert_eq!(
        graph.groups(0),
        &[Group {
            source: GraphSource::Input,
            synapses: Synapses::Identity { weight: -1.0 },
        }]
    );

    // Layer 1: two projections, negated and [in][out]; the biases summed, then / G(1).
    assert_eq!(graph.source(1), GraphSource::Layer(0));
    let groups = graph.groups(1);
    assert_eq!(groups.len(), 2);
    for (group, (source, torch)) in groups
        .iter()
        .zip([(GraphSource::Layer(0), &P), (GraphSource::Input, &Q)])
    {
        assert_eq!(group.source, source);
        let Synapses::Conv2d(conv) = &group.synapses else {
            panic!("{group:?}")
        };
        assert!(conv.bias.is_none());
        assert_eq!(conv.out_channels, 3);
        for j in 0..3 {
            for i in 0..2 {
                assert_eq!(conv.weights[i * 3 + j], -torch[j * 2 + i]);
            }
        }
    }
    let bias = graph.layers()[1].bias().unwrap();
    for j in 0..3 {
        let want = -(f64::from(B3[j]) + f64::from(BP[j])) / g1;
        // Summed in f64, divided once (the engine's bias storage decides the rounding).
        let got = wide(bias[j]);
        assert!(
            (got - want).abs() <= want.abs() * 1e-7,
            "bias {j}: {got} vs {want}"
        );
    }

    // The output: its own synapses from layer 1 (the concat's first part), a dense group
    // from layer 0 (the second part), weights not negated.
    assert_eq!(graph.source(2), GraphSource::Layer(1));
    let Layer::Output(out) = &graph.layers()[2] else {
        panic!()
    };
    let [Group {
        source: GraphSource::Layer(0),
        synapses: Synapses::Dense(part),
    }] = graph.groups(2)
    else {
        panic!("{:?}", graph.groups(2))
    };
    assert!(part.bias.is_none());
    for j in 0..2 {
        for i in 0..3 {
            assert_eq!(out.weights[i * 2 + j], W8[j * 5 + i]);
        }
        for i in 0..2 {
            assert_eq!(part.weights[i * 2 + j], W8[j * 5 + 3 + i]);
        }
        let want = f64::from(B8[j]) / g1;
        let got = wide(out.bias.as_ref().unwrap()[j]);
        assert!((got - want).abs() <= want.abs() * 1e-7, "{got} vs {want}");
    }
}

/// A conv block on a spatial tensor: max-pool, then a block whose identity shortcut starts at
/// the pool; its graph group names the max-pool layer.
#[test]
fn join_after_a_max_pool() {
    let conv = |c_in: u32, c_out: u32| DnnLayer::Conv2d {
        out_channels: c_out,
        window: Window::square(3, 1, 1),
        weights: (0..c_out * c_in * 9)
            .map(|i| ((i * 7 % 11) as f32 - 5.0) / 20.0)
            .collect(),
        bias: Some(vec![0.05; c_out as usize]),
    };
    let dnn = Dnn::new(
        Shape::new(1, 6, 6),
        vec![
            conv(1, 2),
            DnnLayer::Relu,
            DnnLayer::MaxPool {
                window: Window::square(2, 2, 0),
            },
            conv(2, 2),
            DnnLayer::Relu,
            conv(2, 2),
            DnnLayer::Shortcut {
                from: Source::Layer(2),
                projection: None,
            },
            DnnLayer::Relu,
            DnnLayer::Flatten,
            dense(2, &[0.1; 36], None),
        ],
    )
    .unwrap();
    let graph = convert(&dnn, L, TilPolicy::Dynamic).unwrap();
    let kinds: Vec<_> = graph.layers().iter().map(Layer::kind).collect();
    assert_eq!(
        kinds,
        ["conv2d", "max_pool", "conv2d", "conv2d", "flatten", "output"]
    );
    assert_eq!(
        graph.groups(3),
        &[Group {
            source: GraphSource::Layer(1),
            synapses: Synapses::Identity { weight: -1.0 },
        }]
    );
    let ops = dnn.op_counts();
    let shortcut = ops.layers.iter().find(|l| l.kind == "shortcut").unwrap();
    assert_eq!(
        (shortcut.layer, shortcut.multiplications, shortcut.additions),
        (6, 0, 18),
        "an identity shortcut: one addition per output"
    );
}

#[test]
fn projection_macs_are_counted() {
    let ops = net().op_counts();
    let rows: Vec<_> = ops
        .layers
        .iter()
        .map(|l| {
            (
                l.layer,
                l.kind,
                l.multiplications,
                l.additions,
                l.bias_additions,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (0, "dense", 4, 2, 2),
            (1, "shortcut", 0, 2, 0),
            (3, "dense", 6, 3, 3),
            (4, "shortcut", 6, 6, 3),
            (5, "shortcut", 6, 6, 0),
            (8, "dense", 10, 8, 2),
        ]
    );
}

#[test]
fn staircase_fold_refuses_shortcuts() {
    let err = tdsnn_converter::staircase::check_foldable(&net()).unwrap_err();
    assert_eq!((err.layer, err.kind), (1, "shortcut"));
}

fn join_error(input: Shape, layers: Vec<DnnLayer>) -> (usize, &'static str, String) {
    match Dnn::new(input, layers) {
        Err(ModelError::Join { layer, kind, what }) => (layer, kind, what),
        other => panic!("{other:?}"),
    }
}

#[test]
fn rules_of_joins() {
    let d =
        |outputs: u32, inputs: u32| dense(outputs, &vec![0.5; (outputs * inputs) as usize], None);
    let identity = |from| DnnLayer::Shortcut {
        from,
        projection: None,
    };
    let flat = Shape::flat(2);

    // A join needs neurons of its own.
    let (layer, kind, what) = join_error(flat, vec![d(2, 2), identity(Source::Input), d(1, 2)]);
    assert_eq!((layer, kind), (1, "shortcut"));
    assert!(what.contains("not followed by a ReLU"), "{what}");
    let (layer, _, what) = join_error(flat, vec![d(2, 2), identity(Source::Input)]);
    assert_eq!(layer, 1);
    assert!(what.contains("not followed by a ReLU"), "{what}");

    // A shortcut adds to a conv or dense layer's pre-activation.
    let (layer, _, what) = join_error(
        flat,
        vec![
            d(2, 2),
            DnnLayer::Relu,
            identity(Source::Input),
            DnnLayer::Relu,
            d(1, 2),
        ],
    );
    assert_eq!(layer, 2);
    assert!(
        what.contains("must directly follow a conv2d or dense"),
        "{what}"
    );

    // The source must be spiking: a dense layer's output is not (its ReLU's is).
    let (layer, _, what) = join_error(
        flat,
        vec![
            d(2, 2),
            DnnLayer::Relu,
            d(2, 2),
            identity(Source::Layer(0)),
            DnnLayer::Relu,
            d(1, 2),
        ],
    );
    assert_eq!(layer, 3);
    assert!(
        what.contains("refers to layer 0's output (dense)"),
        "{what}"
    );

    // The source must be earlier.
    let (layer, _, what) = join_error(
        flat,
        vec![d(2, 2), identity(Source::Layer(1)), DnnLayer::Relu, d(1, 2)],
    );
    assert_eq!(layer, 1);
    assert!(what.contains("not an earlier layer"), "{what}");

    // Identity shapes must agree.
    let (layer, _, what) = join_error(
        flat,
        vec![d(3, 2), identity(Source::Input), DnnLayer::Relu, d(1, 3)],
    );
    assert_eq!(layer, 1);
    assert!(what.contains("the shapes differ"), "{what}");

    // A concat feeds a conv or dense layer, and joins spiking tensors.
    let concat = |from| DnnLayer::Concat { from };
    let (layer, kind, what) = join_error(
        flat,
        vec![
            d(2, 2),
            DnnLayer::Relu,
            concat(Source::Input),
            DnnLayer::Relu,
            d(1, 4),
        ],
    );
    assert_eq!((layer, kind), (2, "concat"));
    assert!(
        what.contains("must be followed by a conv2d or dense"),
        "{what}"
    );
    let (layer, _, what) = join_error(flat, vec![d(2, 2), concat(Source::Input), d(1, 4)]);
    assert_eq!(layer, 1);
    assert!(what.contains("no neurons for"), "{what}");
    // Concat parts must share height and width.
    let (layer, _, what) = join_error(
        Shape::new(1, 2, 2),
        vec![
            DnnLayer::MaxPool {
                window: Window::square(2, 2, 0),
            },
            concat(Source::Input),
            d(1, 5),
        ],
    );
    assert_eq!(layer, 1);
    assert!(what.contains("heights and widths differ"), "{what}");
    // A concat's output has no neurons: no shortcut may name it.
    let (layer, _, what) = join_error(
        flat,
        vec![
            concat(Source::Input),
            d(4, 4),
            identity(Source::Layer(0)),
            DnnLayer::Relu,
            d(1, 4),
        ],
    );
    assert_eq!(layer, 2);
    assert!(what.contains("concatenation"), "{what}");
}

mod common;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every random residual network converts, one group per shortcut and per concatenated
    /// part after the first; each graph layer has its DNN layer's shape; the reference runs.
    #[test]
    fn random_residual_networks_convert(case in common::residual_case()) {
        let graph = case.graph(TilPolicy::Dynamic);
        let (identities, projections, concats) = case.problem.joins();
        let kinds: Vec<&str> = (0..graph.layers().len())
            .flat_map(|k| graph.groups(k).iter().map(|g| g.synapses.kind()))
            .collect();
        prop_assert_eq!(kinds.iter().filter(|k| **k == "identity").count(), identities);
        prop_assert_eq!(kinds.len(), identities + projections + concats);
        for (k, g) in layer_map(&case.dnn).iter().enumerate() {
            if let Some(g) = g {
                prop_assert_eq!(graph.output_shape(*g), case.dnn.output_shape(k));
            }
        }
        let r = reference_forward(&case.dnn, &case.input, case.leak).unwrap();
        prop_assert!(r.logits.iter().all(|v| v.is_finite()));
    }
}
