"""Benchmarks: mmsvc's allocators against baselines measured in the same run."""
