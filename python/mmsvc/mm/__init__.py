"""Generic kernel memory-management services the boot steps call (mm/)."""
