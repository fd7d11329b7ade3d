//! Criterion benchmarks of the Rust core: `cargo bench` (or `cargo bench -- NAME`).
//!
//! Each group compares a fill with its floor on the same machine: the exact cos schedule
//! with one `f64::cos` per step on all cores, the linear and fast schedules with writing
//! the two outputs, a sweep with the same schedules filled one by one; each vector
//! instruction level this CPU has (`levels`), which give the same values; and values at a
//! list of steps (in order, and in random order) with a window of as many steps.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use onecycle::bench_floors::{cos_floor, write_floor};
use onecycle::fill::{prepare, Accuracy, Prepared, Request};
use onecycle::{Anneal, Config, Level};

const STEPS: u64 = 1_000_000;

/// The three kinds of fill, each as a prepared 1M-step schedule.
fn kinds() -> Vec<(&'static str, Accuracy, Vec<Prepared>)> {
    [
        ("cos exact", Anneal::Cos, Accuracy::Exact),
        ("cos fast", Anneal::Cos, Accuracy::Fast),
        ("linear", Anneal::Linear, Accuracy::Exact),
    ]
    .into_iter()
    .map(|(name, anneal, accuracy)| {
        let config = Config {
            anneal,
            ..Config::new(STEPS as i64, 0.1)
        };
        (name, accuracy, prepare(&[config], 0, STEPS).unwrap())
    })
    .collect()
}

fn single(c: &mut Criterion) {
    let mut group = c.benchmark_group("schedule 1M steps");
    group.throughput(Throughput::Elements(STEPS));
    group.sample_size(20);
    let n = STEPS as usize;
    let (mut lr, mut m) = (vec![0.0f64; n], vec![0.0f64; n]);
    let (mut lr32, mut m32) = (vec![0.0f32; n], vec![0.0f32; n]);
    for (name, accuracy, prepared) in kinds() {
        let request = Request::new(&prepared, accuracy);
        group.bench_function(BenchmarkId::new(name, "f64"), |b| {
            b.iter(|| request.window(0, STEPS, &mut lr, &mut m).unwrap());
        });
        group.bench_function(BenchmarkId::new(name, "f32"), |b| {
            b.iter(|| request.window(0, STEPS, &mut lr32, &mut m32).unwrap());
        });
    }
    group.bench_function("floor: f64::cos per step", |b| {
        b.iter(|| cos_floor(black_box(n)));
    });
    group.bench_function(BenchmarkId::new("floor: write", "f64"), |b| {
        b.iter(|| write_floor(&mut lr, &mut m));
    });
    group.bench_function(BenchmarkId::new("floor: write", "f32"), |b| {
        b.iter(|| write_floor(&mut lr32, &mut m32));
    });
    group.finish();
}

fn sweep(c: &mut Criterion) {
    const ROWS: usize = 64;
    const SWEEP_STEPS: u64 = 100_000;
    let mut group = c.benchmark_group("sweep 64 max_lr x 100k steps");
    group.throughput(Throughput::Elements(ROWS as u64 * SWEEP_STEPS));
    group.sample_size(20);
    let configs: Vec<Config> = (1..=ROWS)
        .map(|i| Config::new(SWEEP_STEPS as i64, 0.01 * i as f64))
        .collect();
    let n = SWEEP_STEPS as usize;
    let (mut lr, mut m) = (vec![0.0f64; n * ROWS], vec![0.0f64; n * ROWS]);
    let prepared = prepare(&configs, 0, SWEEP_STEPS).unwrap();
    let request = Request::new(&prepared, Accuracy::Exact);
    group.bench_function("one call", |b| {
        b.iter(|| request.window(0, SWEEP_STEPS, &mut lr, &mut m).unwrap());
    });
    let singles: Vec<_> = configs
        .iter()
        .map(|c| prepare(std::slice::from_ref(c), 0, SWEEP_STEPS).unwrap())
        .collect();
    group.bench_function("64 calls", |b| {
        b.iter(|| {
            for (p, (l, mo)) in singles.iter().zip(lr.chunks_mut(n).zip(m.chunks_mut(n))) {
                let request = Request::new(p, Accuracy::Exact);
                request.window(0, SWEEP_STEPS, l, mo).unwrap();
            }
        });
    });
    group.finish();
}

fn levels(c: &mut Criterion) {
    let mut group = c.benchmark_group("levels 1M steps");
    group.throughput(Throughput::Elements(STEPS));
    group.sample_size(20);
    let n = STEPS as usize;
    let (mut lr, mut m) = (vec![0.0f64; n], vec![0.0f64; n]);
    for (name, accuracy, prepared) in kinds() {
        for level in Level::available() {
            let request = Request {
                level,
                ..Request::new(&prepared, accuracy)
            };
            group.bench_function(BenchmarkId::new(name, level.name()), |b| {
                b.iter(|| request.window(0, STEPS, &mut lr, &mut m).unwrap());
            });
        }
    }
    group.finish();
}

fn small(c: &mut Criterion) {
    let prepared = prepare(&[Config::new(1_000, 0.1)], 0, 1_000).unwrap();
    let (mut lr, mut m) = (vec![0.0f64; 1_000], vec![0.0f64; 1_000]);
    let request = Request::new(&prepared, Accuracy::Exact);
    c.bench_function("schedule 1,000 steps (one thread)", |b| {
        b.iter(|| request.window(0, 1_000, &mut lr, &mut m).unwrap());
    });
}

/// `n` steps in `0..n` in a fixed random order (xorshift64*, repeats included).
fn random_steps(n: u64) -> Vec<i64> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    (0..n)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_f491_4f6c_dd1d) % n) as i64
        })
        .collect()
}

fn steps(c: &mut Criterion) {
    let mut group = c.benchmark_group("steps vs window 1M values");
    group.throughput(Throughput::Elements(STEPS));
    group.sample_size(20);
    let n = STEPS as usize;
    let (mut lr, mut m) = (vec![0.0f64; n], vec![0.0f64; n]);
    let sorted: Vec<i64> = (0..STEPS as i64).collect();
    let random = random_steps(STEPS);
    for (name, accuracy, prepared) in kinds() {
        let request = Request::new(&prepared, accuracy);
        group.bench_function(BenchmarkId::new(name, "window"), |b| {
            b.iter(|| request.window(0, STEPS, &mut lr, &mut m).unwrap());
        });
        for (order, steps) in [("sorted steps", &sorted), ("random steps", &random)] {
            group.bench_function(BenchmarkId::new(name, order), |b| {
                b.iter(|| request.steps(steps, &mut lr, &mut m).unwrap());
            });
        }
    }
    group.finish();
}

criterion_group!(benches, single, sweep, levels, small, steps);
criterion_main!(benches);
