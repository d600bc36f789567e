"""Boot steps: what runs, in which order, and their state.

A boot is a tree of :class:`Step` s two levels deep: top-level steps (the
phases of ``setup_arch`` and the calls of ``start_kernel``/``mm_init``) and
their sub-steps (the statements of, say, UML's ``mem_init``). Only leaves run;
a step with sub-steps is done when its last sub-step is.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from mmsvc.boot.context import BootContext


class StepState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"


class StepKind(enum.StrEnum):
    #: implemented by mmsvc itself (mm/ code common to all architectures)
    GENERIC = "generic"
    #: dispatched to the architecture's plugin through ``mmsvc_arch_step``
    ARCH = "arch"


@dataclass(eq=False)
class Step:
    """One step of the boot.

    Attributes:
        name: the kernel function's name (``"mem_init"``); sub-steps use
            short descriptive names (``"memblock_free_all"``).
        phase: ``"setup_arch"``, ``"start_kernel"``, ``"mm_init"`` or ``"late"``.
        kind: :class:`StepKind`.
        run: the implementation for generic steps (and for arch sub-steps a
            plugin builds itself); ``None`` for arch steps answered by the
            ``mmsvc_arch_step`` hook, and for steps that only group sub-steps.
        substeps: sub-steps, run in order instead of ``run``.
        doc: one line saying what the step does.
        parent: the enclosing step's name, for sub-steps.
        state: :class:`StepState`, maintained by the simulation.
    """

    name: str
    phase: str
    kind: StepKind = StepKind.GENERIC
    run: Callable[[BootContext], None] | None = None
    substeps: list[Step] = field(default_factory=list)
    doc: str = ""
    parent: str | None = None
    state: StepState = StepState.PENDING
    #: a reason when state is SKIPPED
    note: str = ""
    #: generic work the kernel does right before and after this step (a
    #: build's recorded allocations of the calls next to it), run whether
    #: the step itself runs or is skipped
    before: list[Callable[[BootContext], None]] = field(default_factory=list)
    after: list[Callable[[BootContext], None]] = field(default_factory=list)

    @property
    def path(self) -> str:
        """``"mem_init/memblock_free_all"``-style unique path."""
        return f"{self.parent}/{self.name}" if self.parent else self.name

    def leaves(self) -> list[Step]:
        return [s for sub in self.substeps for s in sub.leaves()] if self.substeps else [self]

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "path": self.path,
            "phase": self.phase,
            "kind": str(self.kind),
            "state": str(self.state),
            "doc": self.doc,
            "note": self.note,
            "substeps": [s.to_dict() for s in self.substeps],
        }


def arch_step(name: str, phase: str, doc: str = "") -> Step:
    """A step the architecture plugin answers through ``mmsvc_arch_step``."""
    return Step(name=name, phase=phase, kind=StepKind.ARCH, doc=doc)


def substep(name: str, run: Callable[[BootContext], None], doc: str = "") -> Step:
    """A sub-step with its implementation (used by plugins for their sub-steps)."""
    return Step(name=name, phase="", kind=StepKind.ARCH, run=run, doc=doc)
