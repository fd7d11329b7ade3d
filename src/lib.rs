//! The 1cycle learning-rate policy (Smith, "Super-Convergence", 2017), computed exactly as
//! torch's `torch.optim.lr_scheduler.OneCycleLR` computes it: the same floating-point
//! operations in the same order, in `f64`, with the platform `cos`.
//!
//! - [`cycle`]: the phase layout and the formula, one step at a time.
//! - [`fill`]: whole windows of steps and broadcast sweeps, written into caller-provided
//!   slices, on all cores when the window is large enough for threads to pay.
//!
//! Nothing here knows about Python; the `python` feature adds the `onecycle._core` binding.

pub mod cycle;
pub mod error;
pub mod fill;

#[cfg(feature = "python")]
mod python;

pub use cycle::{Anneal, Config, Key, Layout, OneCycle, Phase, Values};
pub use error::Error;
pub use fill::{schedule, Sample};
