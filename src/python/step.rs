//! The `Cycle` class: a scheduler's phases, stepping torch's parameter groups in one call
//! per step, as torch's `get_lr` and `step()` write them.

use std::collections::HashMap;

use numpy::{PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use super::errors::{to_py_err, OrRaise};
use super::schedule::{anneal_arg, fill_outputs, Fill, Outputs, Steps};
use crate::cycle::{held_keys, Anneal, Key, OneCycle, Phase, Replan, Values};
use crate::fill::{check_step_range, Accuracy, Prepared, Request};

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

/// A group's value under `key`, if it is a plain number.
fn group_value(group: &Bound<'_, PyDict>, key: &Py<PyString>) -> PyResult<Option<f64>> {
    Ok(group
        .get_item(key.bind(group.py()))?
        .and_then(|value| plain_float(&value)))
}

/// The start and end values a phase anneals between, if both are plain numbers.
fn group_pair(
    group: &Bound<'_, PyDict>,
    [start, end]: [&Py<PyString>; 2],
) -> PyResult<Option<(f64, f64)>> {
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

/// Why the core does not take a step itself: torch's own path must (`Torch`), or Python
/// raised an error while reading.
enum Fallback {
    Torch,
    Raised(PyErr),
}

impl From<PyErr> for Fallback {
    fn from(e: PyErr) -> Fallback {
        Fallback::Raised(e)
    }
}

/// A value the core takes, or the reason it leaves the step to torch.
type Taken<T> = Result<T, Fallback>;

/// `None` (a value the core does not reproduce) as [`Fallback::Torch`].
trait OrTorch<T> {
    fn or_torch(self) -> Taken<T>;
}

impl<T> OrTorch<T> for Option<T> {
    fn or_torch(self) -> Taken<T> {
        self.ok_or(Fallback::Torch)
    }
}

/// The names of a phase's four group values, as Python strings (looked up at every step).
type PhaseKeys = [Py<PyString>; 4];

impl<'py> Update<'py> {
    /// The update of `group` at a step in the phase whose keys are `keys`, where the
    /// annealing factor is `factor`; [`Fallback::Torch`] where torch's own path is needed:
    /// a value the phase anneals between is missing or not a plain number, or a value to
    /// be written (`lr` when `with_lr`, `betas[0]`) is one torch would fill in place rather
    /// than replace.
    fn of(
        group: Bound<'py, PyDict>,
        (anneal, keys, factor): (Anneal, &PhaseKeys, f64),
        use_beta1: Option<bool>,
        with_lr: bool,
    ) -> Taken<Update<'py>> {
        let py = group.py();
        let [lr_start, lr_end, m_start, m_end] = keys;
        let (start, end) = group_pair(&group, [lr_start, lr_end])?.or_torch()?;
        let lr = anneal.interpolate(start, end, factor);
        if with_lr {
            let current = group.get_item(intern!(py, "lr"))?.or_torch()?;
            replaceable(&current).then_some(()).or_torch()?;
        }
        let Some(use_beta1) = use_beta1 else {
            let target = MomentumTarget::None;
            return Ok(Update { group, lr, target });
        };
        let (start, end) = group_pair(&group, [m_start, m_end])?.or_torch()?;
        let momentum = anneal.interpolate(start, end, factor);
        let target = if use_beta1 {
            let betas = group.get_item(intern!(py, "betas"))?.or_torch()?;
            let betas = betas.cast_into_exact::<PyTuple>().ok().or_torch()?;
            let replaced = betas.get_item(0).is_ok_and(|beta1| replaceable(&beta1));
            replaced.then_some(()).or_torch()?;
            MomentumTarget::Beta1(momentum, betas)
        } else {
            MomentumTarget::Momentum(momentum)
        };
        Ok(Update { group, lr, target })
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
/// `_schedule_phases` (any group keys), immutable, and evaluated against the optimizer's
/// groups as they are at each step.
#[pyclass(frozen, module = "onecycle._core", name = "Cycle")]
pub(super) struct PyCycle {
    inner: OneCycle,
    /// Each phase's keys, as Python strings.
    keys: Vec<PhaseKeys>,
}

/// A phase as Python gives it: `(end_step, start_lr, end_lr, start_momentum,
/// end_momentum)`, the last four naming group keys.
type PhaseRow = (f64, String, String, String, String);

#[pymethods]
impl PyCycle {
    #[new]
    #[allow(clippy::needless_pass_by_value)]
    fn new(
        py: Python<'_>,
        phases: Vec<PhaseRow>,
        anneal_strategy: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let anneal = anneal_arg(anneal_strategy)?;
        let phases: Vec<Phase> = phases
            .into_iter()
            .map(|(end_step, a, b, c, d)| Phase::new(end_step, [a, b, c, d].map(Key::new)))
            .collect();
        let keys = phases
            .iter()
            .map(|phase| {
                phase
                    .keys()
                    .map(|key| PyString::intern(py, key.name()).unbind())
            })
            .collect();
        let inner = OneCycle::from_phases(phases, anneal).or_raise()?;
        Ok(PyCycle { inner, keys })
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
        let groups = (param_groups, cycle_momentum, scheduler);
        match self.updates(step, groups, with_lr) {
            Ok(updates) => {
                let lrs = PyList::empty(step.py());
                for update in updates {
                    lrs.append(update.write(with_lr)?)?;
                }
                Ok(Some(lrs))
            }
            Err(Fallback::Torch) => Ok(None),
            Err(Fallback::Raised(e)) => Err(e),
        }
    }

    /// `(lr, momentum)` arrays at each of `steps` (each in `0..=total_steps`) for a group
    /// holding `values` (a dict of group values by key, holding each key the phases
    /// name), computed as `schedule()` computes a window, with the GIL released: a live
    /// scheduler's planned curve.
    #[pyo3(signature = (steps, total_steps, values))]
    #[allow(clippy::needless_pass_by_value)]
    fn values_at<'py>(
        &self,
        py: Python<'py>,
        steps: PyReadonlyArrayDyn<'py, i64>,
        total_steps: i64,
        values: HashMap<String, f64>,
    ) -> PyResult<Outputs<'py>> {
        let steps_slice = steps.as_slice()?;
        check_step_range(steps_slice, total_steps).or_raise()?;
        self.inner.check_steps(steps_slice).or_raise()?;
        let values: Values = values.into_iter().map(|(k, v)| (Key::new(k), v)).collect();
        let prepared = [Prepared::new(self.inner.clone(), &values).or_raise()?];
        let fill = Fill::Plain(Request::new(&prepared, Accuracy::Exact));
        let shape = steps.shape().to_vec();
        fill_outputs::<f64>(py, &fill, &Steps::Chosen(steps), &shape, None)
    }

    /// The phases re-planned at `step` (the scheduler's `last_epoch`) onto `total_steps`,
    /// for the layout of `pct_start` and `three_phase`, as `(end_step, start_lr, end_lr,
    /// start_momentum, end_momentum)` rows, and the two group keys (lr, momentum) the
    /// values held at `step` go under: those of re-plan number `index` (from 0).
    #[pyo3(signature = (*, step, total_steps, pct_start, three_phase, index))]
    #[allow(clippy::type_complexity)]
    fn replan(
        &self,
        step: i64,
        total_steps: i64,
        pct_start: f64,
        three_phase: bool,
        index: usize,
    ) -> PyResult<(Vec<PhaseRow>, (String, String))> {
        let held = held_keys(index);
        let names = (held[0].name().to_owned(), held[1].name().to_owned());
        let at = Replan { step, total_steps };
        let cycle = self
            .inner
            .replan(at, (pct_start, three_phase), held)
            .or_raise()?;
        Ok((phase_rows(&cycle), names))
    }

    /// Pickling and `copy.deepcopy` rebuild the cycle from its phases.
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> (Bound<'py, PyAny>, (Vec<PhaseRow>, &'static str)) {
        let inner = &slf.get().inner;
        let phases = phase_rows(inner);
        (slf.get_type().into_any(), (phases, inner.anneal().name()))
    }
}

/// The phases of `cycle` as Python gives them.
fn phase_rows(cycle: &OneCycle) -> Vec<PhaseRow> {
    cycle
        .phases()
        .iter()
        .map(|p| {
            let [a, b, c, d] = p.keys().map(|k| k.name().to_owned());
            (p.end_step, a, b, c, d)
        })
        .collect()
}

impl PyCycle {
    /// Every group's update at `step`, each read and checked before any is written.
    fn updates<'py>(
        &self,
        step: &Bound<'py, PyAny>,
        (param_groups, cycle_momentum, scheduler): (
            &Bound<'py, PyAny>,
            &Bound<'py, PyAny>,
            &Bound<'py, PyAny>,
        ),
        with_lr: bool,
    ) -> Taken<Vec<Update<'py>>> {
        let py = step.py();
        let step = step.cast_exact::<PyInt>().ok().or_torch()?;
        let step: i64 = step.extract().ok().or_torch()?;
        let (phase, pct) = match self.inner.locate(step) {
            Ok(at) => at,
            // step() lets torch's own path fail there, changing the state as torch does.
            Err(_) if with_lr => return Err(Fallback::Torch),
            Err(e) => return Err(to_py_err(&e).into()),
        };
        let anneal = self.inner.anneal();
        let at = (anneal, &self.keys[phase], anneal.factor(pct));
        let param_groups = param_groups.cast_exact::<PyList>().ok().or_torch()?;
        // torch reads `use_beta1` only when cycling momentum (it is set only then).
        let use_beta1 = if cycle_momentum.is_truthy()? {
            let use_beta1 = scheduler
                .getattr(intern!(py, "use_beta1"))
                .ok()
                .or_torch()?;
            Some(use_beta1.is_truthy()?)
        } else {
            None
        };
        param_groups
            .iter()
            .map(|group| {
                let group = group.cast_into_exact::<PyDict>().ok().or_torch()?;
                Update::of(group, at, use_beta1, with_lr)
            })
            .collect()
    }
}
