//! Benchmark support, not part of the schedule: the floors a fill is measured against on
//! the same machine (`benches/core.rs`, and the Python benchmark through the binding). Each
//! does the one thing a fill cannot avoid, cut into blocks and spread over the cores as a
//! fill is.

use rayon::prelude::*;

use crate::fill::{Sample, BLOCK, PARALLEL_MIN_STEPS};

/// `f64::cos` of `n` arguments spread over `[0, pi]`, on all cores (in the same chunks as a
/// schedule), summed so the work cannot be skipped. Its time is the floor the exact cos
/// schedule is measured against: one platform cosine per step.
#[must_use]
pub fn cos_floor(n: usize) -> f64 {
    let scale = std::f64::consts::PI / n.max(1) as f64;
    let chunk = |c: usize| {
        let (lo, len) = (c * BLOCK, BLOCK.min(n - c * BLOCK));
        let base = lo as f64;
        (0..len as i32)
            .map(|k| ((base + f64::from(k)) * scale).cos())
            .sum::<f64>()
    };
    let chunks = n.div_ceil(BLOCK);
    if n >= PARALLEL_MIN_STEPS {
        (0..chunks).into_par_iter().map(chunk).sum()
    } else {
        (0..chunks).map(chunk).sum()
    }
}

/// Writes `1` into both slices on all cores, in blocks as a schedule is written. With
/// freshly allocated slices, its time is the memory-write floor.
pub fn write_floor<T: Sample>(lr: &mut [T], momentum: &mut [T]) {
    let write = |(l, m): (&mut [T], &mut [T])| {
        l.fill(T::ONE);
        m.fill(T::ONE);
    };
    if lr.len() >= PARALLEL_MIN_STEPS {
        lr.par_chunks_mut(BLOCK)
            .zip(momentum.par_chunks_mut(BLOCK))
            .for_each(write);
    } else {
        write((lr, momentum));
    }
}
