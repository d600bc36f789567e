//! `mmsvc._core`: the Python face of mmsvc-core.
//!
//! This file is the table of contents: each submodule binds one part of the
//! core, and `errors` is the single place core errors become Python
//! exceptions.

use pyo3::prelude::*;

mod errors;

/// The extension module.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
