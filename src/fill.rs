//! Whole windows of a schedule at once: phase boundaries are found once per window, then
//! each step costs one `pct`, one cosine (shared by lr and momentum) and two interpolations.
//! Large windows are split into chunks filled on all cores (rayon).

use rayon::prelude::*;

use crate::cycle::{Anneal, Config, OneCycle, Span, Values};
use crate::error::Error;

/// Below this many steps a window is filled on the calling thread: threads cost more than
/// they save.
pub const PARALLEL_MIN_STEPS: usize = 1 << 15;
/// Steps per parallel chunk.
const CHUNK: usize = 1 << 14;

/// An output element type. Values are computed in `f64`; `f32` outputs get them rounded to
/// nearest (as `numpy.ndarray.astype(numpy.float32)` does).
pub trait Sample: Copy + Send + Sync + 'static {
    const ZERO: Self;
    fn from_f64(value: f64) -> Self;
}

impl Sample for f64 {
    const ZERO: f64 = 0.0;
    #[inline(always)]
    fn from_f64(value: f64) -> f64 {
        value
    }
}

impl Sample for f32 {
    const ZERO: f32 = 0.0;
    #[inline(always)]
    fn from_f64(value: f64) -> f32 {
        value as f32
    }
}

/// Writes one span. `anneal` is a constant at each call site, so the match inside the
/// formula folds away and each strategy gets its own loop.
#[inline(always)]
fn fill_span<T: Sample>(
    anneal: Anneal,
    span: &Span,
    bounds: [f64; 4],
    lr: &mut [T],
    momentum: &mut [T],
) {
    let [lr_start, lr_end, m_start, m_end] = bounds;
    let (start_step, width) = (span.start_step, span.width);
    for ((l, m), s) in lr
        .iter_mut()
        .zip(momentum.iter_mut())
        .zip(span.steps.clone())
    {
        let pct = (s as f64 - start_step) / width;
        let factor = anneal.factor(pct);
        *l = T::from_f64(anneal.interpolate(lr_start, lr_end, factor));
        *m = T::from_f64(anneal.interpolate(m_start, m_end, factor));
    }
}

impl OneCycle {
    /// Fills `lr[k]` and `momentum[k]` with the values at step `start + k`, on this thread.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] for slices of different lengths,
    /// [`Error::ZeroWidthPhase`] where torch would divide by zero; nothing is written then.
    pub fn fill<T: Sample>(
        &self,
        values: &Values,
        start: u64,
        lr: &mut [T],
        momentum: &mut [T],
    ) -> Result<(), Error> {
        let stop = window_stop(start, lr, momentum)?;
        for span in self.spans(start, stop)? {
            let bounds = self.phases()[span.phase].bounds(values);
            let at = (span.steps.start - start) as usize..(span.steps.end - start) as usize;
            let (l, m) = (&mut lr[at.clone()], &mut momentum[at]);
            match self.anneal() {
                Anneal::Cos => fill_span(Anneal::Cos, &span, bounds, l, m),
                Anneal::Linear => fill_span(Anneal::Linear, &span, bounds, l, m),
            }
        }
        Ok(())
    }

    /// Like [`OneCycle::fill`], on all cores when the window has at least
    /// [`PARALLEL_MIN_STEPS`] steps.
    ///
    /// # Errors
    /// As [`OneCycle::fill`]; the whole window is checked before anything is written.
    pub fn fill_parallel<T: Sample>(
        &self,
        values: &Values,
        start: u64,
        lr: &mut [T],
        momentum: &mut [T],
    ) -> Result<(), Error> {
        if lr.len() < PARALLEL_MIN_STEPS {
            return self.fill(values, start, lr, momentum);
        }
        let stop = window_stop(start, lr, momentum)?;
        self.spans(start, stop)?;
        lr.par_chunks_mut(CHUNK)
            .zip(momentum.par_chunks_mut(CHUNK))
            .enumerate()
            .try_for_each(|(i, (l, m))| self.fill(values, start + (i * CHUNK) as u64, l, m))
    }
}

fn window_stop<T>(start: u64, lr: &[T], momentum: &[T]) -> Result<u64, Error> {
    if lr.len() != momentum.len() {
        return Err(Error::LengthMismatch {
            lr: lr.len(),
            momentum: momentum.len(),
        });
    }
    start
        .checked_add(lr.len() as u64)
        .ok_or(Error::WindowOverflow {
            start,
            len: lr.len(),
        })
}

/// A checked configuration: its schedule and group values.
pub type Prepared = (OneCycle, Values);

/// Checks every configuration and the window `[start, stop)` against each, before any
/// allocation or work.
///
/// # Errors
/// The first invalid configuration, wrapped in [`Error::InConfig`] when there are several.
pub fn prepare(configs: &[Config], start: u64, stop: u64) -> Result<Vec<Prepared>, Error> {
    let wrap = |index: usize, e: Error| {
        if configs.len() == 1 {
            e
        } else {
            Error::InConfig {
                index,
                source: Box::new(e),
            }
        }
    };
    configs
        .iter()
        .enumerate()
        .map(|(i, config)| {
            let (cycle, values) = config.build().map_err(|e| wrap(i, e))?;
            config.check_window(start, stop).map_err(|e| wrap(i, e))?;
            cycle.spans(start, stop).map_err(|e| wrap(i, e))?;
            Ok((cycle, values))
        })
        .collect()
}

/// Fills row `i` of `lr` and `momentum` (rows of `stop - start` steps, one per prepared
/// configuration) with steps `[start, stop)` of configuration `i`.
///
/// # Errors
/// [`Error::LengthMismatch`] when the outputs do not hold one row per configuration.
pub fn fill_rows<T: Sample>(
    prepared: &[Prepared],
    start: u64,
    stop: u64,
    lr: &mut [T],
    momentum: &mut [T],
) -> Result<(), Error> {
    let row = stop.saturating_sub(start) as usize;
    let expected = row.saturating_mul(prepared.len());
    if lr.len() != expected || momentum.len() != expected {
        return Err(Error::LengthMismatch {
            lr: lr.len(),
            momentum: momentum.len(),
        });
    }
    if row == 0 {
        return Ok(());
    }
    let fill_row = |((cycle, values), (l, m)): (&Prepared, (&mut [T], &mut [T]))| {
        cycle.fill_parallel(values, start, l, m)
    };
    if expected < PARALLEL_MIN_STEPS {
        prepared
            .iter()
            .zip(lr.chunks_mut(row).zip(momentum.chunks_mut(row)))
            .try_for_each(fill_row)
    } else {
        prepared
            .par_iter()
            .zip(lr.par_chunks_mut(row).zip(momentum.par_chunks_mut(row)))
            .try_for_each(fill_row)
    }
}

/// `n` values of `T` as a length, or [`Error::TooLarge`] when they cannot be allocated as
/// one block (more than `isize::MAX` bytes): checked before asking for the memory.
///
/// # Errors
/// [`Error::TooLarge`].
pub fn alloc_len<T>(what: &'static str, n: u128) -> Result<usize, Error> {
    let size = std::mem::size_of::<T>();
    match (usize::try_from(n), n.checked_mul(size as u128)) {
        (Ok(len), Some(bytes)) if bytes <= isize::MAX as u128 => Ok(len),
        _ => Err(Error::too_large(what, n, size)),
    }
}

/// Allocates `n` zeroed values, or reports [`Error::TooLarge`] instead of aborting. The
/// zeros are written on all cores, so the pages are first touched in parallel.
///
/// # Errors
/// [`Error::TooLarge`] when the allocation fails or cannot be expressed.
pub fn try_zeroed<T: Sample>(what: &'static str, n: u128) -> Result<Vec<T>, Error> {
    let len = alloc_len::<T>(what, n)?;
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| Error::too_large(what, n, std::mem::size_of::<T>()))?;
    v.par_extend(rayon::iter::repeat_n(T::ZERO, len));
    Ok(v)
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
    let prepared = prepare(std::slice::from_ref(config), start, stop)?;
    let n = u128::from(stop - start);
    let mut lr = try_zeroed("lr", n)?;
    let mut momentum = try_zeroed("momentum", n)?;
    fill_rows(&prepared, start, stop, &mut lr, &mut momentum)?;
    Ok((lr, momentum))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let n = 300_001;
        let (mut a, mut am) = (vec![0.0f64; n], vec![0.0f64; n]);
        let (mut b, mut bm) = (vec![0.0f64; n], vec![0.0f64; n]);
        cycle.fill(&values, 250_000, &mut a, &mut am).unwrap();
        cycle
            .fill_parallel(&values, 250_000, &mut b, &mut bm)
            .unwrap();
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
        fill_rows(&prepared, 10, 4_990, &mut lr, &mut m).unwrap();
        for (i, config) in configs.iter().enumerate() {
            let (l, mo): (Vec<f64>, Vec<f64>) = schedule(config, 10, 4_990).unwrap();
            assert_eq!(lr[i * n..(i + 1) * n], l[..]);
            assert_eq!(m[i * n..(i + 1) * n], mo[..]);
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
        let (mut a, mut b) = (vec![0.0f64; 3], vec![0.0f64; 4]);
        assert!(matches!(
            cycle.fill(&values, 0, &mut a, &mut b),
            Err(Error::LengthMismatch { .. })
        ));
        let prepared = prepare(&[Config::new(10, 0.1)], 0, 5).unwrap();
        assert!(fill_rows(&prepared, 0, 5, &mut a, &mut b).is_err());
        let (mut c, mut d) = (vec![0.0f64; 3], vec![0.0f64; 3]);
        let err = cycle
            .fill(&values, u64::MAX - 1, &mut c, &mut d)
            .unwrap_err();
        assert!(matches!(err, Error::WindowOverflow { len: 3, .. }), "{err}");
    }
}
