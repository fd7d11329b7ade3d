//! Benchmark support, not API (the `bench` feature): the floors `benches/bench.py`
//! measures a schedule against, with the GIL released.

use numpy::{Element, PyArrayDyn, PyArrayMethods};
use pyo3::prelude::*;

use super::schedule::{zeros, Outputs};
use crate::bench_floors::{cos_floor, write_floor};
use crate::fill::Sample;

/// Benchmark support, not API: `f64::cos` of `n` arguments over `[0, pi]` on all cores,
/// summed (the floor of an exact cos schedule), with the GIL released.
#[pyfunction]
pub(super) fn _cos_floor(py: Python<'_>, n: usize) -> f64 {
    py.detach(|| cos_floor(n))
}

/// Benchmark support, not API: two new arrays of `n` values (float32 or float64),
/// allocated as `schedule` allocates its outputs and filled with 1.0 on all cores, with
/// the GIL released (the memory-write floor of a schedule).
#[pyfunction]
pub(super) fn _write_floor(py: Python<'_>, n: usize, float32: bool) -> PyResult<Outputs<'_>> {
    fn fill<T: Sample + Element>(py: Python<'_>, n: usize) -> PyResult<Outputs<'_>> {
        let (lr, momentum) = (
            zeros::<T>(py, "lr", &[n])?,
            zeros::<T>(py, "momentum", &[n])?,
        );
        {
            let mut l = lr.cast::<PyArrayDyn<T>>()?.readwrite();
            let mut m = momentum.cast::<PyArrayDyn<T>>()?.readwrite();
            let (l, m) = (l.as_slice_mut()?, m.as_slice_mut()?);
            py.detach(|| write_floor(l, m));
        }
        Ok((lr, momentum))
    }
    if float32 {
        fill::<f32>(py, n)
    } else {
        fill::<f64>(py, n)
    }
}
