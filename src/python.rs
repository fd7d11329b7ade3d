//! `onecycle._core`: the thin layer between the core and Python. Python converts the
//! arguments' types; the core checks their values and its errors become Python exceptions
//! in one place ([`to_py_err`]). The outputs are allocated by numpy (or given), and the
//! fill writes straight into them detached (GIL released).

use numpy::{
    Element, PyArrayDescr, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn,
    PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyMemoryError, PyOverflowError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::bench_floors::{cos_floor, write_floor};
use crate::config::{parameters, Config, Kind as ParameterKind, Value};
use crate::cycle::{check_total_steps, Anneal, Key, OneCycle, Phase, Values};
use crate::error::{Error, Int, Kind, OutProblem};
use crate::fill::{
    alloc_len, check_step_range, prepare, prepare_steps, Accuracy, Prepared, Request, Sample,
};
use crate::memory::check_fits;

/// The one place core errors become Python exceptions.
fn to_py_err(e: &Error) -> PyErr {
    let message = e.to_string();
    match e.kind() {
        Kind::Memory => PyMemoryError::new_err(message),
        Kind::Overflow => PyOverflowError::new_err(message),
        Kind::Value => PyValueError::new_err(message),
    }
}

/// Core results as Python results.
trait OrRaise<T> {
    fn or_raise(self) -> PyResult<T>;
}

impl<T> OrRaise<T> for Result<T, Error> {
    fn or_raise(self) -> PyResult<T> {
        self.map_err(|e| to_py_err(&e))
    }
}

fn parse_anneal(name: &str) -> Result<Anneal, Error> {
    Anneal::from_name(name).ok_or_else(|| Error::AnnealStrategy {
        value: name.to_owned(),
    })
}

/// A Python int as the core counts it, or as messages show it when it lies beyond `i128`:
/// its digits, or past 256 bits its size (Python refuses to print the longest ints).
fn int_arg(value: &Bound<'_, PyInt>) -> PyResult<Int> {
    if let Ok(v) = value.extract::<i128>() {
        return Ok(Int::Value(v));
    }
    let bits: u64 = value
        .call_method0(intern!(value.py(), "bit_length"))?
        .extract()?;
    let negative = value.lt(0)?;
    let text = if bits > 256 {
        let article = if negative { "a negative" } else { "an" };
        format!("{article} integer of {bits} bits")
    } else {
        value.str()?.to_string()
    };
    Ok(Int::Text { text, negative })
}

/// `total_steps` within `i64`, or the error that says why not.
fn total_steps_arg(value: &Bound<'_, PyInt>) -> PyResult<i64> {
    match int_arg(value)? {
        Int::Value(v) => match i64::try_from(v) {
            Ok(v) => Ok(v),
            Err(_) => Err(to_py_err(&Error::TotalStepsRange { value: v.into() })),
        },
        text @ Int::Text { .. } => Err(to_py_err(&Error::TotalStepsRange { value: text })),
    }
}

/// A float parameter: one value for every configuration, or an array of the sweep's
/// broadcast shape (any strides: a broadcast view is read as it is, never copied).
enum Column<'py> {
    Array(PyReadonlyArrayDyn<'py, f64>),
    Scalar(f64),
}

impl<'py> FromPyObject<'_, 'py> for Column<'py> {
    type Error = PyErr;

    /// A float or int first (the common case, and cheap), else a float64 array.
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

/// The parameters of `schedule()`, by name ([`parameters`]): the configurations they make
/// (the float parameters broadcast, in C order), each checked, unless there are too many.
struct Sweep<'py> {
    base: Config,
    /// Each float parameter's index in the list and its values.
    columns: Vec<(usize, PyReadonlyArrayDyn<'py, f64>)>,
    count: usize,
}

impl<'py> Sweep<'py> {
    fn from_kwargs(params: &Bound<'py, PyDict>, count: usize) -> PyResult<Sweep<'py>> {
        let list = parameters();
        for key in params.keys() {
            let key: String = key.extract()?;
            if !list.iter().any(|p| p.name == key) {
                return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                    "schedule() got an unexpected keyword argument '{key}'"
                )));
            }
        }
        let mut base = Config::new(1, 1.0);
        let mut columns = Vec::new();
        for (index, parameter) in list.iter().enumerate() {
            let value = params.get_item(parameter.name)?.ok_or_else(|| {
                pyo3::exceptions::PyTypeError::new_err(format!(
                    "schedule() missing argument {:?}",
                    parameter.name
                ))
            })?;
            let given = match parameter.kind {
                ParameterKind::Int => Value::Int(total_steps_arg(value.cast::<PyInt>()?)?),
                ParameterKind::Bool => Value::Bool(value.extract()?),
                ParameterKind::Text => {
                    let name: String = value.extract()?;
                    Value::Text(parse_anneal(&name).or_raise()?.name())
                }
                ParameterKind::Float => match value.extract::<Column<'py>>()? {
                    Column::Scalar(v) => Value::Float(v),
                    Column::Array(array) => {
                        if array.len() != count {
                            let (name, len) = (parameter.name, array.len());
                            return Err(to_py_err(&Error::ColumnLength { name, len, count }));
                        }
                        columns.push((index, array));
                        continue;
                    }
                },
            };
            let set = base.set(index, given);
            debug_assert!(set, "{} takes a value of its kind", parameter.name);
        }
        Ok(Sweep {
            base,
            columns,
            count,
        })
    }

    /// Each configuration, in C order of the broadcast shape (so, the arrays being
    /// read as they are, a broadcast parameter is never copied).
    fn configs(&self) -> Result<Vec<Config>, Error> {
        let mut configs = Vec::new();
        configs.try_reserve_exact(self.count).map_err(|_| {
            Error::too_large(
                "the configurations",
                self.count as u128,
                size_of::<Config>(),
            )
        })?;
        configs.resize(self.count, self.base);
        for (index, values) in &self.columns {
            for (config, &value) in configs.iter_mut().zip(values.as_array().iter()) {
                config.set(*index, Value::Float(value));
            }
        }
        Ok(configs)
    }
}

/// Where the values go: the steps of a window, or chosen steps.
enum Steps<'py> {
    Window { start: u64, stop: u64 },
    Chosen(PyReadonlyArrayDyn<'py, i64>),
}

impl Steps<'_> {
    fn len(&self) -> usize {
        match self {
            Steps::Window { start, stop } => (stop - start) as usize,
            Steps::Chosen(steps) => steps.len(),
        }
    }

    fn shape(&self) -> Vec<usize> {
        match self {
            Steps::Window { .. } => vec![self.len()],
            Steps::Chosen(steps) => steps.shape().to_vec(),
        }
    }

    /// The steps as plain data, to be read detached.
    fn at(&self) -> At<'_> {
        match self {
            Steps::Window { start, stop } => At::Window(*start, *stop),
            Steps::Chosen(steps) => At::Chosen(steps.as_slice().unwrap_or(&[])),
        }
    }
}

/// [`Steps`] without the Python objects.
#[derive(Clone, Copy)]
enum At<'a> {
    Window(u64, u64),
    Chosen(&'a [i64]),
}

impl At<'_> {
    fn prepare(self, configs: &[Config]) -> Result<Vec<Prepared>, Error> {
        match self {
            At::Window(start, stop) => prepare(configs, start, stop),
            At::Chosen(steps) => prepare_steps(configs, steps),
        }
    }

    fn fill<T: Sample>(
        self,
        request: &Request<'_>,
        lr: &mut [T],
        m: &mut [T],
    ) -> Result<(), Error> {
        match self {
            At::Window(start, stop) => request.window(start, stop, lr, m),
            At::Chosen(steps) => request.steps(steps, lr, m),
        }
    }
}

/// The window `[start, stop)` of a schedule of `total_steps`, checked.
fn window(
    config: &Config,
    start: &Bound<'_, PyInt>,
    stop: Option<&Bound<'_, PyInt>>,
) -> PyResult<(u64, u64)> {
    let start = int_arg(start)?;
    let stop = match stop {
        Some(stop) => int_arg(stop)?,
        None => Int::Value(config.total_steps.into()),
    };
    if let (Int::Value(a), Int::Value(b)) = (&start, &stop) {
        if let (Ok(a), Ok(b)) = (u64::try_from(*a), u64::try_from(*b)) {
            config.check_window(a, b).or_raise()?;
            return Ok((a, b));
        }
    }
    Err(to_py_err(&Error::Window {
        start,
        stop,
        total_steps: config.total_steps,
    }))
}

/// float64 or float32: `dtype`, else the dtype of the given outputs, else float64.
fn output_dtype<'py>(
    py: Python<'py>,
    dtype: Option<Bound<'py, PyArrayDescr>>,
    out: Option<&(Bound<'py, PyUntypedArray>, Bound<'py, PyUntypedArray>)>,
) -> PyResult<bool> {
    let dtype = match (dtype, out) {
        (Some(dtype), _) => dtype,
        (None, Some((lr, _))) => lr.dtype(),
        (None, None) => return Ok(false),
    };
    if dtype.is_equiv_to(&numpy::dtype::<f32>(py)) {
        Ok(true)
    } else if dtype.is_equiv_to(&numpy::dtype::<f64>(py)) {
        Ok(false)
    } else {
        Err(to_py_err(&Error::Dtype {
            value: dtype.str()?.to_string(),
        }))
    }
}

/// Checks the given outputs against the schedule's `shape` and dtype `T`, as numpy
/// describes them, before anything is written.
fn check_out<T: Element>(
    out: &(Bound<'_, PyUntypedArray>, Bound<'_, PyUntypedArray>),
    shape: &[usize],
) -> PyResult<()> {
    static MAY_SHARE_MEMORY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let py = out.0.py();
    let want = numpy::dtype::<T>(py);
    for (which, array) in [("lr", &out.0), ("momentum", &out.1)] {
        let problem = if !array.dtype().is_equiv_to(&want) {
            Some(OutProblem::Dtype {
                which,
                got: array.dtype().str()?.to_string(),
                want: want.str()?.to_string(),
            })
        } else if array.shape() != shape {
            Some(OutProblem::Shape {
                which,
                got: array.shape().to_vec(),
                want: shape.to_vec(),
            })
        } else if !array.is_c_contiguous() {
            Some(OutProblem::NotContiguous { which })
        } else if !array
            .getattr(intern!(py, "flags"))?
            .getattr(intern!(py, "writeable"))?
            .is_truthy()?
        {
            Some(OutProblem::ReadOnly { which })
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(to_py_err(&Error::Out { problem }));
        }
    }
    let overlap = out.0.len() > 0
        && MAY_SHARE_MEMORY
            .import(py, "numpy", "may_share_memory")?
            .call1((&out.0, &out.1))?
            .is_truthy()?;
    if overlap {
        return Err(to_py_err(&Error::Out {
            problem: OutProblem::Overlap,
        }));
    }
    Ok(())
}

/// A zeroed numpy array of `shape`. numpy allocates it (calloc: the pages are zeroed
/// lazily, so the parallel fill is the first to touch them) and reports a failed
/// allocation as `MemoryError`; sizes that cannot be expressed are refused before asking.
fn zeros<'py, T: Sample + Element>(
    py: Python<'py>,
    what: &'static str,
    shape: &[usize],
) -> PyResult<Bound<'py, PyUntypedArray>> {
    static NUMPY_ZEROS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let n = shape.iter().map(|&d| d as u128).product();
    alloc_len::<T>(what, n).or_raise()?;
    let array = NUMPY_ZEROS
        .import(py, "numpy", "zeros")?
        .call1((shape.to_vec(), numpy::dtype::<T>(py)))
        .map_err(|e| {
            if e.is_instance_of::<PyMemoryError>(py) {
                to_py_err(&Error::too_large(what, n, std::mem::size_of::<T>()))
            } else {
                e
            }
        })?;
    Ok(array.cast_into::<PyUntypedArray>()?)
}

type Outputs<'py> = (Bound<'py, PyUntypedArray>, Bound<'py, PyUntypedArray>);

/// Fills the outputs (new ones, or `out` checked) with the values of `prepared` at `steps`.
fn fill_outputs<'py, T: Sample + Element>(
    py: Python<'py>,
    request: &Request<'_>,
    steps: &Steps<'_>,
    shape: &[usize],
    out: Option<Outputs<'py>>,
) -> PyResult<Outputs<'py>> {
    let (lr, momentum) = match out {
        Some(out) => {
            check_out::<T>(&out, shape)?;
            out
        }
        None => (
            zeros::<T>(py, "lr", shape)?,
            zeros::<T>(py, "momentum", shape)?,
        ),
    };
    {
        let mut lr_view = lr.cast::<PyArrayDyn<T>>()?.try_readwrite()?;
        let mut momentum_view = momentum.cast::<PyArrayDyn<T>>()?.try_readwrite()?;
        let (l, m) = (lr_view.as_slice_mut()?, momentum_view.as_slice_mut()?);
        let at = steps.at();
        py.detach(|| at.fill(request, l, m)).or_raise()?;
    }
    Ok((lr, momentum))
}

/// The values of one schedule per configuration, as `onecycle.schedule` returns them, of
/// shape `shape + (stop - start,)`, or `shape + steps.shape` at the chosen `steps`.
///
/// `params` holds every schedule parameter by name (the list of [`parameters`]); each
/// float parameter is a number or an array of the broadcast shape `shape`, which Python has
/// computed. Python has converted the types; everything else is checked here, in the order
/// of the signature, before anything is allocated: the values, the window or steps, the
/// dtype, the memory the outputs need against `memory` bytes (the machine's), and `out`.
#[pyfunction]
#[pyo3(signature = (
    *, shape, start, stop=None, steps=None, dtype=None, exact=true, out=None, memory=None,
    **params
))]
#[allow(clippy::too_many_arguments)]
#[allow(clippy::needless_pass_by_value)]
fn schedule<'py>(
    py: Python<'py>,
    shape: Vec<usize>,
    start: Bound<'py, PyInt>,
    stop: Option<Bound<'py, PyInt>>,
    steps: Option<PyReadonlyArrayDyn<'py, i64>>,
    dtype: Option<Bound<'py, PyArrayDescr>>,
    exact: bool,
    out: Option<Outputs<'py>>,
    memory: Option<u64>,
    params: Option<Bound<'py, PyDict>>,
) -> PyResult<Outputs<'py>> {
    let params = params.unwrap_or_else(|| PyDict::new(py));
    let count = shape.iter().product::<usize>();
    let sweep = Sweep::from_kwargs(&params, count)?;
    // The window is checked against total_steps, so total_steps comes first.
    check_total_steps(sweep.base.total_steps).or_raise()?;
    let steps = if let Some(steps) = steps {
        Steps::Chosen(steps)
    } else {
        let (start, stop) = window(&sweep.base, &start, stop.as_ref())?;
        Steps::Window { start, stop }
    };
    let float32 = output_dtype(py, dtype, out.as_ref())?;
    let item_size = match (&out, float32) {
        (Some(_), _) => 0,
        (None, true) => 4,
        (None, false) => 8,
    };
    let fits = || {
        let float_params = parameters()
            .iter()
            .filter(|p| p.kind == ParameterKind::Float)
            .count();
        check_fits(
            count as u128,
            steps.len() as u128,
            item_size,
            float_params,
            memory,
        )
        .or_raise()
    };
    // One configuration: a bad value is the clearer error, so it comes first. Many: they
    // are not made at all when they would not fit.
    if count > 1 {
        fits()?;
    }
    let prepared = steps
        .at()
        .prepare(&sweep.configs().or_raise()?)
        .or_raise()?;
    if count <= 1 {
        fits()?;
    }
    let accuracy = if exact {
        Accuracy::Exact
    } else {
        Accuracy::Fast
    };
    let request = Request::new(&prepared, accuracy);
    let full: Vec<usize> = shape.iter().copied().chain(steps.shape()).collect();
    if float32 {
        fill_outputs::<f32>(py, &request, &steps, &full, out)
    } else {
        fill_outputs::<f64>(py, &request, &steps, &full, out)
    }
}

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
#[allow(clippy::type_complexity)]
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
        PyTuple::new(
            py,
            [
                PyString::new(py, p.name).into_any(),
                PyString::new(py, kind).into_any(),
                default,
                PyString::new(py, p.help).into_any(),
                PyTuple::new(py, p.choices)?.into_any(),
            ],
        )
    });
    PyTuple::new(py, rows.collect::<PyResult<Vec<_>>>()?)
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
fn _write_floor(py: Python<'_>, n: usize, float32: bool) -> PyResult<Outputs<'_>> {
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

/// A group value torch replaces by assignment (it fills tensors in place instead): a
/// `float`, `int` or `bool`.
fn replaceable(value: &Bound<'_, PyAny>) -> bool {
    value.is_exact_instance_of::<PyFloat>()
        || value.is_exact_instance_of::<PyInt>()
        || value.is_exact_instance_of::<PyBool>()
}

/// A group's momentum at a step, and where it goes.
enum MomentumTarget<'py> {
    /// Not cycled.
    None,
    /// `group["momentum"]`.
    Momentum(f64),
    /// `group["betas"] = (momentum, *betas[1:])`, replacing this tuple.
    Beta1(f64, Bound<'py, PyTuple>),
}

/// What one group receives in a step.
struct Update<'py> {
    group: Bound<'py, PyDict>,
    lr: f64,
    target: MomentumTarget<'py>,
}

impl<'py> Update<'py> {
    /// The update of `group` at a step in `phase` where the annealing factor is `factor`,
    /// or `None` when torch's own path is needed: a value the phase anneals between is
    /// missing or not a plain number, or a value to be written (`lr` when `with_lr`,
    /// `betas[0]`) is one torch would fill in place rather than replace.
    fn of(
        group: Bound<'py, PyDict>,
        cycle: &OneCycle,
        (phase, factor): (&Phase, f64),
        use_beta1: Option<bool>,
        with_lr: bool,
    ) -> PyResult<Option<Update<'py>>> {
        let py = group.py();
        let anneal = cycle.anneal();
        let Some((start, end)) = group_pair(&group, phase.start_lr, phase.end_lr)? else {
            return Ok(None);
        };
        let lr = anneal.interpolate(start, end, factor);
        if with_lr
            && !group
                .get_item(intern!(py, "lr"))?
                .is_some_and(|lr| replaceable(&lr))
        {
            return Ok(None);
        }
        let Some(use_beta1) = use_beta1 else {
            return Ok(Some(Update {
                group,
                lr,
                target: MomentumTarget::None,
            }));
        };
        let Some((start, end)) = group_pair(&group, phase.start_momentum, phase.end_momentum)?
        else {
            return Ok(None);
        };
        let momentum = anneal.interpolate(start, end, factor);
        let target = if use_beta1 {
            let Some(Ok(betas)) = group
                .get_item(intern!(py, "betas"))?
                .map(Bound::cast_into_exact::<PyTuple>)
            else {
                return Ok(None);
            };
            if !betas.get_item(0).is_ok_and(|beta1| replaceable(&beta1)) {
                return Ok(None);
            }
            MomentumTarget::Beta1(momentum, betas)
        } else {
            MomentumTarget::Momentum(momentum)
        };
        Ok(Some(Update { group, lr, target }))
    }

    /// Writes the momentum (and `lr` when `with_lr`) as torch writes them; returns the lr.
    fn write(self, with_lr: bool) -> PyResult<Bound<'py, PyFloat>> {
        let py = self.group.py();
        match self.target {
            MomentumTarget::Beta1(momentum, betas) => {
                let first = PyFloat::new(py, momentum).into_any();
                let items: Vec<Bound<'py, PyAny>> =
                    std::iter::once(first).chain(betas.iter().skip(1)).collect();
                self.group
                    .set_item(intern!(py, "betas"), PyTuple::new(py, items)?)?;
            }
            MomentumTarget::Momentum(momentum) => {
                self.group
                    .set_item(intern!(py, "momentum"), PyFloat::new(py, momentum))?;
            }
            MomentumTarget::None => {}
        }
        let lr = PyFloat::new(py, self.lr);
        if with_lr {
            self.group.set_item(intern!(py, "lr"), &lr)?;
        }
        Ok(lr)
    }
}

/// The phases of a `OneCycleLR`, for its steps: built from the scheduler's
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
        let anneal = parse_anneal(anneal_strategy).or_raise()?;
        let key = |name: &str| {
            Key::from_name(name).ok_or_else(|| {
                to_py_err(&Error::GroupKey {
                    name: name.to_owned(),
                })
            })
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
        let inner = OneCycle::from_phases(phases, anneal).or_raise()?;
        Ok(PyCycle { inner })
    }

    /// The update of every group at `step`, in one call: the momentum (when
    /// `cycle_momentum` is truthy) written as torch's `get_lr` writes it
    /// (`group["momentum"]`, or `group["betas"] = (momentum, *betas[1:])` when the
    /// scheduler's `use_beta1` is truthy), the lr written into `group["lr"]` when `with_lr`
    /// (as torch's `step()` does), and the lrs returned as a new list.
    ///
    /// Returns `None`, having written nothing, wherever torch's own path is needed: `step`
    /// not an int in the i64 range, `param_groups` not a plain list of plain dicts, a
    /// missing key or `use_beta1` attribute, a value the core does not reproduce (tensors,
    /// numpy scalars, ints beyond 2**53), or a value to be written that torch would fill in
    /// place rather than replace. At a step in a phase of zero width, where torch's
    /// `get_lr` divides by zero before reading any group, it raises `ValueError` saying so
    /// when called from `get_lr` (`with_lr` false), and returns `None` from `step()`, whose
    /// torch path then counts the step and calls `get_lr`, as torch's does.
    #[pyo3(signature = (step, param_groups, cycle_momentum, scheduler, with_lr))]
    fn advance<'py>(
        &self,
        step: &Bound<'py, PyAny>,
        param_groups: &Bound<'py, PyAny>,
        cycle_momentum: &Bound<'py, PyAny>,
        scheduler: &Bound<'py, PyAny>,
        with_lr: bool,
    ) -> PyResult<Option<Bound<'py, PyList>>> {
        let py = step.py();
        let Some(step) = step
            .cast_exact::<PyInt>()
            .ok()
            .and_then(|step| step.extract::<i64>().ok())
        else {
            return Ok(None);
        };
        let at = match self.inner.phase_at(step) {
            Ok(at) => at,
            // step() lets torch's own path fail there, changing the state as torch does.
            Err(_) if with_lr => return Ok(None),
            Err(e) => return Err(to_py_err(&e)),
        };
        let Ok(param_groups) = param_groups.cast_exact::<PyList>() else {
            return Ok(None);
        };
        // torch reads `use_beta1` only when cycling momentum (it is set only then).
        let use_beta1 = if cycle_momentum.is_truthy()? {
            match scheduler.getattr(intern!(py, "use_beta1")) {
                Ok(use_beta1) => Some(use_beta1.is_truthy()?),
                Err(_) => return Ok(None),
            }
        } else {
            None
        };
        // Read and check every group before writing any.
        let mut updates = Vec::with_capacity(param_groups.len());
        for group in param_groups.iter() {
            let Ok(group) = group.cast_into_exact::<PyDict>() else {
                return Ok(None);
            };
            match Update::of(group, &self.inner, at, use_beta1, with_lr)? {
                Some(update) => updates.push(update),
                None => return Ok(None),
            }
        }
        let lrs = PyList::empty(py);
        for update in updates {
            lrs.append(update.write(with_lr)?)?;
        }
        Ok(Some(lrs))
    }

    /// `(lr, momentum)` arrays at each of `steps` (each in `0..=total_steps`) for a group
    /// holding `values` (`initial_lr`, `max_lr`, `min_lr`, `max_momentum`,
    /// `base_momentum`), computed as [`schedule`] computes a window, with the GIL
    /// released: a live scheduler's planned curve.
    #[pyo3(signature = (steps, total_steps, values))]
    #[allow(clippy::needless_pass_by_value)]
    fn values_at<'py>(
        &self,
        py: Python<'py>,
        steps: PyReadonlyArrayDyn<'py, i64>,
        total_steps: i64,
        values: (f64, f64, f64, f64, f64),
    ) -> PyResult<Outputs<'py>> {
        let steps_slice = steps.as_slice()?;
        check_step_range(steps_slice, total_steps).or_raise()?;
        self.inner.check_steps(steps_slice).or_raise()?;
        let (initial_lr, max_lr, min_lr, max_momentum, base_momentum) = values;
        let prepared = [Prepared {
            cycle: self.inner.clone(),
            values: Values::new(initial_lr, max_lr, min_lr, max_momentum, base_momentum),
        }];
        let request = Request::new(&prepared, Accuracy::Exact);
        let shape = steps.shape().to_vec();
        fill_outputs::<f64>(py, &request, &Steps::Chosen(steps), &shape, None)
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
    use super::{_cos_floor, _write_floor, phase_ends, schedule, PyCycle};

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        m.add("PARALLEL_MIN_STEPS", crate::fill::PARALLEL_MIN_STEPS)?;
        m.add("FAST_MAX_ULP", crate::fill::FAST_MAX_ULP)?;
        m.add("PARAMETERS", super::parameter_list(m.py())?)?;
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
