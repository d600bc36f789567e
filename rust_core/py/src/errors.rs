//! The one place where core errors become Python exceptions.
//!
//! `MmError` (rust_core/src/error.rs) is mapped by its kind onto the classes
//! of `mmsvc.errors`, which is the single definition of the hierarchy.

use mmsvc_core::{MmError, MmErrorKind};
use pyo3::PyErr;

pyo3::import_exception!(mmsvc.errors, InvalidArgumentError);
pyo3::import_exception!(mmsvc.errors, OutOfRangeError);
pyo3::import_exception!(mmsvc.errors, DoubleFreeError);
pyo3::import_exception!(mmsvc.errors, NotAllocatedError);
pyo3::import_exception!(mmsvc.errors, WrongOrderError);
pyo3::import_exception!(mmsvc.errors, OutOfMemoryError);
pyo3::import_exception!(mmsvc.errors, CapacityExceededError);
pyo3::import_exception!(mmsvc.errors, InvalidStateError);
pyo3::import_exception!(mmsvc.errors, InternalError);

/// A core error on its way to Python.
#[derive(Debug)]
pub struct CoreError(pub MmError);

impl From<MmError> for CoreError {
    fn from(e: MmError) -> Self {
        CoreError(e)
    }
}

impl From<CoreError> for PyErr {
    fn from(CoreError(e): CoreError) -> PyErr {
        let msg = e.to_string();
        match e.kind() {
            MmErrorKind::InvalidArgument => InvalidArgumentError::new_err(msg),
            MmErrorKind::OutOfRange => OutOfRangeError::new_err(msg),
            MmErrorKind::DoubleFree => DoubleFreeError::new_err(msg),
            MmErrorKind::NotAllocated => NotAllocatedError::new_err(msg),
            MmErrorKind::WrongOrder => WrongOrderError::new_err(msg),
            MmErrorKind::OutOfMemory => OutOfMemoryError::new_err(msg),
            MmErrorKind::CapacityExceeded => CapacityExceededError::new_err(msg),
            MmErrorKind::InvalidState => InvalidStateError::new_err(msg),
        }
    }
}

/// Run core work so that a panic (a bug: the core is written not to panic)
/// surfaces as `mmsvc.errors.InternalError`, never as a `PanicException`.
pub fn guarded<T>(f: impl FnOnce() -> Result<T, MmError>) -> pyo3::PyResult<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(|e| CoreError(e).into()),
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(InternalError::new_err(format!("internal error in mmsvc core: {what}")))
        }
    }
}
