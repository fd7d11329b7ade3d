//! What every part of the fill shares: the output element types, the accuracy of the
//! cosine, the block size, and a checked configuration.

use crate::cycle::{OneCycle, Values};
use crate::error::Error;

/// Below this many values per output, everything is filled on the calling thread: threads
/// cost more than they save.
pub const PARALLEL_MIN_STEPS: usize = 1 << 15;
/// Steps per block: one block's factors (16 KiB) stay in the L1 cache while every
/// configuration of its group reads them.
pub const BLOCK: usize = 2048;

/// How the cosine of the cos strategy is evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Accuracy {
    /// The platform's `f64::cos`: bit-identical to torch.
    Exact,
    /// [`crate::fast_cos::cos`], vectorised, within [`crate::fast_cos::MAX_ULP`] ulp of `f64::cos`.
    /// Linear schedules are the same in both modes.
    Fast,
}

/// An output element type. Values are computed in `f64`; `f32` outputs get them rounded to
/// nearest (as `numpy.ndarray.astype(numpy.float32)` does).
pub trait Sample: Copy + Send + Sync + 'static {
    const ZERO: Self;
    const ONE: Self;
    fn from_f64(value: f64) -> Self;
}

impl Sample for f64 {
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;
    #[inline]
    fn from_f64(value: f64) -> f64 {
        value
    }
}

impl Sample for f32 {
    const ZERO: f32 = 0.0;
    const ONE: f32 = 1.0;
    #[inline]
    fn from_f64(value: f64) -> f32 {
        value as f32
    }
}

/// A checked configuration: its schedule, and the values each of its phases anneals
/// between, read from a group's values once.
#[derive(Clone, Debug, PartialEq)]
pub struct Prepared {
    cycle: OneCycle,
    bounds: Vec<[f64; 4]>,
}

impl Prepared {
    /// `cycle` for a group holding `values`.
    ///
    /// # Errors
    /// [`Error::MissingValue`] when `values` lacks a value a phase anneals between.
    pub fn new(cycle: OneCycle, values: &Values) -> Result<Prepared, Error> {
        let bounds = cycle
            .phases()
            .iter()
            .map(|phase| phase.bounds(values))
            .collect::<Result<_, _>>()?;
        Ok(Prepared { cycle, bounds })
    }

    #[must_use]
    pub fn cycle(&self) -> &OneCycle {
        &self.cycle
    }

    /// Each phase's `[start_lr, end_lr, start_momentum, end_momentum]`.
    #[must_use]
    pub fn bounds(&self) -> &[[f64; 4]] {
        &self.bounds
    }
}
