//! Many values of a schedule at once: a window of steps, or any list of steps, for one
//! configuration or a broadcast sweep of them, written into caller-provided slices.
//!
//! A [`Request`] names the [`Prepared`] configurations (checked by [`prepare`] for a
//! window, [`prepare_steps`] for a list of steps) and the [`Accuracy`]; its
//! [`Request::window`] and [`Request::steps`] fill one row per configuration. The values
//! are cut into blocks of [`BLOCK`] steps. For each block, the annealing factor of every
//! step (`cos(pi * pct) + 1` for cos, `pct` for linear: the part torch's formula shares
//! between lr and momentum) is computed once into a buffer, then every configuration that
//! has the same phases (same `total_steps`, `pct_start`, `three_phase` and
//! `anneal_strategy`) turns it into its lr and momentum with one multiply and one add per
//! value. So a sweep over `max_lr`, the momenta or `div_factor` costs one cosine per step,
//! not one per step and configuration. A block with one configuration has no one to share
//! with: there the factor and the formula run in one loop (the stores then overlap the
//! next libm call). Blocks (and batches of rows within a block) are filled on all cores
//! (rayon) once the output holds [`PARALLEL_MIN_STEPS`] values, with the loops compiled
//! for the widest vector instructions the CPU has ([`crate::simd`]).
//!
//! - this file: the public API;
//! - `request`: [`Request`], what to fill and how;
//! - `base`: what the parts share (element types, accuracy, block size, [`Prepared`]);
//! - `plan`: configurations grouped by phases, rows cut into blocks and tasks;
//! - `steps`: what a loop reads, and windows of steps: each step's phase and `pct`;
//! - `list`: lists of steps in any order;
//! - `factor`: the annealing factor of one `pct` (platform cos, fast cos, linear);
//! - `kernel`: the loops, generic over the formula, compiled per vector level;
//! - `order`: the platform `cos` called class by class of its argument, for steps out of
//!   order;
//! - `replanned`: schedules re-planned at chosen steps, filled plan by plan;
//! - `alloc`: output buffers, their size checked first ([`alloc_len`], [`try_zeroed`]).

mod alloc;
mod base;
mod factor;
mod kernel;
mod list;
mod order;
mod plan;
mod replanned;
mod request;
mod steps;

pub use alloc::{alloc_len, try_zeroed};
pub use base::{Accuracy, Prepared, Sample, BLOCK, PARALLEL_MIN_STEPS};
pub use replanned::{fill_replanned, prepare_replanned, Positions as ReplannedAt, Replanned};
pub use request::{check_step_range, Request};

use crate::config::Config;
use crate::cycle::OneCycle;
use crate::error::Error;
use request::check_range;

/// The documented bound of [`Accuracy::Fast`]: each lr differs from the exact one by at
/// most this many ulp of the largest learning rate the schedule anneals between
/// (`max(initial_lr, max_lr, min_lr)`), each momentum by at most this many ulp of the
/// larger momentum. (The cosine itself is within [`crate::fast_cos::MAX_ULP`] ulp.)
pub const FAST_MAX_ULP: f64 = 2.0;

/// Checks every configuration and the window `[start, stop)` against each, before any
/// allocation or work.
///
/// # Errors
/// The first invalid configuration, wrapped in [`Error::InConfig`] when there are several.
pub fn prepare(configs: &[Config], start: u64, stop: u64) -> Result<Vec<Prepared>, Error> {
    prepare_with(configs, |config, cycle, new_phases| {
        config.check_window(start, stop)?;
        if new_phases {
            cycle.spans(start, stop)?;
        }
        Ok(())
    })
}

/// Checks every configuration and every step of `steps` against each: each step must lie
/// in `0..=total_steps`, and none in a phase of zero width.
///
/// # Errors
/// The first invalid configuration, wrapped in [`Error::InConfig`] when there are several:
/// an invalid parameter, [`Error::Step`] for its first step out of range or
/// [`Error::ZeroWidthPhase`] for its first step in a phase of zero width (in the order of
/// `steps`).
pub fn prepare_steps(configs: &[Config], steps: &[i64]) -> Result<Vec<Prepared>, Error> {
    let bounds = list::step_bounds(steps);
    prepare_with(configs, |config, cycle, new_phases| {
        check_range(steps, bounds, config.total_steps)?;
        if new_phases {
            cycle.check_steps(steps)?;
        }
        Ok(())
    })
}

/// Builds each configuration and runs `check(config, cycle, new_phases)` on it, where
/// `new_phases` is false when the one before has the same schedule (checking its phases
/// again would find the same).
fn prepare_with(
    configs: &[Config],
    mut check: impl FnMut(&Config, &OneCycle, bool) -> Result<(), Error>,
) -> Result<Vec<Prepared>, Error> {
    let wrap = |index: usize, e: Error| e.in_config(index, configs.len());
    let mut checked: Option<OneCycle> = None;
    configs
        .iter()
        .enumerate()
        .map(|(i, config)| {
            let (cycle, values) = config.build().map_err(|e| wrap(i, e))?;
            let new_phases = checked.as_ref() != Some(&cycle);
            check(config, &cycle, new_phases).map_err(|e| wrap(i, e))?;
            if new_phases {
                checked = Some(cycle.clone());
            }
            Prepared::new(cycle, &values).map_err(|e| wrap(i, e))
        })
        .collect()
}

/// Fills `lr[k]` and `momentum[k]` with one configuration's values at step `start + k`,
/// on all cores when `threads` and the window has at least [`PARALLEL_MIN_STEPS`] steps.
///
/// # Errors
/// [`Error::LengthMismatch`] for slices of different lengths,
/// [`Error::WindowOverflow`] for a window past step `u64::MAX`,
/// [`Error::ZeroWidthPhase`] where torch would divide by zero; the whole window is
/// checked before anything is written.
pub fn fill_window<T: Sample>(
    prepared: &Prepared,
    start: u64,
    (lr, momentum): (&mut [T], &mut [T]),
    threads: bool,
) -> Result<(), Error> {
    if lr.len() != momentum.len() {
        return Err(Error::LengthMismatch {
            lr: lr.len(),
            momentum: momentum.len(),
        });
    }
    let stop = start
        .checked_add(lr.len() as u64)
        .ok_or(Error::WindowOverflow {
            start,
            len: lr.len(),
        })?;
    let request = Request {
        threads,
        ..Request::new(std::slice::from_ref(prepared), Accuracy::Exact)
    };
    request.window(start, stop, lr, momentum)
}

/// Steps `[start, stop)` of one schedule as `(lr, momentum)` vectors.
///
/// # Errors
/// Any invalid parameter or window, or [`Error::TooLarge`].
pub fn schedule<T: Sample>(
    config: &Config,
    start: u64,
    stop: u64,
) -> Result<(Vec<T>, Vec<T>), Error> {
    schedule_with(config, start, stop, Accuracy::Exact)
}

/// [`schedule`] with the cosine evaluated as `accuracy` says.
///
/// # Errors
/// Any invalid parameter or window, or [`Error::TooLarge`].
pub fn schedule_with<T: Sample>(
    config: &Config,
    start: u64,
    stop: u64,
    accuracy: Accuracy,
) -> Result<(Vec<T>, Vec<T>), Error> {
    let prepared = prepare(std::slice::from_ref(config), start, stop)?;
    let (mut lr, mut momentum) = zeroed(u128::from(stop - start))?;
    Request::new(&prepared, accuracy).window(start, stop, &mut lr, &mut momentum)?;
    Ok((lr, momentum))
}

/// One schedule's `(lr, momentum)` at each of `steps` (any order, each in
/// `0..=total_steps`), with the cosine evaluated as `accuracy` says.
///
/// # Errors
/// Any invalid parameter or step, or [`Error::TooLarge`].
pub fn schedule_at_steps<T: Sample>(
    config: &Config,
    steps: &[i64],
    accuracy: Accuracy,
) -> Result<(Vec<T>, Vec<T>), Error> {
    let prepared = prepare_steps(std::slice::from_ref(config), steps)?;
    let (mut lr, mut momentum) = zeroed(steps.len() as u128)?;
    Request::new(&prepared, accuracy).steps(steps, &mut lr, &mut momentum)?;
    Ok((lr, momentum))
}

/// Two outputs of `n` values.
fn zeroed<T: Sample>(n: u128) -> Result<(Vec<T>, Vec<T>), Error> {
    Ok((try_zeroed("lr", n)?, try_zeroed("momentum", n)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cycle::{Anneal, Key, Phase};
    use crate::simd::Level;

    fn configs() -> Vec<Config> {
        let mut out = Vec::new();
        for total in [1, 2, 3, 7, 10, 97, 1000, 100_003] {
            for pct in [0.0, 0.1, 0.3, 0.5, 0.99, 1.0] {
                for three_phase in [false, true] {
                    for anneal in [Anneal::Cos, Anneal::Linear] {
                        out.push(Config {
                            pct_start: pct,
                            three_phase,
                            anneal,
                            ..Config::new(total, 0.01)
                        });
                    }
                }
            }
        }
        out
    }

    #[test]
    fn fill_matches_step_by_step() {
        for config in configs() {
            let (cycle, values) = config.build().unwrap();
            let stop = config.total_steps as u64 + 1;
            let Ok(spans) = cycle.spans(0, stop) else {
                continue;
            };
            assert!(!spans.is_empty());
            let (lr, m): (Vec<f64>, Vec<f64>) = schedule(&config, 0, stop).unwrap();
            for (s, (l, mo)) in lr.iter().zip(&m).enumerate() {
                let (el, em) = cycle.at(s as i64, &values).unwrap();
                assert_eq!((*l, *mo), (el, em), "{config:?} step {s}");
            }
        }
    }

    #[test]
    fn windows_and_float32_agree_with_the_whole() {
        let config = Config {
            three_phase: true,
            ..Config::new(200_000, 0.3)
        };
        let (full, full_m): (Vec<f64>, Vec<f64>) = schedule(&config, 0, 200_001).unwrap();
        for (a, b) in [(0, 0), (0, 1), (59_990, 60_010), (123_456, 200_001)] {
            let (lr, m): (Vec<f64>, Vec<f64>) = schedule(&config, a, b).unwrap();
            assert_eq!(lr, full[a as usize..b as usize]);
            assert_eq!(m, full_m[a as usize..b as usize]);
        }
        let (lr32, m32): (Vec<f32>, Vec<f32>) = schedule(&config, 0, 200_001).unwrap();
        assert!(lr32.iter().zip(&full).all(|(a, b)| *a == *b as f32));
        assert!(m32.iter().zip(&full_m).all(|(a, b)| *a == *b as f32));
    }

    #[test]
    fn parallel_fill_equals_sequential_fill() {
        let config = Config::new(1_000_000, 1.0);
        let (cycle, values) = config.build().unwrap();
        let prepared = Prepared::new(cycle, &values).unwrap();
        let n = 300_001;
        let (mut a, mut am) = (vec![0.0f64; n], vec![0.0f64; n]);
        let (mut b, mut bm) = (vec![0.0f64; n], vec![0.0f64; n]);
        fill_window(&prepared, 250_000, (&mut a, &mut am), false).unwrap();
        fill_window(&prepared, 250_000, (&mut b, &mut bm), true).unwrap();
        assert_eq!(a, b);
        assert_eq!(am, bm);
    }

    #[test]
    fn sweep_rows_equal_single_schedules() {
        let configs: Vec<Config> = (1..=5)
            .map(|i| Config {
                pct_start: 0.1 * f64::from(i),
                ..Config::new(5_000, 0.01 * f64::from(i))
            })
            .collect();
        let prepared = prepare(&configs, 10, 4_990).unwrap();
        let n = 4_980;
        let (mut lr, mut m) = (vec![0.0f64; n * 5], vec![0.0f64; n * 5]);
        Request::new(&prepared, Accuracy::Exact)
            .window(10, 4_990, &mut lr, &mut m)
            .unwrap();
        for (i, config) in configs.iter().enumerate() {
            let (l, mo): (Vec<f64>, Vec<f64>) = schedule(config, 10, 4_990).unwrap();
            assert_eq!(lr[i * n..(i + 1) * n], l[..]);
            assert_eq!(m[i * n..(i + 1) * n], mo[..]);
        }
    }

    #[test]
    fn sweeps_share_factors_and_equal_single_schedules() {
        // Interleaved groups (pct_start alternates), more rows than one task holds, windows
        // that start and end inside blocks, both strategies, both accuracies, both types.
        for anneal in [Anneal::Cos, Anneal::Linear] {
            let configs: Vec<Config> = (0..40)
                .map(|i| Config {
                    pct_start: [0.25, 0.3, 0.25 + 1e-12][i % 3],
                    max_lr: 0.001 * (i + 1) as f64,
                    base_momentum: 0.8 + 0.001 * i as f64,
                    three_phase: true,
                    anneal,
                    ..Config::new(20_000, 0.1)
                })
                .collect();
            let (start, stop) = (1_000, 20_001);
            let n = (stop - start) as usize;
            let prepared = prepare(&configs, start, stop).unwrap();
            for accuracy in [Accuracy::Exact, Accuracy::Fast] {
                let (mut lr, mut m) = (vec![0.0f64; n * 40], vec![0.0f64; n * 40]);
                let request = Request::new(&prepared, accuracy);
                request.window(start, stop, &mut lr, &mut m).unwrap();
                let (mut lr32, mut m32) = (vec![0.0f32; n * 40], vec![0.0f32; n * 40]);
                request.window(start, stop, &mut lr32, &mut m32).unwrap();
                for (i, config) in configs.iter().enumerate() {
                    let (l, mo): (Vec<f64>, Vec<f64>) =
                        schedule_with(config, start, stop, accuracy).unwrap();
                    let row = i * n..(i + 1) * n;
                    assert_eq!(lr[row.clone()], l[..], "{i} {accuracy:?}");
                    assert_eq!(m[row.clone()], mo[..], "{i} {accuracy:?}");
                    assert!(lr32[row.clone()]
                        .iter()
                        .zip(&l)
                        .all(|(a, b)| *a == *b as f32));
                    assert!(m32[row].iter().zip(&mo).all(|(a, b)| *a == *b as f32));
                }
            }
        }
    }

    #[test]
    fn every_level_gives_the_same_bits() {
        // One row (the fused loops) and a sweep (shared factors, and a row alone in its
        // group), every strategy, accuracy and output type, windows inside blocks and
        // across phases, the extra step.
        fn fill<T: Sample>(
            prepared: &[Prepared],
            (start, stop): (u64, u64),
            accuracy: Accuracy,
            level: Level,
        ) -> (Vec<T>, Vec<T>) {
            let n = (stop - start) as usize * prepared.len();
            let (mut lr, mut m) = (vec![T::ZERO; n], vec![T::ZERO; n]);
            let request = Request {
                level,
                ..Request::new(prepared, accuracy)
            };
            request.window(start, stop, &mut lr, &mut m).unwrap();
            (lr, m)
        }
        let levels = Level::available();
        assert_eq!(levels[0], Level::BASELINE);
        assert_eq!(levels.last(), Some(&Level::detect()));
        for sweep in sweeps() {
            let end = sweep[0].total_steps as u64 + 1;
            for window in [(0, end), (3, end - 2), (end - 1, end)] {
                for rows in [&sweep[..1], &sweep[..]] {
                    let prepared = prepare(rows, window.0, window.1).unwrap();
                    for accuracy in [Accuracy::Exact, Accuracy::Fast] {
                        let base = Level::BASELINE;
                        let want64 = fill::<f64>(&prepared, window, accuracy, base);
                        let want32 = fill::<f32>(&prepared, window, accuracy, base);
                        for &level in &levels[1..] {
                            let what = format!("{level:?} {accuracy:?} {window:?}");
                            let got = fill::<f64>(&prepared, window, accuracy, level);
                            assert!(got == want64, "{what} {:?}", rows[0]);
                            let got = fill::<f32>(&prepared, window, accuracy, level);
                            assert!(got == want32, "{what} f32 {:?}", rows[0]);
                        }
                    }
                }
            }
        }
    }

    /// Sweeps of three configurations, every strategy, two phases and three, long and
    /// short: two rows sharing their factors, and one (another `pct_start`) alone.
    fn sweeps() -> Vec<Vec<Config>> {
        let mut sweeps = Vec::new();
        for anneal in [Anneal::Cos, Anneal::Linear] {
            for (total, pct_start, three_phase) in
                [(100_003, 0.3, false), (50_000, 0.45, true), (7, 0.5, false)]
            {
                let config = |max_lr: f64| Config {
                    pct_start,
                    anneal,
                    three_phase,
                    ..Config::new(total, max_lr)
                };
                let mut sweep: Vec<Config> = (1..=3).map(|i| config(0.1 * f64::from(i))).collect();
                sweep[2].pct_start = pct_start * 0.75;
                sweeps.push(sweep);
            }
        }
        sweeps
    }

    /// The largest difference between the fast and the exact schedule, in ulp of the
    /// largest value each output anneals between (lr: max(initial, max, min); momentum:
    /// max of the momenta).
    fn fast_error(config: &Config, start: u64, stop: u64) -> f64 {
        let (_, values) = config.build().unwrap();
        let scale = |keys: &[Key]| {
            keys.iter()
                .map(|k| values.get(k).unwrap().abs())
                .fold(0.0, f64::max)
        };
        let lr_scale = scale(&[Key::INITIAL_LR, Key::MAX_LR, Key::MIN_LR]);
        let m_scale = scale(&[Key::MAX_MOMENTUM, Key::BASE_MOMENTUM]);
        let (lr, m): (Vec<f64>, Vec<f64>) =
            schedule_with(config, start, stop, Accuracy::Exact).unwrap();
        let (flr, fm): (Vec<f64>, Vec<f64>) =
            schedule_with(config, start, stop, Accuracy::Fast).unwrap();
        let ulps = |a: &[f64], b: &[f64], s: f64| {
            let ulp = f64::from_bits(s.to_bits() + 1) - s;
            a.iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs() / ulp)
                .fold(0.0, f64::max)
        };
        ulps(&flr, &lr, lr_scale).max(ulps(&fm, &m, m_scale))
    }

    #[test]
    fn fast_mode_stays_within_its_bound() {
        for (total, pct, three) in [
            (1_000_003, 0.3, false),
            (777_777, 0.45, true),
            (10, 0.95, false),
        ] {
            for anneal in [Anneal::Cos, Anneal::Linear] {
                let config = Config {
                    pct_start: pct,
                    three_phase: three,
                    anneal,
                    ..Config::new(total, 0.7)
                };
                let err = fast_error(&config, 0, total as u64 + 1);
                assert!(err <= FAST_MAX_ULP, "{config:?}: {err} ulp");
                if anneal == Anneal::Linear {
                    assert_eq!(err, 0.0);
                }
            }
        }
    }

    #[test]
    fn far_windows_of_huge_schedules() {
        let config = Config::new(i64::MAX, 0.1);
        let (cycle, values) = config.build().unwrap();
        let start = (1u64 << 62) + 12_345;
        let (lr, m): (Vec<f64>, Vec<f64>) = schedule(&config, start, start + 100).unwrap();
        for (k, (l, mo)) in lr.iter().zip(&m).enumerate() {
            assert_eq!(
                (*l, *mo),
                cycle.at((start + k as u64) as i64, &values).unwrap()
            );
        }
        // The extra step of the largest schedule ends the window at 2**63, past i64.
        let last = i64::MAX as u64;
        let (lr, _): (Vec<f64>, Vec<f64>) = schedule(&config, last, last + 1).unwrap();
        assert_eq!(lr.len(), 1);
    }

    #[test]
    fn errors_come_before_allocation() {
        let config = Config::new(10_i64.pow(15), 0.1);
        let err = schedule::<f64>(&config, 0, 10_u64.pow(15)).unwrap_err();
        assert!(err.is_memory(), "{err}");
        let bad = Config::new(10, 0.1);
        assert!(matches!(
            schedule::<f64>(&bad, 0, 12),
            Err(Error::Window { .. })
        ));
        let zero_width = Config {
            pct_start: 0.1,
            ..Config::new(10, 0.1)
        };
        assert!(matches!(
            schedule::<f64>(&zero_width, 0, 10),
            Err(Error::ZeroWidthPhase { .. })
        ));
        assert!(schedule::<f64>(&zero_width, 1, 11).is_ok());
        let configs = [Config::new(10, 0.1), zero_width];
        let err = prepare(&configs, 0, 10).unwrap_err();
        assert!(matches!(err, Error::InConfig { index: 1, .. }), "{err}");
    }

    #[test]
    fn mismatched_outputs_are_errors_not_panics() {
        let (cycle, values) = Config::new(10, 0.1).build().unwrap();
        let one = Prepared::new(cycle, &values).unwrap();
        let (mut a, mut b) = (vec![0.0f64; 3], vec![0.0f64; 4]);
        assert!(matches!(
            fill_window(&one, 0, (&mut a, &mut b), false),
            Err(Error::LengthMismatch { .. })
        ));
        let prepared = prepare(&[Config::new(10, 0.1)], 0, 5).unwrap();
        let request = Request::new(&prepared, Accuracy::Exact);
        assert!(request.window(0, 5, &mut a, &mut b).is_err());
        let (mut c, mut d) = (vec![0.0f64; 3], vec![0.0f64; 3]);
        let err = fill_window(&one, u64::MAX - 1, (&mut c, &mut d), false).unwrap_err();
        assert!(matches!(err, Error::WindowOverflow { len: 3, .. }), "{err}");
    }

    /// `n` steps in `0..=total` from a small deterministic generator (xorshift64*).
    fn random_steps(n: usize, total: i64, mut state: u64) -> Vec<i64> {
        (0..n)
            .map(|_| {
                state ^= state >> 12;
                state ^= state << 25;
                state ^= state >> 27;
                (state.wrapping_mul(0x2545_f491_4f6c_dd1d) % (total as u64 + 1)) as i64
            })
            .collect()
    }

    /// Row `i` of a request's window (or steps) output.
    fn row<T: Copy>(out: &[T], i: usize, len: usize) -> &[T] {
        &out[i * len..(i + 1) * len]
    }

    /// Both outputs of `request` at `steps`.
    fn at_steps<T: Sample>(request: Request<'_>, steps: &[i64]) -> (Vec<T>, Vec<T>) {
        let n = steps.len() * request.prepared.len();
        let (mut lr, mut m) = (vec![T::ZERO; n], vec![T::ZERO; n]);
        request.steps(steps, &mut lr, &mut m).unwrap();
        (lr, m)
    }

    /// Checks that `request` at `steps` gives, in each row, the values of the same
    /// request's window `[start, start + len)` at those steps.
    fn check_steps_against_window<T: Sample + PartialEq + std::fmt::Debug>(
        request: Request<'_>,
        (start, len): (u64, usize),
        steps: &[i64],
    ) {
        let n = len * request.prepared.len();
        let (mut lr, mut m) = (vec![T::ZERO; n], vec![T::ZERO; n]);
        let window = Request {
            level: Level::BASELINE,
            ..request
        };
        window
            .window(start, start + len as u64, &mut lr, &mut m)
            .unwrap();
        let (got_lr, got_m) = at_steps::<T>(request, steps);
        for i in 0..request.prepared.len() {
            let (lr, m) = (row(&lr, i, len), row(&m, i, len));
            let (got_lr, got_m) = (row(&got_lr, i, steps.len()), row(&got_m, i, steps.len()));
            for (k, &s) in steps.iter().enumerate() {
                let at = (s as u64 - start) as usize;
                assert!(
                    (got_lr[k], got_m[k]) == (lr[at], m[at]),
                    "row {i} steps[{k}] = {s}, {:?} {:?}",
                    request.accuracy,
                    request.level
                );
            }
        }
    }

    #[test]
    fn steps_equal_windows_at_those_steps() {
        // Random (unsorted, repeated), reversed and repeated steps with the extra step,
        // both strategies, two and three phases, one row (fused) and a sweep (shared
        // factors and a row alone), both accuracies and types, every level.
        for sweep in sweeps() {
            let total = sweep[0].total_steps;
            let end = total as u64 + 1;
            let lists = [
                random_steps(5_000, total, total as u64),
                (0..=total).rev().take(3_000).collect(),
                vec![total, 0, total, 1, 1, total / 2, total],
                Vec::new(),
            ];
            for rows in [&sweep[..1], &sweep[..]] {
                let prepared = prepare(rows, 0, end).unwrap();
                for steps in &lists {
                    assert_eq!(prepare_steps(rows, steps).unwrap(), prepared);
                    for accuracy in [Accuracy::Exact, Accuracy::Fast] {
                        for level in Level::available() {
                            let request = Request {
                                level,
                                ..Request::new(&prepared, accuracy)
                            };
                            let whole = (0, end as usize);
                            check_steps_against_window::<f64>(request, whole, steps);
                            check_steps_against_window::<f32>(request, whole, steps);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn only_exact_cos_at_steps_out_of_order_is_called_class_by_class() {
        // Each request fills on this thread (below PARALLEL_MIN_STEPS values).
        let blocks = || order::tests::BLOCKS.with(std::cell::Cell::get);
        let config = Config::new(20_000, 0.1);
        let random = random_steps(5_000, 20_000, 3);
        let mut sorted = random.clone();
        sorted.sort_unstable();
        let reversed: Vec<i64> = sorted.iter().rev().copied().collect();
        let narrow: Vec<i64> = random.iter().map(|s| 9_000 + s % 500).collect();
        let linear = Config {
            anneal: Anneal::Linear,
            ..config
        };
        let cases = [
            (config, Accuracy::Exact, &random, true),
            (config, Accuracy::Exact, &sorted, false),
            (config, Accuracy::Exact, &reversed, false),
            (config, Accuracy::Exact, &narrow, false),
            (config, Accuracy::Fast, &random, false),
            (linear, Accuracy::Exact, &random, false),
        ];
        for (config, accuracy, steps, by_class) in cases {
            let prepared = prepare_steps(&[config], steps).unwrap();
            let before = blocks();
            at_steps::<f64>(Request::new(&prepared, accuracy), steps);
            let called = blocks() - before;
            assert_eq!(
                called > 0,
                by_class,
                "{accuracy:?} {config:?}: {called} blocks"
            );
        }
    }

    #[test]
    fn steps_in_some_of_the_phases_equal_windows() {
        // Blocks whose steps fall in one, two or all three phases (each block picks among
        // just those), and in phases 0 and 2 only (so also 1).
        let config = Config {
            three_phase: true,
            ..Config::new(3_000, 0.1)
        };
        let (cycle, _) = config.build().unwrap();
        let spans = cycle.spans(0, 3_001).unwrap();
        let phase = |i: usize| spans[i].steps.start as i64..spans[i].steps.end as i64;
        let phases: [&[usize]; 7] = [&[0], &[1], &[2], &[0, 1], &[1, 2], &[0, 2], &[0, 1, 2]];
        let mut lists: Vec<Vec<i64>> = phases
            .iter()
            .map(|phases| {
                let steps = random_steps(3_000, 3_000, 11).into_iter();
                steps
                    .filter(|s| phases.iter().any(|&i| phase(i).contains(s)))
                    .collect()
            })
            .collect();
        // Steps in any order in one quadrant of the fast cosine, and the extra step alone.
        lists.push(vec![1_000, 1_100, 1_010, 1_090, 1_050]);
        lists.push(vec![3_000, 3_000]);
        for steps in lists {
            let prepared = prepare_steps(&[config], &steps).unwrap();
            for level in Level::available() {
                for accuracy in [Accuracy::Exact, Accuracy::Fast] {
                    let request = Request {
                        level,
                        ..Request::new(&prepared, accuracy)
                    };
                    check_steps_against_window::<f64>(request, (0, 3_001), &steps);
                }
            }
        }
    }

    #[test]
    fn steps_near_2_53_and_in_huge_schedules() {
        // Phase ends near and beyond 2**53 (where a step's conversion to f64 rounds), the
        // largest schedule's last steps and its extra step (2**63 - 1).
        let two53 = 1i64 << 53;
        for (config, centre) in [
            (Config::new(i64::MAX, 0.1), two53),
            (Config::new(i64::MAX, 0.1), 1 << 62),
            (Config::new(i64::MAX, 0.1), i64::MAX - 40),
            (
                Config {
                    three_phase: true,
                    pct_start: 0.5,
                    ..Config::new(2 * two53 + 3, 0.1)
                },
                two53,
            ),
            (Config::new(two53 + 3, 0.1), two53 - 30),
        ] {
            let lo = centre - 40;
            let hi = (centre + 40).min(config.total_steps);
            let mut steps: Vec<i64> = (lo..=hi).rev().collect();
            steps.extend([hi, lo, hi - 1, lo + 1, hi]);
            let (cycle, values) = config.build().unwrap();
            let prepared = prepare_steps(&[config], &steps).unwrap();
            for accuracy in [Accuracy::Exact, Accuracy::Fast] {
                for level in Level::available() {
                    let request = Request {
                        level,
                        ..Request::new(&prepared, accuracy)
                    };
                    let window = (lo as u64, (hi - lo + 1) as usize);
                    check_steps_against_window::<f64>(request, window, &steps);
                    check_steps_against_window::<f32>(request, window, &steps);
                }
            }
            let (lr, m): (Vec<f64>, Vec<f64>) =
                schedule_at_steps(&config, &steps, Accuracy::Exact).unwrap();
            for (k, &s) in steps.iter().enumerate() {
                assert_eq!((lr[k], m[k]), cycle.at(s, &values).unwrap(), "step {s}");
            }
        }
    }

    #[test]
    fn steps_of_any_phase_list_and_any_i64_step_are_torchs() {
        // Phase lists no Config makes (five phases: each step's phase is searched for; an
        // empty phase; phases far beyond i64), and steps anywhere in i64, negative ones too.
        const UP: [Key; 4] = [
            Key::INITIAL_LR,
            Key::MAX_LR,
            Key::MAX_MOMENTUM,
            Key::BASE_MOMENTUM,
        ];
        const DOWN: [Key; 4] = [
            Key::MAX_LR,
            Key::MIN_LR,
            Key::BASE_MOMENTUM,
            Key::MAX_MOMENTUM,
        ];
        let lists = [
            vec![(3.0, UP), (7.5, DOWN), (7.9, UP), (12.0, DOWN), (200.0, UP)],
            vec![(10.0, UP), (5.0, DOWN), (99.0, UP)],
            vec![(-1e30, UP), (20.0, DOWN), (1e30, UP)],
            vec![(50.0, DOWN)],
        ];
        let mut steps: Vec<i64> = (-30..=230).rev().collect();
        steps.extend([
            i64::MIN,
            i64::MIN + 1,
            i64::MAX,
            1 << 53,
            (1 << 53) + 1,
            -(1 << 60),
        ]);
        let (_, values) = Config::new(1, 0.1).build().unwrap();
        for list in &lists {
            for anneal in [Anneal::Cos, Anneal::Linear] {
                let phases = list
                    .iter()
                    .map(|(e, k)| Phase::new(*e, k.clone()))
                    .collect();
                let cycle = OneCycle::from_phases(phases, anneal).unwrap();
                let prepared = [Prepared::new(cycle.clone(), &values).unwrap()];
                for level in Level::available() {
                    let request = Request {
                        level,
                        ..Request::new(&prepared, Accuracy::Exact)
                    };
                    let (lr, m) = at_steps::<f64>(request, &steps);
                    for (k, &s) in steps.iter().enumerate() {
                        let want = cycle.at(s, &values).unwrap();
                        assert_eq!((lr[k], m[k]), want, "{list:?} step {s} {level:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn parallel_steps_equal_serial_steps() {
        let configs = [Config::new(1_000_000, 1.0), Config::new(1_000_000, 0.5)];
        let mut steps = random_steps(3 * PARALLEL_MIN_STEPS, 1_000_000, 7);
        // A long list is checked on all cores: the first step out of range is found.
        let mut bad = steps.clone();
        bad[70_000] = -2;
        bad[90_000] = 1_000_001;
        let err = prepare_steps(&configs[..1], &bad).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Step {
                    index: 70_000,
                    step: -2,
                    ..
                }
            ),
            "{err}"
        );
        steps.push(1_000_000);
        let prepared = prepare_steps(&configs, &steps).unwrap();
        for accuracy in [Accuracy::Exact, Accuracy::Fast] {
            let request = Request::new(&prepared, accuracy);
            let serial = Request {
                threads: false,
                ..request
            };
            assert!(at_steps::<f64>(request, &steps) == at_steps::<f64>(serial, &steps));
        }
    }

    #[test]
    fn bad_steps_are_errors_before_any_output() {
        let config = Config::new(10, 0.1);
        let err = prepare_steps(&[config], &[0, 5, 11, 3, -1]).unwrap_err();
        assert_eq!(
            err,
            Error::Step {
                index: 2,
                step: 11,
                total_steps: 10
            }
        );
        assert_eq!(
            err.to_string(),
            "steps must lie in 0..=total_steps = 10, got steps[2] = 11"
        );
        let err = prepare_steps(&[config], &[-1, 11]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Step {
                    index: 0,
                    step: -1,
                    ..
                }
            ),
            "{err}"
        );
        assert!(prepare_steps(&[config], &[10, 0, 10]).is_ok());
        // Parameters are checked first; in a sweep, the configuration is named.
        let bad = Config::new(0, 0.1);
        let err = prepare_steps(&[bad], &[20]).unwrap_err();
        assert!(matches!(err, Error::TotalSteps { .. }), "{err}");
        let err = prepare_steps(&[Config::new(20, 0.1), config], &[20]).unwrap_err();
        assert!(matches!(err, Error::InConfig { index: 1, .. }), "{err}");
        // Zero-width phases: the first step in the order of `steps` that falls in one.
        let zero_width = Config {
            pct_start: 0.1,
            ..Config::new(10, 0.1)
        };
        let err = prepare_steps(&[zero_width], &[5, 3, 0, 1, 0]).unwrap_err();
        assert!(matches!(
            err,
            Error::ZeroWidthPhase {
                phase: 0,
                step: 0,
                ..
            }
        ));
        assert!(
            err.to_string().contains("pct_start * total_steps == 1"),
            "{err}"
        );
        assert!(prepare_steps(&[zero_width], &[5, 3, 1, 10]).is_ok());
        let both_empty = Config {
            pct_start: 1.0,
            ..Config::new(1, 0.1)
        };
        let err = prepare_steps(&[both_empty], &[1, 0]).unwrap_err();
        assert!(matches!(
            err,
            Error::ZeroWidthPhase {
                phase: 1,
                step: 1,
                ..
            }
        ));
        let err = schedule_at_steps::<f32>(&both_empty, &[0], Accuracy::Fast).unwrap_err();
        assert!(matches!(
            err,
            Error::ZeroWidthPhase {
                phase: 0,
                step: 0,
                ..
            }
        ));
        // A request checks zero-width phases itself, and writes nothing then.
        let prepared = prepare(&[zero_width], 1, 2).unwrap();
        let (mut lr, mut m) = (vec![-7.0f64; 3], vec![-7.0f64; 3]);
        let request = Request::new(&prepared, Accuracy::Exact);
        let err = request.steps(&[4, 0, 2], &mut lr, &mut m).unwrap_err();
        assert!(
            matches!(err, Error::ZeroWidthPhase { step: 0, .. }),
            "{err}"
        );
        assert!(lr.iter().chain(&m).all(|v| *v == -7.0));
    }

    #[test]
    fn steps_with_mismatched_outputs_are_errors_not_panics() {
        let configs = [Config::new(10, 0.1), Config::new(10, 0.2)];
        let prepared = prepare_steps(&configs, &[1, 2, 3]).unwrap();
        let request = Request::new(&prepared, Accuracy::Fast);
        for (l, m) in [(6, 5), (3, 3), (7, 7), (0, 0)] {
            let (mut lr, mut mo) = (vec![0.0f32; l], vec![0.0f32; m]);
            let err = request.steps(&[1, 2, 3], &mut lr, &mut mo).unwrap_err();
            assert_eq!(err, Error::LengthMismatch { lr: l, momentum: m });
        }
        let (mut lr, mut mo) = (vec![0.0f32; 6], vec![0.0f32; 6]);
        assert!(request.steps(&[1, 2, 3], &mut lr, &mut mo).is_ok());
        assert!(request.steps(&[], &mut [0.0f32; 0], &mut []).is_ok());
    }
}
