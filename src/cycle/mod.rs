//! The 1cycle formula, as torch's `OneCycleLR.get_lr` evaluates it.
//!
//! Torch describes a schedule as a list of phases, each ending at a (float) step and naming
//! the group values it anneals between. For step `s` it takes the first phase whose
//! `end_step >= s` (or the last phase), with `start_step` the previous phase's `end_step`
//! (0.0 for the first), and computes
//!
//! ```text
//! pct = (s - start_step) / (end_step - start_step)
//! cos:    end + (start - end) / 2.0 * (cos(pi * pct) + 1)
//! linear: (end - start) * pct + start
//! ```
//!
//! Everything below repeats those operations in that order, in `f64`. Comparisons of the
//! integer step with a float `end_step` are exact, as Python's are (not a conversion of the
//! step to `f64`), so steps beyond 2**53 land in the same phase as in torch: each phase's
//! integer steps are found once ([`OneCycle::step_ranges`]), and a window is split by them
//! ([`OneCycle::spans`]).
//!
//! - `model`: [`OneCycle`], the phase list and strategy, and where each step falls;
//! - `anneal`: the strategies (`cos`, `linear`) and their formula;
//! - `phase`: group keys, a group's values, phases, and torch's two layouts;
//! - `replan`: a running cycle re-planned onto a new length.

mod anneal;
mod model;
mod phase;
mod replan;

pub use anneal::Anneal;
pub(crate) use model::{check_pct_start, check_total_steps};
pub use model::{OneCycle, PhaseSteps, Span};
pub use phase::{Key, Layout, Phase, Values};
pub use replan::{held_keys, Replan};
