//! The bench report as tables, for a terminal.

use super::{BenchReport, EngineTiming};
use tdsnn::evaluate::report::{table2_row, TABLE2_HEADER};

/// A rate with an SI prefix: `1.23 G`.
fn si(x: f64) -> String {
    let (v, p) = match x.abs() {
        a if a >= 1e9 => (x / 1e9, "G"),
        a if a >= 1e6 => (x / 1e6, "M"),
        a if a >= 1e3 => (x / 1e3, "k"),
        _ => (x, ""),
    };
    format!("{v:.2} {p}")
}

/// A duration in nanoseconds, in a readable unit.
fn time(ns: f64) -> String {
    match ns {
        t if t >= 1e9 => format!("{:.2} s", t / 1e9),
        t if t >= 1e6 => format!("{:.2} ms", t / 1e6),
        t if t >= 1e3 => format!("{:.1} us", t / 1e3),
        t => format!("{t:.1} ns"),
    }
}

impl BenchReport {
    /// The report as tables: LeNet speeds and ratios, thread scaling, the big networks (and
    /// the delay buffers of those that join branches), and the operation table in the paper's table-2 format.
    pub fn table(&self) -> String {
        let l = &self.lenet;
        let e = &l.events;
        let mut s = format!(
            "tdsnn bench: {} LeNet images, median of {} runs, one core ({} threads available, {})\n\n",
            l.images, l.repetitions, self.host.threads_available, self.host.simd
        );
        s += &format!(
            "LeNet events per image: {:.0} paper-equivalent (DNN: {:.0} MACs), {:.0} delivered, alpha = {:.4}\n\n",
            e.paper, e.dnn_macs, e.delivered, e.alpha
        );
        s += "  measurement               time/image   images/s   paper ev/s  deliv. ev/s  ns/paper ev  ns/deliv. ev\n";
        let engine = |t: &EngineTiming| {
            format!(
                "  engine, {:<17} {:>10} {:>10} {:>12} {:>12} {:>12.3} {:>13.3}\n",
                t.mode.replace('_', " "),
                time(t.ns_per_image),
                si(t.images_per_s),
                si(t.paper_events_per_s),
                si(t.delivered_events_per_s),
                t.ns_per_paper_event,
                t.ns_per_delivered_event
            )
        };
        s += &engine(&l.closed_form);
        s += &engine(&l.explicit);
        for d in [&l.dense_batch1, &l.dense_batched] {
            s += &format!(
                "  dense f32, batch {:<8} {:>10} {:>10} {:>12}   (DNN MACs/s)\n",
                d.batch,
                time(d.ns_per_image),
                si(d.images_per_s),
                si(d.macs_per_s)
            );
        }
        let c = &self.calibration;
        s += &format!(
            "  streaming add (L2, {} KiB x2): {}adds/s, {:.3} ns/add\n\n",
            c.values * 4 / 1024,
            si(c.adds_per_s),
            c.ns_per_add
        );
        s += &format!(
            "  SNN / dense latency, closed form       {:>8.2}x   (batched dense: {:.2}x)\n",
            self.snn_vs_dense_latency_ratio, self.snn_vs_dense_batched_latency_ratio
        );
        s += &format!(
            "  SNN / dense latency, explicit ticks    {:>8.2}x\n",
            self.snn_vs_dense_latency_ratio_explicit
        );
        s += &format!(
            "  paper-equivalent event rate / add rate {:>8.3}    (delivered: {:.3})\n",
            self.event_rate_vs_add_rate, self.delivered_rate_vs_add_rate
        );
        let t = &self.thread_scaling;
        s += &format!(
            "  thread scaling, {} images: 1 thread {}images/s, {} threads {}images/s, speedup {:.2}x, records {}\n",
            t.images,
            si(t.images_per_s_1),
            t.threads,
            si(t.images_per_s_n),
            t.speedup,
            if t.records_identical { "identical" } else { "DIFFER" }
        );
        if !self.nets.is_empty() {
            s += "\nBig networks, one 3x224x224 image, closed form (SNN on 1 thread, and on N with each layer cut across them; dense on 1)\n";
            s += "  net        neurons  parameters  paper events   delivered      alpha  SNN 1 thread   dense  SNN/dense   N  SNN N threads  speedup  records    peak memory\n";
            for n in &self.nets {
                s += &format!(
                    "  {:<8} {:>9} {:>11} {:>13} {:>11} {:>10.4} {:>13} {:>7} {:>9.2}x {:>3} {:>14} {:>7.2}x  {:<9} {:>11}\n",
                    n.net,
                    si(n.neurons as f64),
                    si(n.parameters as f64),
                    si(n.events.paper),
                    si(n.events.delivered),
                    n.events.alpha,
                    time(n.snn_s * 1e9),
                    time(n.dense_s * 1e9),
                    n.snn_vs_dense_latency_ratio,
                    n.threads,
                    time(n.snn_threads_s * 1e9),
                    n.thread_speedup,
                    if n.records_identical { "identical" } else { "DIFFER" },
                    n.peak_memory_bytes.map_or("n/a".into(), |b| format!(
                        "{:.2} GiB",
                        b as f64 / f64::from(1u32 << 30)
                    ))
                );
            }
            for n in self.nets.iter().filter(|n| n.joins > 0) {
                s += &format!(
                    "  {}: {} joins, {}spikes waited in their delay buffers, largest delay {} steps\n",
                    n.net,
                    n.joins,
                    si(n.delayed_spikes as f64),
                    n.max_delay
                );
            }
        }
        for n in &self.nets {
            s += &format!(
                "\n{}, engine time per layer (from the end of the layer before: sorting its input spikes, delivering, releasing, firing)\n",
                n.net
            );
            s += &format!(
                "  layer  kind        shape             delivered   1 thread   share  {:>2} threads  events/s (1 thread)\n",
                n.threads
            );
            for l in &n.layers {
                s += &format!(
                    "  {:>5}  {:<10} {:>16} {:>11} {:>10} {:>6.1}% {:>11} {:>12}\n",
                    l.layer,
                    l.kind,
                    format!("{}x{}x{}", l.shape[0], l.shape[1], l.shape[2]),
                    si(l.delivered as f64),
                    time(l.s * 1e9),
                    100.0 * l.s / n.layers.iter().map(|l| l.s).sum::<f64>(),
                    time(l.threads_s * 1e9),
                    if l.delivered > 0 {
                        si(l.delivered as f64 / l.s)
                    } else {
                        "-".into()
                    },
                );
            }
        }
        s += "\nOperations, SNN in the paper's accounting (table 2 format)\n";
        s += TABLE2_HEADER;
        for row in &self.op_table {
            s += &table2_row(&row.net, &row.dnn, &row.snn);
        }
        s
    }
}
