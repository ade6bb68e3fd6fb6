//! One `Plan`, many threads, two ways.
//!
//! Many small images: convert the shipped LeNet-5 once, then let N threads
//! (`std::thread::scope`) each take a simulator of the same plan and run their share of the
//! MNIST test split, every run written into one reused `Record` (no allocation per image once
//! its buffers have grown).
//!
//! One large image: a ResNet-18 (random He weights, one random 3x224x224 image) on one
//! simulator that cuts each layer across N threads (`Simulator::with_threads`).
//!
//! Either way the records are bit-identical to a single-thread run: the example compares every
//! `Record` and prints the speed-ups.
//!
//! ```sh
//! cargo run --release --example threads          # as many threads as cores
//! cargo run --release --example threads -- 4     # 4 threads
//! ```

use std::error::Error;
use std::time::{Duration, Instant};

use tdsnn::io::idx::{load_split, Split};
use tdsnn::prelude::*;
use tdsnn::train::zoo::{random_image, resnet18};
use tdsnn::train::{init, Init};

/// What one share of the images gave: each image's record digest and class.
type Results = Vec<(u32, usize)>;

/// Runs `images` through a fresh simulator of `plan`, reusing one record for all of them.
fn run_share(plan: &Plan, images: &[Vec<f32>]) -> Result<Results, tdsnn::engine::Error> {
    let mut sim = plan.simulator(); // per-thread state; the plan's tables are shared
    let mut record = Record::default();
    let mut results = Vec::with_capacity(images.len());
    for image in images {
        sim.run_into(image, &mut (), &mut record)?;
        results.push((record.digest(), record.output.class));
    }
    Ok(results)
}

/// Splits `images` into `threads` contiguous shares, runs each on its own thread, and
/// concatenates the results in image order.
fn run_threads(
    plan: &Plan,
    images: &[Vec<f32>],
    threads: usize,
) -> Result<Results, Box<dyn Error>> {
    let share = images.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = images
            .chunks(share)
            .map(|chunk| scope.spawn(move || run_share(plan, chunk)))
            .collect();
        let mut all = Results::with_capacity(images.len());
        for worker in workers {
            all.extend(worker.join().map_err(|_| "a worker thread panicked")??);
        }
        Ok(all)
    })
}

/// `f`'s result and how long it took.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    (f(), start.elapsed())
}

fn main() -> Result<(), Box<dyn Error>> {
    let threads = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => std::thread::available_parallelism()?.get(),
    };
    if threads == 0 {
        return Err("give at least one thread".into());
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = read_model(root.join("fixtures/lenet/lenet5-g-L5.safetensors"))?;
    let leak = model
        .info
        .leak
        .ok_or("the model file gives no leak constant")?;
    // Built once: the graph and its tables, behind `Arc`s. `Plan` is `Send + Sync`, so the
    // threads borrow it; `plan.clone()` would share it with threads that outlive this scope.
    let plan = Plan::new(
        convert(&model.dnn, leak, TilPolicy::Dynamic)?,
        TickMode::ClosedForm,
    );
    let data = load_split(&root.join("fixtures/mnist"), Split::Test)?;
    let images: Vec<Vec<f32>> = (0..data.len()).map(|i| data.pixels(i)).collect();

    run_share(&plan, &images[..50])?; // warm up: page in the weights, grow the buffers
    let (single, one) = timed(|| run_share(&plan, &images));
    let (multi, many) = timed(|| run_threads(&plan, &images, threads));
    let (single, multi) = (single?, multi?);

    // Bit-identical, image by image: spikes, frames, releases, output potentials.
    if let Some(i) = (0..images.len()).find(|&i| single[i] != multi[i]) {
        return Err(
            format!("image {i}: the threaded record differs from the single-thread one").into(),
        );
    }
    let correct = (0..images.len())
        .filter(|&i| data.label(i).map(usize::from) == Some(single[i].1))
        .count();
    println!("{} images, {correct} classified correctly", images.len());
    println!(
        "{} records bit-identical on 1 and {threads} threads",
        images.len()
    );
    let per_image = |d: Duration| d.as_secs_f64() * 1e6 / images.len() as f64;
    println!(
        "1 thread:   {:6.2} s, {:5.0} us per image",
        one.as_secs_f64(),
        per_image(one)
    );
    println!(
        "{threads} threads: {:6.2} s, {:5.0} us per image",
        many.as_secs_f64(),
        per_image(many)
    );
    println!("speed-up {:.2}x", one.as_secs_f64() / many.as_secs_f64());
    one_large_image(threads)
}

/// One ResNet-18 image on one thread, then with each layer cut across `threads`.
fn one_large_image(threads: usize) -> Result<(), Box<dyn Error>> {
    let dnn = init(&resnet18(), Init::He, 2019)?;
    let image = random_image(dnn.input_shape(), 2019);
    let plan = Plan::new(
        convert(&dnn, 5.0, TilPolicy::Dynamic)?,
        TickMode::ClosedForm,
    );
    let mut one = plan.simulator();
    let mut cut = plan.simulator().with_threads(threads)?; // the pool starts here, once
                                                           // Warm up (and keep) one record each, then time a run of each into its record.
    let (mut alone, mut shared) = (one.run(&image, &mut ())?, cut.run(&image, &mut ())?);
    let (done, t1) = timed(|| one.run_into(&image[..], &mut (), &mut alone));
    done?;
    let (done, tn) = timed(|| cut.run_into(&image[..], &mut (), &mut shared));
    done?;
    if alone != shared {
        return Err("the record of the image cut across threads differs".into());
    }
    println!(
        "ResNet-18, one image: 1 thread {:.1} ms, {threads} threads {:.1} ms, speed-up {:.2}x, \
         record bit-identical",
        t1.as_secs_f64() * 1e3,
        tn.as_secs_f64() * 1e3,
        t1.as_secs_f64() / tn.as_secs_f64()
    );
    Ok(())
}
