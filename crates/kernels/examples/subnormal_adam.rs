//! How much subnormal floats cost Adam on this CPU, and what flushing them saves.
//!
//! `cargo run --release -p occlab-kernels --example subnormal_adam [-- ELEMENTS]`
//!
//! Times one Adam update over ELEMENTS floats (default 13 M, the CRNN's parameter count) three
//! ways, each on normal values and on subnormal ones (gradients of 1e-20, whose squares
//! underflow; first moments of 1e-39): the same loop without flushing (what `adam_step` did
//! before), and `occlab_kernels::adam_step` (which flushes). Median of 5 after one warm-up.

use occlab_kernels::{AdamStep, adam_step};
use rayon::prelude::*;
use std::time::Instant;

const STEP: AdamStep = AdamStep {
    keep_1: 0.9,
    take_1: 0.1,
    keep_2: 0.999,
    take_2: 0.001,
    combined_factor: 1.0,
    epsilon: 1e-5,
    learning_rate: 1e-3,
    weight_decay: None,
};

/// Adam's loop as `adam_step` runs it, without flushing subnormals.
fn unflushed(p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32]) {
    let s = STEP;
    p.par_chunks_mut(1 << 15)
        .zip(m.par_chunks_mut(1 << 15))
        .zip(v.par_chunks_mut(1 << 15))
        .zip(g.par_chunks(1 << 15))
        .for_each(|(((p, m), v), g)| {
            for (((p, m), v), &g) in p.iter_mut().zip(m).zip(v).zip(g) {
                let mi = *m * s.keep_1 + g * s.take_1;
                let vi = *v * s.keep_2 + (g * g) * s.take_2;
                *m = mi;
                *v = vi;
                *p -= (mi * s.combined_factor) / (vi.sqrt() + s.epsilon) * s.learning_rate;
            }
        });
}

fn median_ms(mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[2]
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("ELEMENTS is a number"))
        .unwrap_or(13_000_000);
    println!(
        "Adam over {n} floats, {} threads",
        rayon::current_num_threads()
    );
    for (what, m0, g0) in [
        ("normal values", 1e-4f32, 1e-3f32),
        ("gradients 1e-20 (squares underflow)", 1e-4, 1e-20),
        ("first moments 1e-39 (subnormal)", 1e-39, 0.0),
    ] {
        let fresh = || (vec![0.5f32; n], vec![m0; n], vec![1e-8f32; n], vec![g0; n]);
        let (mut p, mut m, mut v, g) = fresh();
        let plain = median_ms(|| unflushed(&mut p, &mut m, &mut v, &g));
        let (mut p, mut m, mut v, g) = fresh();
        let flushed = median_ms(|| adam_step(&mut p, &mut m, &mut v, &g, STEP));
        println!("  {what:38} without flushing {plain:8.1} ms   adam_step {flushed:8.1} ms");
    }
}
