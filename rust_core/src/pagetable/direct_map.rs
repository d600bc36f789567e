//! The x86_64 direct map, built the way `init_memory_mapping()` builds it
//! (arch/x86/mm/init.c and init_64.c).
//!
//! * [`split_mem_range`] is the planning step, a pure function: a physical
//!   range is cut into at most five [`MapRange`]s (4K head up to a 2 MiB
//!   boundary, 2M up to a 1 GiB boundary, 1G middle, 2M tail, 4K tail),
//!   each with the page sizes it may use; then, as
//!   `adjust_range_page_size_mask()` does at boot, a range is promoted to
//!   2M (1G) when the range rounded out to 2 MiB (1 GiB) is entirely RAM;
//!   then neighbours with the same sizes are merged.
//! * [`PageTable::kernel_physical_mapping_init`] maps one planned range at
//!   `page_offset + phys`: a pud (pmd) whose range the plan allows 1G (2M)
//!   for becomes one leaf for the whole pud (pmd) — the rounded-out part
//!   included, which is where a huge leaf may cover what is not RAM, as in
//!   the kernel; anything else goes down a level; ptes are made only for
//!   the pages of the range itself. Entries already present are kept
//!   (`init_memory_mapping()` is called once per RAM range, and neighbouring
//!   calls meet in the same tables).
//! * [`PageTable::init_memory_mapping`] does both for one range.
//!
//! "RAM" is a list of `[start, end)` physical ranges standing for memblock's
//! memory regions; `memblock_is_region_memory()` is modelled as "inside one
//! merged RAM range".

use std::fmt;

use super::counts::size_name;
use super::{PageTable, PteFlags, PTRS_PER_TABLE, ROOT};
use crate::error::{MmError, Result};
use crate::page_source::PageSource;
use crate::units::{pfn_down, pfn_phys, round_down, round_up, PhysAddr, PAGE_SHIFT, PAGE_SIZE};

/// `PG_LEVEL_4K`.
pub const PG_LEVEL_4K: u32 = 1;
/// `PG_LEVEL_2M`.
pub const PG_LEVEL_2M: u32 = 2;
/// `PG_LEVEL_1G`.
pub const PG_LEVEL_1G: u32 = 3;
/// `PMD_SIZE` (x86_64).
pub const PMD_SIZE: u64 = 1 << 21;
/// `PUD_SIZE` (x86_64).
pub const PUD_SIZE: u64 = 1 << 30;
/// `PAGE_OFFSET` of x86_64 4-level paging without KASLR.
pub const PAGE_OFFSET_4LEVEL: u64 = 0xffff_8880_0000_0000;
/// `PAGE_OFFSET` of x86_64 5-level paging without KASLR.
pub const PAGE_OFFSET_5LEVEL: u64 = 0xff11_0000_0000_0000;
/// `1 << PG_LEVEL_2M | 1 << PG_LEVEL_1G`: what `probe_page_size_mask()`
/// finds on a CPU with PSE and GBPAGES.
pub const PAGE_SIZE_MASK_2M_1G: u32 = (1 << PG_LEVEL_2M) | (1 << PG_LEVEL_1G);

/// `NR_RANGE_MR` on x86_64.
pub const NR_RANGE_MR: usize = 5;

/// One planned range (`struct map_range`): `[start, end)` physical, with the
/// page sizes it may use (`1 << PG_LEVEL_2M`, `1 << PG_LEVEL_1G` bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MapRange {
    pub start: PhysAddr,
    pub end: PhysAddr,
    pub page_size_mask: u32,
}

impl MapRange {
    /// The largest page size the range may use.
    pub fn page_size(&self) -> u64 {
        if self.page_size_mask & (1 << PG_LEVEL_1G) != 0 {
            PUD_SIZE
        } else if self.page_size_mask & (1 << PG_LEVEL_2M) != 0 {
            PMD_SIZE
        } else {
            PAGE_SIZE
        }
    }
}

impl fmt::Display for MapRange {
    /// The kernel's `mr_print()` line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let size = size_name(self.page_size()).replace('k', "K");
        write!(f, " [mem {:#010x}-{:#010x}] page size {}", self.start, self.end.wrapping_sub(1), size)
    }
}

/// Sorted, merged copy of `ram`.
fn merge_ram(ram: &[(PhysAddr, PhysAddr)]) -> Vec<(PhysAddr, PhysAddr)> {
    let mut v: Vec<_> = ram.iter().copied().filter(|(s, e)| s < e).collect();
    v.sort_unstable();
    let mut out: Vec<(PhysAddr, PhysAddr)> = Vec::with_capacity(v.len());
    for (s, e) in v {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// `memblock_is_region_memory()` over merged RAM.
fn is_region_memory(ram: &[(PhysAddr, PhysAddr)], start: PhysAddr, end: PhysAddr) -> bool {
    let i = ram.partition_point(|r| r.1 <= start);
    ram.get(i).is_some_and(|r| r.0 <= start && end <= r.1)
}

/// Plan the direct mapping of physical `[start, end)` (both rounded down to
/// pages, as the kernel's pfn arithmetic does) with the sizes
/// `page_size_mask` allows, given the RAM ranges: `split_mem_range()` then
/// `adjust_range_page_size_mask()` then the merge of equal neighbours.
pub fn split_mem_range(
    start: PhysAddr,
    end: PhysAddr,
    page_size_mask: u32,
    ram: &[(PhysAddr, PhysAddr)],
) -> Result<Vec<MapRange>> {
    const MAX_PHYS: u64 = 1 << 52;
    if start > end || end > MAX_PHYS {
        return Err(MmError::OutOfRange { what: "direct map range end", value: end, min: start, max: MAX_PHYS });
    }
    if page_size_mask & !PAGE_SIZE_MASK_2M_1G != 0 {
        return Err(MmError::invalid("page_size_mask", format!("{page_size_mask:#x} has bits besides 2M and 1G")));
    }
    let pmd_pages = pfn_down(PMD_SIZE);
    let pud_pages = pfn_down(PUD_SIZE);
    let mask_2m = page_size_mask & (1 << PG_LEVEL_2M);
    let mut mr: Vec<MapRange> = Vec::with_capacity(NR_RANGE_MR);
    let mut save = |s: u64, e: u64, mask: u32| {
        if s < e {
            mr.push(MapRange { start: pfn_phys(s), end: pfn_phys(e), page_size_mask: mask });
            true
        } else {
            false
        }
    };
    let limit_pfn = pfn_down(end);
    let mut pfn = pfn_down(start);

    // Head up to a 2 MiB boundary: 4K.
    let e = round_up(pfn, pmd_pages).min(limit_pfn);
    if save(pfn, e, 0) {
        pfn = e;
    }
    // Up to a 1 GiB boundary: 2M.
    let s = round_up(pfn, pmd_pages);
    let e = round_up(pfn, pud_pages).min(round_down(limit_pfn, pmd_pages));
    if save(s, e, mask_2m) {
        pfn = e;
    }
    // The 1 GiB-aligned middle: 2M and 1G.
    let s = round_up(pfn, pud_pages);
    let e = round_down(limit_pfn, pud_pages);
    if save(s, e, page_size_mask & PAGE_SIZE_MASK_2M_1G) {
        pfn = e;
    }
    // Tail not 1 GiB aligned: 2M.
    let s = round_up(pfn, pmd_pages);
    let e = round_down(limit_pfn, pmd_pages);
    if save(s, e, mask_2m) {
        pfn = e;
    }
    // Tail not 2 MiB aligned: 4K.
    save(pfn, limit_pfn, 0);

    // adjust_range_page_size_mask(): promote where the neighbourhood is RAM.
    let ram = merge_ram(ram);
    for r in mr.iter_mut() {
        if page_size_mask & (1 << PG_LEVEL_2M) != 0 && r.page_size_mask & (1 << PG_LEVEL_2M) == 0 {
            let (s, e) = (round_down(r.start, PMD_SIZE), round_up(r.end, PMD_SIZE));
            if is_region_memory(&ram, s, e) {
                r.page_size_mask |= 1 << PG_LEVEL_2M;
            }
        }
        if page_size_mask & (1 << PG_LEVEL_1G) != 0 && r.page_size_mask & (1 << PG_LEVEL_1G) == 0 {
            let (s, e) = (round_down(r.start, PUD_SIZE), round_up(r.end, PUD_SIZE));
            if is_region_memory(&ram, s, e) {
                r.page_size_mask |= 1 << PG_LEVEL_1G;
            }
        }
    }

    // Merge contiguous ranges with the same sizes.
    let mut out: Vec<MapRange> = Vec::with_capacity(mr.len());
    for r in mr {
        match out.last_mut() {
            Some(last) if last.end == r.start && last.page_size_mask == r.page_size_mask => last.end = r.end,
            _ => out.push(r),
        }
    }
    Ok(out)
}

/// [`split_mem_range`] for each of `ranges` in turn (the kernel calls
/// `init_memory_mapping()` once per RAM range), concatenated.
pub fn plan_direct_map(
    ranges: &[(PhysAddr, PhysAddr)],
    page_size_mask: u32,
    ram: &[(PhysAddr, PhysAddr)],
) -> Result<Vec<MapRange>> {
    let mut out = Vec::new();
    for &(s, e) in ranges {
        out.extend(split_mem_range(s, e, page_size_mask, ram)?);
    }
    Ok(out)
}

impl PageTable {
    /// Levels of the pud (1G) and pmd (2M) leaves.
    fn direct_map_levels(&self) -> Result<(usize, usize)> {
        let pud = self.level_of_size(PUD_SIZE);
        let pmd = self.level_of_size(PMD_SIZE);
        match (pud, pmd) {
            (Ok(u), Ok(m)) if m + 2 == self.nlevels && u + 1 == m => Ok((u, m)),
            _ => Err(MmError::invalid(
                "format",
                format!("{} has no x86-style pud (1G) and pmd (2M) levels above the pte level", self.format().name),
            )),
        }
    }

    /// Map one planned range at `page_offset + phys` with
    /// `kernel_physical_mapping_init()` semantics (see the module
    /// documentation). Returns the end of what was mapped (`paddr_last`).
    /// All or nothing.
    pub fn kernel_physical_mapping_init(
        &mut self,
        src: &mut dyn PageSource,
        range: &MapRange,
        page_offset: u64,
        flags: PteFlags,
    ) -> Result<PhysAddr> {
        self.map_plan_inner(src, std::slice::from_ref(range), page_offset, flags)
    }

    /// Map every range of `plan` as [`PageTable::kernel_physical_mapping_init`]
    /// does; all or nothing. Returns the end of the last range.
    pub fn map_plan(
        &mut self,
        src: &mut dyn PageSource,
        plan: &[MapRange],
        page_offset: u64,
        flags: PteFlags,
    ) -> Result<PhysAddr> {
        self.map_plan_inner(src, plan, page_offset, flags)
    }

    fn map_plan_inner(
        &mut self,
        src: &mut dyn PageSource,
        plan: &[MapRange],
        page_offset: u64,
        flags: PteFlags,
    ) -> Result<PhysAddr> {
        let (pud_level, _) = self.direct_map_levels()?;
        self.check_flags(flags)?;
        // Validate every range before touching anything.
        let mut work = Vec::with_capacity(plan.len());
        for range in plan {
            if range.page_size_mask & !PAGE_SIZE_MASK_2M_1G != 0 {
                return Err(MmError::invalid("page_size_mask", format!("{:#x}", range.page_size_mask)));
            }
            let start = round_down(range.start, PAGE_SIZE);
            let end = round_down(range.end, PAGE_SIZE);
            if start >= end {
                continue;
            }
            // The whole affected span: pud-rounded when 1G is allowed,
            // pmd-rounded when 2M is.
            let grain = range.page_size();
            let (vs, ve) = (round_down(start, grain), round_up(end, grain));
            self.check_phys(vs, ve - vs, PAGE_SIZE)?;
            let (t_lo, _) = self.check_range(page_offset.wrapping_add(vs), ve - vs, PAGE_SIZE)?;
            let t_start = t_lo + (start - vs);
            work.push((t_start, t_start + (end - start), t_start.wrapping_sub(start), range.page_size_mask));
        }
        // Room for the tables the plan may need, so the arena grows once.
        let estimate: u64 = work
            .iter()
            .map(|&(a, b, _, m)| {
                let span = if m & (1 << PG_LEVEL_1G) != 0 {
                    PUD_SIZE << 9
                } else if m & (1 << PG_LEVEL_2M) != 0 {
                    PUD_SIZE
                } else {
                    PMD_SIZE
                };
                (b - a) / span + 3
            })
            .fold(0u64, |x, y| x.saturating_add(y));
        self.reserve_tables(estimate.min(1 << 16) as usize);
        let counted = self.direct_pages;
        self.journaled(src, |pt, src| {
            let mut made: Vec<(u64, u64)> = Vec::new();
            for (t_start, t_end, delta, mask) in work {
                let r = pt.kpmi_rec(src, ROOT, 0, t_start, t_end, delta, mask, pud_level, flags, &mut made);
                if let Err(e) = r {
                    for &(a, b) in made.iter().rev() {
                        pt.clear_rec(src, ROOT, 0, a, b, false);
                    }
                    pt.direct_pages = counted;
                    return Err(e);
                }
            }
            Ok(())
        })?;
        Ok(plan.last().map_or(0, |r| round_down(r.end, PAGE_SIZE)))
    }

    #[allow(clippy::too_many_arguments)]
    fn kpmi_rec(
        &mut self,
        src: &mut dyn PageSource,
        slot: u32,
        level: usize,
        t: u64,
        end: u64,
        delta: u64,
        mask: u32,
        pud_level: usize,
        flags: PteFlags,
        made: &mut Vec<(u64, u64)>,
    ) -> Result<()> {
        let lv = self.lv[level];
        let last = level + 1 == self.nlevels;
        let big = if level == pud_level {
            mask & (1 << PG_LEVEL_1G) != 0
        } else if level == pud_level + 1 {
            mask & (1 << PG_LEVEL_2M) != 0
        } else {
            false
        };
        let s = slot as usize;
        let mut cur = t;
        while cur < end {
            let idx = self.idx(level, cur);
            let base = cur & !(lv.size - 1);
            let chunk_end = (base + lv.size).min(end);
            let present = self.t.entries[s][idx] != 0;
            if !present && (last || big) {
                // A run of empty entries that become leaves: a tight loop.
                let (run_start, mut i, mut b) = (base, idx, base);
                let huge = !last;
                let limit = (lv.mask as usize).min(PTRS_PER_TABLE - 1);
                loop {
                    let raw = self.enc.leaf(b.wrapping_sub(delta) >> PAGE_SHIFT, flags, huge);
                    self.t.entries[s][i] = raw;
                    b += lv.size;
                    i += 1;
                    if b >= end || i > limit || self.t.entries[s][i] != 0 {
                        break;
                    }
                }
                let n = (i - idx) as u64;
                self.t.meta[s].used += n as u32;
                self.leaves[level] += n;
                self.direct_pages[level] += n as i64;
                push_made(made, run_start, b);
                cur = b.min(end);
                continue;
            }
            match self.child(slot, idx) {
                Some(c) => {
                    self.kpmi_rec(src, c, level + 1, cur, chunk_end, delta, mask, pud_level, flags, made)?;
                }
                // an existing leaf already maps it; the kernel counts it again
                None if present => self.direct_pages[level] += 1,
                None => {
                    let c = self.alloc_table(src, level + 1)?;
                    self.link(slot, idx, c);
                    let r = self.kpmi_rec(src, c, level + 1, cur, chunk_end, delta, mask, pud_level, flags, made);
                    if self.t.meta[c as usize].used == 0 {
                        self.unlink_free(src, slot, idx);
                    }
                    r?;
                }
            }
            cur = chunk_end;
        }
        Ok(())
    }

    /// `init_memory_mapping()` for physical `[start, end)`: plan it with
    /// [`split_mem_range`] and map every range at `page_offset + phys`.
    /// Returns the plan. All or nothing.
    #[allow(clippy::too_many_arguments)]
    pub fn init_memory_mapping(
        &mut self,
        src: &mut dyn PageSource,
        start: PhysAddr,
        end: PhysAddr,
        page_size_mask: u32,
        ram: &[(PhysAddr, PhysAddr)],
        page_offset: u64,
        flags: PteFlags,
    ) -> Result<Vec<MapRange>> {
        let plan = split_mem_range(start, end, page_size_mask, ram)?;
        self.map_plan(src, &plan, page_offset, flags)?;
        Ok(plan)
    }
}

fn push_made(made: &mut Vec<(u64, u64)>, a: u64, b: u64) {
    match made.last_mut() {
        Some(last) if last.1 == a => last.1 = b,
        _ => made.push((a, b)),
    }
}
