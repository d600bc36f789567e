//! Nodes, zones and the buddy allocator (mm/page_alloc.c).
