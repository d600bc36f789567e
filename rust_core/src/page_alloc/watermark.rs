//! Watermarks (`__setup_per_zone_wmarks`), `lowmem_reserve`
//! (`setup_per_zone_lowmem_reserve`) and the watermark checks.

use super::migratetype::{MigrateType, MIGRATE_PCPTYPES};
use super::zone::Zone;

pub(crate) const WMARK_MIN: usize = 0;
pub(crate) const WMARK_LOW: usize = 1;
pub(crate) const ALLOC_WMARK_MASK: u32 = 0x3;
pub(crate) const ALLOC_HARDER: u32 = 0x10;
pub(crate) const ALLOC_HIGH: u32 = 0x20;
pub(crate) const ALLOC_NOFRAGMENT: u32 = 0x100;

/// `int_sqrt`.
pub(crate) fn int_sqrt(x: u64) -> u64 {
    if x < 2 {
        return x;
    }
    let x = x as u128;
    let mut r = (x as f64).sqrt() as u128;
    while r * r > x {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= x {
        r += 1;
    }
    r as u64
}

/// The default `min_free_kbytes` from lowmem kbytes.
pub(crate) fn default_min_free_kbytes(lowmem_kbytes: u64) -> u64 {
    int_sqrt(lowmem_kbytes.saturating_mul(16)).clamp(128, 262144)
}

/// `__setup_per_zone_wmarks` over all zones.
pub(crate) fn setup_per_zone_wmarks(zones: &mut [Zone], min_free_kbytes: u64, scale_factor: u64) {
    let pages_min = min_free_kbytes >> 2;
    let lowmem: u64 = zones.iter().map(|z| z.managed).sum();
    for z in zones.iter_mut() {
        let min = if lowmem == 0 { 0 } else { ((pages_min as u128 * z.managed as u128) / lowmem as u128) as u64 };
        let tmp = (min >> 2).max(((z.managed as u128 * scale_factor as u128) / 10000) as u64);
        z.wmark = [min, min + tmp, min + 2 * tmp];
    }
}

/// `setup_per_zone_lowmem_reserve` for the zones of one node (in order).
pub(crate) fn setup_lowmem_reserve(zones: &mut [Zone], ratio_of: impl Fn(usize) -> u64) {
    let n = zones.len();
    for i in 0..n {
        let ratio = ratio_of(i);
        let clear = ratio == 0 || zones[i].managed == 0;
        let mut managed = 0u64;
        let mut res = vec![0u64; n];
        for (j, r) in res.iter_mut().enumerate().skip(i + 1) {
            managed += zones[j].managed;
            *r = if clear || i + 1 == n { 0 } else { managed / ratio };
        }
        zones[i].lowmem_reserve = res;
    }
}

/// `__zone_watermark_unusable_free`.
fn unusable_free(z: &Zone, order: u32, alloc_flags: u32) -> i64 {
    let mut u = (1i64 << order) - 1;
    if alloc_flags & ALLOC_HARDER == 0 {
        u += z.nr_reserved_highatomic as i64;
    }
    u
}

/// `__zone_watermark_ok`.
#[inline]
pub(crate) fn zone_watermark_ok(z: &Zone, order: u32, mark: u64, highest: usize, alloc_flags: u32) -> bool {
    let free = z.nr_free_pages as i64 - unusable_free(z, order, alloc_flags);
    let mut min = mark as i64;
    if alloc_flags & ALLOC_HIGH != 0 {
        min -= min / 2;
    }
    let harder = alloc_flags & ALLOC_HARDER != 0;
    if harder {
        min -= min / 4;
    }
    let reserve = z.lowmem_reserve.get(highest).copied().unwrap_or(0) as i64;
    if free <= min + reserve {
        return false;
    }
    if order == 0 {
        return true;
    }
    for o in order..=z.top() {
        if z.area.nr_free[o as usize] == 0 {
            continue;
        }
        for mt in 0..MIGRATE_PCPTYPES {
            if !z.area.is_empty(o, mt as u8) {
                return true;
            }
        }
        if harder && !z.area.is_empty(o, MigrateType::HighAtomic as u8) {
            return true;
        }
    }
    false
}

/// `zone_watermark_fast`.
#[inline]
pub(crate) fn zone_watermark_fast(z: &Zone, order: u32, mark: u64, highest: usize, alloc_flags: u32) -> bool {
    if order == 0 {
        let fast = z.nr_free_pages as i64 - unusable_free(z, 0, alloc_flags);
        let reserve = z.lowmem_reserve.get(highest).copied().unwrap_or(0) as i64;
        if fast > mark as i64 + reserve {
            return true;
        }
    }
    zone_watermark_ok(z, order, mark, highest, alloc_flags)
}
