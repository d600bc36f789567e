//! memblock: the boot-time memory allocator (mm/memblock.c).
