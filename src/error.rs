//! The core's one error type. Each message names the argument, the value it got and what
//! is allowed; the Python binding maps it once to the exception a torch user expects.

use std::fmt;

use crate::cycle::Layout;

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
    /// A window that is not `0 <= start <= stop <= total_steps + 1`.
    Window {
        start: u64,
        stop: u64,
        total_steps: i64,
    },
    /// A window whose last step would lie beyond `u64::MAX`.
    WindowOverflow { start: u64, len: usize },
    /// Output slices whose lengths differ.
    LengthMismatch { lr: usize, momentum: usize },
    /// A phase list the schedule cannot be built from.
    Phases { reason: &'static str },
    /// A step falls in a phase that starts and ends at the same point: torch's `OneCycleLR`
    /// divides by zero there (`ZeroDivisionError: float division by zero`).
    ZeroWidthPhase {
        layout: Layout,
        /// Zero-based index of the phase.
        phase: usize,
        /// The first step of the request that falls in it.
        step: i128,
        /// Where the phase starts and ends.
        at: f64,
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

impl Error {
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
        match self {
            Error::TooLarge { .. } => true,
            Error::InConfig { source, .. } => source.is_memory(),
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TotalSteps { value } => write!(
                f,
                "total_steps must be a positive integer (1 to 2**63 - 1), got {value}"
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
            Error::WindowOverflow { start, len } => write!(
                f,
                "a window of {len} steps from step {start} runs past step 2**64 - 1"
            ),
            Error::LengthMismatch { lr, momentum } => write!(
                f,
                "lr and momentum outputs must have the same length, got {lr} and {momentum}"
            ),
            Error::Phases { reason } => write!(f, "invalid schedule phases: {reason}"),
            Error::ZeroWidthPhase {
                layout,
                phase,
                step,
                at,
            } => {
                write!(
                    f,
                    "step {step} falls in phase {} of the schedule, which starts and ends at \
                     step {at:?} (zero width): torch's OneCycleLR would fail here with \
                     ZeroDivisionError. ",
                    phase + 1
                )?;
                f.write_str(layout.zero_width_hint(*phase))
            }
            Error::TooLarge {
                what,
                elements,
                bytes,
            } => write!(
                f,
                "{what} needs {elements} values ({bytes} bytes), more than can be allocated; \
                 ask for a window with start= and stop=, or fill preallocated arrays"
            ),
            Error::InConfig { index, source } => {
                write!(
                    f,
                    "{source} (in configuration {index} of the broadcast parameters)"
                )
            }
        }
    }
}

impl std::error::Error for Error {}
