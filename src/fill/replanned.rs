//! Schedules re-planned at chosen steps (`onecycle.schedule(..., replan=...)`): the values
//! a scheduler takes when it is re-planned (`OneCycleLR.replan`) each time its
//! `last_epoch` reaches one of the steps. Each plan is in force from the step after its
//! re-plan on; a window or list of steps is filled plan by plan, with the same loops as
//! any schedule.

use rayon::prelude::*;

use super::base::{Accuracy, Prepared, Sample};
use super::request::{check_step_range, Request};
use crate::config::Config;
use crate::cycle::{held_keys, Replan};
use crate::error::Error;

/// One configuration re-planned: each plan with the first step it is in force at.
#[derive(Clone, Debug)]
pub struct Replanned {
    plans: Vec<(u64, Prepared)>,
    total_steps: i64,
}

/// Where the values are wanted.
#[derive(Clone, Copy, Debug)]
pub enum Positions<'a> {
    /// The steps `[start, stop)`.
    Window(u64, u64),
    /// These steps, in any order.
    Steps(&'a [i64]),
}

impl Replanned {
    /// `config`'s schedule re-planned at each of `replans`, in order: at its `step` (which
    /// must not go back, nor beyond the `total_steps` then in force, the extra step
    /// included) onto its `total_steps`. A re-plan onto the length in force changes
    /// nothing.
    ///
    /// # Errors
    /// An invalid parameter of `config`; [`Error::ReplanOrder`] for a re-plan out of order
    /// or beyond the cycle then in force; [`Error::Replan`] or [`Error::ReplanPhase`] as
    /// [`crate::OneCycle::replan`]; [`Error::ZeroWidthPhase`] where the values held at a
    /// re-plan's step would be computed in a phase of zero width.
    pub fn new(config: &Config, replans: &[Replan]) -> Result<Replanned, Error> {
        let (mut cycle, mut values) = config.build()?;
        let mut plans: Vec<(u64, Prepared)> = Vec::with_capacity(replans.len() + 1);
        let (mut first, mut total, mut previous) = (0u64, config.total_steps, 0);
        for (index, at) in replans.iter().enumerate() {
            if at.step < previous || at.step > total {
                return Err(Error::ReplanOrder {
                    index,
                    step: at.step,
                    previous,
                    total_steps: total,
                });
            }
            at.check()?;
            previous = at.step;
            if at.total_steps == total {
                continue;
            }
            // The values the groups hold at the step: the plan in force there computed
            // them (the one before, for a second re-plan at the same step; the values of
            // a later plan only add keys to an earlier one's).
            let (lr, momentum) = match plans.last() {
                Some((_, plan)) if (at.step as u64) < first => plan.cycle().at(at.step, &values)?,
                _ => cycle.at(at.step, &values)?,
            };
            // Each re-plan that changes the length makes one plan more.
            let held = held_keys(plans.len());
            let next = cycle.replan(*at, (config.pct_start, config.three_phase), held.clone())?;
            plans.push((first, Prepared::new(cycle, &values)?));
            let [lr_key, momentum_key] = held;
            values.set(lr_key, lr);
            values.set(momentum_key, momentum);
            (cycle, first, total) = (next, at.step as u64 + 1, at.total_steps);
        }
        plans.push((first, Prepared::new(cycle, &values)?));
        Ok(Replanned {
            plans,
            total_steps: total,
        })
    }

    /// The length of the last plan: a window defaults to it, and steps lie in
    /// `0..=total_steps`.
    #[must_use]
    pub fn total_steps(&self) -> i64 {
        self.total_steps
    }

    /// The plans, each with the steps it is in force at (the last up to `u64::MAX`).
    fn ranges(&self) -> impl Iterator<Item = (std::ops::Range<u64>, &Prepared)> {
        let ends = self.plans.iter().skip(1).map(|(first, _)| *first);
        self.plans
            .iter()
            .zip(ends.chain([u64::MAX]))
            .map(|((first, plan), end)| (*first..end, plan))
    }

    /// Checks the steps against the last plan's length and each plan's phases, before
    /// anything is written.
    ///
    /// # Errors
    /// [`Error::Window`] or [`Error::Step`] for steps beyond `0..=total_steps`,
    /// [`Error::ZeroWidthPhase`] for a step in a phase of zero width.
    pub fn check(&self, at: Positions<'_>) -> Result<(), Error> {
        match at {
            Positions::Window(start, stop) => {
                let last = Config::new(self.total_steps, 1.0);
                last.check_window(start, stop)?;
                for (range, plan) in self.ranges() {
                    let (lo, hi) = (range.start.max(start), range.end.min(stop));
                    if lo < hi {
                        plan.cycle().spans(lo, hi)?;
                    }
                }
            }
            Positions::Steps(steps) => {
                check_step_range(steps, self.total_steps)?;
                for (range, plan) in self.ranges() {
                    let inside: Vec<i64> = steps
                        .iter()
                        .copied()
                        .filter(|&s| range.contains(&(s as u64)))
                        .collect();
                    plan.cycle().check_steps(&inside)?;
                }
            }
        }
        Ok(())
    }

    /// Fills `lr` and `momentum` (one value per position) plan by plan, on all cores when
    /// `threads` and the output is large enough.
    fn fill<T: Sample>(
        &self,
        at: Positions<'_>,
        (lr, momentum): (&mut [T], &mut [T]),
        (accuracy, threads): (Accuracy, bool),
    ) -> Result<(), Error> {
        for (range, plan) in self.ranges() {
            let request = Request {
                threads,
                ..Request::new(std::slice::from_ref(plan), accuracy)
            };
            match at {
                Positions::Window(start, stop) => {
                    let (lo, hi) = (range.start.max(start), range.end.min(stop));
                    if lo < hi {
                        let piece = (lo - start) as usize..(hi - start) as usize;
                        let (l, m) = (&mut lr[piece.clone()], &mut momentum[piece]);
                        request.window(lo, hi, l, m)?;
                    }
                }
                Positions::Steps(steps) => {
                    let index: Vec<usize> = (0..steps.len())
                        .filter(|&i| range.contains(&(steps[i] as u64)))
                        .collect();
                    let picked: Vec<i64> = index.iter().map(|&i| steps[i]).collect();
                    let (mut l, mut m) = (vec![T::ZERO; picked.len()], vec![T::ZERO; picked.len()]);
                    request.steps(&picked, &mut l, &mut m)?;
                    for (k, i) in index.into_iter().enumerate() {
                        (lr[i], momentum[i]) = (l[k], m[k]);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Each configuration re-planned at `replans` ([`Replanned::new`]) and checked at `at`
/// ([`Replanned::check`]), before any allocation or work.
///
/// # Errors
/// The first invalid configuration's, wrapped in [`Error::InConfig`] when there are
/// several.
pub fn prepare_replanned(
    configs: &[Config],
    replans: &[Replan],
    at: Positions<'_>,
) -> Result<Vec<Replanned>, Error> {
    let prepare = |config: &Config| {
        let row = Replanned::new(config, replans)?;
        row.check(at)?;
        Ok(row)
    };
    configs
        .iter()
        .enumerate()
        .map(|(i, config)| prepare(config).map_err(|e: Error| e.in_config(i, configs.len())))
        .collect()
}

/// Fills row `i` of `lr` and `momentum` (one row of `positions` per configuration) with
/// `rows[i]`'s values; rows are filled on all cores when there are several, a single
/// row's plans on all cores when it is long enough. Check each row first
/// ([`Replanned::check`]).
///
/// # Errors
/// [`Error::LengthMismatch`] when the outputs do not hold one row per configuration.
pub fn fill_replanned<T: Sample>(
    rows: &[Replanned],
    at: Positions<'_>,
    (lr, momentum): (&mut [T], &mut [T]),
    accuracy: Accuracy,
) -> Result<(), Error> {
    let row = match at {
        Positions::Window(start, stop) => (stop - start) as usize,
        Positions::Steps(steps) => steps.len(),
    };
    let expected = row.saturating_mul(rows.len());
    if lr.len() != expected || momentum.len() != expected {
        return Err(Error::LengthMismatch {
            lr: lr.len(),
            momentum: momentum.len(),
        });
    }
    if row == 0 {
        return Ok(());
    }
    if let [one] = rows {
        return one.fill(at, (lr, momentum), (accuracy, true));
    }
    lr.par_chunks_mut(row)
        .zip(momentum.par_chunks_mut(row))
        .zip(rows.par_iter())
        .try_for_each(|((l, m), plans)| plans.fill(at, (l, m), (accuracy, false)))
}
