//! A [`List`] of steps, in any order: one piece per block, [`Picked`] steps. With at most
//! three phases ([`Few`]: every schedule of a configuration) each step picks its phase by
//! integer comparisons and selects, without a branch, so the loop vectorises. A block's
//! lowest and highest step ([`ListBlock`]) say which phases it needs to pick among (often
//! one, for steps in order) and whether its steps convert to `f64` the short way. With more
//! phases ([`ListPhases::Many`], only from an explicit phase list) each step's phase is
//! [`Searched`] for.

use std::hint::select_unpredictable;
use std::marker::PhantomData;
use std::ops::Range;

use rayon::prelude::*;

use super::base::PARALLEL_MIN_STEPS;
use super::steps::{Bounds, Coefficients, Job, Positions, Source};
use crate::cycle::{Anneal, OneCycle, PhaseSteps};
use crate::error::Error;
use crate::simd::{per_level, Level};

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

    fn row(self, anneal: Anneal, bounds: &Bounds) -> [Coefficients; 3] {
        self.few.phase.map(|i| Coefficients::of(anneal, bounds[i]))
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

    fn row(self, anneal: Anneal, bounds: &Bounds) -> Vec<Coefficients> {
        bounds
            .iter()
            .map(|&bounds| Coefficients::of(anneal, bounds))
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
        let keys = |end_step| {
            let [a, b, c, d, _] = crate::Key::TORCH;
            crate::Phase::new(end_step, [a, b, c, d])
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
