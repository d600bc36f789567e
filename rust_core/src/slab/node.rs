//! `struct kmem_cache_node`: the partial list (doubly linked through the
//! slabs) and the slab/object counters of one node.

use super::cache::NO_SLAB;
use super::slab::{Slab, SlabState};

/// Partial list and counters of a cache on a node.
#[derive(Debug, Clone)]
pub struct KmemCacheNode {
    /// First slab of the partial list.
    pub(crate) head: u32,
    /// Last slab of the partial list.
    pub(crate) tail: u32,
    /// `nr_partial`.
    pub nr_partial: u64,
    /// `nr_slabs`: every slab of the cache (cpu, partial, full).
    pub nr_slabs: u64,
    /// `total_objects`: objects in all slabs.
    pub total_objects: u64,
    /// Full slabs (the `full` list of debug caches; counted for all).
    pub nr_full: u64,
    /// Free objects on partial slabs (`count_partial(n, count_free)`).
    pub partial_free: u64,
}

impl Default for KmemCacheNode {
    fn default() -> Self {
        KmemCacheNode {
            head: NO_SLAB,
            tail: NO_SLAB,
            nr_partial: 0,
            nr_slabs: 0,
            total_objects: 0,
            nr_full: 0,
            partial_free: 0,
        }
    }
}

impl KmemCacheNode {
    /// `add_partial`: put slab `id` at the head or the tail.
    pub(crate) fn add_partial(&mut self, slabs: &mut [Slab], id: u32, to_tail: bool) {
        let s = &mut slabs[id as usize];
        s.state = SlabState::Partial;
        let free = s.free_objects() as u64;
        if to_tail {
            s.prev = self.tail;
            s.next = NO_SLAB;
            if self.tail != NO_SLAB {
                slabs[self.tail as usize].next = id;
            } else {
                self.head = id;
            }
            self.tail = id;
        } else {
            s.next = self.head;
            s.prev = NO_SLAB;
            if self.head != NO_SLAB {
                slabs[self.head as usize].prev = id;
            } else {
                self.tail = id;
            }
            self.head = id;
        }
        self.nr_partial += 1;
        self.partial_free += free;
    }

    /// `remove_partial`: unlink slab `id` (which is on the list).
    pub(crate) fn remove_partial(&mut self, slabs: &mut [Slab], id: u32) {
        let (prev, next, free) = {
            let s = &slabs[id as usize];
            (s.prev, s.next, s.free_objects() as u64)
        };
        if prev != NO_SLAB {
            slabs[prev as usize].next = next;
        } else {
            self.head = next;
        }
        if next != NO_SLAB {
            slabs[next as usize].prev = prev;
        } else {
            self.tail = prev;
        }
        let s = &mut slabs[id as usize];
        s.prev = NO_SLAB;
        s.next = NO_SLAB;
        self.nr_partial -= 1;
        self.partial_free -= free;
    }

    /// Slab ids on the partial list, head first.
    pub(crate) fn partial_ids(&self, slabs: &[Slab]) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.nr_partial as usize);
        let mut cur = self.head;
        while cur != NO_SLAB {
            out.push(cur);
            cur = slabs[cur as usize].next;
        }
        out
    }
}
