"""The state a boot works on, and the generic kernel services steps call.

A :class:`BootContext` is what every step (generic or a plugin's) receives. It
holds the machine description, the simulated memory (``ctx.mm``, the Rust
core), the kernel log, the kernel's global variables, and per-plugin scratch
state. Plugins reach the generic kernel (``free_area_init``,
``memblock_free_all`` ...) through its methods only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mmsvc.klog import KERN_INFO, KernelLog

if TYPE_CHECKING:  # pragma: no cover
    from mmsvc.arch import Architecture
    from mmsvc.machine.description import MachineDescription
    from mmsvc.plugins import PluginManager


@dataclass
class KernelGlobals:
    """Global variables of the simulated kernel that the memory boot sets.

    Names are the kernel's. Values are pfns or page counts unless said.
    """

    max_pfn: int = 0
    max_low_pfn: int = 0
    min_low_pfn: int = 0
    max_possible_pfn: int = 0
    totalram_pages: int = 0
    totalcma_pages: int = 0
    nr_kernel_pages: int = 0
    nr_all_pages: int = 0
    dma_reserve: int = 0
    #: node_possible_map: every node the firmware described (memory or CPUs)
    node_possible_map: tuple[int, ...] = (0,)
    #: node_online_map: nodes with memory, then (init_cpu_to_node) nodes with CPUs
    node_online_map: tuple[int, ...] = (0,)
    #: numa_distance: the node distance table (empty: 10 local, 20 remote)
    numa_distance: tuple[tuple[int, ...], ...] = ()
    #: num_node_state(N_MEMORY)
    nr_memory_nodes: int = 1
    nr_cpu_ids: int = 1
    #: num_online_cpus: 1 until smp_init brings up the others
    num_online_cpus: int = 1
    #: cpu_to_node: the node of each possible CPU, in CPU order (empty: all on node 0)
    cpu_to_node: tuple[int, ...] = ()
    #: the nodes whose cpumask each CPU joins as it comes up (x86's
    #: numa_add_cpu: its own node, or under NUMA emulation every emulated
    #: node of its physical one); empty: its cpu_to_node
    cpu_cpumask_nodes: tuple[tuple[int, ...], ...] = ()
    kmalloc_ok: bool = False
    #: init_on_alloc / init_on_free static keys, page poisoning in force
    init_on_alloc: bool = False
    init_on_free: bool = False
    page_poisoning: bool = False
    #: set once the vmalloc space is usable (vmalloc_init)
    vmap_initialized: bool = False
    #: hstates: the huge page sizes the command line named, in order
    #: (mmsvc.mm.hugetlb.HState), and hugepages= given before any size
    hstates: list[Any] = field(default_factory=list)
    default_hstate_max_huge_pages: int = 0
    #: default_hugepagesz= as parsed (bytes; 0: not given, the arch's HPAGE_SIZE)
    default_hugepagesz: int = 0
    slab_state: str = "DOWN"
    #: vmemmap_optimize_enabled: HugeTLB pages give back the vmemmap of their
    #: tail struct pages (``hugetlb_free_vmemmap``)
    vmemmap_optimize_enabled: bool = False
    #: memtest_pattern: how many patterns ``memtest=`` asked early_memtest to run
    memtest_pattern: int = 0
    #: parse_early_param has run: x86 calls it in setup_arch, other
    #: architectures leave it to start_kernel (after "Kernel command line:")
    early_params_parsed: bool = False

    @property
    def nr_online_nodes(self) -> int:
        """``num_online_nodes()``."""
        return len(self.node_online_map)

    def node_set_online(self, nids: Iterable[int]) -> None:
        """Bring nodes online (``node_set_online``)."""
        self.node_online_map = tuple(sorted(set(self.node_online_map) | set(nids)))

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {**asdict(self), "nr_online_nodes": self.nr_online_nodes}


@dataclass(frozen=True)
class Report:
    """Something a debug plugin found (KFENCE, kmemleak ...): a
    ``plugin_report`` breakpoint stops on it."""

    plugin: str
    message: str
    step: str


@dataclass
class BootContext:
    """Everything a boot step may read or change.

    Attributes:
        machine: the :class:`~mmsvc.machine.description.MachineDescription`.
        arch: the :class:`~mmsvc.arch.Architecture` booting.
        profile: ``"5.14"`` or ``"6.1"``.
        mm: the Rust core (``mmsvc._core.Mm``): memblock, zones, buddy.
        log: the kernel log.
        g: the kernel's global variables.
        arch_state: scratch space of the architecture plugin (plain data).
        plugin_state: scratch space of other plugins, by plugin name.
        results: structured results steps publish (``"free_area_init"``,
            ``"mem_init_print_info"`` ...), read by views and ``--json``.
    """

    machine: MachineDescription
    arch: Architecture
    profile: str
    mm: Any
    pm: PluginManager
    log: KernelLog = field(default_factory=KernelLog)
    g: KernelGlobals = field(default_factory=KernelGlobals)
    arch_state: dict[str, Any] = field(default_factory=dict)
    plugin_state: dict[str, dict[str, Any]] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    reports: list[Report] = field(default_factory=list)
    #: (leaves run so far, leaves in the whole boot), kept by the simulation
    progress: tuple[int, int] = (0, 0)

    # -- printing -------------------------------------------------------

    def printk(self, text: str, level: int = KERN_INFO) -> None:
        """Print to the kernel log, attributed to the running step."""
        self.flush_memblock_trace()
        self.log.printk(text, level)

    def pr_info(self, text: str) -> None:
        self.printk(text, KERN_INFO)

    def parse_early_param(self) -> None:
        """The kernel's ``parse_early_param``, once: the early parameters take
        effect (``memblock=debug`` starts tracing; mminit_loglevel= is read).
        x86 calls it in setup_arch; otherwise start_kernel does, after the
        "Kernel command line:" line."""
        if self.g.early_params_parsed:
            return
        self.g.early_params_parsed = True
        if self.cmdline.memblock_debug:
            self.mm.memblock.debug = True
        from mmsvc.mm import hugetlb_vmemmap  # mm modules import this one

        hugetlb_vmemmap.parse_early(self)

    def flush_memblock_trace(self) -> None:
        """Move memblock's ``memblock=debug`` lines into the kernel log, so
        they appear in order with what the steps print."""
        mb = self.mm.memblock
        if mb.debug:
            for line in mb.take_log():
                self.log.printk(line)

    def report(self, plugin: str, message: str) -> Report:
        """A debug plugin reports a finding: logged, kept in ``reports``, and
        ``plugin_report`` breakpoints stop after the current step."""
        rep = Report(plugin, message, self.log.step)
        self.reports.append(rep)
        self.printk(f"{plugin}: {message}")
        return rep

    # -- command line ---------------------------------------------------

    @property
    def cmdline(self) -> Any:
        """The parsed kernel command line of the machine."""
        return self.machine.parsed_cmdline

    @property
    def kconfig(self) -> Any:
        return self.machine.kconfig

    @property
    def build(self) -> Any:
        """The per-build constants of the kernel image: the catalogue entry of
        its release (empty for an uncatalogued build), with what the image
        states for itself (from a symbol table, or a log of an uncatalogued
        build: :attr:`KernelImage.CONSTANTS`) taking precedence."""
        import dataclasses

        from mmsvc.machine.kernels import BuildConstants, find

        found = find(self.machine.kernel.release, self.machine.arch)
        constants = found.constants if found else BuildConstants()
        image = self.machine.kernel
        own = {k: getattr(image, k) for k in image.CONSTANTS if getattr(image, k) is not None}
        return dataclasses.replace(constants, **own) if own else constants

    def online_cpus(self) -> int:
        """The CPUs ``smp_init`` brings up: the present ones, up to
        ``maxcpus=`` (none but the boot CPU with ``nosmp``) and nr_cpu_ids."""
        if not self.kconfig.smp:
            return 1
        present = min(self.machine.present_cpus or self.machine.cpus, self.g.nr_cpu_ids)
        return max(1, min(present, self.cmdline.setup_max_cpus(self.kconfig.nr_cpus)))

    def cpu_to_node(self, cpu: int) -> int:
        """``cpu_to_node``: node 0 for a CPU the architecture placed nowhere."""
        nodes = self.g.cpu_to_node
        return nodes[cpu] if cpu < len(nodes) else 0

    def node_cpumask_weights(self, cpus: int) -> list[int]:
        """``cpumask_weight(cpumask_of_node(nid))`` for every node once CPUs
        ``0 .. cpus-1`` are up."""
        per_node = [0] * (max(self.g.node_possible_map, default=0) + 1)
        for cpu in range(cpus):
            if cpu < len(self.g.cpu_cpumask_nodes):
                nodes: tuple[int, ...] = self.g.cpu_cpumask_nodes[cpu]
            else:
                nodes = (self.cpu_to_node(cpu),)
            for nid in nodes:
                if nid >= len(per_node):
                    per_node.extend([0] * (nid + 1 - len(per_node)))
                per_node[nid] += 1
        return per_node

    def profile_at_least(self, version: str) -> bool:
        return _version_tuple(self.profile) >= _version_tuple(version)


def _version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))
