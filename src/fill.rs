//! Whole windows of a schedule at once, and broadcast sweeps.
//!
//! The steps are cut into blocks of [`BLOCK`] steps. For each block, the annealing factor
//! of every step (`cos(pi * pct) + 1` for cos, `pct` for linear: the part torch's formula
//! shares between lr and momentum) is computed once into a buffer, then every configuration
//! that has the same phases (same `total_steps`, `pct_start`, `three_phase` and
//! `anneal_strategy`) turns it into its lr and momentum with one multiply and one add per
//! value. So a sweep over `max_lr`, the momenta or `div_factor` costs one cosine per step,
//! not one per step and configuration. A block with one configuration has no one to share
//! with: there the factor and the formula run in one loop (the stores then overlap the
//! next libm call). Blocks (and batches of rows within a block) are filled on all cores
//! (rayon) once the output is large enough for threads to pay, with the loops compiled
//! for the widest vector instructions the CPU has ([`crate::simd`]).

use std::collections::HashMap;
use std::ops::Range;

use rayon::prelude::*;

use crate::cycle::{Anneal, Config, Key, OneCycle, Span, Values};
use crate::error::Error;
use crate::fast_cos;
use crate::simd::{Kernel, Level};

/// Below this many values per output, everything is filled on the calling thread: threads
/// cost more than they save.
pub const PARALLEL_MIN_STEPS: usize = 1 << 15;
/// Steps per block: one block's factors (16 KiB) stay in the L1 cache while every
/// configuration of its group reads them.
pub const BLOCK: usize = 2048;
/// About this many values per parallel task: the rows of a block are batched up to it.
const TASK_VALUES: usize = 1 << 17;

/// The documented bound of [`Accuracy::Fast`]: each lr differs from the exact one by at
/// most this many ulp of the largest learning rate the schedule anneals between
/// (`max(initial_lr, max_lr, min_lr)`), each momentum by at most this many ulp of the
/// larger momentum. (The cosine itself is within [`fast_cos::MAX_ULP`] ulp.)
pub const FAST_MAX_ULP: f64 = 2.0;

/// How the cosine of the cos strategy is evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Accuracy {
    /// The platform's `f64::cos`: bit-identical to torch.
    Exact,
    /// [`fast_cos::cos`], vectorised, within [`fast_cos::MAX_ULP`] ulp of `f64::cos`.
    /// Linear schedules are the same in both modes.
    Fast,
}

/// An output element type. Values are computed in `f64`; `f32` outputs get them rounded to
/// nearest (as `numpy.ndarray.astype(numpy.float32)` does).
pub trait Sample: Copy + Send + Sync + 'static {
    const ZERO: Self;
    const ONE: Self;
    fn from_f64(value: f64) -> Self;
}

impl Sample for f64 {
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;
    #[inline(always)]
    fn from_f64(value: f64) -> f64 {
        value
    }
}

impl Sample for f32 {
    const ZERO: f32 = 0.0;
    const ONE: f32 = 1.0;
    #[inline(always)]
    fn from_f64(value: f64) -> f32 {
        value as f32
    }
}

/// `then(item_k, pct)` for the items of `items` and the steps `s = first + k`, with `pct`
/// [`Span::pct`] of `s`. `then` is inlined into the loop.
#[inline(always)]
fn each_pct<I: ExactSizeIterator>(
    first: u64,
    span: &Span,
    items: I,
    mut then: impl FnMut(I::Item, f64),
) {
    let len = items.len() as u64;
    if first.saturating_add(len) <= 1 << 53 {
        // Every step is exact in f64 here, so `first as f64 + k` is the conversion of the
        // step (the same pct as `span.pct(first + k)`); this form vectorises.
        let (base, start_step, width) = (first as f64, span.start_step, span.width);
        for (k, item) in (0i32..).zip(items) {
            then(item, ((base + f64::from(k)) - start_step) / width);
        }
    } else {
        // `items` first: the steps are not advanced past the last one (u64::MAX at most).
        for (item, s) in items.zip(first..) {
            then(item, span.pct(s));
        }
    }
}

/// `out[k] = factor(pct)` for the steps `first + k` of one span (see [`each_pct`]).
#[inline(always)]
fn factors(first: u64, span: &Span, out: &mut [f64], factor: impl Fn(f64) -> f64) {
    each_pct(first, span, out.iter_mut(), |f, pct| *f = factor(pct));
}

/// The [`Anneal::factor`] of each step `first + k` of one span into `out[k]`. `anneal`
/// and `accuracy` are constants at each call site, so each combination gets its own loop.
#[inline(always)]
fn span_factors(anneal: Anneal, accuracy: Accuracy, first: u64, span: &Span, out: &mut [f64]) {
    match (anneal, accuracy) {
        (Anneal::Linear, _) => factors(first, span, out, |pct| pct),
        (Anneal::Cos, Accuracy::Exact) => factors(first, span, out, |pct| Anneal::Cos.factor(pct)),
        (Anneal::Cos, Accuracy::Fast) => {
            for (at, region) in fast_runs(first, span, out.len()) {
                let (from, out) = (first + at.start as u64, &mut out[at]);
                match region {
                    0 => factors(from, span, out, fast_factor_in::<0>),
                    1 => factors(from, span, out, fast_factor_in::<1>),
                    2 => factors(from, span, out, fast_factor_in::<2>),
                    _ => factors(from, span, out, fast_factor),
                }
            }
        }
    }
}

/// Where the fast cosine evaluates `pct`: its [`fast_cos::quadrant`] (0, 1 or 2) inside
/// the domain, [`BEFORE`] below it, [`AFTER`] above it (or NaN). Along the steps of a span
/// pct is monotonic, so this is too.
#[inline(always)]
fn region(pct: f64) -> u8 {
    if fast_cos::in_domain(pct) {
        fast_cos::quadrant(fast_cos::argument(pct)) as u8
    } else if pct < 0.0 {
        BEFORE
    } else {
        AFTER
    }
}

/// [`region`] of a `pct` below the fast cosine's domain.
const BEFORE: u8 = 254;
/// [`region`] of a `pct` above the fast cosine's domain, or NaN.
const AFTER: u8 = 255;

/// The run of indices from `at` whose `pct_at(k)` share one [`region`]: its end (the
/// first index in `(at, n]` whose region differs, `n` if none) and its region. `pct_at`
/// must be monotonic in `k` (as pct is in the step), so the end is found by bisection: a
/// few evaluations per run, and at most five runs in all.
#[inline(always)]
fn next_run(at: usize, n: usize, pct_at: impl Fn(usize) -> f64) -> (usize, u8) {
    let here = region(pct_at(at));
    let (mut lo, mut hi) = (at + 1, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if region(pct_at(mid)) == here {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    (lo, here)
}

/// The runs of steps `first + k`, `k` in `0..n`, of one span whose pcts share a
/// [`region`], in order, each with its region: a run of one quadrant can be filled with
/// that quadrant's kernel alone, vectorised. (An iterator, not a callback, so the loops
/// stay in the caller's body, which is compiled for the [`Level`] in use.)
#[inline(always)]
fn fast_runs(first: u64, span: &Span, n: usize) -> impl Iterator<Item = (Range<usize>, u8)> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        (at < n).then(|| {
            let (end, region) = next_run(at, n, |k| span.pct(first + k as u64));
            let run = (at..end, region);
            at = end;
            run
        })
    })
}

/// Writes `lr[k]` and `momentum[k]` from `factor[k]` with each output's coefficients
/// ([`Anneal::coefficients`]), rounded to `T`: one pass over the factors.
#[inline(always)]
fn apply<T: Sample>(
    anneal: Anneal,
    bounds: [f64; 4],
    factor: &[f64],
    lr: &mut [T],
    momentum: &mut [T],
) {
    let formula = anneal.formula(bounds);
    for ((l, m), &f) in lr.iter_mut().zip(momentum.iter_mut()).zip(factor) {
        write(formula(f), l, m);
    }
}

/// Stores one step's `(lr, momentum)`, rounded to `T`.
#[inline(always)]
fn write<T: Sample>((lr, momentum): (f64, f64), l: &mut T, m: &mut T) {
    *l = T::from_f64(lr);
    *m = T::from_f64(momentum);
}

/// One configuration's steps `first + k` of one span: the factor and the rest of the
/// formula in one loop, so each step's stores overlap the next step's work (the libm call,
/// for exact cos) instead of waiting in a pass of their own. `factor` is inlined.
#[inline(always)]
fn fused<T: Sample>(
    anneal: Anneal,
    first: u64,
    span: &Span,
    bounds: [f64; 4],
    lr: &mut [T],
    momentum: &mut [T],
    factor: impl Fn(f64) -> f64,
) {
    let formula = anneal.formula(bounds);
    let outs = lr.iter_mut().zip(momentum.iter_mut());
    each_pct(first, span, outs, |(l, m), pct| {
        write(formula(factor(pct)), l, m);
    });
}

/// [`fused`] with each strategy's and accuracy's factor: one loop per combination, and
/// for the fast cosine one per run of steps in one quadrant ([`fast_runs`]).
/// `anneal` and `accuracy` are constants at each call site.
#[inline(always)]
fn fused_span<T: Sample>(
    anneal: Anneal,
    accuracy: Accuracy,
    first: u64,
    span: &Span,
    bounds: [f64; 4],
    lr: &mut [T],
    momentum: &mut [T],
) {
    let cos = Anneal::Cos;
    match (anneal, accuracy) {
        (Anneal::Linear, _) => fused(anneal, first, span, bounds, lr, momentum, |pct| pct),
        (Anneal::Cos, Accuracy::Exact) => {
            fused(cos, first, span, bounds, lr, momentum, |pct| {
                cos.factor(pct)
            });
        }
        (Anneal::Cos, Accuracy::Fast) => {
            for (at, region) in fast_runs(first, span, lr.len()) {
                let from = first + at.start as u64;
                let (l, m) = (&mut lr[at.clone()], &mut momentum[at]);
                match region {
                    0 => fused(cos, from, span, bounds, l, m, fast_factor_in::<0>),
                    1 => fused(cos, from, span, bounds, l, m, fast_factor_in::<1>),
                    2 => fused(cos, from, span, bounds, l, m, fast_factor_in::<2>),
                    _ => fused(cos, from, span, bounds, l, m, fast_factor),
                }
            }
        }
    }
}

/// The cos strategy's [`Anneal::factor`] with the fast cosine, for any `pct` (the
/// platform cos outside the fast cosine's domain).
#[inline(always)]
fn fast_factor(pct: f64) -> f64 {
    if fast_cos::in_domain(pct) {
        fast_cos::cos(fast_cos::argument(pct)) + 1.0
    } else {
        Anneal::Cos.factor(pct)
    }
}

/// [`fast_factor`] for a `pct` whose argument lies in quadrant `Q`.
#[inline(always)]
fn fast_factor_in<const Q: u8>(pct: f64) -> f64 {
    fast_cos::cos_in(Q, fast_cos::argument(pct)) + 1.0
}

/// Configurations whose schedules have the same phases: they share the factors.
struct Group<'a> {
    cycle: &'a OneCycle,
    /// The spans of the whole window.
    spans: Vec<Span>,
}

/// The output of one configuration within one block.
struct Out<'a, T> {
    config: usize,
    lr: &'a mut [T],
    momentum: &'a mut [T],
}

/// Some rows of one block: the unit of parallel work.
struct Task<'a, T> {
    /// First step of the block.
    first: u64,
    outs: Vec<Out<'a, T>>,
}

/// The phase lists of `prepared`, each once, and which one each configuration uses.
fn group(
    prepared: &[Prepared],
    start: u64,
    stop: u64,
) -> Result<(Vec<Group<'_>>, Vec<usize>), Error> {
    type Shape = (Anneal, Vec<(u64, [Key; 4])>);
    let mut index: HashMap<Shape, usize> = HashMap::new();
    let mut groups = Vec::new();
    let mut group_of = Vec::with_capacity(prepared.len());
    for (cycle, _) in prepared {
        let shape: Shape = (
            cycle.anneal(),
            cycle
                .phases()
                .iter()
                .map(|p| {
                    let keys = [p.start_lr, p.end_lr, p.start_momentum, p.end_momentum];
                    (p.end_step.to_bits(), keys)
                })
                .collect(),
        );
        if let Some(&g) = index.get(&shape) {
            group_of.push(g);
        } else {
            groups.push(Group {
                cycle,
                spans: cycle.spans(start, stop)?,
            });
            index.insert(shape, groups.len() - 1);
            group_of.push(groups.len() - 1);
        }
    }
    Ok((groups, group_of))
}

/// The spans that meet the steps `[first, last)`, each with the range of those steps it
/// holds, counted from `first`.
#[inline(always)]
fn in_block(
    spans: &[Span],
    first: u64,
    last: u64,
) -> impl Iterator<Item = (&Span, Range<usize>)> + Clone {
    spans.iter().filter_map(move |span| {
        let lo = span.steps.start.max(first);
        let hi = span.steps.end.min(last);
        (lo < hi).then(|| (span, (lo - first) as usize..(hi - first) as usize))
    })
}

/// Fills one task. Rows of one group (they are adjacent) share the factors of the block:
/// computed once into a buffer, then each row is made from them. A row whose group has no
/// other row here has no one to share with: it is filled by the fused loops instead.
#[inline(always)]
fn run_task<T: Sample>(
    task: Task<'_, T>,
    prepared: &[Prepared],
    groups: &[Group<'_>],
    group_of: &[usize],
    accuracy: Accuracy,
) {
    // Zeroed only once a group is shared.
    let mut block: Option<[f64; BLOCK]> = None;
    let mut current = usize::MAX;
    let mut outs = task.outs.into_iter().peekable();
    while let Some(mut out) = outs.next() {
        let (first, last) = (task.first, task.first + out.lr.len() as u64);
        let g = group_of[out.config];
        let shared = g == current || outs.peek().is_some_and(|next| group_of[next.config] == g);
        if !shared {
            fill_row(first, &mut out, prepared, groups, group_of, accuracy);
            continue;
        }
        let Group { cycle, spans } = &groups[g];
        let anneal = cycle.anneal();
        let buf = block.get_or_insert([0.0; BLOCK]);
        if g != current {
            for (span, at) in in_block(spans, first, last) {
                let (from, b) = (first + at.start as u64, &mut buf[at]);
                match (anneal, accuracy) {
                    (Anneal::Cos, Accuracy::Exact) => {
                        span_factors(Anneal::Cos, Accuracy::Exact, from, span, b);
                    }
                    (Anneal::Cos, Accuracy::Fast) => {
                        span_factors(Anneal::Cos, Accuracy::Fast, from, span, b);
                    }
                    (Anneal::Linear, _) => {
                        span_factors(Anneal::Linear, Accuracy::Exact, from, span, b);
                    }
                }
            }
            current = g;
        }
        let values = &prepared[out.config].1;
        for (span, at) in in_block(spans, first, last) {
            let bounds = cycle.phases()[span.phase].bounds(values);
            let f = &buf[at.clone()];
            let (l, m) = (&mut out.lr[at.clone()], &mut out.momentum[at]);
            match anneal {
                Anneal::Cos => apply(Anneal::Cos, bounds, f, l, m),
                Anneal::Linear => apply(Anneal::Linear, bounds, f, l, m),
            }
        }
    }
}

/// One row of a block, in the fused loops.
#[inline(always)]
fn fill_row<T: Sample>(
    first: u64,
    out: &mut Out<'_, T>,
    prepared: &[Prepared],
    groups: &[Group<'_>],
    group_of: &[usize],
    accuracy: Accuracy,
) {
    let Group { cycle, spans } = &groups[group_of[out.config]];
    let values = &prepared[out.config].1;
    for (span, at) in in_block(spans, first, first + out.lr.len() as u64) {
        let from = first + at.start as u64;
        let bounds = cycle.phases()[span.phase].bounds(values);
        let (l, m) = (&mut out.lr[at.clone()], &mut out.momentum[at]);
        match (cycle.anneal(), accuracy) {
            (Anneal::Cos, Accuracy::Exact) => {
                fused_span(Anneal::Cos, Accuracy::Exact, from, span, bounds, l, m);
            }
            (Anneal::Cos, Accuracy::Fast) => {
                fused_span(Anneal::Cos, Accuracy::Fast, from, span, bounds, l, m);
            }
            (Anneal::Linear, _) => {
                fused_span(Anneal::Linear, Accuracy::Exact, from, span, bounds, l, m);
            }
        }
    }
}

/// [`run_task`] as a [`Kernel`], so it is compiled once per [`Level`].
struct TaskKernel<'a, 't, T> {
    task: Task<'t, T>,
    prepared: &'a [Prepared],
    groups: &'a [Group<'a>],
    group_of: &'a [usize],
    accuracy: Accuracy,
}

impl<T: Sample> Kernel for TaskKernel<'_, '_, T> {
    #[inline(always)]
    fn run(self) {
        run_task(
            self.task,
            self.prepared,
            self.groups,
            self.group_of,
            self.accuracy,
        );
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
        self.fill_on(values, start, lr, momentum, false)
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
        self.fill_on(values, start, lr, momentum, true)
    }

    fn fill_on<T: Sample>(
        &self,
        values: &Values,
        start: u64,
        lr: &mut [T],
        momentum: &mut [T],
        threads: bool,
    ) -> Result<(), Error> {
        let stop = window_stop(start, lr, momentum)?;
        let prepared = [(self.clone(), *values)];
        let (exact, level) = (Accuracy::Exact, Level::detect());
        fill_rows_with(&prepared, start, stop, exact, level, lr, momentum, threads)
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
    // Configurations that share their phases share the check of the window too.
    let mut checked: Option<OneCycle> = None;
    configs
        .iter()
        .enumerate()
        .map(|(i, config)| {
            let (cycle, values) = config.build().map_err(|e| wrap(i, e))?;
            config.check_window(start, stop).map_err(|e| wrap(i, e))?;
            if checked.as_ref() != Some(&cycle) {
                cycle.spans(start, stop).map_err(|e| wrap(i, e))?;
                checked = Some(cycle.clone());
            }
            Ok((cycle, values))
        })
        .collect()
}

/// Fills row `i` of `lr` and `momentum` (rows of `stop - start` steps, one per prepared
/// configuration) with steps `[start, stop)` of configuration `i`, on all cores when the
/// output is large enough. Configurations with the same phases share their factors.
///
/// # Errors
/// [`Error::LengthMismatch`] when the outputs do not hold one row per configuration,
/// [`Error::ZeroWidthPhase`] where torch would divide by zero (nothing is written then).
pub fn fill_rows<T: Sample>(
    prepared: &[Prepared],
    start: u64,
    stop: u64,
    accuracy: Accuracy,
    lr: &mut [T],
    momentum: &mut [T],
) -> Result<(), Error> {
    fill_rows_at(
        prepared,
        start,
        stop,
        accuracy,
        Level::detect(),
        lr,
        momentum,
    )
}

/// [`fill_rows`] with the loops compiled for `level` rather than the widest this CPU has:
/// the same values at every level (for tests and benchmarks).
///
/// # Errors
/// As [`fill_rows`].
pub fn fill_rows_at<T: Sample>(
    prepared: &[Prepared],
    start: u64,
    stop: u64,
    accuracy: Accuracy,
    level: Level,
    lr: &mut [T],
    momentum: &mut [T],
) -> Result<(), Error> {
    fill_rows_with(prepared, start, stop, accuracy, level, lr, momentum, true)
}

#[allow(clippy::too_many_arguments)]
fn fill_rows_with<T: Sample>(
    prepared: &[Prepared],
    start: u64,
    stop: u64,
    accuracy: Accuracy,
    level: Level,
    lr: &mut [T],
    momentum: &mut [T],
    threads: bool,
) -> Result<(), Error> {
    let row = stop.saturating_sub(start) as usize;
    let expected = row.saturating_mul(prepared.len());
    if lr.len() != expected || momentum.len() != expected {
        return Err(Error::LengthMismatch {
            lr: lr.len(),
            momentum: momentum.len(),
        });
    }
    let (groups, group_of) = group(prepared, start, stop)?;
    if expected == 0 {
        return Ok(());
    }
    // Rows in group order, so the rows of one task share the factors as far as possible.
    let mut order: Vec<usize> = (0..prepared.len()).collect();
    order.sort_by_key(|&i| group_of[i]);
    let mut blocks: Vec<_> = lr
        .chunks_mut(row)
        .zip(momentum.chunks_mut(row))
        .map(|(l, m)| l.chunks_mut(BLOCK).zip(m.chunks_mut(BLOCK)))
        .collect();
    let rows_per_task = (TASK_VALUES / row.min(BLOCK)).max(1);
    let mut tasks = Vec::new();
    for b in 0..row.div_ceil(BLOCK) {
        for batch in order.chunks(rows_per_task) {
            let outs = batch
                .iter()
                .filter_map(|&config| {
                    let (lr, momentum) = blocks[config].next()?;
                    Some(Out {
                        config,
                        lr,
                        momentum,
                    })
                })
                .collect();
            tasks.push(Task {
                first: start + (b * BLOCK) as u64,
                outs,
            });
        }
    }
    let run = |task| {
        level.run(TaskKernel {
            task,
            prepared,
            groups: &groups,
            group_of: &group_of,
            accuracy,
        });
    };
    if threads && expected >= PARALLEL_MIN_STEPS {
        tasks.into_par_iter().for_each(run);
    } else {
        tasks.into_iter().for_each(run);
    }
    Ok(())
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
    let n = u128::from(stop - start);
    let mut lr = try_zeroed("lr", n)?;
    let mut momentum = try_zeroed("momentum", n)?;
    fill_rows(&prepared, start, stop, accuracy, &mut lr, &mut momentum)?;
    Ok((lr, momentum))
}

/// Benchmark support: `f64::cos` of `n` arguments spread over `[0, pi]`, on all cores (in
/// the same chunks as a schedule), summed so the work cannot be skipped. Its time is the
/// floor the exact cos schedule is measured against: one platform cosine per step.
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

/// Benchmark support: writes `1` into both slices on all cores, in blocks as a schedule
/// is written. With freshly allocated slices, its time is the memory-write floor.
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
        fill_rows(&prepared, 10, 4_990, Accuracy::Exact, &mut lr, &mut m).unwrap();
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
                fill_rows(&prepared, start, stop, accuracy, &mut lr, &mut m).unwrap();
                let (mut lr32, mut m32) = (vec![0.0f32; n * 40], vec![0.0f32; n * 40]);
                fill_rows(&prepared, start, stop, accuracy, &mut lr32, &mut m32).unwrap();
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
            fill_rows_at(prepared, start, stop, accuracy, level, &mut lr, &mut m).unwrap();
            (lr, m)
        }
        let levels = Level::available();
        assert_eq!(levels[0], Level::BASELINE);
        assert_eq!(levels.last(), Some(&Level::detect()));
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
                // Two rows sharing their factors, and one (another pct_start) alone.
                let mut sweep: Vec<Config> = (1..=3).map(|i| config(0.1 * f64::from(i))).collect();
                sweep[2].pct_start = pct_start * 0.75;
                let end = total as u64 + 1;
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
    }

    #[test]
    fn runs_of_one_region_cover_every_index_once() {
        // Increasing and decreasing pcts through all five regions, and single runs.
        for (n, lo, hi) in [
            (1_000, -0.1, 1.1),
            (1_000, 1.1, -0.1),
            (7, 0.0, 1.0),
            (1, 0.5, 0.5),
            (2_048, 0.2, 0.21),
        ] {
            let pcts: Vec<f64> = (0..n)
                .map(|k| lo + (hi - lo) * k as f64 / (n.max(2) - 1) as f64)
                .collect();
            let (mut at, mut runs) = (0, Vec::new());
            while at < n {
                let (end, region_of_run) = next_run(at, n, |k| pcts[k]);
                assert!(end > at && end <= n);
                assert!(pcts[at..end].iter().all(|&p| region(p) == region_of_run));
                if end < n {
                    assert_ne!(region(pcts[end]), region_of_run, "run ended early at {end}");
                }
                runs.push(region_of_run);
                at = end;
            }
            assert!(runs.len() <= 5, "{runs:?}");
            if lo < 0.0 && hi > 1.0 {
                assert_eq!(runs, [BEFORE, 0, 1, 2, AFTER]);
            }
        }
    }

    /// The largest difference between the fast and the exact schedule, in ulp of the
    /// largest value each output anneals between (lr: max(initial, max, min); momentum:
    /// max of the momenta).
    fn fast_error(config: &Config, start: u64, stop: u64) -> f64 {
        let (_, values) = config.build().unwrap();
        let scale = |keys: &[Key]| {
            keys.iter()
                .map(|k| values.get(*k).abs())
                .fold(0.0, f64::max)
        };
        let lr_scale = scale(&[Key::InitialLr, Key::MaxLr, Key::MinLr]);
        let m_scale = scale(&[Key::MaxMomentum, Key::BaseMomentum]);
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
    fn fast_mode_equals_the_fast_cosine_step_by_step() {
        // Each run of one quadrant takes that quadrant's kernel alone, the extra step
        // (pct > 1) the platform cos: each value must be fast_factor's (fast_cos::cos, both
        // kernels and a select), step by step.
        for (total, pct_start, three_phase) in [
            (100_003, 0.3, false),
            (5_000, 0.56, true),
            (10, 0.95, false),
        ] {
            let config = Config {
                pct_start,
                three_phase,
                ..Config::new(total, 0.4)
            };
            let (cycle, values) = config.build().unwrap();
            let stop = total as u64 + 1;
            let (lr, m): (Vec<f64>, Vec<f64>) =
                schedule_with(&config, 0, stop, Accuracy::Fast).unwrap();
            for s in 0..stop {
                let (phase, pct) = cycle.locate(s as i64).unwrap();
                let factor = fast_factor(pct);
                let [lr0, lr1, m0, m1] = cycle.phases()[phase].bounds(&values);
                let want = (
                    Anneal::Cos.interpolate(lr0, lr1, factor),
                    Anneal::Cos.interpolate(m0, m1, factor),
                );
                assert_eq!(
                    (lr[s as usize], m[s as usize]),
                    want,
                    "step {s} of {config:?}"
                );
            }
        }
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
        let (mut a, mut b) = (vec![0.0f64; 3], vec![0.0f64; 4]);
        assert!(matches!(
            cycle.fill(&values, 0, &mut a, &mut b),
            Err(Error::LengthMismatch { .. })
        ));
        let prepared = prepare(&[Config::new(10, 0.1)], 0, 5).unwrap();
        assert!(fill_rows(&prepared, 0, 5, Accuracy::Exact, &mut a, &mut b).is_err());
        let (mut c, mut d) = (vec![0.0f64; 3], vec![0.0f64; 3]);
        let err = cycle
            .fill(&values, u64::MAX - 1, &mut c, &mut d)
            .unwrap_err();
        assert!(matches!(err, Error::WindowOverflow { len: 3, .. }), "{err}");
    }
}
