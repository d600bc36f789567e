//! Opt-in allocator event recording for debug features (kfence, kmemleak).
//!
//! Recording is off by default; the hot path tests one bool.

use super::free_area_init::ZoneType;
use super::gfp::Gfp;
use crate::units::Pfn;

/// What happened.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AllocEventKind {
    Alloc,
    Free,
    /// An allocation that could not be satisfied (`pfn` is `u64::MAX`,
    /// `nid`/`zone` are the preferred node and the highest zone asked for).
    Fail,
}

/// One allocation or free as the caller saw it (pcp traffic is internal
/// and not recorded).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AllocEvent {
    pub kind: AllocEventKind,
    pub pfn: Pfn,
    pub order: u32,
    /// The request's flags (for frees: 0).
    pub gfp: Gfp,
    pub nid: u32,
    pub zone: ZoneType,
}

#[derive(Default, Debug, Clone)]
pub(crate) struct Recorder {
    pub on: bool,
    pub events: Vec<AllocEvent>,
}
