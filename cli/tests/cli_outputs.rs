//! The command-line tool never destroys its inputs and a failed command leaves nothing that
//! looks finished: an output naming an input (directly, through a link, or by default) or
//! another output is refused before any work and the input stays byte for byte as it was;
//! an error after the work started leaves neither the output nor a temporary file; the
//! files a command writes get the usual permissions.

mod cli_support;

use cli_support::{copy, inputs_npy, lenet_g, lenet_relu, listing, tdsnn};

#[test]
fn run_refuses_every_output_that_names_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = copy(&lenet_g(), d, "model.safetensors");
    let npy = copy(&inputs_npy(), d, "inputs.npy");
    let before = (std::fs::read(&model).unwrap(), std::fs::read(&npy).unwrap());
    #[cfg(unix)]
    std::os::unix::fs::symlink("model.safetensors", d.join("link.json")).unwrap();
    let base = [
        "run",
        "--model",
        "model.safetensors",
        "--npy",
        "inputs.npy",
        "--limit",
        "1",
    ];
    let mut cases = Vec::new();
    for flag in ["--json", "--raster", "--dump"] {
        for target in ["model.safetensors", "inputs.npy", "./sub/../inputs.npy"] {
            cases.push((flag, target));
        }
    }
    #[cfg(unix)]
    cases.push(("--json", "link.json"));
    std::fs::create_dir(d.join("sub")).unwrap();
    for (flag, target) in cases {
        let run = tdsnn(d, &[&base[..], &[flag, target]].concat());
        assert!(!run.ok, "{flag} {target} was accepted");
        assert!(
            run.stderr.contains("refusing to overwrite an input") && run.stderr.contains(flag),
            "{flag} {target}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "work was done: {}", run.stdout);
    }
    assert_eq!(
        (std::fs::read(&model).unwrap(), std::fs::read(&npy).unwrap()),
        before
    );
}

#[test]
fn run_refuses_two_outputs_on_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let npy = inputs_npy();
    let run = tdsnn(
        dir.path(),
        &[
            "run",
            "--npy",
            npy.to_str().unwrap(),
            "--json",
            "out",
            "--dump",
            "out",
        ],
    );
    run.assert_refused(&["--dump out and --json out name the same file"]);
    assert!(listing(dir.path()).is_empty(), "{:?}", listing(dir.path()));
}

#[test]
fn convert_refuses_to_overwrite_its_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = copy(&lenet_g(), d, "m.safetensors");
    // A model file named like a graph file: the default output would be the input itself.
    let named = copy(&lenet_g(), d, "m.tdsnn");
    let original = std::fs::read(&model).unwrap();
    let overwrite = "is the model file: refusing to overwrite an input";
    for (args, message) in [
        (
            &["convert", "m.safetensors", "-o", "m.safetensors"][..],
            overwrite,
        ),
        (
            &["convert", "m.safetensors", "--save-model", "m.safetensors"],
            overwrite,
        ),
        (&["convert", "m.tdsnn"], overwrite),
        (
            &["convert", "m.safetensors", "-o", "g", "--save-model", "g"],
            "--save-model g and --output g name the same file",
        ),
    ] {
        let run = tdsnn(d, args);
        assert!(!run.ok, "{args:?} was accepted");
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
    }
    assert_eq!(std::fs::read(&model).unwrap(), original);
    assert_eq!(std::fs::read(&named).unwrap(), original);
    assert_eq!(listing(d), ["m.safetensors", "m.tdsnn"]);
}

#[test]
fn train_refuses_to_overwrite_its_starting_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let from = copy(&lenet_g(), d, "lenet5-g-L5.safetensors");
    let original = std::fs::read(&from).unwrap();
    let run = tdsnn(
        d,
        &[
            "train",
            "--from",
            "lenet5-g-L5.safetensors",
            "--out-dir",
            ".",
        ],
    );
    run.assert_refused(&["is the --from model"]);
    assert!(
        !run.stdout.contains("loss"),
        "training started: {}",
        run.stdout
    );
    assert_eq!(std::fs::read(&from).unwrap(), original);
}

#[test]
fn sweep_refuses_to_overwrite_its_starting_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("s")).unwrap();
    let from = copy(&lenet_relu(), &d.join("s"), "sweep.csv");
    let original = std::fs::read(&from).unwrap();
    let run = tdsnn(d, &["sweep", "--from", "s/sweep.csv", "--out-dir", "s"]);
    run.assert_refused(&["is the --from model"]);
    assert!(
        !run.stdout.contains("loss"),
        "training started: {}",
        run.stdout
    );
    assert_eq!(std::fs::read(&from).unwrap(), original);
    assert_eq!(listing(&d.join("s")), ["sweep.csv"]);
}

#[test]
fn bench_refuses_to_overwrite_a_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let model = lenet_g();
    let original = std::fs::read(&model).unwrap();
    let run = tdsnn(dir.path(), &["bench", "--json", model.to_str().unwrap()]);
    run.assert_refused(&["refusing to overwrite an input"]);
    assert_eq!(std::fs::read(&model).unwrap(), original);
}

#[test]
fn a_run_that_fails_after_its_checks_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let npy = inputs_npy();
    // A fixed T_il of one step is shorter than the first layer's spikes: the engine
    // rejects the first image, after the outputs were declared.
    let run = tdsnn(
        d,
        &[
            "run",
            "--npy",
            npy.to_str().unwrap(),
            "--til",
            "1",
            "--limit",
            "2",
            "--json",
            "j.json",
            "--raster",
            "r.svg",
            "--dump",
            "d.npz",
        ],
    );
    run.assert_refused(&["T_il = 1"]);
    assert!(listing(d).is_empty(), "left behind: {:?}", listing(d));
}

#[test]
fn train_that_fails_before_training_removes_the_directory_it_made() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = tdsnn(d, &["train", "--out-dir", "new/models", "--g-lr", "0"]);
    run.assert_refused(&["learning rate 0.0 of the G(x) - 1 phase must be finite and > 0"]);
    assert!(listing(d).is_empty(), "left behind: {:?}", listing(d));
}

#[cfg(unix)]
#[test]
fn outputs_get_mode_0644_under_umask_022() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let npy = inputs_npy();
    let model = lenet_g();
    let run = cli_support::tdsnn_umask_022(
        d,
        &[
            "run",
            "--npy",
            npy.to_str().unwrap(),
            "--limit",
            "2",
            "--json",
            "j.json",
            "--raster",
            "r.svg",
            "--dump",
            "d.npz",
        ],
    );
    assert!(run.ok, "{}", run.stderr);
    let run = cli_support::tdsnn_umask_022(
        d,
        &[
            "convert",
            model.to_str().unwrap(),
            "-o",
            "g.tdsnn",
            "--save-model",
            "m.safetensors",
        ],
    );
    assert!(run.ok, "{}", run.stderr);
    let names = listing(d);
    assert_eq!(
        names,
        ["d.npz", "g.tdsnn", "j.json", "m.safetensors", "r.svg"]
    );
    for name in names {
        let mode = std::fs::metadata(d.join(&name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "{name}: {:o}", mode & 0o777);
    }
    // What was written is what the commands say: the report names the images.
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("j.json")).unwrap()).unwrap();
    assert_eq!(json["images"], 2);
}

#[test]
fn outputs_never_overwrite_an_onnx_models_external_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let onnx = cli_support::fixtures().join("onnx");
    copy(&onnx.join("lenet_g_external.onnx"), d, "m.onnx");
    // The model names its data file `lenet_g_external.onnx.data`, beside it.
    let data = copy(
        &onnx.join("lenet_g_external.onnx.data"),
        d,
        "lenet_g_external.onnx.data",
    );
    let before = std::fs::read(&data).unwrap();
    let target = "./lenet_g_external.onnx.data";
    let cases: [&[&str]; 3] = [
        &[
            "run", "--model", "m.onnx", "--leak", "5", "--limit", "1", "--json", target,
        ],
        &["convert", "m.onnx", "--leak", "5", "-o", target],
        &["convert", "m.onnx", "--leak", "5", "--save-model", target],
    ];
    for args in cases {
        let run = tdsnn(d, args);
        assert!(!run.ok, "{args:?} was accepted");
        assert!(
            run.stderr.contains("refusing to overwrite an input")
                && run.stderr.contains("external data file"),
            "{args:?}: {}",
            run.stderr
        );
    }
    assert_eq!(std::fs::read(&data).unwrap(), before);
}
