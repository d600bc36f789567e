//! The page-table engine: a radix tree of page tables over any
//! [`PageTableFormat`] (x86_64 4/5-level, RISC-V Sv39/Sv48, arm64 4K ...).
//!
//! * [`PageTableFormat`] describes an MMU as plain data (levels, address
//!   widths, entry encoding); [`PageTable`] maps, unmaps, changes protection,
//!   translates and walks over it, storing entries in the architecture's
//!   real bit encoding so a walk shows the hex a kernel developer knows.
//! * Table pages come from a [`PageSource`] with [`PageUse::PageTable`] and
//!   go back to it when a table becomes empty (the root stays until
//!   [`PageTable::destroy`]). Every mutating call takes the source; use the
//!   same source for the whole life of a table.
//! * Every public operation either succeeds or returns an [`MmError`] and
//!   changes nothing: arguments are validated first, range operations
//!   pre-check the range and take the pages they need up front (or roll
//!   back what they did).
//! * [`direct_map`] plans and builds the x86_64 direct map the way
//!   `init_memory_mapping()` does (`split_mem_range()`,
//!   `kernel_physical_mapping_init()`).
//!
//! ```
//! use mmsvc_core::page_source::BumpPageSource;
//! use mmsvc_core::pagetable::{PageSizePolicy, PageTable, PageTableFormat, PteFlags};
//!
//! let mut src = BumpPageSource::new(0x1000, 0x10_0000);
//! let mut pt = PageTable::new(PageTableFormat::x86_64_4level(), &mut src).unwrap();
//! let po = 0xffff_8880_0000_0000;
//! // 1 GiB + 4 KiB: one 1G leaf and one pte.
//! pt.map_range(&mut src, po, 0, (1 << 30) + 4096, PteFlags::PAGE_KERNEL, PageSizePolicy::Largest).unwrap();
//! let t = pt.translate(po + (1 << 30)).unwrap();
//! assert_eq!((t.phys, t.page_size, t.entry), (1 << 30, 4096, 0x8000_0000_4000_0163));
//! let walk = pt.walk(po).unwrap();
//! assert_eq!(walk.len(), 2); // pgd -> pud (a 1G leaf)
//! assert_eq!(walk[1].entry, 0x8000_0000_0000_01e3);
//! pt.unmap_range(&mut src, po, (1 << 30) + 4096).unwrap();
//! assert_eq!((pt.page_table_pages(), src.in_use), (1, 1));
//! ```
//!
//! # Design
//! * Storage ([`table`](self) module): an arena of 512-entry tables. Each
//!   slot holds the raw entries (real encoding, what [`PageTable::walk`]
//!   shows) and, beside them, the slot of each child table, so lookups never
//!   decode a frame or search a pfn: one load per level. The last level
//!   needs no child links and lookups skip them. Freed slots are reused.
//! * Encoding ([`Encoder`]): the format's entry encoding compiled into a
//!   64-entry table of flag bits per flag combination, so encoding a leaf is
//!   two ors and a shift.
//! * Range operations recurse level by level over the entries a range
//!   covers (a run of ptes is a tight loop); `unmap_range`/`protect_range`
//!   first check the range is mapped, count the splits the two edges need,
//!   take exactly that many pages, then split and clear/rewrite.
//! * [`PageTable::map`] remembers the last table it wrote into, so mapping
//!   page after page skips the walk (the hint is dropped whenever a table is
//!   freed).
//!
//! Addresses: virtual addresses are checked for canonical form
//! ([`VaForm`]); inside the engine they are reduced to their low `va_bits`
//! bits ("table space"), so the upper half of a sign-extended space is
//! simply the upper half of the root table.

mod check;
mod counts;
mod cpa;
pub mod direct_map;
mod entry;
mod flags;
mod format;
mod map;
mod table;
mod unmap;
mod walk;

#[cfg(test)]
mod tests;

pub use counts::LeafCounts;
pub use entry::{Encoder, EntryKind};
pub use flags::PteFlags;
pub use format::{arm64, riscv, x86, BitPattern, EntryEncoding, FlagEncoding, LevelFormat, PageTableFormat, VaForm};
pub use map::PageSizePolicy;
pub use table::PTRS_PER_TABLE;
pub use walk::{Translation, WalkStep, TRANSLATE_FAULT};

use crate::error::{MmError, Result};
use crate::page_source::{PageSource, PageUse};
use crate::units::{Pfn, PhysAddr, PAGE_SHIFT};
use format::MAX_LEVELS;
use table::Tables;

/// A level, compiled for the hot paths.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Lv {
    pub shift: u32,
    /// `entries - 1`.
    pub mask: u64,
    /// Page size of a leaf here (`1 << shift`).
    pub size: u64,
    pub leaf: bool,
}

/// A page table over a [`PageTableFormat`]; see the module documentation.
#[derive(Debug, Clone)]
pub struct PageTable {
    format: PageTableFormat,
    pub(crate) enc: Encoder,
    pub(crate) lv: [Lv; MAX_LEVELS],
    pub(crate) nlevels: usize,
    /// `va_bits`, and the mask of table space.
    pub(crate) va_bits: u32,
    pub(crate) space_mask: u64,
    pub(crate) sign_extended: bool,
    /// Bits or-ed into every address for [`VaForm::OnesExtended`].
    pub(crate) ones: u64,
    pub(crate) phys_limit: u64,
    pub(crate) t: Tables,
    /// Leaves per level, over the whole table.
    pub(crate) leaves: [u64; MAX_LEVELS],
    /// x86's `direct_pages_count`, per level: every leaf
    /// `init_memory_mapping` creates or finds in its range (a huge page
    /// found again by a later range counts again), then the splits that
    /// accounted attribute changes make.
    pub(crate) direct_pages: [i64; MAX_LEVELS],
    /// The table the last [`PageTable::map`] wrote into: `(level, key,
    /// slot)` where `key` is the address shifted by the parent level's
    /// shift. Lets page-by-page mapping skip the walk; cleared whenever a
    /// table is freed.
    pub(crate) map_hint: Option<(usize, u64, u32)>,
    /// While a call that may have to undo itself runs (depth > 0): every
    /// `(parent slot, index)` it linked a new table at, so the undo gives
    /// back exactly the tables the call made. Tables that were there before
    /// stay even when empty (the kernel keeps its vmalloc tables).
    link_journal: Vec<(u32, u32)>,
    journal_depth: u32,
}

/// Slot of the root table.
pub(crate) const ROOT: u32 = 0;

impl PageTable {
    /// An empty page table (just the root) in `format`, its root page taken
    /// from `src`. Fails if the format does not validate or `src` is empty.
    pub fn new(format: PageTableFormat, src: &mut dyn PageSource) -> Result<Self> {
        format.validate()?;
        let enc = Encoder::new(&format);
        let mut lv = [Lv::default(); MAX_LEVELS];
        for (i, l) in format.levels.iter().enumerate() {
            lv[i] = Lv { shift: l.shift, mask: (1u64 << l.index_bits) - 1, size: 1u64 << l.shift, leaf: l.leaf };
        }
        let pfn = src.alloc_pages(0, None, PageUse::PageTable)?;
        let mut t = Tables::default();
        let root = t.insert(pfn, 0);
        debug_assert_eq!(root, ROOT);
        Ok(PageTable {
            nlevels: format.levels.len(),
            va_bits: format.va_bits,
            space_mask: (1u64 << format.va_bits) - 1,
            sign_extended: format.va_form == VaForm::SignExtended,
            ones: if format.va_form == VaForm::OnesExtended { !((1u64 << format.va_bits) - 1) } else { 0 },
            phys_limit: 1u64 << format.phys_bits,
            enc,
            lv,
            t,
            leaves: [0; MAX_LEVELS],
            direct_pages: [0; MAX_LEVELS],
            map_hint: None,
            link_journal: Vec::new(),
            journal_depth: 0,
            format,
        })
    }

    /// Start recording the tables linked from now on; returns the mark to
    /// hand to [`Self::journal_rollback`] should the call fail (else it
    /// ends with [`Self::journal_commit`]). Calls nest: an inner commit
    /// keeps its entries for the outer call.
    fn journal_begin(&mut self) -> usize {
        self.journal_depth += 1;
        self.link_journal.len()
    }

    /// The call succeeded: its tables stay.
    fn journal_commit(&mut self) {
        self.journal_depth -= 1;
        if self.journal_depth == 0 {
            self.link_journal.clear();
        }
    }

    /// Run `f` as one call that undoes itself: on error the tables it
    /// linked and left empty go back (`f` clears its own leaves first).
    pub(crate) fn journaled<T>(
        &mut self,
        src: &mut dyn PageSource,
        f: impl FnOnce(&mut Self, &mut dyn PageSource) -> Result<T>,
    ) -> Result<T> {
        let mark = self.journal_begin();
        let r = f(self, src);
        match r {
            Ok(_) => self.journal_commit(),
            Err(_) => self.journal_rollback(src, mark),
        }
        r
    }

    /// The call failed and cleared what it mapped: give back the tables it
    /// linked that are empty again, newest first (so a parent empties after
    /// its children).
    fn journal_rollback(&mut self, src: &mut dyn PageSource, mark: usize) {
        while self.link_journal.len() > mark {
            let Some((slot, idx)) = self.link_journal.pop() else { break };
            let idx = idx as usize;
            if self.t.meta.get(slot as usize).is_some_and(|m| m.live) {
                if let Some(c) = self.child(slot, idx) {
                    if self.t.meta[c as usize].used == 0 {
                        self.unlink_free(src, slot, idx);
                    }
                }
            }
        }
        self.journal_commit();
    }

    /// Unmap everything and give every table page, the root included, back
    /// to `src`.
    pub fn destroy(mut self, src: &mut dyn PageSource) {
        let slots: Vec<u32> = self.t.live_slots().collect();
        for s in slots {
            let pfn = self.t.remove(s);
            let _ = src.free_pages(pfn, 0, PageUse::PageTable);
        }
    }

    /// Make room for `n` more table pages in the arena (a hint for speed:
    /// building a big mapping then grows the arena once).
    pub fn reserve_tables(&mut self, n: usize) {
        self.t.reserve(n);
    }

    /// The format.
    /// The flags the CPU honours (x86's `__supported_pte_mask`): leaves
    /// written from now on, and attribute changes, leave the others out.
    pub fn set_supported_mask(&mut self, flags: PteFlags) {
        self.enc.enabled = flags;
    }

    pub fn format(&self) -> &PageTableFormat {
        &self.format
    }

    /// Number of levels.
    pub fn levels(&self) -> usize {
        self.nlevels
    }

    /// Page frame number of the root table (what CR3 / satp / TTBR hold).
    pub fn root_pfn(&self) -> Pfn {
        self.t.meta[ROOT as usize].pfn
    }

    /// The level whose leaves are `size` bytes.
    #[inline]
    pub fn level_of_size(&self, size: u64) -> Result<usize> {
        for l in 0..self.nlevels.min(MAX_LEVELS) {
            if self.lv[l].size == size && self.lv[l].leaf {
                return Ok(l);
            }
        }
        Err(self.bad_size(size))
    }

    #[cold]
    #[inline(never)]
    fn bad_size(&self, size: u64) -> MmError {
        MmError::invalid(
            "size",
            format!("{size:#x} is not a page size of {} (sizes: {:x?})", self.format.name, self.format.page_sizes()),
        )
    }

    // ----- address helpers -------------------------------------------------

    /// Whether `virt` is canonical.
    #[inline(always)]
    pub fn is_canonical(&self, virt: u64) -> bool {
        if self.sign_extended {
            // The bits from va_bits - 1 up are all zeros or all ones.
            (((virt as i64) >> (self.va_bits - 1)) as u64).wrapping_add(1) <= 1
        } else {
            virt & !self.space_mask == self.ones
        }
    }

    /// The virtual address of table-space address `t`.
    #[inline(always)]
    pub(crate) fn to_va(&self, t: u64) -> u64 {
        if self.sign_extended && (t >> (self.va_bits - 1)) & 1 == 1 {
            t | !self.space_mask
        } else {
            t | self.ones
        }
    }

    /// Validate `[virt, virt + len)` (non-empty, canonical throughout,
    /// aligned to `align`, a power of two) and return it in table space as
    /// `(start, end)`.
    #[inline(always)]
    pub(crate) fn check_range(&self, virt: u64, len: u64, align: u64) -> Result<(u64, u64)> {
        debug_assert!(align.is_power_of_two());
        if len != 0 && (virt | len) & (align - 1) == 0 && self.is_canonical(virt) {
            let t = virt & self.space_mask;
            if let Some(end) = t.checked_add(len) {
                if end <= self.space_limit(t) {
                    return Ok((t, end));
                }
            }
        }
        Err(self.range_error(virt, len, align))
    }

    /// End of the half (or whole space) table-space address `t` is in.
    #[inline(always)]
    fn space_limit(&self, t: u64) -> u64 {
        if self.sign_extended && (t >> (self.va_bits - 1)) & 1 == 0 {
            1u64 << (self.va_bits - 1)
        } else {
            1u64 << self.va_bits
        }
    }

    #[cold]
    #[inline(never)]
    fn range_error(&self, virt: u64, len: u64, align: u64) -> MmError {
        if len == 0 {
            return MmError::invalid("len", "zero-length range");
        }
        if (virt | len) & (align - 1) != 0 {
            return MmError::invalid("virt", format!("range {virt:#x} + {len:#x} is not aligned to {align:#x}"));
        }
        if !self.is_canonical(virt) {
            return MmError::invalid("virt", format!("{virt:#x} is not canonical in {}", self.format.name));
        }
        let limit = self.space_limit(virt & self.space_mask);
        MmError::OutOfRange {
            what: "end of virtual range",
            value: virt.wrapping_add(len),
            min: virt,
            max: self.to_va(limit - 1),
        }
    }

    /// Validate a physical range.
    #[inline(always)]
    pub(crate) fn check_phys(&self, phys: PhysAddr, len: u64, align: u64) -> Result<()> {
        if phys & (align - 1) == 0 && phys.checked_add(len).is_some_and(|end| end <= self.phys_limit) {
            return Ok(());
        }
        Err(self.phys_error(phys, align))
    }

    #[cold]
    #[inline(never)]
    fn phys_error(&self, phys: PhysAddr, align: u64) -> MmError {
        if phys & (align - 1) != 0 {
            return MmError::invalid("phys", format!("{phys:#x} is not aligned to {align:#x}"));
        }
        MmError::OutOfRange { what: "physical address", value: phys, min: 0, max: self.phys_limit }
    }

    /// Validate flags against the format.
    #[inline(always)]
    pub(crate) fn check_flags(&self, flags: PteFlags) -> Result<()> {
        let missing = flags & !self.enc.supported;
        if missing.is_empty() {
            return Ok(());
        }
        Err(self.flags_error(missing))
    }

    #[cold]
    #[inline(never)]
    fn flags_error(&self, missing: PteFlags) -> MmError {
        MmError::invalid("flags", format!("{} cannot encode {missing:?}", self.format.name))
    }

    #[inline(always)]
    pub(crate) fn idx(&self, level: usize, t: u64) -> usize {
        let l = &self.lv[level];
        ((t >> l.shift) & l.mask) as usize
    }

    // ----- entry helpers ---------------------------------------------------

    /// Take one page for a table at `level` and register it.
    pub(crate) fn alloc_table(&mut self, src: &mut dyn PageSource, level: usize) -> Result<u32> {
        let pfn = src.alloc_pages(0, None, PageUse::PageTable)?;
        Ok(self.t.insert(pfn, level))
    }

    /// Take `n` pages up front; all or nothing.
    #[inline]
    pub(crate) fn alloc_pool(src: &mut dyn PageSource, n: usize) -> Result<Vec<Pfn>> {
        let mut pool = Vec::with_capacity(n);
        for _ in 0..n {
            match src.alloc_pages(0, None, PageUse::PageTable) {
                Ok(p) => pool.push(p),
                Err(e) => {
                    Self::free_pool(src, pool);
                    return Err(e);
                }
            }
        }
        Ok(pool)
    }

    pub(crate) fn free_pool(src: &mut dyn PageSource, pool: Vec<Pfn>) {
        for p in pool {
            let _ = src.free_pages(p, 0, PageUse::PageTable);
        }
    }

    /// Link the table in `child` from entry `idx` of `slot`.
    pub(crate) fn link(&mut self, slot: u32, idx: usize, child: u32) {
        let pfn = self.t.meta[child as usize].pfn;
        let s = slot as usize;
        debug_assert_eq!(self.t.entries[s][idx], 0);
        self.t.entries[s][idx] = self.enc.table(pfn);
        self.t.children[s][idx] = child + 1;
        self.t.meta[s].used += 1;
        if self.journal_depth > 0 {
            self.link_journal.push((slot, idx as u32));
        }
    }

    /// Unlink the (empty) child table at `idx` of `slot` and free its page.
    pub(crate) fn unlink_free(&mut self, src: &mut dyn PageSource, slot: u32, idx: usize) {
        let s = slot as usize;
        let c = self.t.children[s][idx];
        if c == 0 {
            return;
        }
        self.t.children[s][idx] = 0;
        self.t.entries[s][idx] = 0;
        self.t.meta[s].used -= 1;
        self.map_hint = None;
        let pfn = self.t.remove(c - 1);
        let _ = src.free_pages(pfn, 0, PageUse::PageTable);
    }

    /// Write leaf `raw` into the empty entry `idx` of `slot` at `level`.
    #[inline(always)]
    pub(crate) fn put_leaf(&mut self, slot: u32, idx: usize, level: usize, raw: u64) {
        let s = slot as usize;
        debug_assert_eq!(self.t.entries[s][idx], 0);
        self.t.entries[s][idx] = raw;
        self.t.meta[s].used += 1;
        self.leaves[level] += 1;
    }

    /// Clear leaf `idx` of `slot` at `level`.
    #[inline(always)]
    pub(crate) fn clear_leaf(&mut self, slot: u32, idx: usize, level: usize) {
        let s = slot as usize;
        debug_assert!(self.t.entries[s][idx] != 0 && self.t.children[s][idx] == 0);
        self.t.entries[s][idx] = 0;
        self.t.meta[s].used -= 1;
        self.leaves[level] -= 1;
    }

    /// Encode a leaf at `level` for physical address `phys`.
    #[inline(always)]
    pub(crate) fn leaf_raw(&self, level: usize, phys: PhysAddr, flags: PteFlags) -> u64 {
        self.enc.leaf(phys >> PAGE_SHIFT, flags, level + 1 < self.nlevels)
    }

    /// The child slot of entry `idx` of `slot`, if it is a table.
    #[inline(always)]
    pub(crate) fn child(&self, slot: u32, idx: usize) -> Option<u32> {
        let c = self.t.children[slot as usize][idx];
        if c == 0 {
            None
        } else {
            Some(c - 1)
        }
    }

    /// Find the leaf holding table-space address `t`: `(slot, idx, level)`.
    pub(crate) fn find_leaf(&self, t: u64) -> Option<(u32, usize, usize)> {
        let mut slot = ROOT;
        for level in 0..self.nlevels {
            let idx = self.idx(level, t);
            match self.child(slot, idx) {
                Some(c) => slot = c,
                None => {
                    return if self.t.entries[slot as usize][idx] != 0 { Some((slot, idx, level)) } else { None };
                }
            }
        }
        None
    }
}
