//! Lookups: translate (single and batch) and the level-by-level walk.

use super::PTRS_PER_TABLE;
use super::{EntryKind, PageTable, PteFlags, ROOT};
use crate::error::{MmError, Result};
use crate::units::{Pfn, PhysAddr, PAGE_SHIFT};

/// What [`PageTable::translate_batch`] writes for an address that is not
/// mapped (or not canonical). Never a valid physical address: formats have
/// at most 63 physical-address bits.
pub const TRANSLATE_FAULT: u64 = u64::MAX;

/// The result of a translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Translation {
    /// The physical address `virt` maps to.
    pub phys: PhysAddr,
    /// Size of the leaf holding it.
    pub page_size: u64,
    /// Level of that leaf (0 = root).
    pub level: usize,
    /// Its flags.
    pub flags: PteFlags,
    /// Its raw entry.
    pub entry: u64,
}

/// One level of a [`PageTable::walk`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WalkStep {
    /// Level (0 = root).
    pub level: usize,
    /// The level's name (`pgd` ... `pte`).
    pub name: String,
    /// Index of the entry in its table.
    pub index: usize,
    /// Page frame number of the table holding the entry.
    pub table_pfn: Pfn,
    /// The entry's raw value (the architecture's encoding).
    pub entry: u64,
    /// What the entry is.
    pub kind: EntryKind,
}

impl std::fmt::Display for WalkStep {
    /// `pgd[273] @ pfn 0x1000: 0x0000000000002063 table`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            EntryKind::None => "none",
            EntryKind::Table => "table",
            EntryKind::Leaf => "leaf",
        };
        write!(f, "{}[{}] @ pfn {:#x}: {:#018x} {kind}", self.name, self.index, self.table_pfn, self.entry)
    }
}

impl PageTable {
    /// Where the leaf for `virt` would be: `(slot, index, level)` of the
    /// deepest entry the child links reach, without reading that entry.
    #[inline(always)]
    fn locate(&self, virt: u64) -> Option<(usize, usize, usize)> {
        if !self.is_canonical(virt) {
            return None;
        }
        let mask = PTRS_PER_TABLE as u64 - 1;
        let mut slot = ROOT as usize;
        let last = self.nlevels - 1;
        let mut level = 0;
        // Upper levels: follow the child links; the last level has none.
        while level < last {
            let lv = &self.lv[level];
            let idx = ((virt >> lv.shift) & lv.mask & mask) as usize;
            let c = self.t.children[slot][idx];
            if c == 0 {
                break;
            }
            slot = (c - 1) as usize;
            level += 1;
        }
        let lv = &self.lv[level];
        Some((slot, ((virt >> lv.shift) & lv.mask & mask) as usize, level))
    }

    /// The leaf mapping `virt`: `(raw entry, level)`.
    #[inline(always)]
    fn lookup(&self, virt: u64) -> Option<(u64, usize)> {
        let (slot, idx, level) = self.locate(virt)?;
        let raw = self.t.entries[slot][idx];
        if raw == 0 {
            None
        } else {
            Some((raw, level))
        }
    }

    /// The physical address a located leaf entry gives `virt`.
    #[inline(always)]
    fn leaf_phys(&self, raw: u64, level: usize, virt: u64) -> Option<PhysAddr> {
        if raw == 0 {
            None
        } else {
            Some((self.enc.pfn(raw) << PAGE_SHIFT) | (virt & (self.lv[level].size - 1)))
        }
    }

    /// The physical address `virt` maps to, or `None` (not mapped, not
    /// canonical). The fastest lookup.
    #[inline]
    pub fn translate_phys(&self, virt: u64) -> Option<PhysAddr> {
        let (slot, idx, level) = self.locate(virt)?;
        self.leaf_phys(self.t.entries[slot][idx], level, virt)
    }

    /// Translate `virt`: physical address, page size, flags and entry of the
    /// leaf. [`MmError::NotMapped`] when nothing maps it,
    /// [`MmError::InvalidArgument`] when it is not canonical.
    #[inline]
    pub fn translate(&self, virt: u64) -> Result<Translation> {
        match self.lookup(virt) {
            Some((raw, level)) => {
                let size = self.lv[level].size;
                Ok(Translation {
                    phys: (self.enc.pfn(raw) << PAGE_SHIFT) | (virt & (size - 1)),
                    page_size: size,
                    level,
                    flags: self.enc.flags(raw),
                    entry: raw,
                })
            }
            None => Err(self.translate_error(virt)),
        }
    }

    #[cold]
    #[inline(never)]
    fn translate_error(&self, virt: u64) -> MmError {
        if self.is_canonical(virt) {
            MmError::NotMapped { addr: virt }
        } else {
            MmError::invalid("virt", format!("{virt:#x} is not canonical in {}", self.format().name))
        }
    }

    /// Walk the tables for `virt`: one step per level visited, down to the
    /// leaf or the first empty entry. Fails only for a non-canonical address.
    pub fn walk(&self, virt: u64) -> Result<Vec<WalkStep>> {
        if !self.is_canonical(virt) {
            return Err(MmError::invalid("virt", format!("{virt:#x} is not canonical in {}", self.format().name)));
        }
        let t = virt & self.space_mask;
        let mut steps = Vec::with_capacity(self.nlevels);
        let mut slot = ROOT;
        for level in 0..self.nlevels {
            let idx = self.idx(level, t);
            let raw = self.t.entries[slot as usize][idx];
            let kind = self.enc.kind(raw, level + 1 == self.nlevels);
            steps.push(WalkStep {
                level,
                name: self.format().levels[level].name.clone(),
                index: idx,
                table_pfn: self.t.meta[slot as usize].pfn,
                entry: raw,
                kind,
            });
            match self.child(slot, idx) {
                Some(c) => slot = c,
                None => break,
            }
        }
        Ok(steps)
    }

    /// Translate every address of `virts` into `out` (same length):
    /// `out[i]` is the physical address, or [`TRANSLATE_FAULT`] when
    /// `virts[i]` is not mapped or not canonical. Returns how many were
    /// mapped. [`MmError::InvalidArgument`] if the lengths differ.
    pub fn translate_batch(&self, virts: &[u64], out: &mut [u64]) -> Result<usize> {
        if virts.len() != out.len() {
            return Err(MmError::invalid(
                "out",
                format!("{} addresses but room for {} results", virts.len(), out.len()),
            ));
        }
        // In groups: first find every address's leaf entry (the upper
        // tables are few and stay cached) and ask the CPU to fetch it, then
        // read them. The leaf tables of a large mapping do not fit in the
        // caches, and this way their loads overlap instead of waiting on
        // each other.
        const GROUP: usize = 16;
        let mut mapped = 0;
        for (vs, os) in virts.chunks(GROUP).zip(out.chunks_mut(GROUP)) {
            let mut at = [(0usize, 0usize, 0usize); GROUP];
            let mut found = [false; GROUP];
            for (k, &v) in vs.iter().enumerate() {
                if let Some(loc) = self.locate(v) {
                    prefetch(&self.t.entries[loc.0][loc.1]);
                    at[k] = loc;
                    found[k] = true;
                }
            }
            for (k, (&v, o)) in vs.iter().zip(os.iter_mut()).enumerate() {
                let (slot, idx, level) = at[k];
                let phys = if found[k] { self.leaf_phys(self.t.entries[slot][idx], level, v) } else { None };
                *o = match phys {
                    Some(p) => {
                        mapped += 1;
                        p
                    }
                    None => TRANSLATE_FAULT,
                };
            }
        }
        Ok(mapped)
    }
}

/// Hint that `*p` will be read soon (no effect where the target has no
/// stable prefetch instruction).
#[inline(always)]
fn prefetch<T>(p: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and has no architectural effect.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const T as *const i8, std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
