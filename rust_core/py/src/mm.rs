//! `Mm`: the handle Python holds on one simulated machine's memory.
//!
//! The state lives behind an `Arc<StateLock<..>>` so the views (`Mm.memblock`,
//! `Mm.buddy`) share it and the server's worker threads can use it with the
//! GIL released.

use std::sync::Arc;

use mmsvc_core::memblock::KernelVersion;
use mmsvc_core::mm::Mm;
use pyo3::prelude::*;

use crate::errors::InvalidArgumentError;
use crate::memblock::PyMemblock;
use mmsvc_core::state_lock::{StateGuard, StateLock};

/// Shared, lockable machine state.
#[derive(Clone)]
pub struct Shared(pub Arc<StateLock<Mm>>);

impl Shared {
    /// Lock the state (a call that panicked released it, leaving the
    /// state consistent: see `StateGuard`).
    #[inline]
    pub fn lock(&self) -> StateGuard<'_, Mm> {
        self.0.lock()
    }
}

pub fn parse_profile(profile: &str) -> PyResult<KernelVersion> {
    match profile {
        "5.14" => Ok(KernelVersion::V5_14),
        "6.1" => Ok(KernelVersion::V6_1),
        other => Err(InvalidArgumentError::new_err(format!(
            "profile: unknown kernel profile {other:?} (known: 5.14, 6.1)"
        ))),
    }
}

/// The simulated memory of one machine: memblock, nodes, zones, buddy allocator.
#[pyclass(name = "Mm", module = "mmsvc._core", frozen)]
pub struct PyMm {
    pub shared: Shared,
    profile: String,
}

impl PyMm {
    /// The kernel profile this machine follows.
    pub fn profile(&self) -> &str {
        &self.profile
    }
}

#[pymethods]
impl PyMm {
    #[new]
    #[pyo3(signature = (profile = "5.14"))]
    fn new(profile: &str) -> PyResult<Self> {
        let version = parse_profile(profile)?;
        Ok(PyMm { shared: Shared(Arc::new(StateLock::new(Mm::new(version)))), profile: profile.into() })
    }

    /// The kernel profile ("5.14" or "6.1").
    #[getter(profile)]
    fn get_profile(&self) -> &str {
        &self.profile
    }

    /// The memblock view of this machine.
    #[getter]
    fn memblock(&self) -> PyMemblock {
        PyMemblock { shared: self.shared.clone() }
    }

    /// An independent copy of the whole state (a fork of the machine).
    fn clone_state(&self, py: Python<'_>) -> PyResult<PyMm> {
        let copy = py.detach(|| crate::errors::guarded(|| self.shared.lock().try_clone()))?;
        Ok(PyMm { shared: Shared(Arc::new(StateLock::new(copy))), profile: self.profile.clone() })
    }
}
