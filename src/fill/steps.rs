//! Where the values are wanted, and how each step's pct and phase are found there.
//!
//! A request asks for a [`Window`] of consecutive steps or for a [`List`] of steps in any
//! order. Each group of configurations finds its phases for the whole request once
//! ([`Positions::phases`]); each block of a row is then handed to the loops as a few
//! pieces ([`Positions::pieces`]), each a [`Source`]: where a loop reads its steps, and how
//! it turns one into torch's `pct` and the coefficients of its phase.
//!
//! - A window's pieces are its spans ([`Span`]: the steps of one phase), [`Consecutive`]
//!   steps: a [`Near`] span counts them in `f64` (exact below 2**53, and vectorisable), a
//!   [`Far`] one converts each `u64` step.
//! - A list has one piece per block, [`Picked`] steps: with at most three phases
//!   ([`Few`]: every schedule of a configuration) each step picks its phase by integer
//!   comparisons and selects, without a branch, so the loop vectorises. A block's lowest
//!   and highest step ([`ListBlock`]) say which phases it needs to pick among (often one,
//!   for steps in order) and whether its steps convert to `f64` the short way. With more
//!   phases ([`ListPhases::Many`], only from an explicit phase list) each step's phase is
//!   [`Searched`] for.

use std::hint::select_unpredictable;
use std::marker::PhantomData;
use std::ops::Range;

use rayon::prelude::*;

use super::PARALLEL_MIN_STEPS;
use crate::cycle::{Anneal, OneCycle, Phase, PhaseSteps, Span, Values};
use crate::error::Error;
use crate::simd::{per_level, Level};

/// The steps of a request, in the order of its output rows.
pub(super) trait Positions: Sync {
    /// What one group of configurations knows of its phases for this request.
    type Phases: Sync;
    /// What the loops need to know of one block of values, found once for all groups.
    type Block;

    /// The number of values in each row.
    fn len(&self) -> usize;

    /// The phases of `cycle` for these steps, found once.
    ///
    /// # Errors
    /// [`Error::ZeroWidthPhase`] when a step falls in a phase of zero width.
    fn phases(&self, cycle: &OneCycle) -> Result<Self::Phases, Error>;

    /// The block of values `values` of each row, with loops compiled for `level`.
    fn block(&self, values: Range<usize>, level: Level) -> Self::Block;

    /// Hands a block of a row to `job`, as pieces that each lie in one [`Source`]
    /// (positions counted from the start of the block).
    fn pieces(&self, phases: &Self::Phases, block: &Self::Block, job: &mut impl Job);
}

/// What the loops do with one piece of a block.
pub(super) trait Job {
    /// The values at `at` (counted from the start of the block), whose steps `src` gives.
    fn piece<S: Source>(&mut self, at: Range<usize>, src: S);
}

/// Steps a loop reads, in order: each one's `pct` and the coefficients of its phase.
pub(super) trait Source: Copy {
    /// What the loop reads for one step.
    type Item: Copy;
    /// One configuration's [`Coefficients`] for the phases these steps fall in.
    type Row;
    /// Whether `pct` is monotonic along the steps (it is within one phase of a window).
    const MONOTONIC: bool;

    /// The steps, from the first; the loop's outputs end it.
    fn items(self) -> impl Iterator<Item = Self::Item>;
    /// torch's `pct` at a step.
    fn pct(self, item: Self::Item) -> f64;
    /// The same steps from the `k`-th on.
    #[must_use]
    fn skip(self, k: usize) -> Self;
    /// The coefficients of one configuration (its group values `values`), once per piece.
    fn row(self, anneal: Anneal, phases: &[Phase], values: &Values) -> Self::Row;
    /// The coefficients of the phase of one step.
    fn coefficients(self, row: &Self::Row, item: Self::Item) -> Coefficients;

    /// Two `pct`s every step's lies between, where they are known without looking at
    /// each (steps in any order, all in one phase).
    fn pct_ends(self) -> Option<(f64, f64)> {
        None
    }

    /// The steps, where a list gives them (`None` for a window's).
    fn listed(&self) -> Option<&[i64]> {
        None
    }

    /// Whether the steps go one way (each at most the next, or each at least it), so
    /// their `pct`s do too within each phase.
    fn in_order(self) -> bool {
        self.listed().map_or(Self::MONOTONIC, |steps| {
            steps.is_sorted() || steps.iter().rev().is_sorted()
        })
    }

    /// The steps the next block will read, where they are known (a list's): worth
    /// fetching into the cache while this block is slow to compute.
    fn ahead(&self) -> &[i64] {
        &[]
    }

    /// `pct` of the `k`-th step (not in a loop).
    fn pct_at(self, k: usize) -> f64 {
        let from = self.skip(k);
        from.items().next().map_or(f64::NAN, |item| from.pct(item))
    }
}

/// One phase's formula for one configuration: torch's [`Anneal::coefficients`] of its lr
/// and its momentum, computed once per phase rather than at every step.
#[derive(Clone, Copy, Debug)]
pub(super) struct Coefficients {
    lr: (f64, f64),
    momentum: (f64, f64),
}

impl Coefficients {
    fn of(anneal: Anneal, phase: &Phase, values: &Values) -> Coefficients {
        let [lr_start, lr_end, m_start, m_end] = phase.bounds(values);
        Coefficients {
            lr: anneal.coefficients(lr_start, lr_end),
            momentum: anneal.coefficients(m_start, m_end),
        }
    }

    /// `(lr, momentum)` at a step whose factor is `factor` ([`Anneal::apply`]).
    #[inline]
    pub(super) fn apply(self, anneal: Anneal, factor: f64) -> (f64, f64) {
        (
            anneal.apply(self.lr, factor),
            anneal.apply(self.momentum, factor),
        )
    }
}

/// The window of steps `[start, stop)`.
pub(super) struct Window {
    pub start: u64,
    pub stop: u64,
}

impl Positions for Window {
    type Phases = Vec<Span>;
    type Block = Range<usize>;

    fn len(&self) -> usize {
        self.stop.saturating_sub(self.start) as usize
    }

    fn phases(&self, cycle: &OneCycle) -> Result<Vec<Span>, Error> {
        cycle.spans(self.start, self.stop)
    }

    fn block(&self, values: Range<usize>, _: Level) -> Range<usize> {
        values
    }

    fn pieces(&self, spans: &Vec<Span>, block: &Range<usize>, job: &mut impl Job) {
        let first = self.start + block.start as u64;
        let last = self.start + block.end as u64;
        for span in spans {
            let (lo, hi) = (span.steps.start.max(first), span.steps.end.min(last));
            if lo < hi {
                let at = (lo - first) as usize..(hi - first) as usize;
                if hi <= 1 << 53 {
                    job.piece(at, Near::new(span, lo));
                } else {
                    job.piece(at, Far::new(span, lo));
                }
            }
        }
    }
}

/// Consecutive steps of one span, from `first` (a [`Count`]).
#[derive(Clone, Copy)]
pub(super) struct Consecutive<X> {
    phase: usize,
    first: X,
    start_step: f64,
    width: f64,
}

/// Where [`Consecutive`] steps start, and how a loop counts them: in `f64` for steps all
/// below 2**53 (`first as f64 + k` is then the conversion of step `first + k`, the `pct`
/// of [`Span::pct`], in a form that vectorises), as `u64` for the others (each one
/// converted).
pub(super) trait Count: Copy {
    fn from_step(step: u64) -> Self;
    fn items(self) -> impl Iterator<Item = Self>;
    fn to_f64(self) -> f64;
    #[must_use]
    fn plus(self, k: usize) -> Self;
}

/// Steps below 2**53.
pub(super) type Near = Consecutive<f64>;
/// Steps some of which lie beyond 2**53.
pub(super) type Far = Consecutive<u64>;

impl Count for f64 {
    fn from_step(step: u64) -> f64 {
        step as f64
    }

    fn items(self) -> impl Iterator<Item = f64> {
        (0i32..).map(move |k| self + f64::from(k))
    }

    fn to_f64(self) -> f64 {
        self
    }

    fn plus(self, k: usize) -> f64 {
        self + k as f64
    }
}

impl Count for u64 {
    fn from_step(step: u64) -> u64 {
        step
    }

    fn items(self) -> impl Iterator<Item = u64> {
        // The outputs end the loop before this passes the window's last step (below
        // u64::MAX), so it never overflows.
        self..
    }

    fn to_f64(self) -> f64 {
        self as f64
    }

    fn plus(self, k: usize) -> u64 {
        self + k as u64
    }
}

impl<X: Count> Consecutive<X> {
    fn new(span: &Span, first: u64) -> Self {
        Consecutive {
            phase: span.phase,
            first: X::from_step(first),
            start_step: span.start_step,
            width: span.width,
        }
    }
}

impl<X: Count> Source for Consecutive<X> {
    type Item = X;
    type Row = Coefficients;
    const MONOTONIC: bool = true;

    fn items(self) -> impl Iterator<Item = X> {
        self.first.items()
    }

    fn pct(self, step: X) -> f64 {
        (step.to_f64() - self.start_step) / self.width
    }

    fn skip(self, k: usize) -> Self {
        Consecutive {
            first: self.first.plus(k),
            ..self
        }
    }

    fn row(self, anneal: Anneal, phases: &[Phase], values: &Values) -> Coefficients {
        Coefficients::of(anneal, &phases[self.phase], values)
    }

    fn coefficients(self, row: &Coefficients, _: X) -> Coefficients {
        *row
    }
}

/// A list of steps, in any order, repeated or not.
pub(super) struct List<'s>(pub &'s [i64]);

/// One group's phases for a [`List`].
pub(super) enum ListPhases {
    Few(Few),
    Many(Vec<PhaseSteps>),
}

impl Positions for List<'_> {
    type Phases = ListPhases;
    type Block = ListBlock;

    fn len(&self) -> usize {
        self.0.len()
    }

    fn phases(&self, cycle: &OneCycle) -> Result<ListPhases, Error> {
        cycle.check_steps(self.0)?;
        let ranges = cycle.step_ranges();
        Ok(match Few::new(&ranges) {
            Some(few) => ListPhases::Few(few),
            None => ListPhases::Many(ranges),
        })
    }

    fn block(&self, values: Range<usize>, level: Level) -> ListBlock {
        let (lowest, highest) = bounds(level, &self.0[values.clone()]);
        ListBlock {
            values,
            lowest,
            highest,
        }
    }

    fn pieces(&self, phases: &ListPhases, block: &ListBlock, job: &mut impl Job) {
        let steps = &self.0[block.values.clone()];
        let next = block.values.end;
        let ahead = &self.0[next..(next + block.values.len()).min(self.0.len())];
        match phases {
            ListPhases::Few(few) => {
                let bounds = (block.lowest, block.highest);
                let slots = few.between(block.lowest, block.highest);
                if block.lowest >= 0 && block.highest < 1 << 52 {
                    slots.piece::<Below52>((steps, ahead), bounds, job);
                } else {
                    slots.piece::<AnyStep>((steps, ahead), bounds, job);
                }
            }
            ListPhases::Many(ranges) => job.piece(0..steps.len(), Searched { steps, ranges }),
        }
    }
}

/// One block of a [`List`]: its values, and its lowest and highest step (which say the
/// phases its steps can fall in, and whether they convert to `f64` the short way).
pub(super) struct ListBlock {
    values: Range<usize>,
    lowest: i64,
    highest: i64,
}

/// The lowest and the highest of `steps` (`(i64::MAX, i64::MIN)` for none), in vector
/// instructions, on all cores for a long list.
pub(super) fn step_bounds(steps: &[i64]) -> (i64, i64) {
    let level = Level::detect();
    if steps.len() < PARALLEL_MIN_STEPS {
        return bounds(level, steps);
    }
    let both = |(lo, hi): (i64, i64), (low, high): (i64, i64)| (lo.min(low), hi.max(high));
    steps
        .par_chunks(PARALLEL_MIN_STEPS)
        .map(|chunk| bounds(level, chunk))
        .reduce(|| (i64::MAX, i64::MIN), both)
}

per_level! {
    /// The lowest and the highest of `steps` (`(i64::MAX, i64::MIN)` for none).
    fn bounds<>(steps: &[i64]) -> (i64, i64) {
        let (mut lowest, mut highest) = (i64::MAX, i64::MIN);
        for &step in steps {
            lowest = lowest.min(step);
            highest = highest.max(step);
        }
        (lowest, highest)
    }
}

/// How a loop converts a listed step to `f64`, as Python's `float(int)` does.
pub(super) trait Convert {
    fn convert(step: i64) -> f64;
}

/// Steps in `0..2**52`: the step is the mantissa of `2**52 + step`, exactly.
pub(super) struct Below52;

impl Convert for Below52 {
    fn convert(step: i64) -> f64 {
        f64::from_bits(TWO_52.to_bits() | step as u64) - TWO_52
    }
}

/// Any step ([`step_as_f64`]).
pub(super) struct AnyStep;

impl Convert for AnyStep {
    fn convert(step: i64) -> f64 {
        step_as_f64(step)
    }
}

/// 2**52.
const TWO_52: f64 = 4_503_599_627_370_496.0;

/// `step as f64`, rounded to nearest (ties to even) as Python's `float(int)` is, in
/// operations that vectorise (x86 converts 64-bit integers to doubles in vectors only
/// from AVX-512DQ on): the high 32 bits convert exactly and scale exactly by 2**32, the low
/// 32 bits convert exactly (as the mantissa of `2**52 + low`), and their sum rounds once.
#[inline]
pub(super) fn step_as_f64(step: i64) -> f64 {
    let high = f64::from((step >> 32) as i32) * 4_294_967_296.0;
    let low = f64::from_bits(TWO_52.to_bits() | (step as u64 & 0xffff_ffff)) - TWO_52;
    high + low
}

/// A group's phases for the steps of a [`List`] when at most three of them hold `i64`
/// steps (every schedule of a [`crate::config::Config`]): up to three slots, and the
/// step after which each later slot begins.
#[derive(Clone, Copy, Debug)]
pub(super) struct Few {
    /// Step `s` lies in slot 1 or 2 where `s > last[0]`, in slot 2 where `s > last[1]`
    /// (`i64::MAX` where there is no such slot).
    last: [i64; 2],
    /// The index of each slot's phase, and its start and width.
    phase: [usize; 3],
    start_step: [f64; 3],
    width: [f64; 3],
}

impl Few {
    /// The slots for the phases of `ranges` ([`OneCycle::step_ranges`]) that hold `i64`
    /// steps, or `None` when there are more than three. A later slot begins at a step
    /// inside the `i64` range (after one of the slot before), so `last` is exact.
    fn new(ranges: &[PhaseSteps]) -> Option<Few> {
        let steps = i128::from(i64::MIN)..i128::from(i64::MAX) + 1;
        let held: Vec<usize> = (0..ranges.len())
            .filter(|&i| {
                let range = &ranges[i].steps;
                range.start.max(steps.start) < range.end.min(steps.end)
            })
            .collect();
        if held.len() > 3 {
            return None;
        }
        let mut few = Few {
            last: [i64::MAX; 2],
            phase: [0; 3],
            start_step: [0.0; 3],
            width: [1.0; 3],
        };
        // Slots past the last phase repeat it; no step picks them.
        for slot in 0..3 {
            let i = held[slot.min(held.len() - 1)];
            few.phase[slot] = i;
            few.start_step[slot] = ranges[i].start_step;
            few.width[slot] = ranges[i].width;
        }
        for (slot, next) in held.iter().skip(1).enumerate() {
            few.last[slot] = (ranges[*next].steps.start - 1) as i64;
        }
        Some(few)
    }

    /// The slot of `step`.
    fn slot(&self, step: i64) -> usize {
        usize::from(step > self.last[0]) + usize::from(step > self.last[1])
    }

    /// The slots of the steps from `lowest` to `highest` (the first of them becomes slot
    /// 0).
    fn between(&self, lowest: i64, highest: i64) -> Slots {
        let (first, last) = (self.slot(lowest), self.slot(highest).max(self.slot(lowest)));
        let at = |k: usize| (first + k).min(2);
        let few = Few {
            last: [0, 1].map(|k| self.last.get(first + k).copied().unwrap_or(i64::MAX)),
            phase: [0, 1, 2].map(|k| self.phase[at(k)]),
            start_step: [0, 1, 2].map(|k| self.start_step[at(k)]),
            width: [0, 1, 2].map(|k| self.width[at(k)]),
        };
        Slots {
            few,
            count: last - first + 1,
        }
    }
}

/// The slots of [`Few`] the steps of one block fall in: one, two or three.
struct Slots {
    few: Few,
    count: usize,
}

impl Slots {
    /// Hands `steps` (from `bounds.0` to `bounds.1`) to `job` as one [`Picked`] piece,
    /// which picks among `count` slots and converts as `C` does.
    /// `ahead`: the steps of the next block.
    fn piece<C: Convert>(
        self,
        (steps, ahead): (&[i64], &[i64]),
        bounds: (i64, i64),
        job: &mut impl Job,
    ) {
        let at = 0..steps.len();
        let few = self.few;
        match self.count {
            1 => job.piece(at, Picked::<1, C>::new(steps, bounds, few).ahead(ahead)),
            2 => job.piece(at, Picked::<2, C>::new(steps, bounds, few).ahead(ahead)),
            _ => job.piece(at, Picked::<3, C>::new(steps, bounds, few).ahead(ahead)),
        }
    }
}

/// Steps of a [`List`] whose phases are [`Few`], in `N` slots (the others are not
/// looked at), converted as `C` does.
pub(super) struct Picked<'s, const N: usize, C> {
    steps: &'s [i64],
    /// The steps of the next block.
    ahead: &'s [i64],
    /// The lowest and the highest of `steps`.
    bounds: (i64, i64),
    few: Few,
    convert: PhantomData<C>,
}

impl<'s, const N: usize, C> Picked<'s, N, C> {
    fn new(steps: &'s [i64], bounds: (i64, i64), few: Few) -> Self {
        Picked {
            steps,
            ahead: &[],
            bounds,
            few,
            convert: PhantomData,
        }
    }

    fn ahead(self, ahead: &'s [i64]) -> Self {
        Picked { ahead, ..self }
    }

    /// The value of `step`'s slot among `slots`: a comparison and a select of values per
    /// slot past the first (not a branch, nor an address computed from the comparison:
    /// either keeps the loop from being vectorised).
    #[inline]
    fn pick<X: Copy>(&self, step: i64, slots: &[X; 3]) -> X {
        let [first, second, third] = *slots;
        let mut value = first;
        if N > 1 {
            value = select_unpredictable(step > self.few.last[0], second, value);
        }
        if N > 2 {
            value = select_unpredictable(step > self.few.last[1], third, value);
        }
        value
    }
}

impl<const N: usize, C> Clone for Picked<'_, N, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<const N: usize, C> Copy for Picked<'_, N, C> {}

impl<const N: usize, C: Convert> Source for Picked<'_, N, C> {
    type Item = i64;
    type Row = [Coefficients; 3];
    const MONOTONIC: bool = false;

    fn items(self) -> impl Iterator<Item = i64> {
        self.steps.iter().copied()
    }

    fn pct(self, step: i64) -> f64 {
        let start_step = self.pick(step, &self.few.start_step);
        (C::convert(step) - start_step) / self.pick(step, &self.few.width)
    }

    fn skip(self, k: usize) -> Self {
        Picked {
            steps: &self.steps[k..],
            ..self
        }
    }

    fn ahead(&self) -> &[i64] {
        self.ahead
    }

    /// With one slot, `pct` is monotonic in the step (as along a span): those of the
    /// lowest and the highest step.
    fn pct_ends(self) -> Option<(f64, f64)> {
        (N == 1).then(|| (self.pct(self.bounds.0), self.pct(self.bounds.1)))
    }

    fn row(self, anneal: Anneal, phases: &[Phase], values: &Values) -> [Coefficients; 3] {
        self.few
            .phase
            .map(|i| Coefficients::of(anneal, &phases[i], values))
    }

    fn coefficients(self, row: &[Coefficients; 3], step: i64) -> Coefficients {
        self.pick(step, row)
    }

    fn listed(&self) -> Option<&[i64]> {
        Some(self.steps)
    }
}

/// Steps of a [`List`] whose phases are more than [`Few`]: each one's phase is searched
/// for (exactly, in `i128`).
#[derive(Clone, Copy)]
pub(super) struct Searched<'s> {
    steps: &'s [i64],
    ranges: &'s [PhaseSteps],
}

impl Searched<'_> {
    fn phase(self, step: i64) -> usize {
        let step = i128::from(step);
        self.ranges.partition_point(|range| range.steps.end <= step)
    }
}

impl Source for Searched<'_> {
    type Item = i64;
    type Row = Vec<Coefficients>;
    const MONOTONIC: bool = false;

    fn items(self) -> impl Iterator<Item = i64> {
        self.steps.iter().copied()
    }

    fn pct(self, step: i64) -> f64 {
        let range = &self.ranges[self.phase(step)];
        (step_as_f64(step) - range.start_step) / range.width
    }

    fn skip(self, k: usize) -> Self {
        Searched {
            steps: &self.steps[k..],
            ..self
        }
    }

    fn row(self, anneal: Anneal, phases: &[Phase], values: &Values) -> Vec<Coefficients> {
        phases
            .iter()
            .map(|phase| Coefficients::of(anneal, phase, values))
            .collect()
    }

    fn coefficients(self, row: &Vec<Coefficients>, step: i64) -> Coefficients {
        row[self.phase(step)]
    }

    fn listed(&self) -> Option<&[i64]> {
        Some(self.steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_as_f64_rounds_as_a_conversion() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let random = (0..200_000).map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> (state % 64)) as i64
        });
        let edges = [
            0,
            1,
            -1,
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
            1 << 32,
            (1 << 32) - 1,
        ];
        let near = (-3..=3).flat_map(|d| {
            [53, 54, 62, 63]
                .map(|p: u32| (1i128 << p) + d)
                .into_iter()
                .chain([(1i128 << 53) * 3 + d, -(1i128 << 53) + d])
        });
        let near = near.filter_map(|s| i64::try_from(s).ok());
        for s in random.chain(edges).chain(near) {
            assert_eq!(step_as_f64(s).to_bits(), (s as f64).to_bits(), "{s}");
        }
    }

    #[test]
    fn a_list_finds_each_steps_phase_as_locate_does() {
        // Three phases, a zero-width-free two-phase schedule, a phase that holds no step,
        // a phase list ending at NaN, and five phases (searched).
        let keys = |end_step| Phase {
            end_step,
            start_lr: crate::Key::InitialLr,
            end_lr: crate::Key::MaxLr,
            start_momentum: crate::Key::MaxMomentum,
            end_momentum: crate::Key::BaseMomentum,
        };
        let lists: [&[f64]; 5] = [
            &[29.0, 58.0, 99.0],
            &[2.5, 99.0],
            &[10.0, 5.0, 99.0],
            &[f64::NAN, 3.0],
            &[3.0, 7.5, 7.9, 12.0, 20.0],
        ];
        let steps: Vec<i64> = (-3..=25)
            .chain([59, 99, 100, 1 << 53, i64::MAX, i64::MIN])
            .collect();
        for ends in lists {
            let phases = ends.iter().map(|e| keys(*e)).collect();
            let cycle = OneCycle::from_phases(phases, Anneal::Cos).unwrap();
            let Ok(found) = List(&steps).phases(&cycle) else {
                continue;
            };
            let pcts: Vec<f64> = match &found {
                ListPhases::Few(few) => {
                    let (lowest, highest) = (steps[0], steps[steps.len() - 1]);
                    let src = Picked::<3, AnyStep>::new(&steps, (lowest, highest), *few);
                    steps.iter().map(|&s| src.pct(s)).collect()
                }
                ListPhases::Many(ranges) => {
                    let src = Searched {
                        steps: &steps,
                        ranges,
                    };
                    steps.iter().map(|&s| src.pct(s)).collect()
                }
            };
            assert_eq!(matches!(found, ListPhases::Few(_)), ends.len() <= 3);
            for (s, pct) in steps.iter().zip(pcts) {
                if let Ok((_, want)) = cycle.locate(*s) {
                    let same = pct.to_bits() == want.to_bits() || pct.is_nan() && want.is_nan();
                    assert!(same, "{ends:?} step {s}: {pct} vs {want}");
                }
            }
        }
    }
}
