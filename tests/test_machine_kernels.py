"""Kernel catalogue, .config reader, System.map reader."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mmsvc.errors import MachineConfigError
from mmsvc.machine import kernels
from mmsvc.machine.kconfig import kconfig_arch, load_kconfig, parse_kconfig

from .conftest import FIXTURES

FIX = FIXTURES
needs_fixtures = pytest.mark.skipif(FIX is None, reason="shared/fixtures not found next to "
                                                        "the repository")


def test_catalogue_contents():
    gen = kernels.lookup("6.1.0-56-amd64")
    cloud = kernels.lookup("6.1.0-56-cloud-amd64")
    uml = kernels.lookup("6.1.176", "um")
    assert kernels.lookup("6.1um4").release == "6.1.176"
    assert (gen.image.reserved_span, cloud.image.reserved_span) == (0x3400000, 0x2800000)
    assert gen.image.load_address == cloud.image.load_address == 0x1000000
    assert uml.image.image_end == 10780 * 1024 and uml.image.load_address == 0
    assert (gen.image.text, gen.image.bss) == (14343 * 1024, 17344 * 1024)
    assert (cloud.image.rwdata, cloud.image.rodata) == (2327 * 1024, 8348 * 1024)
    assert gen.constants.node_data_size == cloud.constants.node_data_size == 0x2B000
    assert (gen.constants.percpu_unit_pages, cloud.constants.percpu_unit_pages) == (62, 61)
    assert gen.constants.mem_section_root_bytes(52) == 2 << 20
    assert cloud.constants.mem_section_root_bytes(52) == 1 << 20
    assert gen.constants.mem_section_root_bytes(46) == 32 << 10
    assert gen.kconfig.page_extension and not cloud.kconfig.page_extension
    assert gen.kconfig.page_poisoning and not cloud.kconfig.page_poisoning
    assert uml.kconfig.flatmem and not uml.kconfig.numa and uml.kconfig.stack_init == "off"
    assert gen.kconfig.stack_init == "all(zero)"
    d514 = kernels.default_build("x86_64", "5.14")
    assert d514.profile == "5.14" and d514.synthetic
    assert kernels.default_build("riscv64", "6.1") is None


def test_lookup_unknown_names_field():
    with pytest.raises(MachineConfigError) as ei:
        kernels.lookup("1.2.3")
    assert ei.value.field == "kernel.release"
    assert kernels.find("6.1.0-56-amd64", "um") is None


@needs_fixtures
@pytest.mark.parametrize("name,release", [("config-6.1.0-56-amd64", "6.1.0-56-amd64"),
                                          ("config-6.1.0-56-cloud-amd64", "6.1.0-56-cloud-amd64"),
                                          ("config-6.1.0-um", "6.1.176")])
def test_catalogue_config_matches_fixture_kconfig(name, release):
    path = FIX / "kconfig" / name
    assert load_kconfig(path) == kernels.lookup(release).kconfig
    assert kconfig_arch(path.read_text()) == kernels.lookup(release).arch


def test_parse_kconfig_basics():
    cfg = parse_kconfig("#\n# comment\nCONFIG_NUMA=y\nCONFIG_KFENCE=m\n"
                        "# CONFIG_CMA is not set\nCONFIG_NR_CPUS=64\n"
                        "CONFIG_PHYSICAL_START=0x200000\n"
                        "CONFIG_DEBUG_KMEMLEAK=y\nCONFIG_FOO=\"bar\"\n", keep_extra=True)
    assert cfg.numa and cfg.kfence and not cfg.cma and cfg.kmemleak
    assert cfg.nr_cpus == 64 and cfg.physical_start == 0x200000
    assert cfg.extra["FOO"] == '"bar"'
    with pytest.raises(MachineConfigError) as ei:
        parse_kconfig("CONFIG_NUMA=y\nthis is junk\n")
    assert ei.value.field == "kconfig line 2"
    with pytest.raises(MachineConfigError) as ei:
        parse_kconfig("CONFIG_NR_CPUS=many\n")
    assert ei.value.field == "kconfig: CONFIG_NR_CPUS"


SYSTEM_MAP = """\
ffffffff81000000 T _text
ffffffff81000000 T _stext
ffffffff81e01234 T _etext
ffffffff82000000 R __start_rodata
ffffffff828ee000 R __end_rodata
ffffffff82a00000 D _sdata
ffffffff82c48000 D _edata
ffffffff82e00000 T __init_begin
ffffffff82e00000 T _sinittext
ffffffff82f00000 T _einittext
ffffffff830c2000 T __init_end
ffffffff83200000 B __bss_start
ffffffff84000000 B __bss_stop
ffffffff84400000 B __end_of_kernel_reserve
ffffffff84419999 B _end
"""


def test_image_from_synthetic_system_map(tmp_path):
    img = kernels.image_from_system_map(SYSTEM_MAP, "6.1.0-test")
    assert img.release == "6.1.0-test" and img.load_address == 0x1000000
    assert img.text == 0xE01234 and img.rodata == 0x8EE000 and img.rwdata == 0x248000
    assert img.init == 0x2C2000 and img.bss == 0xE00000
    assert img.reserved_span == 0x3400000 and img.image_end == 0x341A000
    p = tmp_path / "System.map"
    p.write_text(SYSTEM_MAP)
    assert kernels.image_from_system_map(p, "6.1.0-test") == img
    assert kernels.image_from_system_map(str(p), "6.1.0-test") == img


def test_system_map_uml_and_errors():
    uml = """\
0000000060000000 T __binary_start
0000000060000000 T _text
0000000060000000 T _stext
0000000060400000 T _etext
0000000060500000 R __start_rodata
0000000060600000 R __end_rodata
0000000060700000 D _sdata
0000000060780000 D _edata
0000000060800000 T __init_begin
0000000060830000 T __init_end
0000000060900000 B __bss_start
0000000060950000 B __bss_stop
0000000060a86800 B _end
"""
    img = kernels.image_from_system_map(uml, "6.1um", "um")
    assert img.load_address == 0 and img.image_end == 0xA87000
    with pytest.raises(MachineConfigError) as ei:
        kernels.image_from_system_map(uml.replace("_etext", "_xtext"), "x", "um")
    assert ei.value.field == "System.map" and "_etext" in ei.value.reason
    with pytest.raises(MachineConfigError) as ei:
        kernels.image_from_system_map("zz T _text\n", "x")
    assert ei.value.field == "System.map line 1"


def test_system_map_gives_the_idt_and_the_mcount_sites():
    extra = ("ffffffff83313000 b idt_table\n"
             "ffffffff83400000 T __start_mcount_loc\n"
             "ffffffff8344f248 T __stop_mcount_loc\n")
    img = kernels.image_from_system_map(SYSTEM_MAP + extra, "6.1.0-test")
    assert img.idt_table_offset == 0x2313000
    assert img.ftrace_entries == 0x4F248 // 8 == 40521
    assert kernels.image_from_system_map(SYSTEM_MAP, "6.1.0-test").ftrace_entries is None


def test_image_symbols_override_the_catalogue_and_drive_the_boot():
    from mmsvc.machine import default_machine
    from mmsvc.simulation import Simulation

    m = default_machine("6.1")
    kernel = dataclasses.replace(m.kernel, release="6.1.0-custom",
                                  idt_table_offset=0x2400000, ftrace_entries=1000)
    sim = Simulation(m.replace(kernel=kernel))
    assert (sim.ctx.build.idt_table_offset, sim.ctx.build.ftrace_entries) == (0x2400000, 1000)
    sim.run(until="sock_init")
    assert "ftrace: allocating 1000 entries in 4 pages" in sim.log.text()
    assert "ftrace: allocated 4 pages with 1 groups" in sim.log.text()
    idt = m.kernel.load_address + 0x2400000
    virt = sim.ctx.results["direct_map"]["virt"]
    assert "WRITE" not in sim.mm.translate(virt + idt)["flags"]
    # a machine file may give them too
    assert kernel.to_dict()["ftrace_entries"] == 1000


_REALBOOTS = Path(__file__).parent / "realboots"


def _unknown_build(log: str, release: str, *, drop: tuple[str, ...] = ()) -> str:
    text = (_REALBOOTS / log).read_text(errors="replace").replace(release, "6.1.0-99-custom")
    return "\n".join(ln for ln in text.splitlines() if not any(d in ln for d in drop))


@pytest.mark.parametrize("log, release", [("pc-1536m.log", "6.1.0-56-amd64"),
                                          ("cloud-1g.log", "6.1.0-56-cloud-amd64")])
def test_an_unknown_build_reserves_what_the_linker_script_lays_out(log, release):
    """Outside the catalogue the image's reservation ends where /proc/iomem's
    "Kernel bss" ends; without it the span follows the layout rules (rodata
    and data on 2 MiB boundaries, the freed gaps as printed, the unwind
    tables before init, bss ending on a 2 MiB boundary). Both Debian builds
    come out at their measured spans every way."""
    from mmsvc.machine import from_dmesg

    want = kernels.find(release, "x86_64").image.reserved_span
    assert from_dmesg(_unknown_build(log, release)).kernel.reserved_span == want
    no_iomem = _unknown_build(log, release, drop=(": Kernel bss",))
    assert from_dmesg(no_iomem).kernel.reserved_span == want
    cut = _unknown_build(log, release, drop=(": Kernel bss", "Freeing unused kernel image"))
    assert from_dmesg(cut).kernel.reserved_span == want


def test_iomem_places_an_unknown_kaslr_build_exactly():
    from mmsvc.machine import from_dmesg

    d = from_dmesg(_unknown_build("pc-2g-kaslr.log", "6.1.0-56-amd64"))
    # "53800000-54601d31 : Kernel code" ... "55b10000-56bfffff : Kernel bss"
    assert (d.kernel.load_address, d.kernel.reserved_span) == (0x5380_0000, 0x340_0000)


def test_an_unknown_build_takes_the_constants_its_log_prints():
    """The percpu line's static size, ftrace's entry count and what the
    image gives back stand in for the catalogue's constants; for the cloud
    build renamed, they are the catalogue's own."""
    from mmsvc.machine import from_dmesg
    from mmsvc.machine.description import KernelImage

    image = from_dmesg(_unknown_build("cloud-1g.log", "6.1.0-56-cloud-amd64")).kernel
    constants = kernels.find("6.1.0-56-cloud-amd64", "x86_64").constants
    for name in KernelImage.CONSTANTS:
        if name != "idt_table_offset":  # only a symbol table says where the IDT is
            assert getattr(image, name) == getattr(constants, name), name
    # a catalogued build keeps its catalogue entry
    known = from_dmesg(str(_REALBOOTS / "cloud-1g.log")).kernel
    assert known.percpu_static is None
