//! Re-planning a running cycle onto a new length without a jump, in torch's own model of a
//! schedule (a phase list), so that torch's class steps the result as it steps its own.
//!
//! At step `k` (the scheduler's `last_epoch`) the groups hold the values of step `k`; they
//! are stored under two new group keys ([`held_keys`]). The re-planned phase list is:
//! - a phase ending at `k` that holds those values: the steps already taken, which are
//!   never evaluated again;
//! - the phase step `k + 1` falls in under the plan so far, now from the values held at `k`
//!   to its own end value, at its end step for the new length; where that end is not after
//!   `k`, the next phase of the layout takes its place (so a run never goes back to an
//!   earlier phase, and shrinking during warm-up skips the rest of the warm-up);
//! - the phases after it, at their ends for the new length: the last ends at
//!   `total_steps - 1`, at `min_lr` (and `max_momentum`), as torch's does.

use super::model::{int_le_float, OneCycle};
use super::phase::{Key, Phase};
use crate::error::Error;

/// Where and onto what a schedule is re-planned: at step `step` (the scheduler's
/// `last_epoch`), onto a cycle of `total_steps`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replan {
    pub step: i64,
    pub total_steps: i64,
}

/// The group keys the `index`-th re-plan (from 0) stores the lr and the momentum held at
/// its step under.
#[must_use]
pub fn held_keys(index: usize) -> [Key; 2] {
    [
        Key::new(format!("onecycle_replan{index}_lr")),
        Key::new(format!("onecycle_replan{index}_momentum")),
    ]
}

impl Replan {
    /// Checks that the step is one a scheduler can be at (`0 <= step`) and that at least
    /// one step remains after it (`total_steps >= step + 2`).
    ///
    /// # Errors
    /// [`Error::Replan`] otherwise.
    pub fn check(self) -> Result<(), Error> {
        let least = i128::from(self.step) + 2;
        if self.step < 0 || i128::from(self.total_steps) < least {
            return Err(Error::Replan {
                step: self.step,
                total_steps: self.total_steps,
            });
        }
        Ok(())
    }
}

/// The largest float that is not above the integer `step` (the float of a step beyond
/// 2**53 may round up, past the step, and would take the next step into the held phase).
fn float_at_or_below(step: i64) -> f64 {
    let x = step as f64;
    if int_le_float(i128::from(step), x) && !int_le_float(i128::from(step) + 1, x) {
        x
    } else {
        x.next_down()
    }
}

impl OneCycle {
    /// This schedule re-planned at `at.step` onto `at.total_steps`, for the layout of
    /// `pct_start` and `three_phase` (the constructor's), the values held at the step
    /// stored under `held` (`[lr key, momentum key]`).
    ///
    /// # Errors
    /// [`Error::Replan`] for a step or length [`Replan::check`] refuses,
    /// [`Error::PctStart`] for a `pct_start` outside `[0, 1]`, [`Error::ReplanPhase`] when
    /// the phase the next step falls in ends at values no phase of the layout ends at (a
    /// phase list not of torch's layout).
    pub fn replan(
        &self,
        at: Replan,
        (pct_start, three_phase): (f64, bool),
        held: [Key; 2],
    ) -> Result<OneCycle, Error> {
        at.check()?;
        let target = OneCycle::new(at.total_steps, pct_start, three_phase, self.anneal())?;
        let next = i128::from(at.step) + 1;
        let ranges = self.step_ranges();
        let current = ranges
            .iter()
            .position(|range| range.steps.contains(&next))
            .map_or(self.phases().len() - 1, |i| i);
        let ends = |p: &Phase| (p.end_lr.clone(), p.end_momentum.clone());
        let wanted = ends(&self.phases()[current]);
        let mut i = target
            .phases()
            .iter()
            .position(|p| ends(p) == wanted)
            .ok_or_else(|| Error::ReplanPhase {
                phase: current,
                end_lr: wanted.0.name().to_owned(),
                end_momentum: wanted.1.name().to_owned(),
            })?;
        let last = target.phases().len() - 1;
        // A phase whose new end is not after the step is skipped (the last always is).
        while i < last && !int_le_float(next, target.phases()[i].end_step) {
            i += 1;
        }
        let [lr, momentum] = held;
        let continuing = &target.phases()[i];
        let mut phases = vec![
            Phase::new(
                float_at_or_below(at.step),
                [lr.clone(), lr.clone(), momentum.clone(), momentum.clone()],
            ),
            Phase::new(
                continuing.end_step,
                [
                    lr,
                    continuing.end_lr.clone(),
                    momentum,
                    continuing.end_momentum.clone(),
                ],
            ),
        ];
        phases.extend(target.phases()[i + 1..].iter().cloned());
        OneCycle::from_phases(phases, self.anneal())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::cycle::{Anneal, Values};

    /// The schedule of `Config::new(total, 0.1)` with `pct_start` and `three_phase`, its
    /// values, and the same re-planned at `step` onto `new_total`, with the values held
    /// at `step` added.
    fn replanned(
        (total, pct_start, three_phase): (i64, f64, bool),
        step: i64,
        new_total: i64,
    ) -> (OneCycle, Values, OneCycle, Values) {
        let config = Config {
            pct_start,
            three_phase,
            ..Config::new(total, 0.1)
        };
        let (cycle, values) = config.build().unwrap();
        let (lr, momentum) = cycle.at(step, &values).unwrap();
        let held = held_keys(0);
        let mut after = values.clone();
        after.set(held[0].clone(), lr);
        after.set(held[1].clone(), momentum);
        let at = Replan {
            step,
            total_steps: new_total,
        };
        let new = cycle.replan(at, (pct_start, three_phase), held).unwrap();
        (cycle, values, new, after)
    }

    #[test]
    fn the_next_step_moves_on_from_the_held_values() {
        for (layout, step, new_total) in [
            ((100, 0.3, false), 50, 200),
            ((100, 0.3, false), 50, 60),
            ((100, 0.3, true), 10, 300),
            ((100, 0.3, false), 29, 150),
        ] {
            let (old, values, new, after) = replanned(layout, step, new_total);
            let held = old.at(step, &values).unwrap();
            let (lr_next, m_next) = new.at(step + 1, &after).unwrap();
            let (lr_old, _) = old.at(step + 1, &values).unwrap();
            // One step on from the held values: as close to them as a step of the old plan.
            assert!((lr_next - held.0).abs() <= 2.0 * (lr_old - held.0).abs() + 1e-12);
            assert!((m_next - held.1).abs() < 0.01);
            // The last step ends at min_lr and max_momentum, as torch's.
            let (lr_end, m_end) = new.at(new_total - 1, &after).unwrap();
            assert!((lr_end - values.get(&Key::MIN_LR).unwrap()).abs() < 1e-12);
            assert!((m_end - values.get(&Key::MAX_MOMENTUM).unwrap()).abs() < 1e-12);
            let last_end = new.phases().last().unwrap().end_step;
            assert_eq!(last_end, (new_total - 1) as f64);
        }
    }

    #[test]
    fn a_replan_at_the_peak_anneals_at_once() {
        // pct_start * 100 - 1 = 29: step 29 is the peak, step 30 anneals.
        let (_, values, new, after) = replanned((100, 0.3, false), 29, 200);
        let peak = values.get(&Key::MAX_LR).unwrap();
        let (lr30, _) = new.at(30, &after).unwrap();
        assert!(lr30 < peak, "{lr30} {peak}");
        assert_eq!(new.phases().len(), 2);
        assert_eq!(new.phases()[1].end_lr, Key::MIN_LR);
    }

    #[test]
    fn shrinking_in_warm_up_skips_the_rest_of_it() {
        // At step 20 of a 100-step cycle, onto 50 steps: the warm-up would end at step 14,
        // before the step: the run anneals from the held values, never up to max_lr.
        let (_, values, new, after) = replanned((100, 0.3, false), 20, 50);
        assert_eq!(new.phases()[1].end_lr, Key::MIN_LR);
        let peak = values.get(&Key::MAX_LR).unwrap();
        for s in 21..50 {
            assert!(new.at(s, &after).unwrap().0 < peak);
        }
    }

    #[test]
    fn a_replan_of_a_replan_keeps_the_layout() {
        let (_, _, once, mut after) = replanned((1000, 0.25, true), 100, 2000);
        let (lr, momentum) = once.at(700, &after).unwrap();
        let held = held_keys(1);
        after.set(held[0].clone(), lr);
        after.set(held[1].clone(), momentum);
        let at = Replan {
            step: 700,
            total_steps: 900,
        };
        let twice = once.replan(at, (0.25, true), held).unwrap();
        assert_eq!(twice.phases()[0].end_step, 700.0);
        assert!(twice.at(899, &after).is_ok());
        assert_eq!(twice.anneal(), Anneal::Cos);
    }

    #[test]
    fn no_step_left_and_foreign_layouts_are_errors() {
        let (cycle, _) = Config::new(100, 0.1).build().unwrap();
        let at = |step, total_steps| Replan { step, total_steps };
        let err = cycle
            .replan(at(50, 51), (0.3, false), held_keys(0))
            .unwrap_err();
        assert_eq!(
            err,
            Error::Replan {
                step: 50,
                total_steps: 51
            }
        );
        assert!(err.to_string().contains("at least 52"), "{err}");
        assert!(cycle.replan(at(50, 52), (0.3, false), held_keys(0)).is_ok());
        assert!(cycle
            .replan(at(-1, 52), (0.3, false), held_keys(0))
            .is_err());
        // A three-phase schedule re-planned as two-phase in its second phase, which ends at
        // values (initial_lr, max_momentum) no two-phase phase ends at.
        let three = Config {
            three_phase: true,
            ..Config::new(100, 0.1)
        };
        let (cycle, _) = three.build().unwrap();
        let err = cycle
            .replan(at(40, 80), (0.3, false), held_keys(0))
            .unwrap_err();
        assert!(matches!(err, Error::ReplanPhase { phase: 1, .. }), "{err}");
        assert!(err.to_string().contains("\"initial_lr\""), "{err}");
    }

    #[test]
    fn the_held_phase_ends_at_or_below_its_step() {
        for step in [0, 7, (1 << 53) + 1, i64::MAX - 2] {
            let end = float_at_or_below(step);
            assert!(int_le_float(i128::from(step), end) || end < step as f64);
            assert!(!int_le_float(i128::from(step) + 1, end), "{step}");
        }
    }
}
