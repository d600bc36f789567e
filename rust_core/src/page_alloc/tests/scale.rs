use super::*;

/// 32 TiB over 16 nodes of 2 TiB: node 0 has DMA/DMA32 below 4 GiB.
pub(crate) fn huge_regions() -> Vec<(u64, u64, u32)> {
    let node = 1u64 << 29; // 2 TiB in pages
    let mut v = vec![(0x1, 0x9f, 0), (0x100, 0xbffe0, 0), (0x100000, node, 0)];
    for n in 1..16u64 {
        v.push((n * node, (n + 1) * node, n as u32));
    }
    v
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(|l| l.to_string()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|x| x.parse().ok()))
        .unwrap_or(0)
}

fn boot(defer: bool) -> (PageAlloc, std::time::Duration) {
    let cfg = PageAllocConfig { deferred_struct_page_init: defer, nr_cpus: 4, ..Default::default() };
    let regions = huge_regions();
    let t = std::time::Instant::now();
    let l = free_area_init(&FreeAreaInitInput::x86_64(regions.clone(), 158), &cfg).unwrap();
    let mut pa = PageAlloc::new(&l, &cfg).unwrap();
    let free: Vec<_> = regions.iter().map(|&(s, e, n)| (s.max(0x4000), e, n)).filter(|r| r.0 < r.1).collect();
    pa.memblock_free_all(&free).unwrap();
    if defer {
        pa.page_alloc_init_late(&free).unwrap();
    }
    pa.setup_per_cpu_pageset();
    pa.init_per_zone_wmark_min();
    (pa, t.elapsed())
}

#[test]
fn huge_machine_is_sparse() {
    let before = rss_kb();
    for defer in [false, true] {
        let (mut pa, dt) = boot(defer);
        assert_eq!(pa.totalram_pages(), pa.nr_free_pages());
        assert_eq!(pa.totalram_pages(), (1u64 << 33) - 0x4000 - (0x100000 - 0xbffe0));
        // allocate and free across nodes
        let mut got = Vec::new();
        for nid in 0..16 {
            for order in [0, 3, 9, 10] {
                got.push((pa.alloc_pages(Gfp::GFP_KERNEL, order, nid, nid % 4).unwrap(), order));
            }
        }
        for &(p, o) in &got {
            assert_eq!(pa.allocated_order(p).unwrap(), Some(o));
        }
        assert!(pa.nr_block_descriptors() < 200);
        let mut v = Vec::new();
        pa.alloc_pages_bulk(Gfp::GFP_HIGHUSER_MOVABLE, 0, 10000, 3, 1, &mut v).unwrap();
        pa.free_pages_bulk(&v, 0, 1).unwrap();
        for (p, o) in got {
            pa.free_pages(p, o, 0).unwrap();
        }
        pa.drain_pcp(None).unwrap();
        assert_eq!(pa.totalram_pages(), pa.nr_free_pages());
        let _ = pa.buddyinfo();
        let _ = pa.pagetypeinfo();
        let rss = rss_kb().saturating_sub(before);
        let hwm = std::fs::read_to_string("/proc/self/status").unwrap_or_default().lines().find(|l| l.starts_with("VmHWM")).unwrap_or("").to_string();
        eprintln!("32 TiB boot (defer={defer}): {dt:?}, +RSS {rss} kB, {hwm}");
        assert!(rss < 256 * 1024, "RSS grew by {rss} kB");
        if !cfg!(debug_assertions) {
            assert!(dt.as_secs_f64() < 1.0);
        }
    }
}
