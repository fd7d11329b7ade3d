//! The one place the core's errors become Python exceptions.

use pyo3::exceptions::{PyMemoryError, PyOverflowError, PyValueError};
use pyo3::{PyErr, PyResult};

use crate::error::{Error, Kind};

/// The one place core errors become Python exceptions.
pub(super) fn to_py_err(e: &Error) -> PyErr {
    let message = e.to_string();
    match e.kind() {
        Kind::Memory => PyMemoryError::new_err(message),
        Kind::Overflow => PyOverflowError::new_err(message),
        Kind::Value => PyValueError::new_err(message),
    }
}

/// Core results as Python results.
pub(super) trait OrRaise<T> {
    fn or_raise(self) -> PyResult<T>;
}

impl<T> OrRaise<T> for Result<T, Error> {
    fn or_raise(self) -> PyResult<T> {
        self.map_err(|e| to_py_err(&e))
    }
}
