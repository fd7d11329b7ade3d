//! torch's model of a schedule's phases: each ends at a (float) step and names the group
//! values (`param_group` keys) it anneals between. torch's constructor builds one of two
//! layouts over five keys; a loaded or edited phase list may name any key.

use std::borrow::Cow;
use std::fmt;

use crate::error::Error;

/// The name of a group value a phase starts or ends at: a `param_group` key. torch's
/// constructor writes five ([`Key::TORCH`]); a phase list may name any other.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(Cow<'static, str>);

impl Key {
    pub const INITIAL_LR: Key = Key(Cow::Borrowed("initial_lr"));
    pub const MAX_LR: Key = Key(Cow::Borrowed("max_lr"));
    pub const MIN_LR: Key = Key(Cow::Borrowed("min_lr"));
    pub const MAX_MOMENTUM: Key = Key(Cow::Borrowed("max_momentum"));
    pub const BASE_MOMENTUM: Key = Key(Cow::Borrowed("base_momentum"));
    /// The keys torch's constructor stores in each group.
    pub const TORCH: [Key; 5] = [
        Key::INITIAL_LR,
        Key::MAX_LR,
        Key::MIN_LR,
        Key::MAX_MOMENTUM,
        Key::BASE_MOMENTUM,
    ];

    /// A key of any name.
    #[must_use]
    pub fn new(name: impl Into<String>) -> Key {
        Key(Cow::Owned(name.into()))
    }

    /// The `param_group` key.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The values a parameter group holds, by key, as a schedule reads them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Values(Vec<(Key, f64)>);

impl Values {
    /// The value of `key`, if the group holds one.
    #[must_use]
    pub fn get(&self, key: &Key) -> Option<f64> {
        self.0.iter().find(|(k, _)| k == key).map(|&(_, v)| v)
    }

    /// Sets `key` to `value`.
    pub fn set(&mut self, key: Key, value: f64) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key, value)),
        }
    }

    /// The keys and values, in the order they were set.
    pub fn iter(&self) -> impl Iterator<Item = (&Key, f64)> {
        self.0.iter().map(|(k, v)| (k, *v))
    }
}

impl FromIterator<(Key, f64)> for Values {
    fn from_iter<I: IntoIterator<Item = (Key, f64)>>(iter: I) -> Values {
        let mut values = Values::default();
        for (key, value) in iter {
            values.set(key, value);
        }
        values
    }
}

/// One entry of torch's `_schedule_phases`.
#[derive(Clone, Debug, PartialEq)]
pub struct Phase {
    pub end_step: f64,
    pub start_lr: Key,
    pub end_lr: Key,
    pub start_momentum: Key,
    pub end_momentum: Key,
}

impl Phase {
    /// The keys of a phase dict of torch's, in the order of [`Phase::new`]'s arguments.
    pub const FIELDS: [&'static str; 5] = [
        "end_step",
        "start_lr",
        "end_lr",
        "start_momentum",
        "end_momentum",
    ];

    /// A phase ending at `end_step` that anneals between the values named
    /// `[start_lr, end_lr, start_momentum, end_momentum]`.
    #[must_use]
    pub fn new(end_step: f64, [start_lr, end_lr, start_momentum, end_momentum]: [Key; 4]) -> Phase {
        Phase {
            end_step,
            start_lr,
            end_lr,
            start_momentum,
            end_momentum,
        }
    }

    /// `[start_lr, end_lr, start_momentum, end_momentum]`.
    #[must_use]
    pub fn keys(&self) -> [&Key; 4] {
        [
            &self.start_lr,
            &self.end_lr,
            &self.start_momentum,
            &self.end_momentum,
        ]
    }

    /// The values this phase anneals between, read from `values`:
    /// `[start_lr, end_lr, start_momentum, end_momentum]`.
    ///
    /// # Errors
    /// [`Error::MissingValue`] for the first key `values` lacks.
    pub fn bounds(&self, values: &Values) -> Result<[f64; 4], Error> {
        let mut bounds = [0.0; 4];
        for (bound, key) in bounds.iter_mut().zip(self.keys()) {
            *bound = values.get(key).ok_or_else(|| Error::MissingValue {
                key: key.name().to_owned(),
            })?;
        }
        Ok(bounds)
    }
}

/// The phases torch's constructor lays out, by their keys, and which of them a phase list
/// follows (used to explain errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    TwoPhase,
    ThreePhase,
    Other,
}

impl Layout {
    /// The keys of each phase of this layout (none for [`Layout::Other`]).
    #[must_use]
    pub fn keys(self) -> Vec<[Key; 4]> {
        let warm_up = [
            Key::INITIAL_LR,
            Key::MAX_LR,
            Key::MAX_MOMENTUM,
            Key::BASE_MOMENTUM,
        ];
        match self {
            Layout::TwoPhase => vec![
                warm_up,
                [
                    Key::MAX_LR,
                    Key::MIN_LR,
                    Key::BASE_MOMENTUM,
                    Key::MAX_MOMENTUM,
                ],
            ],
            Layout::ThreePhase => vec![
                warm_up,
                [
                    Key::MAX_LR,
                    Key::INITIAL_LR,
                    Key::BASE_MOMENTUM,
                    Key::MAX_MOMENTUM,
                ],
                [
                    Key::INITIAL_LR,
                    Key::MIN_LR,
                    Key::MAX_MOMENTUM,
                    Key::MAX_MOMENTUM,
                ],
            ],
            Layout::Other => Vec::new(),
        }
    }

    /// The layout `phases` follow.
    #[must_use]
    pub fn of(phases: &[Phase]) -> Layout {
        let follows = |layout: Layout| {
            let keys = layout.keys();
            keys.len() == phases.len()
                && keys
                    .iter()
                    .zip(phases)
                    .all(|(keys, phase)| keys.iter().eq(phase.keys()))
        };
        [Layout::TwoPhase, Layout::ThreePhase]
            .into_iter()
            .find(|&layout| follows(layout))
            .unwrap_or(Layout::Other)
    }

    /// What makes phase `phase` of this layout empty, and how to avoid it.
    #[must_use]
    pub fn zero_width_hint(self, phase: usize) -> &'static str {
        match (self, phase) {
            (Layout::TwoPhase | Layout::ThreePhase, 0) => {
                "This happens when pct_start * total_steps == 1: the warm-up phase ends at \
                 step 0. Choose pct_start so that pct_start * total_steps is not exactly 1 \
                 (for example a slightly larger pct_start), or change total_steps."
            }
            (Layout::TwoPhase, 1) => {
                "This happens at the extra step last_epoch == total_steps when \
                 pct_start * total_steps == total_steps (pct_start=1.0): the annealing \
                 phase is empty. Use pct_start < 1.0, or stop at step total_steps - 1."
            }
            (Layout::ThreePhase, 2) => {
                "This happens at the extra step last_epoch == total_steps when \
                 2 * pct_start * total_steps == total_steps + 1: the final phase is empty. \
                 Choose another pct_start, or stop at step total_steps - 1."
            }
            _ => "Give each phase a different end_step.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_by_name() {
        assert_eq!(Key::new("max_lr"), Key::MAX_LR);
        assert_ne!(Key::new("lr_at_replan"), Key::MAX_LR);
        let values: Values = [
            (Key::MAX_LR, 1.0),
            (Key::new("other"), 2.0),
            (Key::MAX_LR, 3.0),
        ]
        .into_iter()
        .collect();
        assert_eq!(values.get(&Key::new("max_lr")), Some(3.0));
        assert_eq!(values.get(&Key::new("other")), Some(2.0));
        assert_eq!(values.get(&Key::MIN_LR), None);
    }

    #[test]
    fn bounds_name_the_missing_key() {
        let phase = Phase::new(
            3.0,
            [Key::new("a"), Key::new("b"), Key::new("c"), Key::new("a")],
        );
        let values: Values = [("a", 1.0), ("b", 2.0)]
            .map(|(k, v)| (Key::new(k), v))
            .into_iter()
            .collect();
        assert_eq!(
            phase.bounds(&values),
            Err(Error::MissingValue { key: "c".into() })
        );
        let mut values = values;
        values.set(Key::new("c"), 3.0);
        assert_eq!(phase.bounds(&values), Ok([1.0, 2.0, 3.0, 1.0]));
    }

    #[test]
    fn layouts_are_recognised_by_their_keys() {
        for layout in [Layout::TwoPhase, Layout::ThreePhase] {
            let phases: Vec<Phase> = layout
                .keys()
                .into_iter()
                .enumerate()
                .map(|(i, keys)| Phase::new(i as f64, keys))
                .collect();
            assert_eq!(Layout::of(&phases), layout);
            let mut other = phases;
            other[0].start_lr = Key::new("lr_at_replan");
            assert_eq!(Layout::of(&other), Layout::Other);
        }
    }
}
