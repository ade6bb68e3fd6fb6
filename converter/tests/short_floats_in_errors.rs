//! Numbers in error messages print in short form: a leak constant of 1e-300 reads
//! `1e-300`, not three hundred digits, in the converter's messages and the engine's alike.

use tdsnn_converter::{convert, reference_forward, Dnn, DnnLayer, ModelError, Shape, TilPolicy};
use tdsnn_engine::{ErrorKind, GraphBuilder};

fn dense() -> Dnn {
    Dnn::new(
        Shape::flat(2),
        vec![DnnLayer::Dense {
            outputs: 1,
            weights: vec![0.5, -0.5],
            bias: None,
        }],
    )
    .unwrap()
}

#[track_caller]
fn assert_short(message: &str, expected: &str) {
    assert!(message.contains(expected), "{message}");
    assert!(
        message.len() < 120,
        "{} characters: {message}",
        message.len()
    );
}

#[test]
fn a_tiny_leak_prints_short_in_the_reference() {
    let err = reference_forward(&dense(), &[0.5, 0.5], 1e-300).unwrap_err();
    assert_short(
        &err.to_string(),
        "leak constant L = 1e-300 must be finite and in [0.01, 1000.0]",
    );
}

#[test]
fn a_tiny_or_huge_leak_prints_short_in_the_engine() {
    for (leak, text) in [
        (1e-300, "L = 1e-300 "),
        (1e300, "L = 1e300 "),
        (f64::NAN, "L = NaN "),
    ] {
        let err = convert(&dense(), leak, TilPolicy::Dynamic).unwrap_err();
        assert_short(&err.to_string(), text);
        let err = GraphBuilder::new(Shape::flat(2), leak)
            .output(1, vec![0.5, 0.5], None)
            .build()
            .unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::InvalidLeak { leak: l, .. }
                if l.to_bits() == leak.to_bits()),
            "{err:?}"
        );
        assert_short(&err.to_string(), text);
    }
}

#[test]
fn a_huge_threshold_prints_short() {
    let err = GraphBuilder::new(Shape::flat(2), 5.0)
        .threshold(1e300)
        .output(1, vec![0.5, 0.5], None)
        .build()
        .unwrap_err();
    assert_eq!(
        err.kind(),
        &ErrorKind::InvalidThreshold { threshold: 1e300 }
    );
    assert_short(
        &err.to_string(),
        "firing threshold 1e300 must be finite and <= 0",
    );
}

#[test]
fn a_non_finite_weight_prints_short() {
    let err = Dnn::new(
        Shape::flat(2),
        vec![DnnLayer::Dense {
            outputs: 1,
            weights: vec![0.5, f32::INFINITY],
            bias: None,
        }],
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            ModelError::NonFinite {
                layer: 0,
                tensor: "weights",
                index: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_short(&err.to_string(), "weights[1] = inf is not finite");
}
