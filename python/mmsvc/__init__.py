"""mmsvc: a simulator of the Linux kernel's memory-management boot."""

from __future__ import annotations

from mmsvc.errors import MmsvcError

__all__ = ["MmsvcError"]
