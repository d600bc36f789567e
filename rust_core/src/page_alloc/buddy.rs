//! [`PageAlloc`]: nodes (`pglist_data`), zonelists, the boot frees and the
//! runtime allocation API.

use super::config::{KernelVersion, PageAllocConfig};
use super::events::{AllocEvent, AllocEventKind, Recorder};
use super::free_area::FreeArea;
use super::free_area_init::{ZoneLayout, ZoneType};
use super::gfp::Gfp;
use super::migratetype::{MigrateType, NR_MT};
use super::mempolicy::MemPolicy;
use super::pages::{kind, order as st_order, PageTable, E_DESC, E_UNTOUCHED, K_ALLOC, K_FREE, K_NONE, K_PCP, S_MARK};
use super::pcp::{zone_batchsize, zone_highsize, Pcp};
use super::watermark::{
    default_min_free_kbytes, setup_lowmem_reserve, setup_per_zone_wmarks, zone_watermark_fast, ALLOC_HARDER,
    ALLOC_HIGH, ALLOC_NOFRAGMENT, ALLOC_WMARK_MASK, WMARK_LOW, WMARK_MIN,
};
use super::zone::Zone;
use crate::error::{MmError, Result};
use crate::units::Pfn;

/// A zone, named by node and type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ZoneId {
    pub nid: u32,
    pub zone_type: ZoneType,
}

/// A snapshot of one zone's counters (what /proc/zoneinfo shows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneInfo {
    pub nid: u32,
    pub zone_type: ZoneType,
    pub start_pfn: Pfn,
    pub spanned: u64,
    pub present: u64,
    pub managed: u64,
    /// NR_FREE_PAGES (excludes pages on pcp lists, as in the kernel).
    pub nr_free_pages: u64,
    /// Pages on all CPUs' pcp lists of this zone.
    pub pcp_pages: u64,
    pub min: u64,
    pub low: u64,
    pub high: u64,
    /// `lowmem_reserve[]` ("protection").
    pub protection: Vec<u64>,
    pub nr_reserved_highatomic: u64,
    /// `free_area[order].nr_free`.
    pub nr_free: Vec<u64>,
    /// Free blocks per order per migratetype (index = `MigrateType as usize`).
    pub free_by_type: Vec<[u64; NR_MT]>,
    /// Per CPU: (count, high, batch).
    pub pagesets: Vec<(u64, u64, u64)>,
}

/// A snapshot of one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    pub nid: u32,
    pub start_pfn: Pfn,
    pub end_pfn: Pfn,
    pub spanned: u64,
    pub present: u64,
    pub managed: u64,
    pub nr_free_pages: u64,
    pub first_deferred_pfn: Option<Pfn>,
}

/// The page allocator of a whole machine.
pub struct PageAlloc {
    pub(crate) cfg: PageAllocConfig,
    pub(crate) layout: ZoneLayout,
    pub(crate) zones: Vec<Zone>,
    pub(crate) nz: usize,
    /// (start, end, zone id) of non-empty zones, sorted.
    spans: Vec<(Pfn, Pfn, usize)>,
    /// Per node: zone ids in fallback order (all nodes).
    zonelists: Vec<Vec<usize>>,
    /// Per node: its own zones only (`__GFP_THISNODE`).
    thisnode: Vec<Vec<usize>>,
    /// gfp_zone result (by ZoneType) → zone index in a node.
    zone_idx_of: [usize; 5],
    first_deferred: Vec<Option<Pfn>>,
    /// The free memory at or after a node's first deferred pfn that
    /// `memblock_free_all` left for deferred init: its struct pages are
    /// not initialised yet. Reserved memory there is (reserve_bootmem_region
    /// initialises it), so it may be given back early.
    pending_deferred: Vec<(Pfn, Pfn)>,
    /// `alloc_flags_nofragment` per (node, thisnode, highest zone index).
    nofrag: Vec<u32>,
    totalram_pages: u64,
    min_free_kbytes: u64,
    boot_freed: bool,
    deferred_done: bool,
    pcp_setup: bool,
    pub(crate) mobility_disabled: bool,
    rec: Recorder,
    /// (start, end, zone id) of the zone of the last free.
    hint: (Pfn, Pfn, usize),
    /// Scratch space of `free_pages_bulk`.
    scratch: Vec<u64>,
    /// The memory policy of requests that name no node.
    policy: MemPolicy,
    /// `num_online_cpus()` and, per node, the online CPUs in its cpumask
    /// (`node_to_cpumask_map`); until told, every CPU is online on the node
    /// `cpu_to_node` gives it.
    online: Option<OnlineCpus>,
}

/// The CPUs that are up: how many, and how many each node's cpumask holds.
#[derive(Clone, Debug)]
struct OnlineCpus {
    count: u32,
    per_node: Vec<u64>,
}

/// The first pfn that appears twice in `pfns` (all heads of `order` blocks).
/// A bitmap over the batch's span when that span is small compared with the
/// batch (the usual case: a batch of recent allocations), a sort otherwise.
fn first_duplicate(pfns: &[Pfn], order: u32) -> Option<Pfn> {
    let (&lo, &hi) = (pfns.iter().min()?, pfns.iter().max()?);
    let span = ((hi - lo) >> order) + 1;
    if span <= 64 * pfns.len() as u64 + 4096 {
        let mut seen = vec![0u64; span.div_ceil(64) as usize];
        for &p in pfns {
            let i = (p - lo) >> order;
            let (w, b) = ((i / 64) as usize, i % 64);
            if seen[w] & (1 << b) != 0 {
                return Some(p);
            }
            seen[w] |= 1 << b;
        }
        None
    } else {
        let mut sorted = pfns.to_vec();
        sorted.sort_unstable();
        sorted.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
    }
}

fn node_cpus(cfg: &PageAllocConfig, nid: u32) -> u64 {
    (0..cfg.nr_cpus).filter(|&c| cfg.cpu_node(c) == nid).count() as u64
}

impl PageAlloc {
    /// Build the nodes and zones of `layout` (from [`super::free_area_init`]).
    /// Nothing is free until [`Self::memblock_free_all`]. Zone `managed`
    /// holds the `free_area_init_core` estimate until then.
    pub fn new(layout: &ZoneLayout, cfg: &PageAllocConfig) -> Result<Self> {
        cfg.validate()?;
        if layout.nodes.is_empty() || layout.zone_types.is_empty() {
            return Err(MmError::invalid("layout", "no nodes or no zones"));
        }
        if cfg.cpu_to_node.iter().any(|&n| n as usize >= layout.nodes.len()) {
            return Err(MmError::invalid("cpu_to_node", "cpu on a node that does not exist"));
        }
        let nz = layout.zone_types.len();
        let top = cfg.max_order - 1;
        let mut zones = Vec::with_capacity(layout.nodes.len() * nz);
        let mut entries_total: u64 = 0;
        for node in &layout.nodes {
            if node.zones.len() != nz {
                return Err(MmError::invalid("layout", "every node needs every zone type"));
            }
            if node.nid as usize != zones.len() / nz {
                return Err(MmError::invalid("layout", "nodes must be numbered 0, 1, ... in order"));
            }
            for zs in &node.zones {
                match zs.start_pfn.checked_add(zs.spanned) {
                    Some(e) if e <= (1u64 << 40) && zs.present <= zs.spanned => {}
                    _ => return Err(MmError::invalid("layout", "zone span out of range")),
                }
            }
            for (j, zs) in node.zones.iter().enumerate() {
                let (s, e) = (zs.start_pfn, zs.end_pfn());
                entries_total += if e > s { ((e - 1) >> top) - (s >> top) + 1 } else { 0 };
                if entries_total > (1u64 << 28) {
                    return Err(MmError::invalid("layout", "span too large for the block table"));
                }
                let memory: Vec<(Pfn, Pfn)> = node
                    .memory
                    .iter()
                    .map(|&(a, b)| (a.max(s), b.min(e)))
                    .filter(|&(a, b)| a < b)
                    .collect();
                let valid = layout
                    .valid_pfns
                    .iter()
                    .map(|&(a, b)| (a.max(s), b.min(e)))
                    .filter(|&(a, b)| a < b)
                    .collect();
                zones.push(Zone {
                    nid: node.nid,
                    zone_type: zs.zone_type,
                    idx: j,
                    start_pfn: s,
                    end_pfn: e,
                    spanned: zs.spanned,
                    present: zs.present,
                    managed: zs.managed_estimate,
                    memory,
                    valid,
                    wmark: [0; 3],
                    lowmem_reserve: vec![0; nz],
                    nr_reserved_highatomic: 0,
                    nr_free_pages: 0,
                    pcp_refills: 0,
                    area: FreeArea::new(cfg.max_order),
                    pt: PageTable::new(s, e, top, cfg.pageblock_order),
                    pcp: vec![Pcp::boot(); cfg.nr_cpus as usize],
                    pageblock_order: cfg.pageblock_order,
                    mobility_disabled: !layout.mobility_grouping,
                    stat_threshold: 0,
                });
            }
        }
        let mut spans: Vec<(Pfn, Pfn, usize)> = zones
            .iter()
            .enumerate()
            .filter(|(_, z)| z.spanned > 0)
            .map(|(i, z)| (z.start_pfn, z.end_pfn, i))
            .collect();
        spans.sort();
        if spans.windows(2).any(|w| w[1].0 < w[0].1) {
            return Err(MmError::invalid("layout", "zone spans overlap"));
        }
        let nn = layout.nodes.len();
        let mut zonelists = Vec::with_capacity(nn);
        let mut thisnode = Vec::with_capacity(nn);
        for nid in 0..nn {
            let mut zl = Vec::new();
            for k in 0..nn {
                let n = (nid + k) % nn;
                for j in (0..nz).rev() {
                    if zones[n * nz + j].present > 0 {
                        zl.push(n * nz + j);
                    }
                }
            }
            thisnode.push(zl.iter().copied().filter(|&z| zones[z].nid as usize == nid).collect());
            zonelists.push(zl);
        }
        let types = &layout.zone_types;
        let idx_of = |t: ZoneType| types.iter().position(|&x| x == t);
        let normal = idx_of(ZoneType::Normal).unwrap_or(nz - 1);
        let mut zone_idx_of = [normal; 5];
        for t in [ZoneType::Dma, ZoneType::Dma32, ZoneType::Normal, ZoneType::Movable, ZoneType::Device] {
            zone_idx_of[t as usize] = idx_of(t).unwrap_or(normal);
        }
        let mut pa = PageAlloc {
            cfg: cfg.clone(),
            layout: layout.clone(),
            zones,
            nz,
            spans,
            zonelists,
            thisnode,
            zone_idx_of,
            first_deferred: layout.nodes.iter().map(|n| n.first_deferred_pfn).collect(),
            pending_deferred: Vec::new(),

            totalram_pages: 0,
            min_free_kbytes: 0,
            boot_freed: false,
            deferred_done: false,
            pcp_setup: false,
            mobility_disabled: !layout.mobility_grouping,
            rec: Recorder::default(),
            nofrag: Vec::new(),
            hint: (1, 0, 0),
            scratch: Vec::new(),
            policy: MemPolicy::Local,
            online: None,
        };
        let mut nf = Vec::with_capacity(nn * 2 * nz);
        for nid in 0..nn as u32 {
            for thisnode in [false, true] {
                for h in 0..nz {
                    nf.push(pa.nofragment(nid, h, thisnode));
                }
            }
        }
        pa.nofrag = nf;
        Ok(pa)
    }

    /// The configuration.
    pub fn config(&self) -> &PageAllocConfig {
        &self.cfg
    }
    /// The layout this allocator was built from.
    pub fn layout(&self) -> &ZoneLayout {
        &self.layout
    }
    pub fn nr_nodes(&self) -> u32 {
        self.layout.nodes.len() as u32
    }

    #[inline]
    fn zone_of(&self, pfn: Pfn) -> Option<usize> {
        let i = self.spans.partition_point(|s| s.0 <= pfn);
        if i == 0 {
            return None;
        }
        let (s, e, z) = self.spans[i - 1];
        (pfn >= s && pfn < e).then_some(z)
    }

    fn zid(&self, nid: u32, zt: ZoneType) -> Result<usize> {
        if nid as usize >= self.layout.nodes.len() {
            return Err(MmError::NoSuchNode { nid: nid as i32 });
        }
        let j = self
            .layout
            .zone_types
            .iter()
            .position(|&t| t == zt)
            .ok_or_else(|| MmError::invalid("zone_type", format!("no zone {} here", zt.name())))?;
        Ok(nid as usize * self.nz + j)
    }

    // ---------------------------------------------------------------- boot

    fn validate_ranges(&self, ranges: &[(Pfn, Pfn, u32)]) -> Result<()> {
        for &(s, e, nid) in ranges {
            let node = self.layout.nodes.get(nid as usize).ok_or(MmError::NoSuchNode { nid: nid as i32 })?;
            if s >= e {
                return Err(MmError::invalid("ranges", format!("empty range [{s:#x}, {e:#x})")));
            }
            if !node.memory.iter().any(|&(a, b)| s >= a && e <= b) {
                return Err(MmError::invalid(
                    "ranges",
                    format!("[{s:#x}, {e:#x}) is not inside one memory region of node {nid}"),
                ));
            }
        }
        let mut v: Vec<(Pfn, Pfn)> = ranges.iter().map(|r| (r.0, r.1)).collect();
        v.sort_unstable();
        if v.windows(2).any(|w| w[1].0 < w[0].1) {
            return Err(MmError::invalid("ranges", "ranges overlap"));
        }
        Ok(())
    }

    /// Free `[s, e)` of node `nid` into its zones; returns pages freed.
    fn free_into_zones(&mut self, s: Pfn, e: Pfn, nid: u32) -> u64 {
        let mut n = 0;
        for j in 0..self.nz {
            let z = &mut self.zones[nid as usize * self.nz + j];
            let a = s.max(z.start_pfn);
            let b = e.min(z.end_pfn);
            if a < b {
                z.free_range_boot(a, b);
                z.managed += b - a;
                n += b - a;
            }
        }
        n
    }

    /// `memblock_free_all`: hand the free memblock ranges
    /// `(start_pfn, end_pfn, nid)` to the buddy allocator. Zone managed
    /// counts restart from 0 and count the pages freed now; pages at or
    /// after a node's `first_deferred_pfn` stay for
    /// [`Self::page_alloc_init_late`] but are counted in `totalram_pages`
    /// already (as the kernel does). Returns the pages added to totalram.
    pub fn memblock_free_all(&mut self, ranges: &[(Pfn, Pfn, u32)]) -> Result<u64> {
        if self.boot_freed {
            return Err(MmError::InvalidState("memblock_free_all already ran".into()));
        }
        self.validate_ranges(ranges)?;
        for z in &mut self.zones {
            z.managed = 0;
        }
        self.mark_uninit_pageblocks();
        let mut total = 0;
        for &(s, e, nid) in ranges {
            total += e - s;
            let cut = self.first_deferred[nid as usize].unwrap_or(Pfn::MAX);
            let e2 = e.min(cut);
            if s < e2 {
                self.free_into_zones(s, e2, nid);
            }
            if s.max(cut) < e {
                self.pending_deferred.push((s.max(cut), e));
            }
        }
        self.pending_deferred.sort_unstable();
        self.totalram_pages += total;
        self.boot_freed = true;
        if self.first_deferred.iter().all(|c| c.is_none()) {
            self.deferred_done = true;
        }
        Ok(total)
    }

    /// The pageblock migratetypes memmap init leaves: `memmap_init` makes a
    /// pageblock MOVABLE when it initialises the pageblock's first pfn, that
    /// is present memory before the node's first deferred pfn. Pageblocks
    /// starting in a hole, and the whole deferred part (until
    /// [`Self::page_alloc_init_late`] frees it), keep the zeroed bits:
    /// MIGRATE_UNMOVABLE. Free pages in them go to the unmovable lists.
    fn mark_uninit_pageblocks(&mut self) {
        let pb = 1u64 << self.cfg.pageblock_order;
        for z in &mut self.zones {
            if z.spanned == 0 {
                continue;
            }
            let node = &self.layout.nodes[z.nid as usize];
            let present = |p: Pfn| node.memory.iter().any(|&(a, b)| p >= a && p < b);
            let cut = self.first_deferred[z.nid as usize].unwrap_or(Pfn::MAX);
            let early_end = z.end_pfn.min(cut.max(z.start_pfn));
            // the pageblock the zone starts inside of, if its first pfn is
            // a hole
            let head = z.start_pfn & !(pb - 1);
            if head < z.start_pfn && !present(head) {
                z.pt.set_pb_uninit(head, head + 1, true);
            }
            let mut p = z.start_pfn;
            for &(a, b) in &z.memory {
                if a > p {
                    z.pt.set_pb_uninit(p, a.min(early_end), true);
                }
                p = p.max(b);
            }
            if p < early_end {
                z.pt.set_pb_uninit(p, early_end, true);
            }
            if early_end < z.end_pfn {
                z.pt.set_pb_uninit(early_end, z.end_pfn, true);
            }
        }
    }

    /// `page_alloc_init_late` (deferred_init_memmap): free the parts of the
    /// given free ranges at or after each node's `first_deferred_pfn`.
    /// They join zone `managed` now (totalram already has them). Returns
    /// the pages freed.
    pub fn page_alloc_init_late(&mut self, ranges: &[(Pfn, Pfn, u32)]) -> Result<u64> {
        if !self.boot_freed {
            return Err(MmError::InvalidState("page_alloc_init_late before memblock_free_all".into()));
        }
        if self.first_deferred.iter().all(|c| c.is_none()) {
            self.deferred_done = true;
            return Ok(0);
        }
        self.validate_ranges(ranges)?;
        let mut n = 0;
        for &(s, e, nid) in ranges {
            let Some(cut) = self.first_deferred[nid as usize] else { continue };
            let s2 = s.max(cut);
            if s2 < e {
                // deferred_free_range makes MOVABLE the pageblocks it frees
                // from their first pfn on
                for j in 0..self.nz {
                    let z = &mut self.zones[nid as usize * self.nz + j];
                    let (a, b) = (s2.max(z.start_pfn), e.min(z.end_pfn));
                    if a < b {
                        z.pt.set_pb_uninit(a, b, false);
                    }
                }
                n += self.free_into_zones(s2, e, nid);
            }
        }
        for c in &mut self.first_deferred {
            *c = None;
        }
        self.pending_deferred.clear();
        self.deferred_done = true;
        for z in 0..self.zones.len() {
            self.zone_pcp_update(z);
        }
        Ok(n)
    }

    /// `deferred_grow_zone`: before [`Self::page_alloc_init_late`], the
    /// zone holding its node's deferred part (the node's last zone) that
    /// cannot serve a request sets up and frees more of it: from the node's
    /// first deferred pfn on, its free ranges in MAX_ORDER-aligned chunks
    /// (their pageblocks MOVABLE), until the request's pages rounded up to
    /// whole sections are freed and a section boundary is reached. The
    /// node's first deferred pfn moves past them. True when pages were
    /// freed, and once more when none were left (the kernel's retry-once
    /// rule), after which the node has nothing deferred.
    fn deferred_grow_zone(&mut self, zid: usize, order: u32) -> bool {
        if self.deferred_done || !self.boot_freed {
            return false;
        }
        let (nid, zstart, zend) = {
            let z = &self.zones[zid];
            (z.nid as usize, z.start_pfn, z.end_pfn)
        };
        if zend != self.layout.nodes[nid].end_pfn {
            return false;
        }
        let Some(first) = self.first_deferred[nid] else { return false };
        let in_zone = |&(s, e): &(Pfn, Pfn)| {
            let (a, b) = (s.max(first).max(zstart), e.min(zend));
            (a < b).then_some((a, b))
        };
        let ranges: Vec<(Pfn, Pfn)> = self.pending_deferred.iter().filter_map(in_zone).collect();
        let sec = self.cfg.pages_per_section();
        let max_order_pages = 1u64 << (self.cfg.max_order - 1);
        let needed = (1u64 << order).div_ceil(sec) * sec;
        let mut freed = Vec::new();
        let mut nr_pages = 0u64;
        let mut idx = 0;
        let mut spfn = ranges.first().map_or(Pfn::MAX, |r| r.0);
        while idx < ranges.len() {
            let chunk = spfn;
            let mo_pfn = (spfn + 1).div_ceil(max_order_pages) * max_order_pages;
            // deferred_init_maxorder: the free ranges' pages up to mo_pfn
            while idx < ranges.len() {
                let (s, e) = ranges[idx];
                let a = s.max(spfn);
                if a >= mo_pfn {
                    spfn = a;
                    break;
                }
                let b = e.min(mo_pfn);
                freed.push((a, b));
                nr_pages += b - a;
                if mo_pfn < e {
                    spfn = mo_pfn;
                    break;
                }
                idx += 1;
                spfn = ranges.get(idx).map_or(Pfn::MAX, |r| r.0);
            }
            if (chunk ^ spfn) < sec {
                continue;
            }
            if nr_pages >= needed {
                break;
            }
        }
        let cut = (idx < ranges.len()).then_some(spfn);
        self.first_deferred[nid] = cut;
        for &(a, b) in &freed {
            self.zones[zid].pt.set_pb_uninit(a, b, false);
            self.free_into_zones(a, b, nid as u32);
        }
        // what stays for page_alloc_init_late
        let new_cut = cut.unwrap_or(Pfn::MAX);
        self.pending_deferred.retain_mut(|r| {
            if r.0 >= zstart && r.1 <= zend {
                r.0 = r.0.max(new_cut);
            }
            r.0 < r.1
        });
        nr_pages > 0 || ranges.is_empty()
    }

    /// `free_reserved_area`-like: give reserved pages `[start_pfn, end_pfn)`
    /// back (added to managed and totalram). The pages go straight to the
    /// buddy lists in aligned chunks (the kernel frees them one by one via
    /// the pcp lists; the merged result is the same once drained).
    /// Reserved pages past a node's first deferred pfn may go back before
    /// deferred init (a kernel image KASLR put there, say); free memory
    /// there may not: deferred init has not set up its struct pages.
    pub fn free_boot_pages(&mut self, start_pfn: Pfn, end_pfn: Pfn) -> Result<u64> {
        if !self.boot_freed {
            return Err(MmError::InvalidState("free_boot_pages before memblock_free_all".into()));
        }
        if start_pfn >= end_pfn {
            return Err(MmError::invalid("end_pfn", "empty range"));
        }
        // Validate every piece first.
        let mut pieces = Vec::new();
        let mut p = start_pfn;
        while p < end_pfn {
            let zid = self.zone_of(p).ok_or(MmError::PfnOutsideZone { pfn: p })?;
            let z = &self.zones[zid];
            let e = end_pfn.min(z.end_pfn);
            if !z.range_present(p, e) {
                return Err(MmError::invalid("start_pfn", format!("[{p:#x}, {e:#x}) is not all present memory")));
            }
            if let Some(&(a, _)) = self.pending_deferred.iter().find(|&&(a, b)| a < e && p < b) {
                return Err(MmError::InvalidState(format!(
                    "pfn {:#x} on node {} is free memory deferred init has not set up yet",
                    a.max(p),
                    z.nid
                )));
            }
            self.check_reserved(zid, p, e)?;
            pieces.push((zid, p, e));
            p = e;
        }
        let mut n = 0;
        for (zid, s, e) in pieces {
            let z = &mut self.zones[zid];
            z.free_range_boot_checked(s, e);
            z.managed += e - s;
            n += e - s;
        }
        self.totalram_pages += n;
        Ok(n)
    }

    /// Every pfn of `[s, e)` must be reserved (not free, not allocated).
    fn check_reserved(&self, zid: usize, s: Pfn, e: Pfn) -> Result<()> {
        let z = &self.zones[zid];
        let b = 1u64 << z.top();
        let mut blk = s & !(b - 1);
        while blk < e {
            let ent = z.pt.entry(blk.max(s));
            let lo = blk.max(s);
            let hi = (blk + b).min(e);
            if ent == E_UNTOUCHED {
                if z.area.run_contains(blk) {
                    return Err(MmError::DoubleFree { pfn: lo, order: 0 });
                }
            } else if ent < E_DESC {
                return Err(MmError::InvalidState(format!("pfn {lo:#x} is allocated, not reserved")));
            } else {
                for p in lo..hi {
                    match z.covering(p) {
                        None => {}
                        Some((_, st)) if kind(st) == K_ALLOC => {
                            return Err(MmError::InvalidState(format!("pfn {p:#x} is allocated, not reserved")))
                        }
                        Some(_) => return Err(MmError::DoubleFree { pfn: p, order: 0 }),
                    }
                }
            }
            blk += b;
        }
        Ok(())
    }

    /// `adjust_managed_page_count`: take pages out of (negative) or put
    /// them into (positive) the zone of `pfn` and totalram. Like the
    /// kernel's, it counts them all in that one zone, even pages past its
    /// end: a gigantic page that starts in a small zone makes it manage more
    /// than it holds.
    pub fn adjust_managed_page_count(&mut self, pfn: Pfn, delta: i64) -> Result<()> {
        let zid = self.zone_of(pfn).ok_or(MmError::PfnOutsideZone { pfn })?;
        let z = &self.zones[zid];
        let managed = z.managed as i128 + delta as i128;
        let total = self.totalram_pages as i128 + delta as i128;
        if managed < 0 || total < 0 {
            return Err(MmError::invalid("delta", format!("managed pages would become {managed}")));
        }
        self.zones[zid].managed = managed as u64;
        self.totalram_pages = total as u64;
        Ok(())
    }

    // ------------------------------------------------- watermarks and pcp

    /// `numa_set_node` for every CPU: `nodes[cpu]` is the node of `cpu`
    /// (a CPU past the end is on node 0). The per-cpu pagesets split a
    /// zone's `high` over the CPUs of its node, so set up ones are sized
    /// again. Refused, changing nothing, if a node does not exist.
    pub fn set_cpu_to_node(&mut self, nodes: &[u32]) -> Result<()> {
        if let Some(&bad) = nodes.iter().find(|&&n| n >= self.nr_nodes()) {
            return Err(MmError::invalid("cpu_to_node", format!("node {bad} does not exist")));
        }
        if nodes.len() > self.cfg.nr_cpus as usize {
            return Err(MmError::invalid("cpu_to_node", format!("{} CPUs, the machine has {}", nodes.len(), self.cfg.nr_cpus)));
        }
        self.cfg.cpu_to_node = nodes.to_vec();
        for z in 0..self.zones.len() {
            self.zone_pcp_update(z);
        }
        Ok(())
    }

    /// The CPUs now up: `count` of them (`num_online_cpus`), `per_node[nid]`
    /// in node `nid`'s cpumask (a node past the end has none; under NUMA
    /// emulation a CPU is in every emulated node of its physical one; while
    /// a CPU is being brought up the kernel counts it in every node). A
    /// zone's per-cpu `high` is split over its node's CPUs, and /proc/zoneinfo
    /// shows the online CPUs' pagesets. Refused, changing nothing, if the
    /// counts do not fit the machine.
    pub fn set_online_cpus(&mut self, count: u32, per_node: &[u64]) -> Result<()> {
        let nodes = self.nr_nodes() as usize;
        if count == 0 || count > self.cfg.nr_cpus {
            return Err(MmError::invalid("online", format!("{count} CPUs online, the machine has {}", self.cfg.nr_cpus)));
        }
        if per_node.len() > nodes || per_node.iter().any(|&n| n > self.cfg.nr_cpus as u64 + 1) {
            return Err(MmError::invalid("per_node", format!("{per_node:?}: {nodes} nodes, {count} CPUs online")));
        }
        self.online = Some(OnlineCpus { count, per_node: per_node.to_vec() });
        for z in 0..self.zones.len() {
            self.zone_pcp_update(z);
        }
        if self.zones.iter().any(|z| z.stat_threshold > 0) {
            // vmstat's CPU hotplug callbacks refresh them once set up
            self.refresh_zone_stat_thresholds();
        }
        Ok(())
    }

    /// `num_online_cpus()`.
    pub fn nr_online_cpus(&self) -> u32 {
        self.online.as_ref().map_or(self.cfg.nr_cpus, |o| o.count)
    }

    /// The online CPUs in node `nid`'s cpumask.
    fn node_online_cpus(&self, nid: u32) -> u64 {
        match &self.online {
            Some(o) => o.per_node.get(nid as usize).copied().unwrap_or(0),
            None => node_cpus(&self.cfg, nid),
        }
    }

    /// `setup_per_cpu_pageset`: replace the boot pagesets (high 0, batch 1)
    /// by real ones.
    pub fn setup_per_cpu_pageset(&mut self) {
        self.pcp_setup = true;
        for z in 0..self.zones.len() {
            self.zone_pcp_update(z);
        }
    }

    fn zone_pcp_update(&mut self, zid: usize) {
        if !self.pcp_setup || self.zones[zid].present == 0 {
            return;
        }
        let z = &self.zones[zid];
        let batch = zone_batchsize(z.managed).max(1);
        let high = zone_highsize(
            z.wmark[WMARK_LOW],
            z.managed,
            batch,
            self.cfg.percpu_pagelist_high_fraction,
            self.node_online_cpus(z.nid),
            self.nr_online_cpus() as u64,
            self.cfg.kernel == KernelVersion::V6_1,
        );
        for p in &mut self.zones[zid].pcp {
            p.high = high;
            p.batch = batch;
        }
    }

    /// `nr_free_zone_pages(highest)`: Σ (managed − high) over zones up to
    /// zone index `highest` in node 0's zonelist (all nodes).
    pub fn nr_free_zone_pages(&self, highest: usize) -> u64 {
        self.zonelists[0]
            .iter()
            .map(|&z| &self.zones[z])
            .filter(|z| z.idx <= highest && z.managed > 0)
            .map(|z| z.managed.saturating_sub(z.wmark[2]))
            .sum()
    }

    /// `build_all_zonelists`: returns (nr_online_nodes, mobility grouping
    /// on, Total pages) and sets grouping on or off.
    pub fn build_all_zonelists(&mut self) -> (u32, bool, u64) {
        let total = self.nr_free_zone_pages(self.zone_idx_of[ZoneType::Movable as usize]);
        let on = total >= self.cfg.pageblock_nr_pages() * self.cfg.migrate_types();
        self.mobility_disabled = !on;
        for z in &mut self.zones {
            z.mobility_disabled = !on;
        }
        (self.nr_nodes(), on, total)
    }

    /// `init_per_zone_wmark_min`: compute `min_free_kbytes` (unless the
    /// config fixes it), then watermarks and lowmem_reserve. Returns it.
    pub fn init_per_zone_wmark_min(&mut self) -> u64 {
        let lowmem_kb = self.nr_free_zone_pages(self.zone_idx_of[ZoneType::Normal as usize]) * 4;
        self.min_free_kbytes = self.cfg.min_free_kbytes.unwrap_or_else(|| default_min_free_kbytes(lowmem_kb));
        self.setup_per_zone_wmarks();
        self.refresh_zone_stat_thresholds();
        self.setup_per_zone_lowmem_reserve();
        self.min_free_kbytes
    }

    /// `refresh_zone_stat_thresholds`: each populated zone's vm stats
    /// threshold from its managed pages and the online CPUs now
    /// (`calculate_normal_threshold`). /proc/zoneinfo shows the value of the
    /// last refresh, so pages managed later (boot-time gigantic pages,
    /// freed firmware or initrd memory) do not change it.
    pub fn refresh_zone_stat_thresholds(&mut self) {
        let online = self.nr_online_cpus() as u64;
        for z in self.zones.iter_mut().filter(|z| z.present > 0) {
            z.stat_threshold = calculate_normal_threshold(z.managed, online);
        }
    }

    /// Set vm.min_free_kbytes and recompute watermarks.
    pub fn set_min_free_kbytes(&mut self, kbytes: u64) -> Result<()> {
        if kbytes > (1 << 40) {
            return Err(MmError::invalid("min_free_kbytes", "too large"));
        }
        self.min_free_kbytes = kbytes;
        self.setup_per_zone_wmarks();
        Ok(())
    }

    /// Set vm.watermark_scale_factor (1..=3000) and recompute watermarks.
    pub fn set_watermark_scale_factor(&mut self, f: u64) -> Result<()> {
        if !(1..=3000).contains(&f) {
            return Err(MmError::invalid("watermark_scale_factor", "not in 1..=3000"));
        }
        self.cfg.watermark_scale_factor = f;
        self.setup_per_zone_wmarks();
        Ok(())
    }

    /// khugepaged's `set_recommended_min_free_kbytes` with THP enabled:
    /// room for fragmentation avoidance (two pageblocks a zone, plus one per
    /// pair of the three pcp migratetypes) up to 5 % of lowmem, if that
    /// exceeds min_free_kbytes; then the watermarks. Returns min_free_kbytes.
    pub fn set_recommended_min_free_kbytes(&mut self) -> u64 {
        let normal = self.zone_idx_of[ZoneType::Normal as usize];
        let nr_zones = self.zones.iter().filter(|z| z.present > 0 && z.idx <= normal).count() as u64;
        let pb = self.cfg.pageblock_nr_pages();
        let mut rec = pb * nr_zones * 2 + pb * nr_zones * 9;
        rec = rec.min(self.nr_free_zone_pages(normal) / 20);
        rec <<= 2;
        if rec > self.min_free_kbytes {
            self.min_free_kbytes = rec;
        }
        self.setup_per_zone_wmarks();
        self.min_free_kbytes
    }

    /// `calculate_min_free_kbytes` then the watermarks: what khugepaged
    /// does when THP is disabled (6.1; 5.14 leaves min_free_kbytes as it
    /// is). Lowmem now excludes each zone's high watermark.
    pub fn recalculate_min_free_kbytes(&mut self) -> u64 {
        let lowmem_kb = self.nr_free_zone_pages(self.zone_idx_of[ZoneType::Normal as usize]) * 4;
        self.min_free_kbytes = self.cfg.min_free_kbytes.unwrap_or_else(|| default_min_free_kbytes(lowmem_kb));
        self.setup_per_zone_wmarks();
        self.min_free_kbytes
    }

    /// Current vm.min_free_kbytes.
    pub fn min_free_kbytes(&self) -> u64 {
        self.min_free_kbytes
    }

    fn setup_per_zone_wmarks(&mut self) {
        setup_per_zone_wmarks(&mut self.zones, self.min_free_kbytes, self.cfg.watermark_scale_factor);
        for z in 0..self.zones.len() {
            self.zone_pcp_update(z);
        }
    }

    fn setup_per_zone_lowmem_reserve(&mut self) {
        let types = self.layout.zone_types.clone();
        let ratios = self.cfg.lowmem_reserve_ratio;
        for n in 0..self.layout.nodes.len() {
            let zs = &mut self.zones[n * self.nz..(n + 1) * self.nz];
            setup_lowmem_reserve(zs, |i| ratios[types[i] as usize]);
        }
    }

    // ------------------------------------------------------------ runtime

    fn check_cpu(&self, cpu: u32) -> Result<()> {
        if cpu >= self.cfg.nr_cpus {
            return Err(MmError::OutOfRange {
                what: "cpu",
                value: cpu as u64,
                min: 0,
                max: self.cfg.nr_cpus as u64,
            });
        }
        Ok(())
    }

    /// Validate a request: (migratetype, highest zone index).
    #[inline]
    fn check_request(&self, gfp: Gfp, order: u32, nid: u32, cpu: u32) -> Result<(u8, usize)> {
        if order >= self.cfg.max_order {
            return Err(MmError::invalid("order", format!("{order} >= MAX_ORDER {}", self.cfg.max_order)));
        }
        if nid as usize >= self.layout.nodes.len() {
            return Err(MmError::NoSuchNode { nid: nid as i32 });
        }
        self.check_cpu(cpu)?;
        let zt = gfp.gfp_zone().map_err(|r| MmError::invalid("gfp", r))?;
        let mt = gfp.gfp_migratetype().map_err(|r| MmError::invalid("gfp", r))?;
        let mt = if self.mobility_disabled { MigrateType::Unmovable } else { mt };
        Ok((mt as u8, self.zone_idx_of[zt as usize]))
    }

    /// One pass of `get_page_from_freelist`.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn get_page_from_freelist(
        &mut self,
        order: u32,
        mt: u8,
        highest: usize,
        nid: u32,
        cpu: usize,
        thisnode: bool,
        mut flags: u32,
    ) -> Option<(usize, Pfn)> {
        'retry: loop {
            let n = if thisnode { self.thisnode[nid as usize].len() } else { self.zonelists[nid as usize].len() };
            for i in 0..n {
                let zid = if thisnode { self.thisnode[nid as usize][i] } else { self.zonelists[nid as usize][i] };
                let z = &self.zones[zid];
                if z.idx > highest {
                    continue;
                }
                if flags & ALLOC_NOFRAGMENT != 0 && z.nid != nid && self.layout.nodes.len() > 1 {
                    flags &= !ALLOC_NOFRAGMENT;
                    continue 'retry;
                }
                let mark = z.wmark[(flags & ALLOC_WMARK_MASK) as usize];
                if !zone_watermark_fast(z, order, mark, highest, flags) && !self.deferred_grow_zone(zid, order) {
                    continue;
                }
                // try_this_zone: with deferred pages left, a zone that
                // cannot serve the request grows and tries again
                loop {
                    let z = &mut self.zones[zid];
                    let got = if order == 0 { z.pcp_alloc(cpu, mt, flags) } else { z.rmqueue_buddy(order, mt, flags) };
                    if let Some(p) = got {
                        return Some((zid, p));
                    }
                    if !self.deferred_grow_zone(zid, order) {
                        break;
                    }
                }
            }
            if flags & ALLOC_NOFRAGMENT != 0 {
                flags &= !ALLOC_NOFRAGMENT;
                continue;
            }
            return None;
        }
    }

    /// `alloc_flags_nofragment` for the preferred zone.
    fn nofragment(&self, nid: u32, highest: usize, thisnode: bool) -> u32 {
        let zl = if thisnode { &self.thisnode[nid as usize] } else { &self.zonelists[nid as usize] };
        let Some(&pz) = zl.iter().find(|&&z| self.zones[z].idx <= highest) else { return 0 };
        let z = &self.zones[pz];
        if z.zone_type != ZoneType::Normal || z.idx == 0 {
            return 0;
        }
        let below = &self.zones[pz - 1];
        if below.zone_type != ZoneType::Dma32 {
            return 0;
        }
        if self.layout.nodes.len() > 1 && below.present == 0 {
            return 0;
        }
        ALLOC_NOFRAGMENT
    }

    #[inline]
    fn alloc_inner(&mut self, gfp: Gfp, order: u32, nid: u32, cpu: u32, mt: u8, highest: usize) -> Option<(usize, Pfn)> {
        let thisnode = gfp.intersects(Gfp::__GFP_THISNODE);
        let nf = self.nofrag[(nid as usize * 2 + thisnode as usize) * self.nz + highest];
        let fast = WMARK_LOW as u32 | nf;
        if let Some(r) = self.get_page_from_freelist(order, mt, highest, nid, cpu as usize, thisnode, fast) {
            return Some(r);
        }
        let mut slow = WMARK_MIN as u32;
        if gfp.intersects(Gfp::__GFP_HIGH) {
            slow |= ALLOC_HIGH;
        }
        if gfp.intersects(Gfp::__GFP_ATOMIC) && !gfp.intersects(Gfp::__GFP_NOMEMALLOC) {
            slow |= ALLOC_HARDER;
        }
        self.get_page_from_freelist(order, mt, highest, nid, cpu as usize, thisnode, slow)
    }

    fn record(&mut self, kind: AllocEventKind, zid: usize, pfn: Pfn, order: u32, gfp: Gfp) {
        let z = &self.zones[zid];
        let ev = AllocEvent { kind, pfn, order, gfp, nid: z.nid, zone: z.zone_type };
        self.rec.events.push(ev);
    }

    #[cold]
    fn record_failure(&mut self, gfp: Gfp, order: u32, nid: u32) {
        let zone = gfp.gfp_zone().unwrap_or(ZoneType::Normal);
        self.rec.events.push(AllocEvent { kind: AllocEventKind::Fail, pfn: Pfn::MAX, order, gfp, nid, zone });
    }

    fn oom(&self, gfp: Gfp, order: u32, nid: u32) -> MmError {
        MmError::OutOfMemory { request: format!("order-{order} {gfp} on node {nid}") }
    }

    /// Allocate `2^order` pages (`__alloc_pages`): the zonelist of
    /// `preferred_nid` from the highest zone `gfp` allows down, first at the
    /// low watermark, then at min with `__GFP_HIGH`/`__GFP_ATOMIC` relief.
    /// Order-0 requests go through `cpu`'s pcp lists. There is no reclaim:
    /// failing both passes is `OutOfMemory`.
    #[inline]
    pub fn alloc_pages(&mut self, gfp: Gfp, order: u32, preferred_nid: u32, cpu: u32) -> Result<Pfn> {
        let checked = self.check_request(gfp, order, preferred_nid, cpu)?;
        self.alloc_checked(gfp, order, preferred_nid, cpu, checked)
    }

    /// [`Self::alloc_pages`] once [`Self::check_request`] gave `(mt, highest)`.
    #[inline]
    fn alloc_checked(&mut self, gfp: Gfp, order: u32, preferred_nid: u32, cpu: u32, (mt, highest): (u8, usize)) -> Result<Pfn> {
        match self.alloc_inner(gfp, order, preferred_nid, cpu, mt, highest) {
            Some((zid, pfn)) => {
                if self.rec.on {
                    self.record(AllocEventKind::Alloc, zid, pfn, order, gfp);
                }
                Ok(pfn)
            }
            None => {
                if self.rec.on {
                    self.record_failure(gfp, order, preferred_nid);
                }
                Err(self.oom(gfp, order, preferred_nid))
            }
        }
    }

    /// [`PageAlloc::alloc_pages`] for callers that can retry through it:
    /// the block, or `None` (out of memory, a bad argument, or event
    /// recording on, which this path does not do) with nothing changed.
    /// No error value is built, which keeps the common call cheap.
    #[inline]
    pub fn try_alloc_pages(&mut self, gfp: Gfp, order: u32, preferred_nid: u32, cpu: u32) -> Option<Pfn> {
        if self.rec.on {
            return None;
        }
        let (mt, highest) = self.check_request(gfp, order, preferred_nid, cpu).ok()?;
        self.alloc_inner(gfp, order, preferred_nid, cpu, mt, highest).map(|(_, pfn)| pfn)
    }

    /// [`PageAlloc::free_pages`] for callers that can retry through it:
    /// `true` when the block was freed; `false` (nothing changed) when it
    /// needs the full path, which reports any error.
    #[inline]
    pub fn try_free_pages(&mut self, pfn: Pfn, order: u32, cpu: u32) -> bool {
        if cpu >= self.cfg.nr_cpus || self.rec.on {
            return false;
        }
        let (lo, hi, z) = self.hint;
        let zid = if pfn >= lo && pfn < hi {
            z
        } else {
            match self.zone_of(pfn) {
                Some(z) => {
                    self.hint = (self.zones[z].start_pfn, self.zones[z].end_pfn, z);
                    z
                }
                None => return false,
            }
        };
        let z = &mut self.zones[zid];
        if order == 0 { z.pcp_free_fast(cpu as usize, pfn) } else { z.buddy_free_fast(pfn, order) }
    }

    /// Allocate up to `count` blocks of `order` into `out` (appended).
    /// Partial: returns how many were allocated (fewer than `count` when
    /// memory runs out; never an `OutOfMemory` error). Argument errors
    /// change nothing.
    pub fn alloc_pages_bulk(
        &mut self,
        gfp: Gfp,
        order: u32,
        count: usize,
        preferred_nid: u32,
        cpu: u32,
        out: &mut Vec<Pfn>,
    ) -> Result<usize> {
        let checked = self.check_request(gfp, order, preferred_nid, cpu)?;
        Ok(self.alloc_bulk_checked(gfp, order, count, preferred_nid, cpu, checked, out))
    }

    /// [`Self::alloc_pages_bulk`] once [`Self::check_request`] gave `(mt, highest)`.
    #[allow(clippy::too_many_arguments)]
    fn alloc_bulk_checked(
        &mut self,
        gfp: Gfp,
        order: u32,
        count: usize,
        preferred_nid: u32,
        cpu: u32,
        (mt, highest): (u8, usize),
        out: &mut Vec<Pfn>,
    ) -> usize {
        out.reserve(count.min(1 << 20));
        let mut n = 0;
        if order == 0 && !self.rec.on {
            // Calls one by one, except that a call served from a pcp list
            // without refilling it changed nothing but that list: the next
            // calls see the same zones and watermarks and are served from
            // the same list's head while it lasts, so those are taken in one
            // go.
            let mut last: Option<(usize, u64)> = None;
            while n < count {
                let Some((zid, pfn)) = self.alloc_inner(gfp, 0, preferred_nid, cpu, mt, highest) else { break };
                out.push(pfn);
                n += 1;
                let now = (zid, self.zones[zid].pcp_refills);
                if last == Some(now) {
                    n += self.zones[zid].pcp_take(cpu as usize, mt, count - n, out);
                }
                last = Some(now);
            }
            return n;
        }
        while n < count {
            let Some((zid, pfn)) = self.alloc_inner(gfp, order, preferred_nid, cpu, mt, highest) else {
                if self.rec.on {
                    self.record_failure(gfp, order, preferred_nid);
                }
                break;
            };
            if self.rec.on {
                self.record(AllocEventKind::Alloc, zid, pfn, order, gfp);
            }
            out.push(pfn);
            n += 1;
        }
        n
    }

    // ---------------------------------------------------------- mempolicy

    /// Set the memory policy of requests that name no node. Interleave
    /// nodes must exist.
    pub fn set_mempolicy(&mut self, policy: MemPolicy) -> Result<()> {
        if let MemPolicy::Interleave { nodes, .. } = &policy {
            if let Some(&n) = nodes.iter().find(|&&n| n as usize >= self.layout.nodes.len()) {
                return Err(MmError::NoSuchNode { nid: n as i32 });
            }
        }
        self.policy = policy;
        Ok(())
    }

    /// The memory policy of requests that name no node.
    pub fn mempolicy(&self) -> &MemPolicy {
        &self.policy
    }

    /// The node a request without one starts from on `cpu`: the next
    /// interleave node, or the cpu's node (advances the interleave).
    pub fn policy_node(&mut self, cpu: u32) -> u32 {
        self.policy.next_interleave().unwrap_or_else(|| self.cfg.cpu_node(cpu))
    }

    /// The cpu's node when the policy is local (None under interleave, where
    /// picking a node changes state).
    #[inline]
    pub fn local_node(&self, cpu: u32) -> Option<u32> {
        matches!(self.policy, MemPolicy::Local).then(|| self.cfg.cpu_node(cpu))
    }

    /// `alloc_pages()`: [`Self::alloc_pages`] on the node the memory policy
    /// picks. A bad request is refused before the policy moves on.
    pub fn alloc_pages_policy(&mut self, gfp: Gfp, order: u32, cpu: u32) -> Result<Pfn> {
        let checked = self.check_request(gfp, order, 0, cpu)?;
        let nid = self.policy_node(cpu);
        self.alloc_checked(gfp, order, nid, cpu, checked)
    }

    /// `alloc_pages_bulk_array_mempolicy`: under interleave the request is
    /// split evenly over the nodes (the first `count % nodes` shares one
    /// larger), each share a bulk request on the next interleave node; else
    /// one bulk request on the cpu's node. Returns the blocks allocated.
    pub fn alloc_pages_bulk_policy(
        &mut self,
        gfp: Gfp,
        order: u32,
        count: usize,
        cpu: u32,
        out: &mut Vec<Pfn>,
    ) -> Result<usize> {
        let checked = self.check_request(gfp, order, 0, cpu)?;
        let nodes = self.policy.weight();
        let (per, mut extra) = (count / nodes, count % nodes);
        let mut n = 0;
        for _ in 0..nodes {
            let share = per + usize::from(extra > 0);
            extra = extra.saturating_sub(1);
            let nid = self.policy_node(cpu);
            if share > 0 {
                n += self.alloc_bulk_checked(gfp, order, share, nid, cpu, checked, out);
            }
        }
        Ok(n)
    }

    /// Check that `pfn` is the head of a block allocated with `order`.
    #[inline]
    fn check_free(&self, pfn: Pfn, order: u32) -> Result<usize> {
        if order >= self.cfg.max_order {
            return Err(MmError::invalid("order", format!("{order} >= MAX_ORDER {}", self.cfg.max_order)));
        }
        let zid = self.zone_of(pfn).ok_or(MmError::PfnOutsideZone { pfn })?;
        let z = &self.zones[zid];
        let e = z.pt.entry(pfn);
        if e >= E_DESC {
            let s = z.pt.state(pfn);
            return match kind(s) {
                K_ALLOC if st_order(s) == order => Ok(zid),
                K_ALLOC => Err(MmError::WrongOrder { pfn, given: order, allocated: st_order(s) }),
                K_FREE | K_PCP => Err(MmError::DoubleFree { pfn, order }),
                _ => {
                    if z.is_free_pfn(pfn) {
                        Err(MmError::DoubleFree { pfn, order })
                    } else {
                        Err(MmError::NotAllocated { pfn })
                    }
                }
            };
        }
        let blk = pfn & !((1u64 << z.top()) - 1);
        if e == E_UNTOUCHED {
            return if z.area.run_contains(blk) {
                Err(MmError::DoubleFree { pfn, order })
            } else {
                Err(MmError::NotAllocated { pfn })
            };
        }
        if pfn != blk {
            return Err(MmError::NotAllocated { pfn });
        }
        if order != z.top() {
            return Err(MmError::WrongOrder { pfn, given: order, allocated: z.top() });
        }
        Ok(zid)
    }

    #[inline]
    fn free_checked(&mut self, zid: usize, pfn: Pfn, order: u32, cpu: u32) {
        if self.rec.on {
            self.record(AllocEventKind::Free, zid, pfn, order, Gfp(0));
        }
        let z = &mut self.zones[zid];
        if order == 0 {
            z.pcp_free(cpu as usize, pfn);
        } else {
            let e = z.pt.entry(pfn);
            let mt = if e >= E_DESC {
                let idx = (e - E_DESC) as usize;
                let off = z.pt.off(pfn);
                z.pt.st[(idx << z.pt.shift) + off] = K_NONE;
                z.pt.pbm[idx * z.pt.npb + (off >> z.pt.pb_shift)]
            } else {
                z.pt.pb_mt(pfn)
            };
            z.free_one_page(pfn, order, mt, false);
        }
    }

    /// Free a block (`__free_pages`). Order 0 goes to `cpu`'s pcp list.
    /// Errors: `DoubleFree`, `NotAllocated`, `WrongOrder`, `PfnOutsideZone`.
    #[inline]
    pub fn free_pages(&mut self, pfn: Pfn, order: u32, cpu: u32) -> Result<()> {
        if self.try_free_pages(pfn, order, cpu) {
            return Ok(());
        }
        self.check_cpu(cpu)?;
        let zid = self.check_free(pfn, order)?;
        self.free_checked(zid, pfn, order, cpu);
        Ok(())
    }

    /// Free many blocks of one order; the whole batch is validated first
    /// (a pfn twice in the batch is a `DoubleFree`), so an error frees
    /// nothing.
    pub fn free_pages_bulk(&mut self, pfns: &[Pfn], order: u32, cpu: u32) -> Result<()> {
        self.check_cpu(cpu)?;
        if order == 0 && !self.rec.on {
            if let Some(at) = self.mark_batch0(pfns) {
                // runs of pages of one zone
                let mut a = 0;
                while a < at.len() {
                    let z = at[a] & 0xffff;
                    let b = a + at[a..].iter().take_while(|&&x| x & 0xffff == z).count();
                    self.zones[z as usize].pcp_free_batch(cpu as usize, &pfns[a..b], &at[a..b]);
                    a = b;
                }
                self.scratch = at;
                return Ok(());
            }
            // Something is wrong with the batch: the path below names it.
        }
        let mut zids = Vec::with_capacity(pfns.len());
        for &p in pfns {
            zids.push(self.check_free(p, order)?);
        }
        if let Some(pfn) = first_duplicate(pfns, order) {
            return Err(MmError::DoubleFree { pfn, order });
        }
        for (&p, &z) in pfns.iter().zip(&zids) {
            self.free_checked(z, p, order, cpu);
        }
        Ok(())
    }

    /// Validate an order-0 batch with one lookup per page: every pfn must
    /// be an allocated order-0 head, and is marked (`S_MARK`) so that a
    /// second occurrence is caught. Returns, per pfn, its state index and
    /// zone packed as `index << 16 | zone`, or `None` with every mark undone
    /// when the batch is not valid.
    fn mark_batch0(&mut self, pfns: &[Pfn]) -> Option<Vec<u64>> {
        if self.zones.len() > 1 << 16 {
            return None;
        }
        // (kept between batches: a large batch's buffer is not mapped anew)
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        out.reserve(pfns.len());
        // the zone span and the max-order block (with its first state
        // index) of the previous pfn: batches are mostly runs of both
        let (mut lo, mut hi, mut zid) = (1u64, 0u64, 0usize);
        let (mut blo, mut bhi, mut bbase) = (1u64, 0u64, 0usize);
        let mut ok = true;
        for &p in pfns {
            if !(p >= lo && p < hi) {
                let i = self.spans.partition_point(|s| s.0 <= p);
                match i.checked_sub(1).map(|i| self.spans[i]) {
                    Some((s, e, z)) if p < e => (lo, hi, zid, bhi) = (s, e, z, 0),
                    _ => {
                        ok = false;
                        break;
                    }
                }
            }
            let pt = &mut self.zones[zid].pt;
            let i = if p >= blo && p < bhi {
                bbase + (p - blo) as usize
            } else {
                match pt.si(p) {
                    Some(i) => {
                        let off = pt.off(p);
                        (blo, bhi, bbase) = (p - off as u64, p - off as u64 + (1u64 << pt.shift), i - off);
                        i
                    }
                    None => {
                        ok = false;
                        break;
                    }
                }
            };
            let st = &mut pt.st[i];
            if *st & (S_MARK | 0x7f) != K_ALLOC {
                ok = false;
                break;
            }
            *st |= S_MARK;
            out.push((i as u64) << 16 | zid as u64);
        }
        if ok {
            // The frees overwrite every marked state.
            return Some(out);
        }
        for &x in &out {
            self.zones[(x & 0xffff) as usize].pt.st[(x >> 16) as usize] &= !S_MARK;
        }
        self.scratch = out;
        None
    }

    /// `drain_local_pages`/`drain_all_pages`: empty the pcp lists of one
    /// CPU (or all with `None`).
    pub fn drain_pcp(&mut self, cpu: Option<u32>) -> Result<()> {
        if let Some(c) = cpu {
            self.check_cpu(c)?;
        }
        for z in &mut self.zones {
            for c in 0..z.pcp.len() {
                if cpu.is_none_or(|x| x as usize == c) {
                    z.drain_pcp(c);
                }
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------ queries

    /// `page_zone`: the zone whose span holds `pfn`.
    pub fn page_zone(&self, pfn: Pfn) -> Result<ZoneId> {
        let z = self.zone_of(pfn).ok_or(MmError::PfnOutsideZone { pfn })?;
        Ok(ZoneId { nid: self.zones[z].nid, zone_type: self.zones[z].zone_type })
    }

    /// Is the page free (in the buddy lists or on a pcp list)?
    pub fn is_free(&self, pfn: Pfn) -> Result<bool> {
        let z = self.zone_of(pfn).ok_or(MmError::PfnOutsideZone { pfn })?;
        Ok(self.zones[z].is_free_pfn(pfn))
    }

    /// The order `pfn` was allocated with, if it is an allocated head.
    pub fn allocated_order(&self, pfn: Pfn) -> Result<Option<u32>> {
        let z = self.zone_of(pfn).ok_or(MmError::PfnOutsideZone { pfn })?;
        Ok(match self.zones[z].alloc_head_of(pfn) {
            Some((h, o)) if h == pfn => Some(o),
            _ => None,
        })
    }

    /// Is the pfn inside present memory of some zone?
    pub fn is_present(&self, pfn: Pfn) -> bool {
        self.zone_of(pfn).is_some_and(|z| self.zones[z].is_present(pfn))
    }

    fn zone_info_of(&self, z: &Zone) -> ZoneInfo {
        ZoneInfo {
            nid: z.nid,
            zone_type: z.zone_type,
            start_pfn: z.start_pfn,
            spanned: z.spanned,
            present: z.present,
            managed: z.managed,
            nr_free_pages: z.nr_free_pages,
            pcp_pages: z.pcp_pages(),
            min: z.wmark[0],
            low: z.wmark[1],
            high: z.wmark[2],
            protection: z.lowmem_reserve.clone(),
            nr_reserved_highatomic: z.nr_reserved_highatomic,
            nr_free: z.area.nr_free[..=z.top() as usize].to_vec(),
            free_by_type: z.area.count[..=z.top() as usize].to_vec(),
            pagesets: z.pcp.iter().map(|p| (p.count, p.high, p.batch)).collect(),
        }
    }

    /// Counters of one zone.
    pub fn zone_info(&self, nid: u32, zone_type: ZoneType) -> Result<ZoneInfo> {
        let z = self.zid(nid, zone_type)?;
        Ok(self.zone_info_of(&self.zones[z]))
    }

    /// Counters of every zone, node-major, in kernel order.
    pub fn zone_infos(&self) -> Vec<ZoneInfo> {
        self.zones.iter().map(|z| self.zone_info_of(z)).collect()
    }

    /// Counters of one node.
    pub fn node_info(&self, nid: u32) -> Result<NodeInfo> {
        let n = self.layout.nodes.get(nid as usize).ok_or(MmError::NoSuchNode { nid: nid as i32 })?;
        let zs = &self.zones[nid as usize * self.nz..(nid as usize + 1) * self.nz];
        Ok(NodeInfo {
            nid,
            start_pfn: n.start_pfn,
            end_pfn: n.end_pfn,
            spanned: n.spanned,
            present: n.present,
            managed: zs.iter().map(|z| z.managed).sum(),
            nr_free_pages: zs.iter().map(|z| z.nr_free_pages).sum(),
            first_deferred_pfn: self.first_deferred[nid as usize],
        })
    }

    /// `nr_free_pages()`: global NR_FREE_PAGES (MemFree / 4 KiB).
    pub fn nr_free_pages(&self) -> u64 {
        self.zones.iter().map(|z| z.nr_free_pages).sum()
    }
    /// Pages on pcp lists, all zones and CPUs.
    pub fn nr_pcp_pages(&self) -> u64 {
        self.zones.iter().map(|z| z.pcp_pages()).sum()
    }
    /// `totalram_pages()` (MemTotal / 4 KiB).
    pub fn totalram_pages(&self) -> u64 {
        self.totalram_pages
    }
    /// (MemTotal, MemFree) in kB as /proc/meminfo prints them.
    pub fn meminfo_kb(&self) -> (u64, u64) {
        (self.totalram_pages * 4, self.nr_free_pages() * 4)
    }
    /// Has deferred init finished (or was there nothing deferred)?
    pub fn deferred_done(&self) -> bool {
        self.deferred_done
    }
    /// Live per-block descriptors (the sparse state's size).
    pub fn nr_block_descriptors(&self) -> usize {
        self.zones.iter().map(|z| z.pt.live_descs()).sum()
    }

    /// Blocks on one free list, head first (slow; for inspection).
    pub fn free_list(&self, nid: u32, zone_type: ZoneType, order: u32, mt: MigrateType) -> Result<Vec<Pfn>> {
        let z = &self.zones[self.zid(nid, zone_type)?];
        if order >= self.cfg.max_order {
            return Err(MmError::invalid("order", "too large"));
        }
        let mut v = Vec::new();
        z.area.walk(&z.pt, order, mt as u8, |p| v.push(p));
        Ok(v)
    }

    /// Pageblock migratetype of `pfn`.
    pub fn pageblock_migratetype(&self, pfn: Pfn) -> Result<MigrateType> {
        let z = self.zone_of(pfn).ok_or(MmError::PfnOutsideZone { pfn })?;
        Ok(MigrateType::from_index(self.zones[z].pt.pb_mt(pfn)))
    }

    // ------------------------------------------------------------- events

    /// Turn event recording on or off.
    pub fn set_recording(&mut self, on: bool) {
        self.rec.on = on;
    }
    /// Take the recorded events.
    pub fn drain_events(&mut self) -> Vec<AllocEvent> {
        std::mem::take(&mut self.rec.events)
    }
}

/// `calculate_normal_threshold`: 2 × fls(online CPUs) × (1 + fls(managed
/// memory in 128 MiB units)), at most 125.
fn calculate_normal_threshold(managed: u64, online: u64) -> u64 {
    let fls = |x: u64| 64 - x.leading_zeros() as u64;
    let mem = managed >> (27 - 12);
    (2 * fls(online) * (1 + fls(mem))).min(125)
}
