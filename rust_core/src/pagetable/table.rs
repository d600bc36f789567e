//! Storage of the table pages: an arena of 512-entry tables.
//!
//! Each table lives in a slot. Besides the raw entries (the architecture's
//! real encoding), a slot keeps, per entry, the slot of the child table
//! (`0` = none, else slot + 1), so a walk never decodes a frame number nor
//! looks a pfn up: one load per level.

use crate::units::Pfn;

/// Entries per table page (4 KiB of 8-byte entries).
pub const PTRS_PER_TABLE: usize = 512;

/// Per-slot bookkeeping.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Meta {
    /// The page the table occupies (from the `PageSource`).
    pub pfn: Pfn,
    /// Number of non-empty entries.
    pub used: u32,
    /// Level of the table (0 = root).
    pub level: u8,
    /// Whether the slot holds a live table.
    pub live: bool,
}

/// The arena.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tables {
    pub entries: Vec<[u64; PTRS_PER_TABLE]>,
    pub children: Vec<[u32; PTRS_PER_TABLE]>,
    pub meta: Vec<Meta>,
    free: Vec<u32>,
    pub live: u64,
}

impl Tables {
    /// Put a new, empty table for page `pfn` at `level`; returns its slot.
    pub fn insert(&mut self, pfn: Pfn, level: usize) -> u32 {
        let meta = Meta { pfn, used: 0, level: level as u8, live: true };
        self.live += 1;
        if let Some(slot) = self.free.pop() {
            let s = slot as usize;
            self.entries[s] = [0; PTRS_PER_TABLE];
            self.children[s] = [0; PTRS_PER_TABLE];
            self.meta[s] = meta;
            slot
        } else {
            self.entries.push([0; PTRS_PER_TABLE]);
            self.children.push([0; PTRS_PER_TABLE]);
            self.meta.push(meta);
            (self.meta.len() - 1) as u32
        }
    }

    /// Make room for `n` more tables without reallocating.
    pub fn reserve(&mut self, n: usize) {
        let n = n.saturating_sub(self.free.len());
        self.entries.reserve(n);
        self.children.reserve(n);
        self.meta.reserve(n);
    }

    /// Drop the table in `slot`; returns its page.
    pub fn remove(&mut self, slot: u32) -> Pfn {
        let m = &mut self.meta[slot as usize];
        m.live = false;
        self.live -= 1;
        self.free.push(slot);
        m.pfn
    }

    /// Slots of live tables.
    pub fn live_slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.meta.iter().enumerate().filter(|(_, m)| m.live).map(|(i, _)| i as u32)
    }
}
