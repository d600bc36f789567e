//! Vectorcall entry points for the two calls a per-call benchmark makes in a
//! loop: `Mm.alloc_pages(order)` and `Mm.free_pages(pfn, order)`.
//!
//! PyO3's generated wrapper parses every call through a general argument
//! description, which costs about as much as the allocation itself. The
//! common shape of these two calls (a few exact `int`s, given by position)
//! is served here straight from the CPython calling convention
//! (`METH_FASTCALL | METH_KEYWORDS`, as `list.append` is). Any other shape
//! (keywords, a `gfp`, an `int` subclass, a value out of range) is handed to
//! the PyO3 method this replaces, so arguments, errors and messages are
//! exactly the ones documented there: this module only adds speed. The core
//! is asked through its `try_` calls, which build no error value: when one
//! declines (an error to report, event recording on), nothing has changed
//! and the full method runs instead.
//!
//! The replacement happens once, when the module is initialised:
//! [`install`] keeps the PyO3 descriptors and puts method descriptors of
//! this module's functions in their place in `Mm`'s type dict.

use std::ffi::CStr;
use std::os::raw::c_int;

use mmsvc_core::page_alloc::Gfp;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::exceptions::PyRuntimeError;
use pyo3::types::{PyDict, PyTuple, PyType};

use crate::errors::guarded;
use crate::mm::PyMm;

/// Which replaced method a call is for.
#[derive(Clone, Copy)]
enum Which {
    AllocPages,
    FreePages,
}

/// The PyO3 descriptors replaced by [`install`]: (alloc_pages, free_pages).
static FALLBACK: PyOnceLock<(Py<PyAny>, Py<PyAny>)> = PyOnceLock::new();

/// A `PyMethodDef` table entry; CPython keeps a pointer to it for the
/// lifetime of the type, so it lives in a static.
struct MethodDef(ffi::PyMethodDef);
// SAFETY: the definition is immutable plain data (pointers to static
// strings and functions) read by CPython only.
unsafe impl Sync for MethodDef {}

const FLAGS: c_int = ffi::METH_FASTCALL | ffi::METH_KEYWORDS;

static ALLOC_PAGES: MethodDef = MethodDef(ffi::PyMethodDef {
    ml_name: c"alloc_pages".as_ptr(),
    ml_meth: ffi::PyMethodDefPointer { PyCFunctionFastWithKeywords: alloc_pages },
    ml_flags: FLAGS,
    ml_doc: c"alloc_pages($self, order=0, gfp=None, nid=-1, cpu=0)\n--\n\n\
Allocate `2^order` pages (GFP_KERNEL unless `gfp` says otherwise);\n\
returns the first pfn. `nid=-1` (NUMA_NO_NODE) lets the memory policy\n\
pick the node: `cpu`'s node, or the next one under interleave."
        .as_ptr(),
});

static FREE_PAGES: MethodDef = MethodDef(ffi::PyMethodDef {
    ml_name: c"free_pages".as_ptr(),
    ml_meth: ffi::PyMethodDefPointer { PyCFunctionFastWithKeywords: free_pages },
    ml_flags: FLAGS,
    ml_doc: c"free_pages($self, pfn, order=0, cpu=0)\n--\n\nFree a block allocated with `order`.".as_ptr(),
});

/// Put the fast entry points in place of PyO3's `alloc_pages` and
/// `free_pages` on `Mm` (called once, from the module's init).
pub fn install(py: Python<'_>) -> PyResult<()> {
    let ty = py.get_type::<PyMm>();
    let dict_get = |name: &str| -> PyResult<Py<PyAny>> { Ok(ty.getattr(name)?.unbind()) };
    let originals = (dict_get("alloc_pages")?, dict_get("free_pages")?);
    FALLBACK.set(py, originals).map_err(|_| {
        PyRuntimeError::new_err("mmsvc._core: fast entry points installed twice")
    })?;
    set_method(&ty, &ALLOC_PAGES)?;
    set_method(&ty, &FREE_PAGES)?;
    Ok(())
}

fn set_method(ty: &Bound<'_, PyType>, def: &'static MethodDef) -> PyResult<()> {
    let py = ty.py();
    // SAFETY: `def` is 'static and never written; the type pointer is valid
    // while `ty` is held. CPython only reads through the `*mut`.
    let descr = unsafe {
        let ptr = ffi::PyDescr_NewMethod(ty.as_type_ptr(), (&def.0) as *const _ as *mut _);
        Bound::from_owned_ptr_or_err(py, ptr)?
    };
    // SAFETY: `ml_name` points to a static NUL-terminated string.
    let name = unsafe { CStr::from_ptr(def.0.ml_name) }
        .to_str()
        .map_err(|_| PyRuntimeError::new_err("mmsvc._core: a method name is not UTF-8"))?;
    ty.setattr(name, descr)
}

/// An exact `int` (not a subclass, not a bool) as a u64; `None` when the
/// object is of another type or the value does not fit, which the
/// fallback then reports in its own words.
#[inline]
unsafe fn exact_u64(obj: *mut ffi::PyObject) -> Option<u64> {
    if ffi::PyLong_CheckExact(obj) == 0 {
        return None;
    }
    let v = ffi::PyLong_AsUnsignedLongLong(obj);
    if v == u64::MAX && !ffi::PyErr_Occurred().is_null() {
        ffi::PyErr_Clear();
        return None;
    }
    Some(v)
}

#[inline]
unsafe fn exact_u32(obj: *mut ffi::PyObject) -> Option<u32> {
    exact_u64(obj).and_then(|v| u32::try_from(v).ok())
}

/// Run `f` on the `PyMm` behind `slf`. The method descriptor has already
/// checked that `slf` is an instance of `Mm`, and `Mm` is frozen, so no
/// borrow flag is involved.
#[inline]
unsafe fn with_mm<R>(py: Python<'_>, slf: *mut ffi::PyObject, f: impl FnOnce(&PyMm) -> R) -> R {
    // SAFETY: the descriptor's type check; `slf` is kept alive by the
    // caller for the duration of the call.
    let bound = Borrowed::from_ptr(py, slf).cast_unchecked::<PyMm>();
    f(bound.get())
}

/// Hand the call to the PyO3 method `which` this module replaced, with the
/// arguments as given (a rare path: keywords, `gfp`, unusual values).
#[cold]
unsafe fn fallback(
    which: Which,
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let py = Python::assume_attached();
    let result = (|| -> PyResult<Py<PyAny>> {
        let Some(orig) = FALLBACK.get(py) else {
            return Err(PyRuntimeError::new_err("mmsvc._core: fast entry points not installed"));
        };
        let method = match which {
            Which::AllocPages => &orig.0,
            Which::FreePages => &orig.1,
        };
        let arg = |i: usize| Borrowed::from_ptr(py, *args.add(i));
        let mut positional = vec![Borrowed::from_ptr(py, slf)];
        positional.extend((0..nargs as usize).map(arg));
        let kwargs = PyDict::new(py);
        if !kwnames.is_null() {
            let names = Borrowed::from_ptr(py, kwnames).cast::<PyTuple>()?;
            for (k, name) in names.iter().enumerate() {
                kwargs.set_item(name, arg(nargs as usize + k))?;
            }
        }
        method.call(py, PyTuple::new(py, positional)?, Some(&kwargs))
    })();
    finish(py, result, |obj| obj.into_ptr())
}

/// Turn the core's answer into the CPython return convention.
#[inline]
unsafe fn finish<T>(py: Python<'_>, r: PyResult<T>, ok: impl FnOnce(T) -> *mut ffi::PyObject) -> *mut ffi::PyObject {
    match r {
        Ok(v) => ok(v),
        Err(e) => {
            e.restore(py);
            std::ptr::null_mut()
        }
    }
}

unsafe extern "C" fn alloc_pages(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    if !kwnames.is_null() || nargs > 1 {
        return fallback(Which::AllocPages, slf, args, nargs, kwnames);
    }
    let order = if nargs == 0 { Some(0) } else { exact_u32(*args) };
    let Some(order) = order else {
        return fallback(Which::AllocPages, slf, args, nargs, kwnames);
    };
    let py = Python::assume_attached();
    let fast = with_mm(py, slf, |mm| {
        guarded(|| {
            Ok(mm.shared.lock().buddy_mut().ok().and_then(|b| {
                let nid = b.local_node(0)?;
                b.try_alloc_pages(Gfp::GFP_KERNEL, order, nid, 0)
            }))
        })
    });
    match fast {
        Ok(Some(pfn)) => ffi::PyLong_FromUnsignedLongLong(pfn),
        // anything else (an error to report, recording on) takes the full method
        _ => fallback(Which::AllocPages, slf, args, nargs, kwnames),
    }
}

unsafe extern "C" fn free_pages(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    if !kwnames.is_null() || !(1..=3).contains(&nargs) {
        return fallback(Which::FreePages, slf, args, nargs, kwnames);
    }
    let pfn = exact_u64(*args);
    let order = if nargs >= 2 { exact_u32(*args.add(1)) } else { Some(0) };
    let cpu = if nargs == 3 { exact_u32(*args.add(2)) } else { Some(0) };
    let (Some(pfn), Some(order), Some(cpu)) = (pfn, order, cpu) else {
        return fallback(Which::FreePages, slf, args, nargs, kwnames);
    };
    let py = Python::assume_attached();
    let fast = with_mm(py, slf, |mm| {
        guarded(|| Ok(mm.shared.lock().buddy_mut().ok().is_some_and(|b| b.try_free_pages(pfn, order, cpu))))
    });
    match fast {
        Ok(true) => {
            let none = ffi::Py_None();
            ffi::Py_IncRef(none);
            none
        }
        // anything else (an error to report, recording on) takes the full method
        _ => fallback(Which::FreePages, slf, args, nargs, kwnames),
    }
}
