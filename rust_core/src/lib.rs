//! mmsvc-core: the simulated physical memory of a machine, modelled on Linux's mm/.
//!
//! The crate is pure Rust (no Python): every structure here can be driven,
//! tested and benchmarked from Rust alone. The Python extension `mmsvc._core`
//! is a thin binding over it (see `rust_core/py`).
//!
//! Names follow the kernel's own: [`memblock`] is mm/memblock.c, [`page_alloc`]
//! holds nodes (`pglist_data`), zones, `free_area`s, pageblocks and the buddy
//! allocator of mm/page_alloc.c.

pub mod error;
mod flags;
pub mod memblock;
pub mod mm;
pub mod page_source;
pub mod page_alloc;
pub mod pagetable;
pub mod slab;
pub mod state_lock;
pub mod units;
pub mod version;
pub mod vmalloc;

pub use error::{MmError, MmErrorKind, Result};
pub use version::KernelVersion;
