//! Opt-in event recorder for debug plugins (kmemleak, kfence): off by
//! default, one predictable branch on the hot path when off.

use super::cache::CacheId;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlabEventKind {
    /// An object (or large kmalloc block) was handed out.
    Alloc,
    /// It was given back.
    Free,
}

/// One recorded event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SlabEvent {
    /// Alloc or free.
    pub kind: SlabEventKind,
    /// The cache, `None` for a large kmalloc (pages straight from the source).
    pub cache: Option<CacheId>,
    /// Object address.
    pub addr: u64,
    /// Bytes: the requested size on alloc (kmalloc size, or the cache's
    /// `object_size`), the usable size (`ksize`) on free.
    pub size: u64,
}

/// The recorder: a switch and a buffer the caller drains.
#[derive(Debug, Clone, Default)]
pub struct EventRecorder {
    pub(crate) enabled: bool,
    pub(crate) events: Vec<SlabEvent>,
}

impl EventRecorder {
    #[inline]
    pub(crate) fn record(&mut self, kind: SlabEventKind, cache: Option<CacheId>, addr: u64, size: u64) {
        if self.enabled {
            self.events.push(SlabEvent { kind, cache, addr, size });
        }
    }
}
