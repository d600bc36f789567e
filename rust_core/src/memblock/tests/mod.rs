//! Tests of the memblock module: the kernel's tools/testing/memblock cases
//! re-expressed, format checks, and property tests against a page model.

mod alloc_api;
mod alloc_exact_nid_api;
mod alloc_helpers_api;
mod alloc_nid_api;
mod basic_api;
mod common;
mod debug_fmt;
mod features;
mod model;
