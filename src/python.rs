//! `onecycle._core`: the thin layer between the core and Python. Arguments are converted
//! while attached to the interpreter; numpy allocates the outputs, and the fill writes
//! straight into them detached (GIL released).

use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::exceptions::{PyMemoryError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::cycle::{Anneal, Config, Key, OneCycle, Phase};
use crate::error::Error;
use crate::fill::{
    alloc_len, cos_floor, fill_rows, prepare, write_floor, Accuracy, Prepared, Sample,
};

/// The one place core errors become Python exceptions.
fn to_py_err(e: &Error) -> PyErr {
    if e.is_memory() {
        PyMemoryError::new_err(e.to_string())
    } else {
        PyValueError::new_err(e.to_string())
    }
}

fn parse_anneal(name: &str) -> PyResult<Anneal> {
    Anneal::from_name(name).ok_or_else(|| {
        PyValueError::new_err(format!(
            "anneal_strategy must be 'cos' or 'linear', got {name:?}"
        ))
    })
}

type Arrays<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>);

/// A float parameter: one value for every configuration, or one per configuration.
enum Column<'py> {
    Array(PyReadonlyArray1<'py, f64>),
    Scalar(f64),
}

impl<'py> FromPyObject<'_, 'py> for Column<'py> {
    type Error = PyErr;

    /// A float or int first (the common case, and cheap), else a 1-d float64 array.
    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(f) = obj.cast_exact::<PyFloat>() {
            return Ok(Column::Scalar(f.value()));
        }
        if obj.is_exact_instance_of::<PyInt>() {
            return Ok(Column::Scalar(obj.extract()?));
        }
        Ok(Column::Array(obj.extract()?))
    }
}

impl Column<'_> {
    fn len(&self) -> Option<usize> {
        match self {
            Column::Array(a) => Some(a.len()),
            Column::Scalar(_) => None,
        }
    }

    fn get(&self, i: usize) -> f64 {
        match self {
            Column::Array(a) => a.as_array()[i],
            Column::Scalar(v) => *v,
        }
    }
}

/// A zeroed 1-d numpy array of `n` values. numpy allocates it (calloc: the pages are
/// zeroed lazily, so the parallel fill is the first to touch them) and reports a failed
/// allocation as `MemoryError`; sizes that cannot be expressed are refused before asking.
fn zeros<'py, T: Sample + numpy::Element>(
    py: Python<'py>,
    what: &'static str,
    n: u128,
) -> PyResult<Bound<'py, PyArray1<T>>> {
    static NUMPY_ZEROS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let len = alloc_len::<T>(what, n).map_err(|e| to_py_err(&e))?;
    let array = NUMPY_ZEROS
        .import(py, "numpy", "zeros")?
        .call1((len, numpy::dtype::<T>(py)))
        .map_err(|e| {
            if e.is_instance_of::<PyMemoryError>(py) {
                to_py_err(&Error::too_large(what, n, std::mem::size_of::<T>()))
            } else {
                e
            }
        })?;
    Ok(array.cast_into::<PyArray1<T>>()?)
}

/// Borrows `array` (any shape, C-contiguous, writeable, `n` values of `T`) as the
/// output `what`; the Python side has checked all this with clearer messages already.
fn output<'py, T: Sample + numpy::Element>(
    array: &Bound<'py, PyAny>,
    what: &str,
    n: usize,
) -> PyResult<numpy::PyReadwriteArrayDyn<'py, T>> {
    let array = array.cast::<PyArrayDyn<T>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "out: the {what} array must be a numpy array of dtype {}",
            numpy::dtype::<T>(array.py())
        ))
    })?;
    if array.len() != n || !array.is_c_contiguous() {
        return Err(PyValueError::new_err(format!(
            "out: the {what} array must be C-contiguous with {n} values"
        )));
    }
    array
        .try_readwrite()
        .map_err(|e| PyValueError::new_err(format!("out: the {what} array: {e}")))
}

fn fill_arrays<'py, T: Sample + numpy::Element>(
    py: Python<'py>,
    prepared: &[Prepared],
    start: u64,
    stop: u64,
    accuracy: Accuracy,
    out: Option<Arrays<'py>>,
) -> PyResult<Arrays<'py>> {
    let n = u128::from(stop - start) * prepared.len() as u128;
    let (lr, momentum) = match out {
        Some(arrays) => arrays,
        None => (
            zeros::<T>(py, "lr", n)?.into_any(),
            zeros::<T>(py, "momentum", n)?.into_any(),
        ),
    };
    {
        let len = alloc_len::<T>("lr", n).map_err(|e| to_py_err(&e))?;
        let mut lr_view = output::<T>(&lr, "lr", len)?;
        // Fails (BorrowError) when the two outputs overlap.
        let mut momentum_view = output::<T>(&momentum, "momentum", len)?;
        let (l, m) = (lr_view.as_slice_mut()?, momentum_view.as_slice_mut()?);
        py.detach(|| fill_rows(prepared, start, stop, accuracy, l, m))
            .map_err(|e| to_py_err(&e))?;
    }
    Ok((lr, momentum))
}

/// Steps `[start, stop)` of one schedule per configuration, as two flat arrays of
/// `count * (stop - start)` values (row `i` is configuration `i`). Each float parameter is
/// a float (shared by every configuration) or a 1-d float64 array with one value per
/// configuration, all arrays of one length `count` (1 when all are floats);
/// `onecycle.schedule` broadcasts them. `exact=False` uses the fast cosine. `out`: two
/// C-contiguous, writeable, non-overlapping arrays of `count * (stop - start)` values of
/// the output type, filled and returned instead of new ones.
#[pyfunction]
#[pyo3(signature = (
    *, total_steps, start, stop, three_phase, anneal_strategy, float32,
    max_lr, pct_start, div_factor, final_div_factor, base_momentum, max_momentum,
    exact=true, out=None
))]
#[allow(clippy::too_many_arguments)]
#[allow(clippy::needless_pass_by_value)]
fn schedule<'py>(
    py: Python<'py>,
    total_steps: i64,
    start: u64,
    stop: u64,
    three_phase: bool,
    anneal_strategy: &str,
    float32: bool,
    max_lr: Column<'py>,
    pct_start: Column<'py>,
    div_factor: Column<'py>,
    final_div_factor: Column<'py>,
    base_momentum: Column<'py>,
    max_momentum: Column<'py>,
    exact: bool,
    out: Option<Arrays<'py>>,
) -> PyResult<Arrays<'py>> {
    let anneal = parse_anneal(anneal_strategy)?;
    let columns = [
        &max_lr,
        &pct_start,
        &div_factor,
        &final_div_factor,
        &base_momentum,
        &max_momentum,
    ];
    let mut lengths = columns.iter().filter_map(|c| c.len());
    let count = lengths.next().unwrap_or(1);
    if lengths.any(|len| len != count) {
        return Err(PyValueError::new_err(
            "the float parameter arrays must all have one length",
        ));
    }
    let configs: Vec<Config> = (0..count)
        .map(|i| Config {
            total_steps,
            max_lr: max_lr.get(i),
            pct_start: pct_start.get(i),
            anneal,
            div_factor: div_factor.get(i),
            final_div_factor: final_div_factor.get(i),
            base_momentum: base_momentum.get(i),
            max_momentum: max_momentum.get(i),
            three_phase,
        })
        .collect();
    // Release the parameters' read borrows: an output may be one of those arrays.
    drop((
        max_lr,
        pct_start,
        div_factor,
        final_div_factor,
        base_momentum,
        max_momentum,
    ));
    let prepared = prepare(&configs, start, stop).map_err(|e| to_py_err(&e))?;
    let accuracy = if exact {
        Accuracy::Exact
    } else {
        Accuracy::Fast
    };
    if float32 {
        fill_arrays::<f32>(py, &prepared, start, stop, accuracy, out)
    } else {
        fill_arrays::<f64>(py, &prepared, start, stop, accuracy, out)
    }
}

/// Benchmark support, not API: `f64::cos` of `n` arguments over `[0, pi]` on all cores,
/// summed (the floor of an exact cos schedule), with the GIL released.
#[pyfunction]
fn _cos_floor(py: Python<'_>, n: usize) -> f64 {
    py.detach(|| cos_floor(n))
}

/// Benchmark support, not API: two new arrays of `n` values (float32 or float64),
/// allocated as `schedule` allocates its outputs and filled with 1.0 on all cores, with
/// the GIL released (the memory-write floor of a schedule).
#[pyfunction]
fn _write_floor(py: Python<'_>, n: usize, float32: bool) -> PyResult<Arrays<'_>> {
    fn fill<T: Sample + numpy::Element>(py: Python<'_>, n: usize) -> PyResult<Arrays<'_>> {
        let (lr, momentum) = (
            zeros::<T>(py, "lr", n as u128)?,
            zeros::<T>(py, "momentum", n as u128)?,
        );
        {
            let (mut l, mut m) = (lr.readwrite(), momentum.readwrite());
            let (l, m) = (l.as_slice_mut()?, m.as_slice_mut()?);
            py.detach(|| write_floor(l, m));
        }
        Ok((lr.into_any(), momentum.into_any()))
    }
    if float32 {
        fill::<f32>(py, n)
    } else {
        fill::<f64>(py, n)
    }
}

/// A group value torch would combine with Python float arithmetic that `f64` reproduces
/// exactly: a `float`, or an `int`/`bool` no larger than 2**53 in magnitude. Anything else
/// (tensors, numpy scalars, huge ints) is `None`, and the caller takes torch's own path.
fn plain_float(value: &Bound<'_, PyAny>) -> Option<f64> {
    if let Ok(f) = value.cast_exact::<PyFloat>() {
        return Some(f.value());
    }
    if value.is_exact_instance_of::<PyInt>() || value.is_exact_instance_of::<PyBool>() {
        let i: i64 = value.extract().ok()?;
        if i.unsigned_abs() <= 1 << 53 {
            return Some(i as f64);
        }
    }
    None
}

/// The `param_group` key of `key`, as an interned Python string (no allocation per lookup).
fn key_name(py: Python<'_>, key: Key) -> &Bound<'_, PyString> {
    match key {
        Key::InitialLr => intern!(py, "initial_lr"),
        Key::MaxLr => intern!(py, "max_lr"),
        Key::MinLr => intern!(py, "min_lr"),
        Key::MaxMomentum => intern!(py, "max_momentum"),
        Key::BaseMomentum => intern!(py, "base_momentum"),
    }
}

fn group_value(group: &Bound<'_, PyDict>, key: Key) -> PyResult<Option<f64>> {
    Ok(group
        .get_item(key_name(group.py(), key))?
        .and_then(|value| plain_float(&value)))
}

/// The start and end values a phase anneals between, if both are plain numbers.
fn group_pair(group: &Bound<'_, PyDict>, start: Key, end: Key) -> PyResult<Option<(f64, f64)>> {
    Ok(group_value(group, start)?.zip(group_value(group, end)?))
}

/// The lr and (when `cycle_momentum`) the momentum `group` gets at a step in `phase`
/// where the annealing factor is `factor`, or `None` when a value the phase anneals
/// between is missing or not a plain number.
fn group_at(
    group: &Bound<'_, PyDict>,
    phase: &Phase,
    anneal: Anneal,
    factor: f64,
    cycle_momentum: bool,
) -> PyResult<Option<(f64, Option<f64>)>> {
    let Some((start, end)) = group_pair(group, phase.start_lr, phase.end_lr)? else {
        return Ok(None);
    };
    let lr = anneal.interpolate(start, end, factor);
    if !cycle_momentum {
        return Ok(Some((lr, None)));
    }
    Ok(group_pair(group, phase.start_momentum, phase.end_momentum)?
        .map(|(start, end)| (lr, Some(anneal.interpolate(start, end, factor)))))
}

/// A group value torch replaces by assignment (it fills tensors in place instead): a
/// `float`, `int` or `bool`.
fn replaceable(value: &Bound<'_, PyAny>) -> bool {
    value.is_exact_instance_of::<PyFloat>()
        || value.is_exact_instance_of::<PyInt>()
        || value.is_exact_instance_of::<PyBool>()
}

/// What one group receives in a step: its lr, and its momentum with the `betas` tuple it
/// replaces (when the momentum goes into `betas[0]`).
struct Update<'py> {
    group: Bound<'py, PyDict>,
    lr: f64,
    momentum: Option<(f64, Option<Bound<'py, PyTuple>>)>,
}

/// The phases of a `OneCycleLR`, for its `step()`: built from the scheduler's
/// `_schedule_phases`, immutable, and evaluated against the optimizer's groups as they are
/// at each step.
#[pyclass(frozen, module = "onecycle._core", name = "Cycle")]
struct PyCycle {
    inner: OneCycle,
}

#[pymethods]
impl PyCycle {
    /// `phases`: `(end_step, start_lr, end_lr, start_momentum, end_momentum)` tuples, the
    /// last four naming group keys.
    #[new]
    #[allow(clippy::needless_pass_by_value)]
    fn new(
        phases: Vec<(f64, String, String, String, String)>,
        anneal_strategy: &str,
    ) -> PyResult<Self> {
        let anneal = parse_anneal(anneal_strategy)?;
        let key = |name: &str| {
            Key::from_name(name)
                .ok_or_else(|| PyValueError::new_err(format!("unknown group key {name:?}")))
        };
        let phases = phases
            .iter()
            .map(|(end_step, a, b, c, d)| {
                Ok(Phase {
                    end_step: *end_step,
                    start_lr: key(a)?,
                    end_lr: key(b)?,
                    start_momentum: key(c)?,
                    end_momentum: key(d)?,
                })
            })
            .collect::<PyResult<Vec<Phase>>>()?;
        let inner = OneCycle::from_phases(phases, anneal).map_err(|e| to_py_err(&e))?;
        Ok(PyCycle { inner })
    }

    /// `(lrs, momenta)` at `step` for each group of `param_groups` (momenta only when
    /// `cycle_momentum`), or `None` when a group lacks a key or holds a value that is not a
    /// plain number: then nothing was computed and the caller uses torch's own `get_lr`.
    /// Raises `ValueError` first where torch divides by zero, as torch fails there before
    /// reading any group.
    #[allow(clippy::type_complexity)]
    fn step(
        &self,
        step: i64,
        param_groups: &Bound<'_, PyAny>,
        cycle_momentum: bool,
    ) -> PyResult<Option<(Vec<f64>, Vec<f64>)>> {
        let (phase, factor) = self.inner.phase_at(step).map_err(|e| to_py_err(&e))?;
        let anneal = self.inner.anneal();
        let Ok(param_groups) = param_groups.cast::<PyList>() else {
            return Ok(None);
        };
        let mut lrs = Vec::with_capacity(param_groups.len());
        let mut momenta = Vec::with_capacity(param_groups.len());
        for group in param_groups.iter() {
            let Ok(group) = group.cast::<PyDict>() else {
                return Ok(None);
            };
            let Some((lr, momentum)) = group_at(group, phase, anneal, factor, cycle_momentum)?
            else {
                return Ok(None);
            };
            lrs.push(lr);
            momenta.extend(momentum);
        }
        Ok(Some((lrs, momenta)))
    }

    /// One `OneCycleLR.step()` in its common case, in one call: the lr (and, when
    /// `cycle_momentum` is truthy, the momentum) of every group at `step`, written into the
    /// groups as torch writes them (`group["lr"]`; `group["momentum"]`, or
    /// `group["betas"] = (momentum, *betas[1:])` when the scheduler's `use_beta1` is
    /// truthy), and returned as a new list (the scheduler's `_last_lr`).
    ///
    /// Returns `None`, having written nothing, wherever torch's own path is needed: `step`
    /// not an int in the i64 range, `param_groups` not a plain list of plain dicts, a
    /// missing key or `use_beta1` attribute, a value the core does not reproduce (tensors,
    /// numpy scalars, ints beyond 2**53), an `lr` or `betas[0]` torch would fill in place
    /// rather than replace, or a step in a phase of zero width (torch's path raises the
    /// error).
    fn advance<'py>(
        &self,
        step: &Bound<'py, PyAny>,
        param_groups: &Bound<'py, PyAny>,
        cycle_momentum: &Bound<'py, PyAny>,
        scheduler: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyList>>> {
        let py = step.py();
        let Some(step) = step
            .cast_exact::<PyInt>()
            .ok()
            .and_then(|step| step.extract::<i64>().ok())
        else {
            return Ok(None);
        };
        let Ok((phase, factor)) = self.inner.phase_at(step) else {
            return Ok(None);
        };
        let Ok(param_groups) = param_groups.cast_exact::<PyList>() else {
            return Ok(None);
        };
        let cycle_momentum = cycle_momentum.is_truthy()?;
        // torch reads `use_beta1` only when cycling momentum (it is set only then).
        let use_beta1 = if cycle_momentum {
            match scheduler.getattr(intern!(py, "use_beta1")) {
                Ok(use_beta1) => use_beta1.is_truthy()?,
                Err(_) => return Ok(None),
            }
        } else {
            false
        };
        let anneal = self.inner.anneal();
        let (lr_key, betas_key) = (intern!(py, "lr"), intern!(py, "betas"));
        // Read and check every group before writing any.
        let mut updates = Vec::with_capacity(param_groups.len());
        for group in param_groups.iter() {
            let Ok(group) = group.cast_into_exact::<PyDict>() else {
                return Ok(None);
            };
            let Some((lr, momentum)) = group_at(&group, phase, anneal, factor, cycle_momentum)?
            else {
                return Ok(None);
            };
            if !group.get_item(lr_key)?.is_some_and(|lr| replaceable(&lr)) {
                return Ok(None);
            }
            let momentum = if let Some(momentum) = momentum {
                let betas = if use_beta1 {
                    let Some(Ok(betas)) = group
                        .get_item(betas_key)?
                        .map(Bound::cast_into_exact::<PyTuple>)
                    else {
                        return Ok(None);
                    };
                    if !betas.get_item(0).is_ok_and(|beta1| replaceable(&beta1)) {
                        return Ok(None);
                    }
                    Some(betas)
                } else {
                    None
                };
                Some((momentum, betas))
            } else {
                None
            };
            updates.push(Update {
                group,
                lr,
                momentum,
            });
        }
        let lrs = PyList::empty(py);
        for Update {
            group,
            lr,
            momentum,
        } in updates
        {
            match momentum {
                Some((momentum, Some(betas))) => {
                    let first = PyFloat::new(py, momentum).into_any();
                    let items: Vec<Bound<'py, PyAny>> =
                        std::iter::once(first).chain(betas.iter().skip(1)).collect();
                    let betas = PyTuple::new(py, items)?;
                    group.set_item(betas_key, betas)?;
                }
                Some((momentum, None)) => {
                    group.set_item(intern!(py, "momentum"), PyFloat::new(py, momentum))?;
                }
                None => {}
            }
            let lr = PyFloat::new(py, lr);
            group.set_item(lr_key, &lr)?;
            lrs.append(lr)?;
        }
        Ok(Some(lrs))
    }

    /// Pickling and `copy.deepcopy` rebuild the cycle from its phases.
    #[allow(clippy::type_complexity, clippy::unnecessary_wraps)]
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(
        Bound<'py, PyAny>,
        (Vec<(f64, String, String, String, String)>, &'static str),
    )> {
        let inner = &slf.get().inner;
        let phases = inner
            .phases()
            .iter()
            .map(|p| {
                (
                    p.end_step,
                    p.start_lr.name().to_owned(),
                    p.end_lr.name().to_owned(),
                    p.start_momentum.name().to_owned(),
                    p.end_momentum.name().to_owned(),
                )
            })
            .collect();
        Ok((slf.get_type().into_any(), (phases, inner.anneal().name())))
    }
}

#[pymodule]
#[pyo3(name = "_core")]
mod core_module {
    use pyo3::prelude::*;

    #[pymodule_export]
    use super::{_cos_floor, _write_floor, schedule, PyCycle};

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        m.add("PARALLEL_MIN_STEPS", crate::fill::PARALLEL_MIN_STEPS)?;
        m.add("FAST_MAX_ULP", crate::fill::FAST_MAX_ULP)?;
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
