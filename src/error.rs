//! The core's one error type. Each message names the argument, the value it got and what
//! is allowed; the Python binding maps it once to the exception a torch user expects.

use std::fmt;

use crate::cycle::Anneal;

#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// `total_steps` below 1.
    TotalSteps { value: i64 },
    /// `pct_start` outside `[0.0, 1.0]` (NaN included).
    PctStart { value: f64 },
    /// A float argument that must be finite and greater than zero.
    NotPositive { name: &'static str, value: f64 },
    /// A float argument that must be finite.
    NotFinite { name: &'static str, value: f64 },
    /// `total_steps` beyond the `i64` range (a Python int): at most 2**63 - 1 is allowed,
    /// and a negative one is not positive.
    TotalStepsRange { value: Int },
    /// An `anneal_strategy` other than [`Anneal::NAMES`]; `value` is what was given as the
    /// message shows it: a string quoted, anything else by its type.
    AnnealStrategy { value: String },
    /// An output dtype other than float64 and float32 (numpy's name of it).
    Dtype { value: String },
    /// A window that is not `0 <= start <= stop <= total_steps + 1`.
    Window {
        start: Int,
        stop: Int,
        total_steps: i64,
    },
    /// A requested step outside `0..=total_steps`.
    Step {
        /// Its position in the list of steps.
        index: usize,
        step: i64,
        total_steps: i64,
    },
    /// A window whose last step would lie beyond `u64::MAX`.
    WindowOverflow { start: u64, len: usize },
    /// Output slices whose lengths differ.
    LengthMismatch { lr: usize, momentum: usize },
    /// Re-plan `index` of a list at a step before the one before it (`previous`) or beyond
    /// the `total_steps` then in force.
    ReplanOrder {
        index: usize,
        step: i64,
        previous: i64,
        total_steps: i64,
    },
    /// A re-plan at `step` onto `total_steps` that leaves no step to take (or a step below 0).
    Replan { step: i64, total_steps: i64 },
    /// A re-plan of a phase list whose phase `phase` (zero-based), the one the next step
    /// falls in, ends at values no phase of torch's layout ends at.
    ReplanPhase {
        phase: usize,
        end_lr: String,
        end_momentum: String,
    },
    /// A phase anneals between group values the group does not hold.
    MissingValue { key: String },
    /// A float parameter's values for a sweep, `len` of them where `count` configurations
    /// were asked for.
    ColumnLength {
        name: &'static str,
        len: usize,
        count: usize,
    },
    /// A phase list the schedule cannot be built from.
    Phases { reason: &'static str },
    /// A step falls in a phase that starts and ends at the same point: torch's `OneCycleLR`
    /// divides by zero there (`ZeroDivisionError: float division by zero`).
    ZeroWidthPhase {
        /// What makes this phase empty and how to avoid it, for the schedule's layout
        /// (chosen where the error is made: [`crate::cycle::Layout::zero_width_hint`]).
        hint: &'static str,
        /// Zero-based index of the phase.
        phase: usize,
        /// The first step of the request that falls in it.
        step: i128,
        /// Where the phase starts and ends.
        at: f64,
    },
    /// An output array given to be filled that cannot take the schedule.
    Out { problem: OutProblem },
    /// Outputs, or a sweep's configurations, larger than the machine's memory (where the
    /// kernel overcommits, such an allocation could succeed and the fill then exhaust it).
    BeyondMemory {
        need: Need,
        /// Bytes the whole call needs.
        total: u128,
        /// Bytes of memory the machine has.
        machine: u64,
    },
    /// An output too large to allocate.
    TooLarge {
        what: &'static str,
        elements: u128,
        bytes: u128,
    },
    /// One configuration of a broadcast sweep is invalid.
    InConfig { index: usize, source: Box<Error> },
}

/// An integer argument as the caller gave it. Python's ints have no bound: one beyond
/// `i128` is shown by its decimal digits (as Python prints it) or, past 256 bits, by its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Int {
    Value(i128),
    /// Beyond `i128`: as shown, and its sign.
    Text {
        text: String,
        negative: bool,
    },
}

impl Int {
    /// Whether the integer is below zero.
    #[must_use]
    pub fn is_negative(&self) -> bool {
        match self {
            Int::Value(v) => *v < 0,
            Int::Text { negative, .. } => *negative,
        }
    }
}

impl From<i128> for Int {
    fn from(value: i128) -> Int {
        Int::Value(value)
    }
}

impl From<u64> for Int {
    fn from(value: u64) -> Int {
        Int::Value(value.into())
    }
}

impl From<i64> for Int {
    fn from(value: i64) -> Int {
        Int::Value(value.into())
    }
}

impl fmt::Display for Int {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Int::Value(v) => write!(f, "{v}"),
            Int::Text { text, .. } => f.write_str(text),
        }
    }
}

/// What is wrong with an output array given to be filled (`out=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutProblem {
    /// `which` ("lr" or "momentum") has numpy dtype `got`; the schedule's is `want`.
    Dtype {
        which: &'static str,
        got: String,
        want: String,
    },
    /// `which` has shape `got`; the schedule's is `want`.
    Shape {
        which: &'static str,
        got: Vec<usize>,
        want: Vec<usize>,
    },
    NotContiguous {
        which: &'static str,
    },
    ReadOnly {
        which: &'static str,
    },
    /// The two arrays share memory.
    Overlap,
}

/// A shape as Python prints a tuple: `()`, `(3,)`, `(2, 3)`.
struct Shape<'a>(&'a [usize]);

impl fmt::Display for Shape<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [one] => write!(f, "({one},)"),
            dims => {
                let dims: Vec<String> = dims.iter().map(ToString::to_string).collect();
                write!(f, "({})", dims.join(", "))
            }
        }
    }
}

impl fmt::Display for OutProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutProblem::Dtype { which, got, want } => write!(
                f,
                "out: the {which} array has dtype {got}, the schedule's dtype is {want}"
            ),
            OutProblem::Shape { which, got, want } => write!(
                f,
                "out: the {which} array has shape {}, the schedule's shape is {}",
                Shape(got),
                Shape(want)
            ),
            OutProblem::NotContiguous { which } => write!(
                f,
                "out: the {which} array must be C-contiguous (a slice along the last axis, or \
                 a copy)"
            ),
            OutProblem::ReadOnly { which } => write!(f, "out: the {which} array is read-only"),
            OutProblem::Overlap => f.write_str(
                "out: the momentum array: the lr and momentum arrays overlap in memory; give \
                 two separate arrays",
            ),
        }
    }
}

/// What makes a call larger than the machine's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Each output holds `values` values of `bytes` bytes in all.
    Outputs { values: u128, bytes: u128 },
    /// The broadcast parameters make `configs` configurations, `bytes` bytes of values.
    Configurations { configs: u128, bytes: u128 },
}

impl fmt::Display for Need {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Need::Outputs { values, bytes } => {
                write!(f, "lr needs {values} values ({})", Size(*bytes))
            }
            Need::Configurations { configs, bytes } => write!(
                f,
                "the broadcast parameters make {configs} configurations ({})",
                Size(*bytes)
            ),
        }
    }
}

/// The Python exception an [`Error`] becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `ValueError`: a value out of range.
    Value,
    /// `OverflowError`: an integer beyond what the schedule can count.
    Overflow,
    /// `MemoryError`: more memory than can be had.
    Memory,
}

impl Error {
    /// Which Python exception this error is.
    #[must_use]
    pub fn kind(&self) -> Kind {
        match self {
            Error::TooLarge { .. } | Error::BeyondMemory { .. } => Kind::Memory,
            Error::TotalStepsRange { value } if !value.is_negative() => Kind::Overflow,
            Error::InConfig { source, .. } => source.kind(),
            _ => Kind::Value,
        }
    }

    /// This error of configuration `index` of `count`: as it is for a single configuration,
    /// else wrapped in [`Error::InConfig`] so that the message says which.
    #[must_use]
    pub fn in_config(self, index: usize, count: usize) -> Error {
        if count == 1 {
            self
        } else {
            Error::InConfig {
                index,
                source: Box::new(self),
            }
        }
    }

    /// [`Error::TooLarge`] for `elements` values of `item_size` bytes each.
    #[must_use]
    pub fn too_large(what: &'static str, elements: u128, item_size: usize) -> Error {
        Error::TooLarge {
            what,
            elements,
            bytes: elements.saturating_mul(item_size as u128),
        }
    }

    /// True when the error means "out of memory" rather than "bad value".
    #[must_use]
    pub fn is_memory(&self) -> bool {
        self.kind() == Kind::Memory
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InConfig { index, source } => write!(
                f,
                "{source} (in configuration {index} of the broadcast parameters)"
            ),
            Error::ZeroWidthPhase {
                hint,
                phase,
                step,
                at,
            } => write!(
                f,
                "step {step} falls in phase {} of the schedule, which starts and ends at step \
                 {at:?} (zero width): torch's OneCycleLR would fail here with \
                 ZeroDivisionError. {hint}",
                phase + 1
            ),
            _ => self
                .fmt_request(f)
                .or_else(|| self.fmt_output(f))
                .or_else(|| self.fmt_replan(f))
                .unwrap_or_else(|| self.fmt_argument(f)),
        }
    }
}

impl Error {
    /// The messages of a parameter or schedule that is invalid in itself.
    fn fmt_argument(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TotalSteps { value } => not_positive_steps(f, value),
            Error::TotalStepsRange { value } if self.kind() == Kind::Overflow => {
                write!(f, "total_steps must be at most 2**63 - 1, got {value}")
            }
            Error::TotalStepsRange { value } => not_positive_steps(f, value),
            Error::AnnealStrategy { value } => write!(
                f,
                "anneal_strategy must be {}, got {value}",
                Anneal::choices()
            ),
            Error::Dtype { value } => write!(
                f,
                "dtype must be numpy.float64 or numpy.float32, got {value}"
            ),
            Error::PctStart { value } => write!(
                f,
                "pct_start must be a float between 0.0 and 1.0 inclusive, got {value:?}"
            ),
            Error::NotPositive { name, value } => write!(
                f,
                "{name} must be a finite number greater than 0, got {value:?}"
            ),
            Error::NotFinite { name, value } => {
                write!(f, "{name} must be a finite number, got {value:?}")
            }
            Error::MissingValue { key } => write!(
                f,
                "a phase anneals between group values the group lacks: no {key:?}"
            ),
            Error::Phases { reason } => write!(f, "invalid schedule phases: {reason}"),
            // The others are written by fmt() and the functions it tries first.
            _ => write!(f, "{self:?}"),
        }
    }

    /// The messages of a window, a list of steps or outputs that do not fit the schedule
    /// (`None` for other errors).
    fn fmt_request(&self, f: &mut fmt::Formatter<'_>) -> Option<fmt::Result> {
        Some(match self {
            Error::Window {
                start,
                stop,
                total_steps,
            } => write!(
                f,
                "the window must satisfy 0 <= start <= stop <= total_steps + 1 = {}, \
                 got start={start}, stop={stop}",
                i128::from(*total_steps) + 1
            ),
            Error::Step {
                index,
                step,
                total_steps,
            } => write!(
                f,
                "steps must lie in 0..=total_steps = {total_steps}, got steps[{index}] = {step}"
            ),
            Error::WindowOverflow { start, len } => write!(
                f,
                "a window of {len} steps from step {start} runs past step 2**64 - 1"
            ),
            Error::LengthMismatch { lr, momentum } => write!(
                f,
                "lr and momentum outputs must have the same length, got {lr} and {momentum}"
            ),
            Error::ColumnLength { name, len, count } => write!(
                f,
                "{name} has {len} values for a sweep of {count} configurations"
            ),
            _ => return None,
        })
    }

    /// The messages of a re-plan that cannot be made (`None` for other errors).
    fn fmt_replan(&self, f: &mut fmt::Formatter<'_>) -> Option<fmt::Result> {
        Some(match self {
            Error::Replan { step, total_steps } if *step < 0 => write!(
                f,
                "cannot re-plan at step {step}: the scheduler has not taken its first step \
                 (last_epoch must be at least 0)"
            ),
            Error::Replan { step, total_steps } => write!(
                f,
                "cannot re-plan to total_steps={total_steps} at step {step} (last_epoch): at \
                 least one step must remain, so total_steps must be at least {}",
                i128::from(*step) + 2
            ),
            Error::ReplanOrder {
                index,
                step,
                previous,
                total_steps,
            } => write!(
                f,
                "replan[{index}] is at step {step}: each re-plan's step must lie between the \
                 step of the one before ({previous}) and the total_steps then in force \
                 ({total_steps}, the extra step included)"
            ),
            Error::ReplanPhase {
                phase,
                end_lr,
                end_momentum,
            } => write!(
                f,
                "cannot re-plan: phase {} of the schedule (where the next step falls) ends at \
                 the group values {end_lr:?} and {end_momentum:?}, which no phase of the \
                 layout for this scheduler's pct_start and three_phase ends at",
                phase + 1
            ),
            _ => return None,
        })
    }

    /// The messages of outputs that cannot be had or filled (`None` for other errors).
    fn fmt_output(&self, f: &mut fmt::Formatter<'_>) -> Option<fmt::Result> {
        Some(match self {
            Error::Out { problem } => write!(f, "{problem}"),
            Error::BeyondMemory {
                need,
                total,
                machine,
            } => write!(
                f,
                "{need}, more than can be allocated (the call needs {}, the machine has {}); \
                 ask for a window with start= and stop=, or fewer configurations",
                Size(*total),
                Size(u128::from(*machine))
            ),
            Error::TooLarge {
                what,
                elements,
                bytes,
            } => write!(
                f,
                "{what} needs {elements} values ({}), more than can be allocated; ask for a \
                 window with start= and stop=, or fill preallocated arrays",
                Size(*bytes)
            ),
            _ => return None,
        })
    }
}

/// A number of bytes as people read it: `512 bytes`, `1.5 KiB`, `72.8 TiB`.
pub struct Size(pub u128);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        if self.0 < 1024 {
            return write!(f, "{} bytes", self.0);
        }
        let mut value = self.0 as f64 / 1024.0;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        write!(f, "{value:.1} {}", UNITS[unit])
    }
}

impl std::error::Error for Error {}

/// The message of a `total_steps` below 1.
fn not_positive_steps(f: &mut fmt::Formatter<'_>, value: &dyn fmt::Display) -> fmt::Result {
    write!(
        f,
        "total_steps must be a positive integer (1 to 2**63 - 1), got {value}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_binary_units() {
        let shown = |bytes: u128| Size(bytes).to_string();
        assert_eq!(shown(0), "0 bytes");
        assert_eq!(shown(1023), "1023 bytes");
        assert_eq!(shown(1024), "1.0 KiB");
        assert_eq!(shown(1536), "1.5 KiB");
        assert_eq!(shown(25 * (1 << 30) + (1 << 29)), "25.5 GiB");
        assert_eq!(shown(80_000_000_000_000), "72.8 TiB");
        assert_eq!(
            shown(u128::MAX),
            format!("{:.1} EiB", u128::MAX as f64 / 2f64.powi(60))
        );
    }
}
