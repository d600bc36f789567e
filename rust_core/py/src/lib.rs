//! `mmsvc._core`: the Python face of mmsvc-core.
//!
//! This file is the table of contents. Each submodule binds one part of the
//! core; `errors` is the single place where core errors become Python
//! exceptions (the classes of `mmsvc.errors`).

use pyo3::prelude::*;

mod errors;
mod fastcall;
mod memblock;
mod mm;
mod page_alloc;
mod pagetable;
mod slab;
mod vmalloc;

/// The extension module.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // one simulated machine's memory (its methods: mm.rs, page_alloc.rs,
    // pagetable.rs, slab.rs, vmalloc.rs), and its views
    m.add_class::<mm::PyMm>()?;
    fastcall::install(m.py())?;
    m.add_class::<memblock::PyMemblock>()?;
    m.add_class::<memblock::PyMemblockRegion>()?;
    // page-table formats as plain data
    m.add_function(wrap_pyfunction!(pagetable::page_table_format, m)?)?;
    Ok(())
}
