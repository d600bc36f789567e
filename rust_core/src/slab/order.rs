//! Slab order: `order_objects`, `slab_order` and `calculate_order` (mm/slub.c).

use crate::units::PAGE_SIZE;

/// `MAX_OBJS_PER_PAGE`: objects in a slab fit in 15 bits.
pub const MAX_OBJS_PER_PAGE: u32 = 32767;
/// `MAX_ORDER` of the buddy allocator on x86_64 (orders 0..=10).
pub const MAX_ORDER: u32 = 11;
/// `PAGE_ALLOC_COSTLY_ORDER`, the default `slub_max_order`.
pub const PAGE_ALLOC_COSTLY_ORDER: u32 = 3;

/// `fls`: 1-based index of the most significant set bit, 0 for 0.
#[inline]
pub const fn fls(x: u64) -> u32 {
    64 - x.leading_zeros()
}

/// `get_order`: the smallest order whose block holds `size` bytes (0 for 0).
#[inline]
pub const fn get_order(size: u64) -> u32 {
    if size <= PAGE_SIZE {
        0
    } else {
        fls((size - 1) >> 12)
    }
}

/// `order_objects`: objects of `size` bytes in a slab of `order`.
#[inline]
pub const fn order_objects(order: u32, size: u32) -> u32 {
    if size == 0 || order >= 32 {
        return 0;
    }
    ((PAGE_SIZE << order) / size as u64) as u32
}

/// The orders and object limits `calculate_order` works with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderParams {
    /// `slub_min_order`.
    pub min_order: u32,
    /// `slub_max_order`.
    pub max_order: u32,
    /// `slub_min_objects` (0: derive from `nr_cpu_ids`).
    pub min_objects: u32,
    /// `nr_cpu_ids`.
    pub nr_cpu_ids: u32,
}

impl OrderParams {
    /// The minimum objects per slab wanted: `slub_min_objects`, or
    /// `4 * (fls(nr_cpu_ids) + 1)`.
    pub fn wanted_min_objects(&self) -> u32 {
        if self.min_objects != 0 {
            self.min_objects
        } else {
            4 * (fls(self.nr_cpu_ids.max(1) as u64) + 1)
        }
    }
}

/// `slab_order`: the lowest order from `max(slub_min_order, get_order(min_objects *
/// size))` up to `max_order` leaving at most `1/fract_leftover` of the slab
/// unused; `max_order + 1` when none does.
pub fn slab_order(size: u32, min_objects: u32, max_order: u32, fract_leftover: u32, p: &OrderParams) -> u32 {
    let min_order = p.min_order;
    if order_objects(min_order, size) > MAX_OBJS_PER_PAGE {
        return get_order(size as u64 * MAX_OBJS_PER_PAGE as u64).saturating_sub(1);
    }
    let mut order = min_order.max(get_order(min_objects as u64 * size as u64));
    while order <= max_order {
        let slab_size = PAGE_SIZE << order;
        let rem = slab_size % size as u64;
        if rem <= slab_size / fract_leftover as u64 {
            break;
        }
        order += 1;
    }
    order
}

/// `calculate_order`: the slab order of objects of `size` bytes (`s->size`),
/// or `None` when no order below MAX_ORDER holds one object.
pub fn calculate_order(size: u32, p: &OrderParams) -> Option<u32> {
    if size == 0 {
        return None;
    }
    let max_objects = order_objects(p.max_order, size);
    let mut min_objects = p.wanted_min_objects().min(max_objects);
    while min_objects > 1 {
        let mut fraction = 16;
        while fraction >= 4 {
            let order = slab_order(size, min_objects, p.max_order, fraction, p);
            if order <= p.max_order {
                return Some(order);
            }
            fraction /= 2;
        }
        min_objects -= 1;
    }
    let order = slab_order(size, 1, p.max_order, 1, p);
    if order <= p.max_order {
        return Some(order);
    }
    let order = slab_order(size, 1, MAX_ORDER, 1, p);
    if order < MAX_ORDER {
        return Some(order);
    }
    None
}
