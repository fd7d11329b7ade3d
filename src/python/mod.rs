//! `onecycle._core`: the binding. Python converts the arguments' types; the core checks
//! their values, and its errors become Python exceptions in one place (`errors`).
//!
//! - `schedule`: `schedule()`'s arguments and outputs (numpy arrays filled detached);
//! - `step`: the `Cycle` class, which steps torch's parameter groups;
//! - `bench` (the `bench` feature): the floors `benches/bench.py` measures against.
//!
//! Every name the Python side needs from the core is exported here once: the parameters,
//! the group keys torch's constructor writes, the keys of a phase and the strategies.

#[cfg(feature = "bench")]
mod bench;
mod errors;
mod schedule;
mod step;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyString, PyTuple};

use crate::config::{parameters, Kind as ParameterKind, Value};
use crate::cycle::{Anneal, Key, OneCycle, Phase};
use errors::OrRaise;

/// The steps where each phase of a schedule ends (torch's `end_step`s), as the core lays
/// them out: two phases, or three with `three_phase`.
#[pyfunction]
#[pyo3(signature = (*, total_steps, pct_start, three_phase))]
fn phase_ends(total_steps: i64, pct_start: f64, three_phase: bool) -> PyResult<Vec<f64>> {
    let cycle = OneCycle::new(total_steps, pct_start, three_phase, Anneal::Cos).or_raise()?;
    Ok(cycle.phases().iter().map(|p| p.end_step).collect())
}

/// Every parameter of a schedule, in signature order: `(name, kind, default, help,
/// choices)`, `kind` one of `"int"`, `"float"`, `"str"`, `"bool"` and `default` `None` for
/// a required parameter.
fn parameter_list(py: Python<'_>) -> PyResult<Bound<'_, PyTuple>> {
    let rows = parameters().into_iter().map(|p| {
        let kind = match p.kind {
            ParameterKind::Int => "int",
            ParameterKind::Float => "float",
            ParameterKind::Text => "str",
            ParameterKind::Bool => "bool",
        };
        let default = match p.default {
            None => py.None().into_bound(py),
            Some(Value::Int(v)) => v.into_pyobject(py)?.into_any(),
            Some(Value::Float(v)) => PyFloat::new(py, v).into_any(),
            Some(Value::Text(v)) => PyString::new(py, v).into_any(),
            Some(Value::Bool(v)) => PyBool::new(py, v).to_owned().into_any(),
        };
        let row = [
            PyString::new(py, p.name).into_any(),
            PyString::new(py, kind).into_any(),
            default,
            PyString::new(py, p.help).into_any(),
            PyTuple::new(py, p.choices)?.into_any(),
        ];
        PyTuple::new(py, row)
    });
    PyTuple::new(py, rows.collect::<PyResult<Vec<_>>>()?)
}

#[pymodule]
#[pyo3(name = "_core")]
mod core_module {
    use pyo3::prelude::*;

    #[cfg(feature = "bench")]
    #[pymodule_export]
    use super::bench::{_cos_floor, _write_floor};
    #[pymodule_export]
    use super::{phase_ends, schedule::schedule, step::PyCycle};
    use pyo3::types::PyTuple;

    use super::{parameter_list, Anneal, Key, Phase};

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        m.add("PARALLEL_MIN_STEPS", crate::fill::PARALLEL_MIN_STEPS)?;
        m.add("FAST_MAX_ULP", crate::fill::FAST_MAX_ULP)?;
        m.add("PARAMETERS", parameter_list(m.py())?)?;
        let py = m.py();
        m.add(
            "GROUP_KEYS",
            PyTuple::new(py, Key::TORCH.iter().map(Key::name))?,
        )?;
        m.add("PHASE_KEYS", PyTuple::new(py, Phase::FIELDS)?)?;
        m.add("STRATEGIES", PyTuple::new(py, Anneal::NAMES)?)?;
        crate::simd::Level::from_env().map_err(pyo3::exceptions::PyValueError::new_err)?;
        Ok(())
    }

    /// The vector instructions the fill loops use: `"baseline"`, `"avx2"` or
    /// `"avx512f"` (the widest this CPU has, or fewer when `ONECYCLE_SIMD` names a level).
    /// Every level gives the same values.
    #[pyfunction]
    fn simd() -> &'static str {
        crate::simd::Level::detect().name()
    }

    /// The number of threads a large `schedule()` call fills on (rayon's global pool).
    #[pyfunction]
    fn threads() -> usize {
        rayon::current_num_threads()
    }
}
