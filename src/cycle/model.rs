//! The schedule model: torch's phase list and annealing strategy, and where each step
//! falls in it.

use std::ops::Range;

use super::anneal::Anneal;
use super::phase::{Layout, Phase, Values};
use crate::error::Error;

/// A run of consecutive steps that fall in one phase.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub phase: usize,
    pub steps: Range<u64>,
    pub start_step: f64,
    pub width: f64,
}

impl Span {
    /// torch's `pct` at `step`: `(step - start_step) / width`, the int step converted to
    /// float as Python converts it (to nearest).
    #[inline]
    #[must_use]
    pub fn pct(&self, step: u64) -> f64 {
        (step as f64 - self.start_step) / self.width
    }
}

/// The integer steps one phase takes ([`OneCycle::step_ranges`]), and where it starts and
/// how wide it is, as torch computes `pct` from them.
#[derive(Clone, Debug, PartialEq)]
pub struct PhaseSteps {
    pub steps: Range<i128>,
    pub start_step: f64,
    pub width: f64,
}

/// A 1cycle schedule: its phases and annealing strategy. Immutable; the group values it
/// anneals between are passed to each evaluation, as torch reads them from the optimizer.
#[derive(Clone, Debug, PartialEq)]
pub struct OneCycle {
    phases: Vec<Phase>,
    anneal: Anneal,
    layout: Layout,
}

/// `total_steps` must be at least 1.
pub(crate) fn check_total_steps(total_steps: i64) -> Result<(), Error> {
    if total_steps < 1 {
        return Err(Error::TotalSteps { value: total_steps });
    }
    Ok(())
}

/// `pct_start` must lie in `[0, 1]` (not NaN).
pub(crate) fn check_pct_start(pct_start: f64) -> Result<(), Error> {
    if (0.0..=1.0).contains(&pct_start) {
        Ok(())
    } else {
        Err(Error::PctStart { value: pct_start })
    }
}

/// `s <= x` for an integer `s` and a float `x`, compared exactly (as Python compares an
/// `int` with a `float`): `s <= x` exactly when `s <= floor(x)`.
pub(super) fn int_le_float(s: i128, x: f64) -> bool {
    // `as` saturates, so +-inf and huge values fall on the right side; NaN compares false.
    !x.is_nan() && s <= x.floor() as i128
}

/// The first integer step `s` for which `s <= x` is false. For NaN that is every step (no
/// step is `<=` NaN, so a phase ending at NaN takes none), hence `i128::MIN`.
fn first_step_above(x: f64) -> i128 {
    if x.is_nan() {
        i128::MIN
    } else {
        (x.floor() as i128).saturating_add(1)
    }
}

impl OneCycle {
    /// The schedule torch's `OneCycleLR(total_steps=..., pct_start=..., three_phase=...,
    /// anneal_strategy=...)` builds, phase ends computed as torch computes them.
    ///
    /// # Errors
    /// [`Error::TotalSteps`] for `total_steps < 1`, [`Error::PctStart`] for `pct_start`
    /// outside `[0, 1]`.
    pub fn new(
        total_steps: i64,
        pct_start: f64,
        three_phase: bool,
        anneal: Anneal,
    ) -> Result<OneCycle, Error> {
        check_total_steps(total_steps)?;
        check_pct_start(pct_start)?;
        let total = total_steps as f64;
        // torch: float(pct_start * total_steps) - 1, float(2 * pct_start * total_steps) - 2,
        // and the int total_steps - 1 (an int, converted to float where it meets one).
        let warm_up_end = pct_start * total - 1.0;
        let last_end = (total_steps - 1) as f64;
        let (ends, layout) = if three_phase {
            (
                vec![warm_up_end, 2.0 * pct_start * total - 2.0, last_end],
                Layout::ThreePhase,
            )
        } else {
            (vec![warm_up_end, last_end], Layout::TwoPhase)
        };
        let phases = ends
            .into_iter()
            .zip(layout.keys())
            .map(|(end, keys)| Phase::new(end, keys));
        OneCycle::from_phases(phases.collect(), anneal)
    }

    /// A schedule from an explicit phase list (torch's `_schedule_phases`, as a loaded
    /// `state_dict` may hold it).
    ///
    /// # Errors
    /// [`Error::Phases`] for an empty list.
    pub fn from_phases(phases: Vec<Phase>, anneal: Anneal) -> Result<OneCycle, Error> {
        if phases.is_empty() {
            return Err(Error::Phases {
                reason: "at least one phase is needed",
            });
        }
        let layout = Layout::of(&phases);
        Ok(OneCycle {
            phases,
            anneal,
            layout,
        })
    }

    #[must_use]
    pub fn phases(&self) -> &[Phase] {
        &self.phases
    }

    #[must_use]
    pub fn anneal(&self) -> Anneal {
        self.anneal
    }

    #[must_use]
    pub fn layout(&self) -> Layout {
        self.layout
    }

    fn zero_width(&self, phase: usize, step: i128, at: f64) -> Error {
        Error::ZeroWidthPhase {
            hint: self.layout.zero_width_hint(phase),
            phase,
            step,
            at,
        }
    }

    /// The phase step `step` falls in and its `pct` within it, as torch's `get_lr` finds
    /// them.
    ///
    /// # Errors
    /// [`Error::ZeroWidthPhase`] where torch divides by zero.
    pub fn locate(&self, step: i64) -> Result<(usize, f64), Error> {
        let last = self.phases.len() - 1;
        let mut start_step = 0.0;
        let mut index = last;
        for (i, phase) in self.phases[..last].iter().enumerate() {
            if int_le_float(i128::from(step), phase.end_step) {
                index = i;
                break;
            }
            start_step = phase.end_step;
        }
        let width = self.phases[index].end_step - start_step;
        if width == 0.0 {
            return Err(self.zero_width(index, i128::from(step), start_step));
        }
        Ok((index, (step as f64 - start_step) / width))
    }

    /// The phase step `step` falls in and the annealing factor there
    /// ([`Anneal::factor`] of its `pct`), shared by lr and momentum.
    ///
    /// # Errors
    /// [`Error::ZeroWidthPhase`] where torch divides by zero.
    pub fn phase_at(&self, step: i64) -> Result<(&Phase, f64), Error> {
        let (index, pct) = self.locate(step)?;
        Ok((&self.phases[index], self.anneal.factor(pct)))
    }

    /// `(lr, momentum)` at `step` for a group holding `values`.
    ///
    /// # Errors
    /// [`Error::ZeroWidthPhase`] where torch divides by zero, [`Error::MissingValue`]
    /// where `values` lacks a value the phase anneals between.
    pub fn at(&self, step: i64, values: &Values) -> Result<(f64, f64), Error> {
        let (phase, factor) = self.phase_at(step)?;
        Ok(self.anneal.formula(phase.bounds(values)?)(factor))
    }

    /// The integer steps each phase takes, in phase order, as torch's loop assigns them
    /// (step `s` to the first phase whose `end_step >= s`, or to the last): consecutive
    /// ranges, some of them empty, from `i128::MIN` to `i128::MAX`. Found once per
    /// request, so that each step's phase is a comparison of integers.
    #[must_use]
    pub fn step_ranges(&self) -> Vec<PhaseSteps> {
        let last = self.phases.len() - 1;
        // Steps below `taken` belong to an earlier phase.
        let mut taken = i128::MIN;
        let mut start_step = 0.0;
        let mut ranges = Vec::with_capacity(self.phases.len());
        for (i, phase) in self.phases.iter().enumerate() {
            let above = if i == last {
                i128::MAX
            } else {
                first_step_above(phase.end_step)
            };
            ranges.push(PhaseSteps {
                steps: taken..taken.max(above),
                start_step,
                width: phase.end_step - start_step,
            });
            taken = taken.max(above);
            start_step = phase.end_step;
        }
        ranges
    }

    /// The steps of `[start, stop)` split by phase, found once for the whole window.
    ///
    /// # Errors
    /// [`Error::ZeroWidthPhase`] if any step of the window falls in a phase of zero width.
    pub fn spans(&self, start: u64, stop: u64) -> Result<Vec<Span>, Error> {
        let (window_lo, window_hi) = (i128::from(start), i128::from(stop));
        let mut spans = Vec::with_capacity(self.phases.len());
        for (i, range) in self.step_ranges().into_iter().enumerate() {
            let lo = range.steps.start.max(window_lo);
            let hi = range.steps.end.min(window_hi);
            if lo < hi {
                if range.width == 0.0 {
                    return Err(self.zero_width(i, lo, range.start_step));
                }
                // lo and hi lie within [start, stop], so they fit in u64.
                spans.push(Span {
                    phase: i,
                    steps: lo as u64..hi as u64,
                    start_step: range.start_step,
                    width: range.width,
                });
            }
        }
        Ok(spans)
    }

    /// Checks that no step of `steps` falls in a phase of zero width.
    ///
    /// # Errors
    /// [`Error::ZeroWidthPhase`] for the first such step in the order of `steps`.
    pub fn check_steps(&self, steps: &[i64]) -> Result<(), Error> {
        let empty: Vec<(usize, PhaseSteps)> = self
            .step_ranges()
            .into_iter()
            .enumerate()
            .filter(|(_, range)| range.width == 0.0 && !range.steps.is_empty())
            .collect();
        if empty.is_empty() {
            return Ok(());
        }
        for &step in steps {
            let step = i128::from(step);
            if let Some((i, range)) = empty.iter().find(|(_, r)| r.steps.contains(&step)) {
                return Err(self.zero_width(*i, step, range.start_step));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::cycle::{Key, Values};

    fn torch_defaults(total: i64, pct: f64, three: bool, anneal: Anneal) -> (OneCycle, Values) {
        Config {
            pct_start: pct,
            three_phase: three,
            anneal,
            ..Config::new(total, 0.1)
        }
        .build()
        .unwrap()
    }

    #[test]
    fn phase_ends_follow_torch() {
        let (c, _) = torch_defaults(100, 0.3, false, Anneal::Cos);
        let ends: Vec<f64> = c.phases().iter().map(|p| p.end_step).collect();
        assert_eq!(ends, vec![0.3 * 100.0 - 1.0, 99.0]);
        assert_eq!(c.layout(), Layout::TwoPhase);
        let (c, _) = torch_defaults(100, 0.3, true, Anneal::Cos);
        let ends: Vec<f64> = c.phases().iter().map(|p| p.end_step).collect();
        assert_eq!(ends, vec![0.3 * 100.0 - 1.0, 2.0 * 0.3 * 100.0 - 2.0, 99.0]);
        assert_eq!(c.layout(), Layout::ThreePhase);
    }

    /// Within a few ulp of the phase's larger value (lr values here are at most 0.1).
    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-15
    }

    #[test]
    fn starts_at_initial_lr_and_ends_at_min_lr() {
        // `end + (start - end) / 2 * (cos(0) + 1)` rounds, so the ends are reached to within
        // rounding, not exactly (torch's own values do the same; pytest checks those bits).
        for anneal in [Anneal::Cos, Anneal::Linear] {
            let (c, v) = torch_defaults(1000, 0.25, false, anneal);
            let (lr0, m0) = c.at(0, &v).unwrap();
            assert!(close(lr0, v.get(&Key::INITIAL_LR).unwrap()), "{lr0}");
            assert!(close(m0, v.get(&Key::MAX_MOMENTUM).unwrap()), "{m0}");
            let (lr_last, m_last) = c.at(999, &v).unwrap();
            assert!(close(lr_last, v.get(&Key::MIN_LR).unwrap()), "{lr_last}");
            assert!(
                close(m_last, v.get(&Key::MAX_MOMENTUM).unwrap()),
                "{m_last}"
            );
            // The peak: the warm-up ends at step 249.
            let (peak, m_peak) = c.at(249, &v).unwrap();
            assert!(close(peak, v.get(&Key::MAX_LR).unwrap()), "{peak}");
            assert!(
                close(m_peak, v.get(&Key::BASE_MOMENTUM).unwrap()),
                "{m_peak}"
            );
        }
    }

    #[test]
    fn lr_rises_then_falls() {
        let (c, v) = torch_defaults(500, 0.3, false, Anneal::Cos);
        let lrs: Vec<f64> = (0..500).map(|s| c.at(s, &v).unwrap().0).collect();
        let peak = lrs
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert!((148..=150).contains(&peak), "peak at {peak}");
        assert!(lrs[..=peak].windows(2).all(|w| w[0] <= w[1]));
        assert!(lrs[peak..].windows(2).all(|w| w[0] >= w[1]));
    }

    /// The phase and step of an [`Error::ZeroWidthPhase`].
    fn zero_width_at(err: &Error) -> Option<(usize, i128)> {
        match err {
            Error::ZeroWidthPhase { phase, step, .. } => Some((*phase, *step)),
            _ => None,
        }
    }

    #[test]
    fn zero_width_warm_up_is_an_error() {
        // pct_start * total_steps == 1: torch divides by zero at step 0.
        let (c, _) = torch_defaults(10, 0.1, false, Anneal::Cos);
        let err = c.locate(0).unwrap_err();
        assert_eq!(zero_width_at(&err), Some((0, 0)));
        assert!(err.to_string().contains("pct_start * total_steps == 1"));
        // Later steps are fine (torch reaches them when resuming with last_epoch >= 0).
        assert!(c.locate(1).is_ok());
        assert!(c.spans(1, 11).is_ok());
        assert!(c.spans(0, 11).is_err());
    }

    #[test]
    fn pct_start_one_fails_only_at_the_extra_step() {
        let (c, _) = torch_defaults(10, 1.0, false, Anneal::Linear);
        assert!(c.spans(0, 10).is_ok());
        let err = c.spans(0, 11).unwrap_err();
        assert_eq!(zero_width_at(&err), Some((1, 10)));
        assert!(err.to_string().contains("pct_start=1.0"));
    }

    #[test]
    fn integer_float_comparison_is_exact() {
        let big = 1i128 << 60;
        assert!(int_le_float(big, big as f64));
        assert!(!int_le_float(big + 1, big as f64));
        assert!(int_le_float(-1, -0.5));
        assert!(!int_le_float(0, -0.5));
        assert!(!int_le_float(0, f64::NAN));
        assert!(int_le_float(i128::from(i64::MAX), f64::INFINITY));
        assert!(!int_le_float(i128::from(i64::MIN), f64::NEG_INFINITY));
    }

    #[test]
    fn spans_agree_with_locate() {
        for total in 1..40 {
            for pct in [0.0, 0.05, 0.1, 0.25, 0.3, 0.5, 0.7, 0.99, 1.0] {
                for three in [false, true] {
                    let (c, _) = torch_defaults(total, pct, three, Anneal::Cos);
                    let stop = total as u64 + 1;
                    let Ok(spans) = c.spans(0, stop) else {
                        assert!((0..=total).any(|s| c.locate(s).is_err()));
                        continue;
                    };
                    let mut next = 0;
                    for span in spans {
                        assert_eq!(span.steps.start, next);
                        for s in span.steps.clone() {
                            let (phase, pct) = c.locate(s as i64).unwrap();
                            assert_eq!(phase, span.phase);
                            assert_eq!(pct, span.pct(s));
                        }
                        next = span.steps.end;
                    }
                    assert_eq!(next, stop);
                }
            }
        }
    }

    #[test]
    fn other_keys_are_read_as_torch_reads_them() {
        // A phase list naming keys the constructor does not write: each step reads them.
        let (cycle, values) = torch_defaults(100, 0.3, false, Anneal::Cos);
        let renamed: Vec<Phase> = cycle
            .phases()
            .iter()
            .map(|p| {
                let keys = p.keys().map(|k| Key::new(format!("saved_{k}")));
                Phase::new(p.end_step, keys)
            })
            .collect();
        let other = OneCycle::from_phases(renamed, Anneal::Cos).unwrap();
        assert_eq!(other.layout(), Layout::Other);
        let saved: Values = values
            .iter()
            .map(|(k, v)| (Key::new(format!("saved_{k}")), v))
            .collect();
        for step in 0..=100 {
            assert_eq!(other.at(step, &saved), cycle.at(step, &values));
        }
        assert!(matches!(
            other.at(5, &values),
            Err(Error::MissingValue { key }) if key == "saved_initial_lr"
        ));
    }
}
