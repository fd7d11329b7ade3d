//! `schedule()`: its keywords turned into the core's configurations, window or steps, and
//! outputs. The outputs are allocated by numpy (or given), and the fill writes straight
//! into them detached (GIL released).

use numpy::{
    Element, PyArrayDescr, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn,
    PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyMemoryError, PyTypeError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyFloat, PyInt, PyString};

use super::errors::{to_py_err, OrRaise};
use crate::config::{parameters, Config, Kind as ParameterKind, Value};
use crate::cycle::Replan;
use crate::cycle::{check_total_steps, Anneal};
use crate::error::{Error, Int, OutProblem};
use crate::fill::{
    alloc_len, fill_replanned, prepare, prepare_replanned, prepare_steps, Accuracy, Prepared,
    Replanned, ReplannedAt, Request, Sample,
};
use crate::memory::check_fits;

/// An `anneal_strategy`: one of [`Anneal::NAMES`] (anything else is named in the error by
/// its repr if a string, else by its type, as `TypeError`).
pub(super) fn anneal_arg(value: &Bound<'_, PyAny>) -> PyResult<Anneal> {
    let Ok(name) = value.cast::<PyString>() else {
        let error = Error::AnnealStrategy {
            value: value.get_type().name()?.to_string(),
        };
        return Err(PyTypeError::new_err(error.to_string()));
    };
    let name = name.to_str()?;
    Anneal::from_name(name).ok_or_else(|| {
        to_py_err(&Error::AnnealStrategy {
            value: format!("{name:?}"),
        })
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
                return Err(PyTypeError::new_err(format!(
                    "schedule() got an unexpected keyword argument '{key}'"
                )));
            }
        }
        let mut base = Config::new(1, 1.0);
        let mut columns = Vec::new();
        for (index, parameter) in list.iter().enumerate() {
            let value = params.get_item(parameter.name)?.ok_or_else(|| {
                PyTypeError::new_err(format!("schedule() missing argument {:?}", parameter.name))
            })?;
            let given = match parameter.kind {
                ParameterKind::Int => Value::Int(total_steps_arg(value.cast::<PyInt>()?)?),
                ParameterKind::Bool => Value::Bool(value.extract()?),
                ParameterKind::Text => Value::Text(anneal_arg(&value)?.name()),
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
pub(super) enum Steps<'py> {
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

impl<'a> At<'a> {
    fn prepare(self, configs: &[Config]) -> Result<Vec<Prepared>, Error> {
        match self {
            At::Window(start, stop) => prepare(configs, start, stop),
            At::Chosen(steps) => prepare_steps(configs, steps),
        }
    }

    /// Each configuration re-planned at `replans`, checked at these steps.
    fn replanned(self, configs: &[Config], replans: &[Replan]) -> Result<Vec<Replanned>, Error> {
        prepare_replanned(configs, replans, self.positions())
    }

    fn positions(self) -> ReplannedAt<'a> {
        match self {
            At::Window(start, stop) => ReplannedAt::Window(start, stop),
            At::Chosen(steps) => ReplannedAt::Steps(steps),
        }
    }
}

/// What fills the outputs: prepared configurations, or re-planned ones.
pub(super) enum Fill<'a> {
    Plain(Request<'a>),
    Replanned(&'a [Replanned], Accuracy),
}

impl Fill<'_> {
    fn run<T: Sample>(&self, at: At<'_>, lr: &mut [T], m: &mut [T]) -> Result<(), Error> {
        match (self, at) {
            (Fill::Plain(request), At::Window(start, stop)) => request.window(start, stop, lr, m),
            (Fill::Plain(request), At::Chosen(steps)) => request.steps(steps, lr, m),
            (Fill::Replanned(rows, accuracy), at) => {
                fill_replanned(rows, at.positions(), (lr, m), *accuracy)
            }
        }
    }
}

/// The window `[start, stop)` of a schedule of `total_steps`, checked.
fn window(
    config: &Config,
    start: &Bound<'_, PyInt>,
    stop: Option<&Bound<'_, PyInt>>,
) -> PyResult<(u64, u64)> {
    // The window is checked against total_steps, so total_steps comes first.
    check_total_steps(config.total_steps).or_raise()?;
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
/// `dtype` is anything `numpy.dtype()` takes; what it refuses is a `TypeError` naming it.
fn output_dtype<'py>(
    py: Python<'py>,
    dtype: Option<&Bound<'py, PyAny>>,
    out: Option<&(Bound<'py, PyUntypedArray>, Bound<'py, PyUntypedArray>)>,
) -> PyResult<bool> {
    let dtype = match (dtype, out) {
        (Some(dtype), _) => PyArrayDescr::new(py, dtype).map_err(|_| {
            let value = dtype
                .repr()
                .map_or_else(|_| "?".to_owned(), |r| r.to_string());
            PyTypeError::new_err(Error::Dtype { value }.to_string())
        })?,
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
pub(super) fn zeros<'py, T: Sample + Element>(
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

pub(super) type Outputs<'py> = (Bound<'py, PyUntypedArray>, Bound<'py, PyUntypedArray>);

/// Fills the outputs (new ones, or `out` checked) with the values of `fill` at `steps`.
pub(super) fn fill_outputs<'py, T: Sample + Element>(
    py: Python<'py>,
    fill: &Fill<'_>,
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
        py.detach(|| fill.run(at, l, m)).or_raise()?;
    }
    Ok((lr, momentum))
}

/// How `schedule()` writes its values: `dtype`, `exact` and `out`, and the machine's
/// memory in bytes, the outputs' size is checked against.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub(super) struct Output<'py> {
    dtype: Option<Bound<'py, PyAny>>,
    exact: bool,
    out: Option<Outputs<'py>>,
    memory: Option<u64>,
}

impl<'py> Output<'py> {
    /// Whether the outputs are float32 (else float64), and the bytes of each value to be
    /// allocated (0 when `out` is filled).
    fn float32(&self, py: Python<'py>) -> PyResult<(bool, usize)> {
        let float32 = output_dtype(py, self.dtype.as_ref(), self.out.as_ref())?;
        let item_size = match (&self.out, float32) {
            (Some(_), _) => 0,
            (None, true) => 4,
            (None, false) => 8,
        };
        Ok((float32, item_size))
    }
}

/// Where `schedule()` wants its values: a window `(start, stop)` (`stop` None for
/// `total_steps`), or an int64 array of steps.
pub(super) enum Where<'py> {
    Window(Bound<'py, PyInt>, Option<Bound<'py, PyInt>>),
    Steps(PyReadonlyArrayDyn<'py, i64>),
}

impl<'py> FromPyObject<'_, 'py> for Where<'py> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        if let Ok((start, stop)) = obj.extract() {
            return Ok(Where::Window(start, stop));
        }
        Ok(Where::Steps(obj.extract()?))
    }
}

impl<'py> Where<'py> {
    /// The steps, checked against `config` where they are a window.
    fn steps(self, config: &Config) -> PyResult<Steps<'py>> {
        Ok(match self {
            Where::Steps(steps) => Steps::Chosen(steps),
            Where::Window(start, stop) => {
                let (start, stop) = window(config, &start, stop.as_ref())?;
                Steps::Window { start, stop }
            }
        })
    }
}

/// The values of one schedule per configuration, as `onecycle.schedule` returns them, of
/// shape `shape + (stop - start,)`, or `shape + steps.shape` at the chosen `steps`.
///
/// `params` holds every schedule parameter by name (the list of [`parameters`]); each
/// float parameter is a number or an array of the broadcast shape `shape`, which Python has
/// computed. Python has converted the types; everything else is checked here, in the order
/// of the signature, before anything is allocated: the values, the window or steps, the
/// dtype, the memory the outputs need against the machine's, and `out`.
#[pyfunction]
#[pyo3(signature = (*, shape, at, output, replan=None, **params))]
#[allow(clippy::needless_pass_by_value)]
pub(super) fn schedule<'py>(
    py: Python<'py>,
    shape: Vec<usize>,
    at: Where<'py>,
    output: Output<'py>,
    replan: Option<Vec<(i64, i64)>>,
    params: Option<Bound<'py, PyDict>>,
) -> PyResult<Outputs<'py>> {
    let params = params.unwrap_or_else(|| PyDict::new(py));
    let count = shape.iter().product::<usize>();
    let sweep = Sweep::from_kwargs(&params, count)?;
    let replans: Vec<Replan> = replan
        .unwrap_or_default()
        .into_iter()
        .map(|(step, total_steps)| Replan { step, total_steps })
        .collect();
    // A window lies within the last plan's cycle.
    let last = Config {
        total_steps: replans
            .last()
            .map_or(sweep.base.total_steps, |r| r.total_steps),
        ..sweep.base
    };
    let steps = at.steps(&last)?;
    let (float32, item_size) = output.float32(py)?;
    let fits = || check_memory((count, steps.len()), item_size, output.memory);
    // One configuration: a bad value is the clearer error, so it comes first. Many: they
    // are not made at all when they would not fit.
    if count > 1 {
        fits()?;
    }
    let configs = sweep.configs().or_raise()?;
    let (prepared, rows) = if replans.is_empty() {
        (steps.at().prepare(&configs).or_raise()?, Vec::new())
    } else {
        (
            Vec::new(),
            steps.at().replanned(&configs, &replans).or_raise()?,
        )
    };
    if count <= 1 {
        fits()?;
    }
    let accuracy = if output.exact {
        Accuracy::Exact
    } else {
        Accuracy::Fast
    };
    let fill = match replans.as_slice() {
        [] => Fill::Plain(Request::new(&prepared, accuracy)),
        _ => Fill::Replanned(&rows, accuracy),
    };
    let out_shape: Vec<usize> = shape.iter().copied().chain(steps.shape()).collect();
    if float32 {
        fill_outputs::<f32>(py, &fill, &steps, &out_shape, output.out)
    } else {
        fill_outputs::<f64>(py, &fill, &steps, &out_shape, output.out)
    }
}

/// Refuses outputs of `configs * steps` values (and the configurations' float parameters)
/// beyond `memory` bytes ([`check_fits`]).
fn check_memory(
    (configs, steps): (usize, usize),
    item_size: usize,
    memory: Option<u64>,
) -> PyResult<()> {
    let float_params = parameters()
        .iter()
        .filter(|p| p.kind == ParameterKind::Float)
        .count();
    check_fits(
        configs as u128,
        steps as u128,
        item_size,
        float_params,
        memory,
    )
    .or_raise()
}
