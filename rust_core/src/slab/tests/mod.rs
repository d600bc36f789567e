//! Tests of the slab allocator.

mod basics;
