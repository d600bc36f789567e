"""The :class:`Simulation`: a boot you can run, step, break and inspect.

A simulation is created paused before ``setup_arch`` (like QEMU's ``-S``).
``step()`` runs one step or one sub-step, ``run(until=...)`` runs to a step,
a breakpoint or the end of the boot. After the boot the machine stays
usable: allocate and free pages through :attr:`Simulation.mm`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mmsvc import _core
from mmsvc.arch import Architecture, collect_architectures
from mmsvc.boot.context import BootContext
from mmsvc.boot.sequence import build_steps
from mmsvc.boot.steps import Step, StepKind, StepState
from mmsvc.errors import InvalidArgumentError, InvalidStateError, PluginError
from mmsvc.events import PageEvent, SlabEvent, VmallocEvent
from mmsvc.klog import KernelLog
from mmsvc.plugins import PluginManager, plugin_manager


class Granularity(enum.StrEnum):
    #: a top-level step with all its sub-steps
    STEP = "step"
    #: one leaf: a sub-step, or a step without sub-steps
    SUBSTEP = "substep"


class StopReason(enum.StrEnum):
    STEPPED = "stepped"
    BREAKPOINT = "breakpoint"
    UNTIL = "until"
    BOOT_COMPLETE = "boot_complete"


#: the kinds of breakpoint, and the condition fields each one uses
BREAKPOINT_KINDS = {
    "step": ("step", "when"),
    "pfn_range": ("start_pfn", "end_pfn"),
    "allocation_failure": ("min_order",),
    "zone_free_below": ("nid", "zone", "pages"),
    "plugin_report": ("plugin",),
}


@dataclass(frozen=True)
class Breakpoint:
    """Where :meth:`Simulation.run` stops.

    ``kind="step"`` (the default): before (``when="entry"``) or after
    (``"exit"``) a step or sub-step; ``step`` matches a name or a path
    (``"mem_init/memblock_free_all"``). The other kinds are checked after
    every leaf that runs:

    * ``"pfn_range"``: a page allocation or free touched ``[start_pfn, end_pfn)``;
    * ``"allocation_failure"``: an allocation of order ``min_order`` or more failed;
    * ``"zone_free_below"``: zone ``zone`` of node ``nid`` has fewer than
      ``pages`` free pages;
    * ``"plugin_report"``: plugin ``plugin`` called ``ctx.report(...)``
      (any plugin when empty).
    """

    step: str = ""
    when: str = "entry"
    kind: str = "step"
    start_pfn: int = 0
    end_pfn: int = 0
    min_order: int = 0
    nid: int = 0
    zone: str = ""
    pages: int = 0
    plugin: str = ""

    def __post_init__(self) -> None:
        if self.kind not in BREAKPOINT_KINDS:
            raise InvalidArgumentError(f"breakpoint.kind: unknown kind {self.kind!r} "
                                       f"(known: {', '.join(BREAKPOINT_KINDS)})")
        if self.when not in ("entry", "exit"):
            raise InvalidArgumentError(f"breakpoint.when: expected 'entry' or 'exit', "
                                       f"got {self.when!r}")
        if self.kind == "step" and not self.step:
            raise InvalidArgumentError("breakpoint.step: required for a step breakpoint")
        if self.kind == "pfn_range" and not 0 <= self.start_pfn < self.end_pfn:
            raise InvalidArgumentError("breakpoint.end_pfn: the range [start_pfn, end_pfn) "
                                       "is empty")
        if self.kind == "zone_free_below" and not self.zone:
            raise InvalidArgumentError("breakpoint.zone: required for zone_free_below")

    def to_dict(self) -> dict[str, object]:
        """The kind and its condition fields, as plain data."""
        return {"kind": self.kind, **{f: getattr(self, f) for f in BREAKPOINT_KINDS[self.kind]}}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Breakpoint:
        kind = str(data.get("kind", "step"))
        fields = BREAKPOINT_KINDS.get(kind)
        if fields is None:
            raise InvalidArgumentError(f"breakpoint.kind: unknown kind {kind!r}")
        unknown = set(data) - {"kind", *fields}
        if unknown:
            raise InvalidArgumentError(f"breakpoint.{sorted(unknown)[0]}: not a field of a "
                                       f"{kind} breakpoint")
        rest = {k: v for k, v in data.items() if k != "kind"}
        return cls(kind=kind, **rest)  # type: ignore[arg-type]


@dataclass(frozen=True)
class StopInfo:
    """Why a :meth:`Simulation.step` or :meth:`Simulation.run` returned, and where."""

    reason: StopReason
    #: the path of the last leaf that ran (None if none ran)
    last: str | None
    #: the path of the next leaf to run (None when the boot is complete)
    next: str | None
    breakpoint: Breakpoint | None = None


@dataclass
class _Cursor:
    leaves: list[Step]
    index: int = 0
    stop_exit: set[int] = field(default_factory=set)


class Simulation:
    """A simulated boot of one machine.

    Args:
        machine: a :class:`~mmsvc.machine.description.MachineDescription`.
        profile: overrides ``machine.profile`` (``"5.14"`` or ``"6.1"``).
        pm: the plugin manager; by default the installed plugins.
        plugins: extra ``(name, plugin)`` pairs to register.
    """

    def __init__(self, machine: Any, *, profile: str | None = None,
                 pm: PluginManager | None = None,
                 plugins: Iterable[tuple[str, Any]] = ()) -> None:
        self.pm = pm or plugin_manager(plugins)
        if pm is not None:
            self.pm.register_plugins(plugins)
        adjusted = self.pm.call_guarded("mmsvc_adjust_machine", machine=machine)
        for m in adjusted or ():
            if m is not None:
                machine = m
        if profile is not None and profile != machine.profile:
            machine = machine.replace(profile=profile)
        self.machine = machine
        self.arches = collect_architectures(self.pm)
        self.arch: Architecture = self.arches.get(machine.arch)
        mm = _core.Mm(machine.profile)
        self.ctx = BootContext(machine=machine, arch=self.arch, profile=machine.profile,
                               mm=mm, pm=self.pm, log=KernelLog(_console_loglevel(machine)))
        # every described CPU is possible until the architecture says otherwise
        # (x86's prefill_possible_map applies nr_cpus=, possible_cpus=, nosmp)
        self.ctx.g.nr_cpu_ids = machine.cpus
        self.steps: list[Step] = build_steps(self.ctx)
        self._cursor = _Cursor([leaf for s in self.steps for leaf in s.leaves()])
        self.breakpoints: list[Breakpoint] = []
        self._recording: set[str] = set()
        self._leaf_page_events: list[tuple[Any, ...]] = []
        self._reports_seen = 0

    # -- state ------------------------------------------------------------

    @property
    def mm(self) -> Any:
        """The Rust core (``mmsvc._core.Mm``): memblock, zones, buddy allocator."""
        return self.ctx.mm

    @property
    def log(self) -> KernelLog:
        return self.ctx.log

    @property
    def done(self) -> bool:
        return self._cursor.index >= len(self._cursor.leaves)

    @property
    def next_step(self) -> Step | None:
        c = self._cursor
        return c.leaves[c.index] if c.index < len(c.leaves) else None

    @property
    def leaves(self) -> tuple[Step, ...]:
        """Every leaf step (a step without sub-steps, or a sub-step) in boot order."""
        return tuple(self._cursor.leaves)

    @property
    def leaves_done(self) -> int:
        """How many leaves ran: the index of the next one in :attr:`leaves`."""
        return self._cursor.index

    def step_list(self) -> list[dict[str, Any]]:
        """Every step with its sub-steps and state."""
        return [s.to_dict() for s in self.steps]

    def find_step(self, name: str) -> Step:
        for top in self.steps:
            for s in (top, *top.substeps):
                if name in (s.name, s.path):
                    return s
        known = ", ".join(s.name for s in self.steps)
        raise InvalidArgumentError(f"step: no step named {name!r} (steps: {known})")

    # -- control ----------------------------------------------------------

    def add_breakpoint(self, step: str = "", when: str = "entry", *, kind: str = "step",
                       **condition: Any) -> Breakpoint:
        """Add a breakpoint (see :class:`Breakpoint` for the kinds)."""
        bp = Breakpoint(step, when, kind, **condition)
        self.check_breakpoint(bp)
        self.breakpoints.append(bp)
        return bp

    def check_breakpoint(self, bp: Breakpoint) -> None:
        """What a well-formed :class:`Breakpoint` may still get wrong about
        this boot: a step it does not have (:class:`InvalidArgumentError`
        starting ``"step:"``) or a zone its architecture does not have
        (``"breakpoint.zone:"``)."""
        if bp.kind == "step":
            self.find_step(bp.step)
        if bp.kind == "zone_free_below" and bp.zone not in self.arch.zone_names:
            raise InvalidArgumentError(f"breakpoint.zone: {bp.zone!r} is not a zone of "
                                       f"{self.arch.name} ({', '.join(self.arch.zone_names)})")

    def clear_breakpoints(self) -> None:
        self.breakpoints.clear()

    def step(self, granularity: Granularity | str = Granularity.SUBSTEP) -> StopInfo:
        """Run one sub-step, or (``"step"``) the rest of the current top-level step."""
        granularity = Granularity(granularity)
        if self.done:
            raise InvalidStateError("the boot is complete: nothing left to step")
        last = self._run_leaf()
        if granularity is Granularity.STEP:
            top = self._top_of(self._cursor.leaves[self._cursor.index - 1])
            while not self.done and self._top_of(self.next_step) is top:
                last = self._run_leaf()
        return self._stop(StopReason.STEPPED, last)

    def run(self, until: str | None = None) -> StopInfo:
        """Run until the step ``until`` is next (not run), a breakpoint, or the end."""
        target = self.find_step(until) if until else None
        last = None
        first = True
        while not self.done:
            nxt = self.next_step
            assert nxt is not None
            if target is not None and (nxt is target or (target.substeps and
                                                          nxt in target.leaves()[:1])):
                return self._stop(StopReason.UNTIL, last)
            bp = self._hit(nxt, "entry")
            if bp is not None and not first:
                return self._stop(StopReason.BREAKPOINT, last, bp)
            first = False
            last = self._run_leaf()
            ran = self._cursor.leaves[self._cursor.index - 1]
            bp = self._hit(ran, "exit") or self._condition_hit()
            if bp is not None:
                return self._stop(StopReason.BREAKPOINT, last, bp)
        return self._stop(StopReason.BOOT_COMPLETE, last)

    def boot(self) -> StopInfo:
        """Run the whole boot, ignoring breakpoints."""
        saved, self.breakpoints = self.breakpoints, []
        try:
            return self.run()
        finally:
            self.breakpoints = saved

    def _wants_page_events(self) -> bool:
        return any(bp.kind in ("pfn_range", "allocation_failure") for bp in self.breakpoints)

    def _condition_hit(self) -> Breakpoint | None:
        """The first condition breakpoint the last leaf satisfied."""
        events, self._leaf_page_events = self._leaf_page_events, []
        reports = self.ctx.reports[self._reports_seen:]
        self._reports_seen = len(self.ctx.reports)
        zones = None
        for bp in self.breakpoints:
            if bp.kind == "pfn_range":
                for kind, pfn, order, *_ in events:
                    if kind != "fail" and pfn < bp.end_pfn and bp.start_pfn < pfn + (1 << order):
                        return bp
            elif bp.kind == "allocation_failure":
                if any(e[0] == "fail" and e[2] >= bp.min_order for e in events):
                    return bp
            elif bp.kind == "zone_free_below":
                if zones is None:
                    try:
                        zones = self.ctx.mm.zones()
                    except InvalidStateError:
                        zones = []
                for z in zones:
                    if (z["nid"], z["zone"]) == (bp.nid, bp.zone) and \
                            z["nr_free_pages"] + z["pcp_pages"] < bp.pages:
                        return bp
            elif bp.kind == "plugin_report":
                if any(not bp.plugin or r.plugin == bp.plugin for r in reports):
                    return bp
        return None

    def flush_events(self) -> int:
        """Hand the allocator events recorded since the last flush to the
        ``mmsvc_page_event`` / ``mmsvc_slab_event`` / ``mmsvc_vmalloc_event``
        implementations; returns how many. The core records only while some
        plugin implements the hook, from the moment the allocator exists."""
        mm, hook = self.ctx.mm, self.pm.hook
        count = 0
        page_listeners = bool(hook.mmsvc_page_event.get_hookimpls())
        if page_listeners or self._wants_page_events():
            events = self._drain("page", mm.set_event_recording, mm.drain_events)
            self._leaf_page_events.extend(events)
            if page_listeners:
                count += self._deliver("mmsvc_page_event", PageEvent, events)
        for name, hookname, event, start, drain in (
                ("slab", "mmsvc_slab_event", SlabEvent, mm.set_slab_event_recording,
                 mm.drain_slab_events),
                ("vmalloc", "mmsvc_vmalloc_event", VmallocEvent,
                 mm.set_vmalloc_event_recording, mm.drain_vmalloc_events)):
            if getattr(hook, hookname).get_hookimpls():
                count += self._deliver(hookname, event, self._drain(name, start, drain))
        return count

    def _drain(self, source: str, start: Any, drain: Any) -> list[tuple[Any, ...]]:
        """Start recording ``source``'s events (once) and take what it has
        recorded; nothing while that allocator does not exist yet."""
        try:
            if source not in self._recording:
                start(True)
                self._recording.add(source)
            return list(drain())
        except InvalidStateError:
            return []

    def _deliver(self, hookname: str, event: Any, fields: list[tuple[Any, ...]]) -> int:
        for f in fields:
            self.pm.call_guarded(hookname, ctx=self.ctx, event=event(*f))
        return len(fields)

    # -- internals --------------------------------------------------------

    def _top_of(self, leaf: Step | None) -> Step | None:
        if leaf is None:
            return None
        for top in self.steps:
            if leaf is top or leaf in top.substeps:
                return top
        return None

    def _hit(self, leaf: Step, when: str) -> Breakpoint | None:
        top = self._top_of(leaf)
        for bp in self.breakpoints:
            if bp.kind != "step" or bp.when != when:
                continue
            if bp.step in (leaf.name, leaf.path):
                return bp
            if top is not None and top is not leaf and bp.step in (top.name, top.path):
                leaves = top.leaves()
                if (when == "entry" and leaf is leaves[0]) or (when == "exit"
                                                               and leaf is leaves[-1]):
                    return bp
        return None

    def _stop(self, reason: StopReason, last: str | None,
              bp: Breakpoint | None = None) -> StopInfo:
        if self.done and reason is not StopReason.BREAKPOINT:
            reason = StopReason.BOOT_COMPLETE
        nxt = self.next_step
        return StopInfo(reason, last, nxt.path if nxt else None, bp)

    def _run_leaf(self) -> str:
        self._leaf_page_events = []
        c = self._cursor
        self.ctx.progress = (c.index, len(c.leaves))
        leaf = c.leaves[c.index]
        top = self._top_of(leaf)
        if top is not None and top is not leaf and top.state is StepState.PENDING:
            top.state = StepState.RUNNING
        leaf.state = StepState.RUNNING
        self.ctx.log.step = leaf.name
        try:
            try:
                self.pm.call_guarded("mmsvc_before_step", ctx=self.ctx, step=leaf)
                handled = self._execute(leaf)
                if not handled:
                    leaf.state = StepState.SKIPPED
                    leaf.note = leaf.note or f"not on {self.arch.name}"
                else:
                    leaf.state = StepState.DONE
                self.pm.call_guarded("mmsvc_after_step", ctx=self.ctx, step=leaf)
            finally:
                # what the step (and the hooks around it) did, in order
                self.ctx.flush_memblock_trace()
                self.flush_events()
        except BaseException:
            leaf.state = StepState.FAILED
            if top is not None:
                top.state = StepState.FAILED
            raise
        finally:
            self.ctx.log.step = "boot"
        c.index += 1
        self.ctx.progress = (c.index, len(c.leaves))
        if top is not None and top is not leaf and leaf is top.leaves()[-1]:
            top.state = StepState.DONE
        return leaf.path

    def _execute(self, leaf: Step) -> bool:
        def step() -> bool:
            if leaf.run is not None:
                leaf.run(self.ctx)
                return True
            if leaf.kind is StepKind.ARCH:
                return bool(self.pm.hook.mmsvc_arch_step(ctx=self.ctx, step=leaf))
            return True

        def call() -> bool:
            for work in leaf.before:
                work(self.ctx)
            handled = step()
            for work in leaf.after:
                work(self.ctx)
            return handled

        return bool(self._wrapped(leaf, call))

    def _wrapped(self, leaf: Step, call: Any) -> Any:
        """Run ``call`` inside every ``mmsvc_step_wrapper`` implementation,
        nested the way pluggy nests wrappers (last registered outermost)."""
        impls = [i for i in reversed(self.pm.hook.mmsvc_step_wrapper.get_hookimpls())
                 if i.wrapper]
        if not impls:
            return self._guard(leaf, call)
        args = {"ctx": self.ctx, "step": leaf}
        entered = []
        result: Any = None
        exc: BaseException | None = None
        try:
            for impl in impls:
                gen = impl.function(*(args[a] for a in impl.argnames))
                next(gen)
                entered.append((impl, gen))
            result = self._guard(leaf, call)
        except BaseException as e:  # noqa: BLE001 - handed to the wrappers, re-raised below
            exc = e
        for impl, gen in reversed(entered):
            try:
                if exc is None:
                    gen.send(result)
                else:
                    gen.throw(exc)
                exc = PluginError(f"plugin {impl.plugin_name!r}: mmsvc_step_wrapper yielded "
                                  "twice", plugin=impl.plugin_name, hook="mmsvc_step_wrapper")
            except StopIteration as stop:
                result, exc = stop.value, None
            except BaseException as e:  # noqa: BLE001
                exc = e
        if exc is not None:
            raise exc
        return result

    def _guard(self, leaf: Step, call: Any) -> Any:
        try:
            return call()
        except (PluginError, InvalidStateError):
            raise
        except Exception as exc:
            if leaf.kind is StepKind.ARCH and self.arch.plugin:
                from mmsvc.errors import MmsvcError

                if isinstance(exc, MmsvcError):
                    raise
                raise PluginError(
                    f"plugin {self.arch.plugin!r} failed in step {leaf.path}: "
                    f"{type(exc).__name__}: {exc}",
                    plugin=self.arch.plugin, hook="mmsvc_arch_step") from exc
            raise


def _console_loglevel(machine: Any) -> int:
    cmd = machine.parsed_cmdline
    get = getattr(cmd, "get", None)
    if get is not None:
        if get("debug") is not None:
            return 10
        level = get("loglevel")
        if level and level.isdigit():
            return int(level)
    return 7
