//! The 1cycle learning-rate policy (Smith, "Super-Convergence", 2017), computed exactly as
//! torch's `torch.optim.lr_scheduler.OneCycleLR` computes it: the same floating-point
//! operations in the same order, in `f64`, with the platform `cos`.
//!
//! - [`config`]: the parameters of a schedule, each written once: name, default, meaning,
//!   check.
//! - [`cycle`]: the phase layout and the formula, one step at a time.
//! - [`fill`]: whole windows of steps, or the values at any list of steps, for one
//!   configuration or a broadcast sweep, written into caller-provided slices in blocks, on
//!   all cores when the output is large enough for threads to pay; configurations with the
//!   same phases share one cosine per step.
//! - [`fast_cos`]: the vectorisable cosine of [`Accuracy::Fast`] (opt-in, not bit-exact).
//! - [`simd`]: the fill loops are compiled for the target's baseline, AVX2 and AVX-512F,
//!   and the widest the CPU has is used; every level gives the same bits.
//! - `bench_floors` (the `bench` feature): benchmark support, not the schedule: what a
//!   fill is measured against.
//!
//! Nothing here knows about Python; the `python` feature adds the `onecycle._core` binding.
//!
//! ```
//! use onecycle::{schedule, Anneal, Config};
//!
//! // torch's OneCycleLR(optimizer, max_lr=0.01, total_steps=1000, anneal_strategy="linear")
//! let config = Config { anneal: Anneal::Linear, ..Config::new(1000, 0.01) };
//! // Steps 0..=1000: the extra step torch allows is included.
//! let (lr, momentum): (Vec<f64>, Vec<f64>) = schedule(&config, 0, 1001)?;
//! assert_eq!(lr.len(), 1001);
//! let (cycle, values) = config.build()?;
//! assert_eq!((lr[299], momentum[299]), cycle.at(299, &values)?);
//! // A window far into a huge schedule costs only its own length.
//! let huge = Config::new(i64::MAX, 0.01);
//! let (far, _): (Vec<f32>, Vec<f32>) = schedule(&huge, 1 << 62, (1 << 62) + 10)?;
//! assert_eq!(far.len(), 10);
//! # Ok::<(), onecycle::Error>(())
//! ```

#[cfg(feature = "bench")]
pub mod bench_floors;
pub mod config;
pub mod cycle;
pub mod error;
pub mod fast_cos;
pub mod fill;
pub mod memory;
pub mod simd;

#[cfg(feature = "python")]
mod python;

pub use config::{parameters, Config, Parameter};
pub use cycle::{Anneal, Key, Layout, OneCycle, Phase, Values};
pub use error::Error;
pub use fill::{
    schedule, schedule_at_steps, schedule_with, Accuracy, Prepared, Request, Sample, FAST_MAX_ULP,
};
pub use simd::Level;
