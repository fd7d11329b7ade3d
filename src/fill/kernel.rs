//! The fill loops, written once and compiled per strategy, accuracy, output type and
//! vector level.
//!
//! torch's formula at one step is `pct`, then the annealing factor (`cos(pi * pct) + 1`
//! for cos, `pct` for linear: the part lr and momentum share), then each output's
//! coefficients ([`Anneal::apply`]). A [`Formula`] (the zero-sized [`Linear`], [`CosExact`]
//! and [`CosFast`]) says which [`Factor`] computes the factor, and [`dispatch`] is the one
//! place that picks it from a group's [`Anneal`] and the request's [`Accuracy`].
//!
//! There are three loops, each generic over its factor, its [`Source`] of steps and its
//! output type, and each compiled once per [`Level`] by [`per_level!`]:
//! `factors` (the factors of a group's steps, shared by its rows), `apply` (one row from
//! them) and `fused` (one row alone: factor and formula in one loop, so each step's stores
//! overlap the next step's work, the libm call for exact cos). A fourth, `pcts`, gives
//! the `pct`s alone, for exact cos at steps out of order, which calls the platform cos
//! class by class of its argument ([`order`]) and then applies the formula. [`Rows`] runs
//! the rows of one group in one block through them.

use std::marker::PhantomData;
use std::ops::Range;

use super::base::{Accuracy, Prepared, Sample, BLOCK};
use super::factor::{Factor, FastCos, FastIn, FastOrPlatform, Pct, PlatformCos};
use super::order::{self, ClassOrder};
use super::steps::{Bounds, Job, Positions, Source};
use crate::cycle::Anneal;
use crate::fast_cos;
use crate::simd::{per_level, Level};

/// A strategy and an accuracy: the rest of the formula, and which [`Factor`] fills which
/// steps.
pub(super) trait Formula {
    const ANNEAL: Anneal;
    /// The factor at any `pct`.
    type Factor: Factor;

    /// Has `run` fill the `n` steps of `src`, in runs that each take one [`Factor`].
    fn runs<S: Source>(src: S, n: usize, run: &mut impl Run<S>) {
        run.run::<Self::Factor>(0..n, src);
    }
}

/// Fills some of a piece's steps with one [`Factor`].
pub(super) trait Run<S: Source> {
    /// Fills the steps `at` of the piece, which `src` gives from `at.start`. False when
    /// `Fa` does not cover some step's `pct` (those values are then wrong).
    fn run<Fa: Factor>(&mut self, at: Range<usize>, src: S) -> bool;

    /// Fills the first `n` steps of the piece, which `src` gives, with the platform cos
    /// called class by class ([`ClassOrder`]).
    fn by_class(&mut self, src: S, n: usize);
}

pub(super) struct Linear;

impl Formula for Linear {
    const ANNEAL: Anneal = Anneal::Linear;
    type Factor = Pct;
}

pub(super) struct CosExact;

impl Formula for CosExact {
    const ANNEAL: Anneal = Anneal::Cos;
    type Factor = PlatformCos;

    /// Steps out of order whose `pct`s may lie in more than one of the platform cos's
    /// classes have it called class by class ([`order`]); the others in their order.
    fn runs<S: Source>(src: S, n: usize, run: &mut impl Run<S>) {
        let in_order = n < order::MIN_STEPS
            || src
                .pct_ends()
                .is_some_and(|(lowest, highest)| order::one_class(lowest, highest))
            || src.in_order();
        if in_order {
            run.run::<PlatformCos>(0..n, src);
        } else {
            run.by_class(src, n);
        }
    }
}

pub(super) struct CosFast;

impl Formula for CosFast {
    const ANNEAL: Anneal = Anneal::Cos;
    type Factor = FastOrPlatform;

    /// Within a span, `pct` is monotonic: the steps are cut into runs of one [`region`]
    /// (at most five), each filled with that quadrant's kernel alone. So are steps in any
    /// order whose `pct`s all lie in one region ([`Source::pct_ends`]). Other steps
    /// take both kernels and a select; where some lie outside the domain (the extra
    /// step), those are filled again with the platform cos.
    fn runs<S: Source>(src: S, n: usize, run: &mut impl Run<S>) {
        let ends = src.pct_ends().map(|(a, b)| (region(a), region(b)));
        if S::MONOTONIC {
            Self::quadrant_runs(src, n, run);
        } else if let Some((region, _)) = ends.filter(|(a, b)| a == b) {
            Self::run_region(region, 0..n, src, run);
        } else if !run.run::<FastCos>(0..n, src) {
            Self::outside_again(src, n, run);
        }
    }
}

impl CosFast {
    /// Fills again, with the platform cos, the steps whose `pct` lies outside the fast
    /// cosine's domain (in runs of consecutive ones).
    fn outside_again<S: Source>(src: S, n: usize, run: &mut impl Run<S>) {
        let inside = |k: usize| fast_cos::in_domain(src.pct_at(k));
        let mut at = 0;
        while at < n {
            if inside(at) {
                at += 1;
            } else {
                let end = (at + 1..n).find(|&k| inside(k)).unwrap_or(n);
                run.run::<PlatformCos>(at..end, src.skip(at));
                at = end;
            }
        }
    }

    /// [`CosFast::runs`] for steps whose `pct` is monotonic.
    fn quadrant_runs<S: Source>(src: S, n: usize, run: &mut impl Run<S>) {
        let mut at = 0;
        while at < n {
            let (end, region) = next_run(at, n, |k| src.pct_at(k));
            Self::run_region(region, at..end, src.skip(at), run);
            at = end;
        }
    }

    /// Fills the steps `at`, whose `pct`s all lie in `region`, with that region's factor:
    /// one quadrant's kernel, or the platform cos outside the domain.
    fn run_region<S: Source>(region: u8, at: Range<usize>, src: S, run: &mut impl Run<S>) {
        match region {
            0 => run.run::<FastIn<0>>(at, src),
            1 => run.run::<FastIn<1>>(at, src),
            2 => run.run::<FastIn<2>>(at, src),
            _ => run.run::<PlatformCos>(at, src),
        };
    }
}

/// Where the fast cosine evaluates `pct`: its [`fast_cos::quadrant`] (0, 1 or 2) inside
/// the domain, [`BEFORE`] below it, [`AFTER`] above it (or NaN). Along the steps of a span
/// pct is monotonic, so this is too.
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

/// Work that depends on the [`Formula`] of a group.
pub(super) trait Kernel {
    fn run<F: Formula>(self);
}

/// Runs `kernel` with the formula of `anneal` at `accuracy`: the one place the
/// combination is chosen (linear is the same at both accuracies).
pub(super) fn dispatch(anneal: Anneal, accuracy: Accuracy, kernel: impl Kernel) {
    match (anneal, accuracy) {
        (Anneal::Linear, _) => kernel.run::<Linear>(),
        (Anneal::Cos, Accuracy::Exact) => kernel.run::<CosExact>(),
        (Anneal::Cos, Accuracy::Fast) => kernel.run::<CosFast>(),
    }
}

/// Stores one step's `(lr, momentum)`, rounded to `T`.
#[inline]
fn write<T: Sample>((lr, momentum): (f64, f64), l: &mut T, m: &mut T) {
    *l = T::from_f64(lr);
    *m = T::from_f64(momentum);
}

per_level! {
    /// `out[k]`: the `pct` of the `k`-th step of `src`.
    fn pcts<S: Source>(src: S, out: &mut [f64]) {
        for (p, item) in out.iter_mut().zip(src.items()) {
            *p = src.pct(item);
        }
    }

    /// `out[k]`: the factor of the `k`-th step of `src`. False when `Fa` does not cover
    /// some step.
    fn factors<Fa: Factor, S: Source>(src: S, out: &mut [f64]) -> bool {
        let mut covered = true;
        for (f, item) in out.iter_mut().zip(src.items()) {
            let pct = src.pct(item);
            covered &= Fa::covers(pct);
            *f = Fa::at(pct);
        }
        covered
    }

    /// `lr[k]` and `momentum[k]` from `factor[k]` and the coefficients of the phase of the
    /// `k`-th step of `src`.
    fn apply<T: Sample, F: Formula, S: Source>(
        src: S,
        row: &S::Row,
        factor: &[f64],
        lr: &mut [T],
        momentum: &mut [T],
    ) {
        let outs = lr.iter_mut().zip(momentum.iter_mut());
        for ((l, m), (&f, item)) in outs.zip(factor.iter().zip(src.items())) {
            write(src.coefficients(row, item).apply(F::ANNEAL, f), l, m);
        }
    }

    /// `lr[k]` and `momentum[k]` at the `k`-th step of `src`, factor and formula in one
    /// loop. False when `Fa` does not cover some step.
    fn fused<T: Sample, F: Formula, Fa: Factor, S: Source>(
        src: S,
        row: &S::Row,
        lr: &mut [T],
        momentum: &mut [T],
    ) -> bool {
        let mut covered = true;
        let outs = lr.iter_mut().zip(momentum.iter_mut());
        for ((l, m), item) in outs.zip(src.items()) {
            let pct = src.pct(item);
            covered &= Fa::covers(pct);
            write(src.coefficients(row, item).apply(F::ANNEAL, Fa::at(pct)), l, m);
        }
        covered
    }
}

/// One configuration's outputs within one block.
pub(super) struct Out<'o, T> {
    pub config: usize,
    pub lr: &'o mut [T],
    pub momentum: &'o mut [T],
}

/// The rows of one group of configurations (same phases) within one block. Several share
/// the factors: computed once into `buffer`, then each row is made from them. A row alone
/// has no one to share with: the fused loop fills it.
pub(super) struct Rows<'a, 'o, T, P: Positions> {
    pub level: Level,
    pub positions: &'a P,
    /// The group's phases for the request.
    pub phases: &'a P::Phases,
    pub prepared: &'a [Prepared],
    pub block: &'a P::Block,
    pub outs: &'a mut [Out<'o, T>],
    /// The task's buffer of factors, made when a group first shares it.
    pub buffer: &'a mut Option<[f64; BLOCK]>,
}

impl<T: Sample, P: Positions> Kernel for Rows<'_, '_, T, P> {
    fn run<F: Formula>(self) {
        let (positions, phases, block) = (self.positions, self.phases, self.block);
        let factor = if let [_] = self.outs {
            None
        } else {
            let n = self.outs[0].lr.len();
            let buffer = self.buffer.get_or_insert([0.0; BLOCK]);
            let mut factors = Factors::<F> {
                level: self.level,
                out: &mut buffer[..n],
                formula: PhantomData,
            };
            positions.pieces(phases, block, &mut factors);
            Some(&buffer[..n])
        };
        for out in self.outs {
            let mut row = OneRow::<T, F> {
                level: self.level,
                bounds: self.prepared[out.config].bounds(),
                factor,
                lr: out.lr,
                momentum: out.momentum,
                formula: PhantomData,
            };
            positions.pieces(phases, block, &mut row);
        }
    }
}

/// The factors of a group's steps, into the shared buffer.
struct Factors<'a, F> {
    level: Level,
    out: &'a mut [f64],
    formula: PhantomData<F>,
}

impl<F: Formula> Job for Factors<'_, F> {
    fn piece<S: Source>(&mut self, at: Range<usize>, src: S) {
        let mut run = Factors::<F> {
            level: self.level,
            out: &mut self.out[at.clone()],
            formula: PhantomData,
        };
        F::runs(src, at.len(), &mut run);
    }
}

impl<F, S: Source> Run<S> for Factors<'_, F> {
    fn run<Fa: Factor>(&mut self, at: Range<usize>, src: S) -> bool {
        factors::<Fa, S>(self.level, src, &mut self.out[at])
    }

    fn by_class(&mut self, src: S, n: usize) {
        ClassOrder::with(|order| {
            pcts::<S>(self.level, src, &mut order.pct[..n]);
            self.out[..n].copy_from_slice(order.factors_by_class(self.level, n, src.ahead()));
        });
    }
}

/// One row: from the shared factors where there are (`apply`), else alone (`fused`).
struct OneRow<'a, T, F> {
    level: Level,
    bounds: &'a Bounds,
    factor: Option<&'a [f64]>,
    lr: &'a mut [T],
    momentum: &'a mut [T],
    formula: PhantomData<F>,
}

impl<T: Sample, F: Formula> Job for OneRow<'_, T, F> {
    fn piece<S: Source>(&mut self, at: Range<usize>, src: S) {
        let row = src.row(F::ANNEAL, self.bounds);
        let (lr, momentum) = (&mut self.lr[at.clone()], &mut self.momentum[at.clone()]);
        if let Some(factor) = self.factor {
            apply::<T, F, S>(self.level, src, &row, &factor[at], lr, momentum);
        } else {
            let mut run = FusedRun::<T, F, S> {
                level: self.level,
                row: &row,
                lr,
                momentum,
                formula: PhantomData,
            };
            F::runs(src, at.len(), &mut run);
        }
    }
}

/// A row alone within one piece, with its coefficients there.
struct FusedRun<'a, T, F, S: Source> {
    level: Level,
    row: &'a S::Row,
    lr: &'a mut [T],
    momentum: &'a mut [T],
    formula: PhantomData<F>,
}

impl<T: Sample, F: Formula, S: Source> Run<S> for FusedRun<'_, T, F, S> {
    fn run<Fa: Factor>(&mut self, at: Range<usize>, src: S) -> bool {
        let (lr, momentum) = (&mut self.lr[at.clone()], &mut self.momentum[at]);
        fused::<T, F, Fa, S>(self.level, src, self.row, lr, momentum)
    }

    /// The factors class by class, then the formula from them.
    fn by_class(&mut self, src: S, n: usize) {
        ClassOrder::with(|order| {
            pcts::<S>(self.level, src, &mut order.pct[..n]);
            let factor = order.factors_by_class(self.level, n, src.ahead());
            let (lr, momentum) = (&mut self.lr[..n], &mut self.momentum[..n]);
            apply::<T, F, S>(self.level, src, self.row, factor, lr, momentum);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::fill::schedule_with;

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

    #[test]
    fn fast_mode_equals_the_fast_cosine_step_by_step() {
        // Each run of one quadrant takes that quadrant's kernel alone, the extra step
        // (pct > 1) the platform cos: each value must be FastOrPlatform's (fast_cos::cos,
        // both kernels and a select), step by step.
        let schedules = [
            (100_003, 0.3, false),
            (5_000, 0.56, true),
            (10, 0.95, false),
        ];
        for config in schedules.map(|(total, pct_start, three_phase)| Config {
            pct_start,
            three_phase,
            ..Config::new(total, 0.4)
        }) {
            let (cycle, values) = config.build().unwrap();
            let stop = config.total_steps as u64 + 1;
            let (lr, m): (Vec<f64>, Vec<f64>) =
                schedule_with(&config, 0, stop, Accuracy::Fast).unwrap();
            for s in 0..stop {
                let (phase, pct) = cycle.locate(s as i64).unwrap();
                let factor = FastOrPlatform::at(pct);
                let [lr0, lr1, m0, m1] = cycle.phases()[phase].bounds(&values).unwrap();
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
}
