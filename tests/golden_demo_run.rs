//! Golden: the demo network (seeded weights, seeded images) gives the same records, bit for
//! bit, as when this file was written, on every platform (all transcendentals go through
//! `libm`). A change here means spike times changed: find out why before updating the pins.

use tdsnn::converter::convert;
use tdsnn::demo;
use tdsnn::engine::{Simulator, TickMode, TilPolicy};

#[test]
fn demo_network_records_are_pinned() {
    let dnn = demo::network(2019);
    let images = demo::images(2019, 8);
    let graph = convert(&dnn, 5.0, TilPolicy::Dynamic).unwrap();
    for mode in [TickMode::Explicit, TickMode::ClosedForm] {
        let mut sim = Simulator::new(&graph, mode);
        let records: Vec<_> = images
            .iter()
            .map(|x| sim.run(x, &mut ()).unwrap())
            .collect();
        // Readable pins: the first image's releases and classes of all eight.
        let releases: Vec<Option<u32>> = records[0].layers.iter().map(|l| l.release).collect();
        assert_eq!(releases, PINNED_RELEASES, "{mode:?}");
        let classes: Vec<usize> = records.iter().map(|r| r.output.class).collect();
        assert_eq!(classes, PINNED_CLASSES, "{mode:?}");
        let digests: Vec<u32> = records.iter().map(|r| r.digest()).collect();
        assert_eq!(digests, PINNED_DIGESTS, "{mode:?}");
    }
}

const PINNED_RELEASES: [Option<u32>; 7] =
    [Some(4), None, Some(12), Some(23), None, Some(35), Some(49)];
const PINNED_CLASSES: [usize; 8] = [5; 8];
const PINNED_DIGESTS: [u32; 8] = [
    3639288742, 3248061885, 3353547551, 4272863859, 3895938144, 3480812071, 2032170352, 1181420684,
];
