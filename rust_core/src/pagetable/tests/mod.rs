//! Tests of the page-table engine.

mod common;
mod cpa;
mod direct_map;
mod engine;
mod format;
mod fuzz;
mod model;
