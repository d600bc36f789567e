//! `free_area_init`: from memblock memory and the architecture's zone limits
//! to the zone/node layout, as a pure function.
//!
//! The Python side prints the boot lines ("Zone ranges:", "Initmem setup
//! node", "On node N, zone Z: K pages in unavailable ranges", "Built N
//! zonelists ... Total pages: T") from the returned data.

use super::config::PageAllocConfig;
use crate::error::{MmError, Result};
use crate::units::{Pfn, PAGE_SHIFT};

/// Zone types of a 64-bit kernel (no HIGHMEM), in kernel order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum ZoneType {
    Dma = 0,
    Dma32 = 1,
    Normal = 2,
    Movable = 3,
    Device = 4,
}

impl ZoneType {
    /// `zone_names[]`.
    pub const fn name(self) -> &'static str {
        match self {
            ZoneType::Dma => "DMA",
            ZoneType::Dma32 => "DMA32",
            ZoneType::Normal => "Normal",
            ZoneType::Movable => "Movable",
            ZoneType::Device => "Device",
        }
    }
}

/// `kernelcore=` / `movablecore=` / `movable_node`: how much memory goes to
/// ZONE_MOVABLE (`find_zone_movable_pfns_for_nodes`). A size is pages
/// (`nn[KMG]` >> PAGE_SHIFT) or a whole percentage of the memory (`nn%`).
/// `movable_node` makes each node movable from its lowest hotpluggable
/// memory region (`hotplug_regions`: each region's first pfn and node, as
/// the SRAT marked them) and, as in the kernel, overrides
/// kernelcore/movablecore. `kernelcore=mirror` (`mirror`)
/// keeps the mirrored memory for the kernel and makes the rest movable from
/// each node's first region at or above 4 GiB; machine descriptions carry
/// no mirrored memory, so every region counts as unmirrored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MovableZoneConfig {
    pub mirror: bool,
    pub kernelcore_pages: Option<u64>,
    pub movablecore_pages: Option<u64>,
    pub kernelcore_percent: Option<u64>,
    pub movablecore_percent: Option<u64>,
    pub movable_node: bool,
    /// The hotpluggable memblock.memory regions: `(first pfn, nid)`.
    pub hotplug_regions: Vec<(Pfn, u32)>,
}

/// What `free_area_init` reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreeAreaInitInput {
    /// memblock.memory as `(start_pfn, end_pfn, nid)`, sorted, disjoint.
    pub regions: Vec<(Pfn, Pfn, u32)>,
    /// The zone types this kernel has, in order, with the architecture's
    /// limit (`max_zone_pfn`; ignored for Movable, 0 for Device).
    pub zones: Vec<(ZoneType, Pfn)>,
    /// Number of nodes (at least 1 + highest nid in `regions`).
    pub nr_nodes: u32,
    pub movable: MovableZoneConfig,
    /// `dma_reserve` pages (subtracted from zone index 0's estimate).
    pub dma_reserve: u64,
}

impl FreeAreaInitInput {
    /// x86_64: DMA up to 16 MiB, DMA32 up to 4 GiB, Normal up to max_pfn,
    /// plus Movable and Device.
    pub fn x86_64(regions: Vec<(Pfn, Pfn, u32)>, dma_reserve: u64) -> Self {
        let max_pfn = regions.iter().map(|r| r.1).max().unwrap_or(0);
        let nr_nodes = regions.iter().map(|r| r.2 + 1).max().unwrap_or(1);
        FreeAreaInitInput {
            regions,
            zones: vec![
                (ZoneType::Dma, max_pfn.min(0x1000)),
                (ZoneType::Dma32, max_pfn.min(0x100000)),
                (ZoneType::Normal, max_pfn),
                (ZoneType::Movable, 0),
                (ZoneType::Device, 0),
            ],
            nr_nodes,
            movable: MovableZoneConfig::default(),
            dma_reserve,
        }
    }

    /// UML: only Normal (limit `normal_limit`, a virtual pfn) and Movable.
    pub fn uml(regions: Vec<(Pfn, Pfn, u32)>, normal_limit: Pfn) -> Self {
        FreeAreaInitInput {
            regions,
            zones: vec![(ZoneType::Normal, normal_limit), (ZoneType::Movable, 0)],
            nr_nodes: 1,
            movable: MovableZoneConfig::default(),
            dma_reserve: 0,
        }
    }
}

/// One "Zone ranges:" line: `[start_pfn, end_pfn)`, empty when equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZoneRange {
    pub zone_type: ZoneType,
    pub start_pfn: Pfn,
    pub end_pfn: Pfn,
}

impl ZoneRange {
    pub fn is_empty(&self) -> bool {
        self.start_pfn == self.end_pfn
    }
}

/// The sizes of one zone of one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZoneSizes {
    pub zone_type: ZoneType,
    /// `zone_start_pfn` (0 for an empty zone).
    pub start_pfn: Pfn,
    pub spanned: u64,
    pub absent: u64,
    pub present: u64,
    /// `free_area_init_core`'s estimate of managed pages (present − memmap
    /// − dma_reserve on zone index 0).
    pub managed_estimate: u64,
    /// Pages of memmap charged (calc_memmap_size).
    pub memmap_pages: u64,
}

impl ZoneSizes {
    pub fn end_pfn(&self) -> Pfn {
        self.start_pfn + self.spanned
    }
}

/// One node (`pglist_data`) after `free_area_init_node`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeLayout {
    pub nid: u32,
    /// "Initmem setup node": lowest and highest pfn of the node's memory
    /// (0, 0 for a memoryless node).
    pub start_pfn: Pfn,
    pub end_pfn: Pfn,
    pub spanned: u64,
    pub present: u64,
    /// Zones in kernel order (all configured types, empty ones included).
    pub zones: Vec<ZoneSizes>,
    /// `first_deferred_pfn` (None = nothing deferred, the kernel's ULONG_MAX).
    pub first_deferred_pfn: Option<Pfn>,
    /// The node's memory regions, sorted.
    pub memory: Vec<(Pfn, Pfn)>,
}

/// One "On node N, zone Z: K pages in unavailable ranges" line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnavailableRange {
    pub nid: u32,
    pub zone_type: ZoneType,
    pub start_pfn: Pfn,
    pub end_pfn: Pfn,
    /// Pages counted (only those with a memmap).
    pub pages: u64,
}

/// Everything `free_area_init` decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneLayout {
    /// "Zone ranges:" (Movable omitted, like the kernel's print loop).
    pub zone_ranges: Vec<ZoneRange>,
    /// "Movable zone start for each node" entries (nid, pfn), nodes with a
    /// ZONE_MOVABLE only.
    pub movable_zone_start: Vec<(u32, Pfn)>,
    /// "Early memory node ranges".
    pub early_node_ranges: Vec<(Pfn, Pfn, u32)>,
    pub nodes: Vec<NodeLayout>,
    pub unavailable: Vec<UnavailableRange>,
    pub nr_kernel_pages: u64,
    pub nr_all_pages: u64,
    /// "Total pages" of build_all_zonelists (watermarks still 0).
    pub total_pages: u64,
    /// "mobility grouping on".
    pub mobility_grouping: bool,
    /// Zone types in order (same for every node).
    pub zone_types: Vec<ZoneType>,
    /// Sections containing memory, as merged pfn ranges (SPARSEMEM), or
    /// [0, max_pfn) for FLATMEM: where `pfn_valid` holds.
    pub valid_pfns: Vec<(Pfn, Pfn)>,
}

/// `calc_memmap_size`: pages of `struct page` (64 bytes) for a zone.
pub fn calc_memmap_size(spanned: u64, present: u64, sparsemem: bool) -> u64 {
    let pages = if sparsemem && spanned > present + (present >> 4) { present } else { spanned };
    (pages * 64).div_ceil(1 << PAGE_SHIFT)
}

fn overlap(a: (Pfn, Pfn), b: (Pfn, Pfn)) -> u64 {
    let s = a.0.max(b.0);
    let e = a.1.min(b.1);
    e.saturating_sub(s)
}

/// Pages of `[s, e)` that lie in `valid` (sorted, disjoint).
pub(crate) fn count_in(valid: &[(Pfn, Pfn)], s: Pfn, e: Pfn) -> u64 {
    valid.iter().map(|&v| overlap(v, (s, e))).sum()
}

/// Check the input and compute the layout.
pub fn free_area_init(input: &FreeAreaInitInput, cfg: &PageAllocConfig) -> Result<ZoneLayout> {
    cfg.validate()?;
    validate_input(input)?;
    let zone_types: Vec<ZoneType> = input.zones.iter().map(|z| z.0).collect();
    let nz = zone_types.len();

    // Zone ranges.
    let first_pfn = input.regions.first().map(|r| r.0).unwrap_or(0);
    let mut arch_low = vec![0u64; nz];
    let mut arch_high = vec![0u64; nz];
    let mut zone_ranges = Vec::new();
    let mut start = first_pfn;
    for (j, &(zt, limit)) in input.zones.iter().enumerate() {
        if zt == ZoneType::Movable {
            continue;
        }
        let end = limit.max(start);
        arch_low[j] = start;
        arch_high[j] = end;
        zone_ranges.push(ZoneRange { zone_type: zt, start_pfn: start, end_pfn: end });
        start = end;
    }

    // ZONE_MOVABLE.
    let zone_movable_pfn = find_zone_movable_pfns(input, &zone_types, &arch_low, &arch_high, cfg);
    let mirror = input.movable.mirror && !input.movable.movable_node;
    let movable_zone = usable_zone_for_movable(&zone_types, &arch_low, &arch_high);
    let movable_zone_start: Vec<(u32, Pfn)> = zone_movable_pfn
        .iter()
        .enumerate()
        .filter(|(_, &p)| p != 0)
        .map(|(nid, &p)| (nid as u32, p))
        .collect();

    // pfn_valid.
    let valid_pfns = if cfg.sparsemem {
        let sec = cfg.pages_per_section();
        let mut v: Vec<(Pfn, Pfn)> = Vec::new();
        for &(s, e, _) in &input.regions {
            let a = s / sec * sec;
            let b = e.div_ceil(sec) * sec;
            match v.last_mut() {
                Some(l) if a <= l.1 => l.1 = l.1.max(b),
                _ => v.push((a, b)),
            }
        }
        v
    } else {
        let max_pfn = input.regions.iter().map(|r| r.1).max().unwrap_or(0);
        vec![(0, max_pfn)]
    };

    // Nodes.
    let mut nodes = Vec::with_capacity(input.nr_nodes as usize);
    let mut nr_kernel_pages = 0u64;
    let mut nr_all_pages = 0u64;
    for nid in 0..input.nr_nodes {
        let memory: Vec<(Pfn, Pfn)> =
            input.regions.iter().filter(|r| r.2 == nid).map(|r| (r.0, r.1)).collect();
        let (ns, ne) = match (memory.first(), memory.last()) {
            (Some(f), Some(l)) => (f.0, l.1),
            _ => (0, 0),
        };
        let zmp = zone_movable_pfn[nid as usize];
        let mut zones = Vec::with_capacity(nz);
        for (j, &zt) in zone_types.iter().enumerate() {
            let (zs, ze) = if ns == ne {
                (0, 0)
            } else {
                let (mut zs, mut ze) = (ns.clamp(arch_low[j], arch_high[j]), ne.clamp(arch_low[j], arch_high[j]));
                // adjust_zone_range_for_zone_movable
                if zmp != 0 {
                    if zt == ZoneType::Movable {
                        zs = zmp;
                        ze = ne.min(movable_zone.map_or(0, |m| arch_high[m]));
                    } else if !mirror && zs < zmp && ze > zmp {
                        ze = zmp;
                    } else if zs >= zmp {
                        zs = ze;
                    }
                }
                if ze < ns || zs > ne || ze <= zs {
                    (0, 0)
                } else {
                    (zs.max(ns), ze.min(ne))
                }
            };
            let spanned = ze - zs;
            let mut present = memory.iter().map(|&m| overlap(m, (zs, ze))).sum::<u64>();
            // with kernelcore=mirror ZONE_NORMAL keeps only mirrored memory:
            // the unmirrored pages it spans are absent (they are Movable's)
            if mirror && zmp != 0 && zt == ZoneType::Normal {
                if spanned > 0 {
                    return Err(MmError::invalid(
                        "movable",
                        format!(
                            "kernelcore=mirror: node {nid}'s ZONE_NORMAL would span unmirrored memory \
                             below its movable zone start {:#x} (a range crossing 4 GiB, or one not \
                             MAX_ORDER-aligned); the kernel leaves those pages in no zone, which is \
                             not simulated",
                            zmp << PAGE_SHIFT
                        ),
                    ));
                }
                present = 0;
            }
            let absent = spanned - present;
            let memmap_pages = calc_memmap_size(spanned, present, cfg.sparsemem);
            let mut free = present.saturating_sub(memmap_pages);
            if present < memmap_pages {
                free = present;
            }
            if j == 0 && free > input.dma_reserve {
                free -= input.dma_reserve;
            }
            nr_kernel_pages += free;
            nr_all_pages += free;
            zones.push(ZoneSizes {
                zone_type: zt,
                start_pfn: if spanned > 0 { zs } else { 0 },
                spanned,
                absent,
                present,
                managed_estimate: free,
                memmap_pages,
            });
        }
        let spanned = zones.iter().map(|z| z.spanned).sum();
        let present = zones.iter().map(|z| z.present).sum();
        nodes.push(NodeLayout {
            nid,
            start_pfn: ns,
            end_pfn: ne,
            spanned,
            present,
            zones,
            first_deferred_pfn: None,
            memory,
        });
    }

    // memmap_init: unavailable ranges.
    let mut unavailable = Vec::new();
    let mut hole = 0u64;
    let mut last: Option<(u32, usize, Pfn)> = None;
    for &(s, e, nid) in &input.regions {
        let node = &nodes[nid as usize];
        let mut zid = None;
        for (j, z) in node.zones.iter().enumerate() {
            if z.present == 0 {
                continue;
            }
            let cs = s.clamp(z.start_pfn, z.end_pfn());
            let ce = e.clamp(z.start_pfn, z.end_pfn());
            zid = Some(j);
            if cs >= ce {
                continue;
            }
            if hole < cs {
                push_unavail(&mut unavailable, &valid_pfns, nid, z.zone_type, hole, cs);
            }
            hole = ce;
        }
        if let Some(j) = zid {
            last = Some((nid, j, e));
        }
    }
    if let Some((nid, j, e)) = last {
        let end = if cfg.sparsemem { e.div_ceil(cfg.pages_per_section()) * cfg.pages_per_section() } else { e };
        if hole < end {
            let zt = nodes[nid as usize].zones[j].zone_type;
            push_unavail(&mut unavailable, &valid_pfns, nid, zt, hole, end);
        }
    }

    // defer_init.
    let may_defer = cfg.deferred_struct_page_init
        && cfg.sparsemem
        && !(cfg.kernel == super::config::KernelVersion::V6_1 && cfg.early_page_ext);
    if may_defer {
        let sec = cfg.pages_per_section();
        for node in nodes.iter_mut() {
            node.first_deferred_pfn = deferred_cut(node, sec);
        }
    }

    // build_all_zonelists: Total pages over zones up to Movable.
    let total_pages: u64 = nodes
        .iter()
        .flat_map(|n| n.zones.iter())
        .filter(|z| z.zone_type <= ZoneType::Movable)
        .map(|z| z.managed_estimate)
        .sum();
    let mobility_grouping = total_pages >= cfg.pageblock_nr_pages() * cfg.migrate_types();

    Ok(ZoneLayout {
        zone_ranges,
        movable_zone_start,
        early_node_ranges: input.regions.clone(),
        nodes,
        unavailable,
        nr_kernel_pages,
        nr_all_pages,
        total_pages,
        mobility_grouping,
        zone_types,
        valid_pfns,
    })
}

/// `find_usable_zone_for_movable`: the highest zone below Movable whose
/// architecture range is not empty (ZONE_MOVABLE takes its pages).
fn usable_zone_for_movable(zone_types: &[ZoneType], low: &[Pfn], high: &[Pfn]) -> Option<usize> {
    (0..zone_types.len()).rev().find(|&j| zone_types[j] != ZoneType::Movable && high[j] > low[j])
}

/// `find_zone_movable_pfns_for_nodes`: where ZONE_MOVABLE starts on each
/// node (0: no ZONE_MOVABLE there). The kernel memory asked for
/// (kernelcore, or what movablecore leaves) is spread evenly over the nodes
/// with memory, walking each node's ranges upwards; what lies below the
/// movable zone's lowest pfn only counts as kernel memory. A node whose
/// share ends short is made up for by another pass over one node fewer.
/// The starts are rounded up to MAX_ORDER blocks.
fn find_zone_movable_pfns(
    input: &FreeAreaInitInput,
    zone_types: &[ZoneType],
    low: &[Pfn],
    high: &[Pfn],
    cfg: &PageAllocConfig,
) -> Vec<Pfn> {
    let nr = input.nr_nodes as usize;
    let mut zmp = vec![0u64; nr];
    let mv = &input.movable;
    if !zone_types.contains(&ZoneType::Movable) {
        return zmp;
    }
    let Some(movable_zone) = usable_zone_for_movable(zone_types, low, high) else { return zmp };
    let node_ranges = |nid: usize| input.regions.iter().filter(move |r| r.2 as usize == nid);
    if mv.movable_node {
        // each node's hotpluggable memory is movable from its lowest region
        for &(pfn, nid) in &mv.hotplug_regions {
            if let Some(z) = zmp.get_mut(nid as usize) {
                *z = if *z == 0 { pfn } else { (*z).min(pfn) };
            }
        }
        return align_movable_starts(zmp, cfg, node_ranges);
    }
    if mv.mirror {
        // no region is mirrored: each node's movable memory starts at its
        // lowest region at or above 4 GiB (those below stay the kernel's)
        for &(s, _, nid) in input.regions.iter().filter(|r| r.0 >= PFN_4G) {
            let z = &mut zmp[nid as usize];
            *z = if *z == 0 { s } else { (*z).min(s) };
        }
        return align_movable_starts(zmp, cfg, node_ranges);
    }
    let totalpages: u64 = input.regions.iter().map(|r| r.1 - r.0).sum();
    let memory_nodes: Vec<usize> = (0..nr).filter(|&n| node_ranges(n).next().is_some()).collect();
    let mut required_kernelcore = mv.kernelcore_pages.unwrap_or(0);
    let mut required_movablecore = mv.movablecore_pages.unwrap_or(0);
    if let Some(p) = mv.kernelcore_percent {
        required_kernelcore = totalpages * 100 * p / 10000;
    }
    if let Some(p) = mv.movablecore_percent {
        required_movablecore = totalpages * 100 * p / 10000;
    }
    let max_order_pages = 1u64 << (cfg.max_order - 1);
    if required_movablecore != 0 {
        let movable = required_movablecore.div_ceil(max_order_pages) * max_order_pages;
        let corepages = totalpages - movable.min(totalpages);
        required_kernelcore = required_kernelcore.max(corepages);
    }
    if required_kernelcore == 0 || required_kernelcore >= totalpages {
        return zmp;
    }
    let usable_startpfn = low[movable_zone];
    let mut usable_nodes = memory_nodes.len() as u64;
    loop {
        let mut kernelcore_node = required_kernelcore / usable_nodes;
        for &nid in &memory_nodes {
            if required_kernelcore < kernelcore_node {
                kernelcore_node = required_kernelcore / usable_nodes;
            }
            let mut remaining = kernelcore_node;
            for &(s, e, _) in node_ranges(nid) {
                let mut start = s.max(zmp[nid]);
                if start >= e {
                    continue;
                }
                if start < usable_startpfn {
                    let kernel_pages = e.min(usable_startpfn) - start;
                    remaining -= kernel_pages.min(remaining);
                    required_kernelcore -= kernel_pages.min(required_kernelcore);
                    if e <= usable_startpfn {
                        zmp[nid] = e;
                        continue;
                    }
                    start = usable_startpfn;
                }
                let size = (e - start).min(remaining);
                zmp[nid] = start + size;
                required_kernelcore -= size.min(required_kernelcore);
                remaining -= size;
                if remaining == 0 {
                    break;
                }
            }
        }
        usable_nodes -= 1;
        if usable_nodes == 0 || required_kernelcore <= usable_nodes {
            break;
        }
    }
    align_movable_starts(zmp, cfg, node_ranges)
}

/// The first pfn at or above 4 GiB, where `kernelcore=mirror` looks for
/// movable memory.
const PFN_4G: Pfn = 1 << (32 - PAGE_SHIFT);

/// The end of `find_zone_movable_pfns_for_nodes`: each start rounded up to
/// a MAX_ORDER block, and dropped if that leaves nothing of its node.
fn align_movable_starts<'a, I: Iterator<Item = &'a (Pfn, Pfn, u32)>>(
    mut zmp: Vec<Pfn>,
    cfg: &PageAllocConfig,
    node_ranges: impl Fn(usize) -> I,
) -> Vec<Pfn> {
    let max_order_pages = 1u64 << (cfg.max_order - 1);
    for (nid, p) in zmp.iter_mut().enumerate() {
        *p = p.div_ceil(max_order_pages) * max_order_pages;
        let end = node_ranges(nid).map(|r| r.1).max().unwrap_or(0);
        if *p >= end {
            *p = 0;
        }
    }
    zmp
}

fn push_unavail(
    out: &mut Vec<UnavailableRange>,
    valid: &[(Pfn, Pfn)],
    nid: u32,
    zone_type: ZoneType,
    s: Pfn,
    e: Pfn,
) {
    let pages = count_in(valid, s, e);
    if pages > 0 {
        out.push(UnavailableRange { nid, zone_type, start_pfn: s, end_pfn: e, pages });
    }
}

/// The cut of `defer_init` for one node: only the highest zone, if it ends
/// at the node's end; count memory pfns from its start and, once more than
/// a section's worth, cut at the next section-aligned pfn.
fn deferred_cut(node: &NodeLayout, sec: u64) -> Option<Pfn> {
    let z = node.zones.iter().rev().find(|z| z.present > 0)?;
    if z.end_pfn() < node.end_pfn {
        return None;
    }
    let mut counted = 0u64;
    for &(s, e) in &node.memory {
        let s = s.max(z.start_pfn);
        let e = e.min(z.end_pfn());
        if s >= e {
            continue;
        }
        // pfn p has count counted + (p - s) + 1; need > sec and p aligned.
        let lo = s + sec.saturating_sub(counted);
        let p = lo.div_ceil(sec) * sec;
        if p < e {
            return Some(p);
        }
        counted += e - s;
    }
    None
}

fn validate_input(input: &FreeAreaInitInput) -> Result<()> {
    if input.zones.is_empty() {
        return Err(MmError::invalid("zones", "no zone types"));
    }
    let mut prev_t: Option<ZoneType> = None;
    for &(zt, _) in &input.zones {
        if prev_t.is_some_and(|p| p >= zt) {
            return Err(MmError::invalid("zones", "zone types must be strictly increasing"));
        }
        prev_t = Some(zt);
    }
    if !input.zones.iter().any(|z| z.0 == ZoneType::Normal) {
        return Err(MmError::invalid("zones", "ZONE_NORMAL is required"));
    }
    if input.nr_nodes == 0 || input.nr_nodes > 1024 {
        return Err(MmError::invalid("nr_nodes", "must be in 1..=1024"));
    }
    for (name, p) in [("kernelcore", input.movable.kernelcore_percent), ("movablecore", input.movable.movablecore_percent)] {
        if p.is_some_and(|p| p > 100) {
            return Err(MmError::invalid(name, "a percentage above 100"));
        }
    }
    let mut prev_end = 0u64;
    for (i, &(s, e, nid)) in input.regions.iter().enumerate() {
        if s >= e {
            return Err(MmError::invalid("regions", format!("region {i} [{s:#x}, {e:#x}) is empty")));
        }
        if i > 0 && s < prev_end {
            return Err(MmError::invalid("regions", "regions must be sorted and disjoint"));
        }
        if e > (1u64 << 40) {
            return Err(MmError::invalid("regions", "pfn above 2^40 (52-bit physical addresses)"));
        }
        if nid >= input.nr_nodes {
            return Err(MmError::NoSuchNode { nid: nid as i32 });
        }
        prev_end = e;
    }
    // Node spans must not interleave (each pfn belongs to one node's span).
    let mut spans: Vec<(Pfn, Pfn)> = (0..input.nr_nodes)
        .filter_map(|nid| {
            let mut it = input.regions.iter().filter(|r| r.2 == nid);
            let f = it.next()?;
            let l = it.next_back().unwrap_or(f);
            Some((f.0, l.1))
        })
        .collect();
    spans.sort();
    if spans.windows(2).any(|w| w[1].0 < w[0].1) {
        return Err(MmError::invalid("regions", "interleaved node spans are not supported"));
    }
    Ok(())
}
