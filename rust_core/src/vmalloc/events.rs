//! Opt-in recording of vmalloc-space allocations and frees, for debug
//! plugins (kmemleak-like trackers). Off by default; the hot path tests one
//! bool.

use std::sync::Arc;

use super::area::VmFlags;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmallocEventKind {
    /// An area was set up (vmalloc, vmap, ioremap or a bare reservation).
    Alloc,
    /// An area was torn down.
    Free,
}

/// One area set up or torn down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmallocEvent {
    pub kind: VmallocEventKind,
    /// Start of the area.
    pub addr: u64,
    /// Its size, guard page included (`vm->size`).
    pub size: u64,
    /// Its flags.
    pub flags: VmFlags,
    /// Base pages it owned.
    pub nr_pages: u64,
    /// The caller given at allocation.
    pub caller: Arc<str>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Recorder {
    pub on: bool,
    pub events: Vec<VmallocEvent>,
}
