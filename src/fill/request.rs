//! [`Request`]: what to fill (prepared configurations, one output row each) and how, and
//! the check of a list of steps against a schedule's length.

use super::base::{Accuracy, Prepared, Sample, PARALLEL_MIN_STEPS};
use super::list::{step_bounds, List};
use super::plan::Plan;
use super::steps::{Positions, Window};
use crate::error::Error;
use crate::simd::Level;

/// What to fill, and how: the configurations (one output row each), the accuracy, the
/// vector instructions and whether to use all cores.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub prepared: &'a [Prepared],
    pub accuracy: Accuracy,
    /// The vector instructions the loops use: every level gives the same values.
    pub level: Level,
    /// Whether to fill on all cores once the output holds [`PARALLEL_MIN_STEPS`] values.
    pub threads: bool,
}

impl<'a> Request<'a> {
    /// A request at the level [`Level::detect`] gives (the widest this CPU has, unless
    /// capped by the environment), on all cores.
    #[must_use]
    pub fn new(prepared: &'a [Prepared], accuracy: Accuracy) -> Self {
        Request {
            prepared,
            accuracy,
            level: Level::detect(),
            threads: true,
        }
    }

    /// Fills row `i` of `lr` and `momentum` (rows of `stop - start` values, one per
    /// prepared configuration) with steps `[start, stop)` of configuration `i`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when the outputs do not hold one row per configuration,
    /// [`Error::ZeroWidthPhase`] where torch would divide by zero (nothing is written then).
    pub fn window<T: Sample>(
        &self,
        start: u64,
        stop: u64,
        lr: &mut [T],
        momentum: &mut [T],
    ) -> Result<(), Error> {
        self.fill(&Window { start, stop }, lr, momentum)
    }

    /// Fills row `i` of `lr` and `momentum` (rows of `steps.len()` values, one per prepared
    /// configuration) with configuration `i`'s values at `steps[0]`, `steps[1]`, ...: the
    /// same bits as a window holding those steps. [`prepare_steps`] checks the steps
    /// against each configuration's `total_steps`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when the outputs do not hold one row per configuration,
    /// [`Error::ZeroWidthPhase`] for the first step (in the order of `steps`) where torch
    /// would divide by zero (nothing is written then).
    pub fn steps<T: Sample>(
        &self,
        steps: &[i64],
        lr: &mut [T],
        momentum: &mut [T],
    ) -> Result<(), Error> {
        self.fill(&List(steps), lr, momentum)
    }

    fn fill<T: Sample>(
        &self,
        positions: &impl Positions,
        lr: &mut [T],
        momentum: &mut [T],
    ) -> Result<(), Error> {
        let expected = positions.len().saturating_mul(self.prepared.len());
        if lr.len() != expected || momentum.len() != expected {
            return Err(Error::LengthMismatch {
                lr: lr.len(),
                momentum: momentum.len(),
            });
        }
        let plan = Plan::new(self.prepared, positions)?;
        if expected > 0 {
            let parallel = self.threads && expected >= PARALLEL_MIN_STEPS;
            plan.fill(lr, momentum, (self.accuracy, self.level), parallel);
        }
        Ok(())
    }
}

/// Checks that each of `steps` lies in `0..=total_steps` (its lowest and highest found on
/// all cores for a long list).
///
/// # Errors
/// [`Error::Step`] for the first that does not.
pub fn check_step_range(steps: &[i64], total_steps: i64) -> Result<(), Error> {
    check_range(steps, step_bounds(steps), total_steps)
}

/// [`check_step_range`] for steps whose lowest and highest are `(lowest, highest)`: they
/// are looked at one by one only when some step is out of range.
pub(super) fn check_range(
    steps: &[i64],
    (lowest, highest): (i64, i64),
    total_steps: i64,
) -> Result<(), Error> {
    if lowest >= 0 && highest <= total_steps {
        return Ok(());
    }
    let outside = |&(_, &step): &(usize, &i64)| step < 0 || step > total_steps;
    match steps.iter().enumerate().find(outside) {
        Some((index, &step)) => Err(Error::Step {
            index,
            step,
            total_steps,
        }),
        None => Ok(()),
    }
}
