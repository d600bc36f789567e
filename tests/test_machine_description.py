"""Machine descriptions: dict/TOML/JSON round trips, defaults, validation errors."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmsvc.errors import MachineConfigError
from mmsvc.machine import (
    E820Entry,
    MachineDescription,
    NumaNode,
    default_machine,
    dumps_json,
    dumps_toml,
    load,
    loads_json,
    loads_toml,
)
from mmsvc.machine.description import E820Firmware, GenericFirmware, UmlFirmware

TOML = """
arch = "x86_64"
profile = "6.1"
cpus = 2
cmdline = "console=ttyS0 nokaslr memmap=128M$0x10000000"
kernel = "6.1.0-56-amd64"

[firmware]
e820 = [
  { addr = 0x0, size = 0x9fc00, type = "usable" },
  { addr = 0x9fc00, size = "1K", type = "reserved" },
  { addr = 0x100000, size = "1022M", type = 1 },
  { addr = 0x40000000, size = "64M", type = 2 },
  { addr = 0x100000000, size = "4G", type = "usable" },
]

[[numa]]
nid = 0
ranges = [{ start = 0, end = 0x100000000 }]
cpus = [0]

[[numa]]
nid = 1
ranges = [{ start = 0x100000000, size = "4G" }]
cpus = [1]

[kconfig]
page_poisoning = false
"""


def base_dict():
    return default_machine().to_dict()


def test_default_machine():
    d = default_machine()
    assert d.arch == "x86_64" and d.cpus == 2 and d.profile == "5.14"
    assert d.kernel.release == "5.14.0-generic"
    assert d.kconfig.page_extension and d.kconfig.deferred_struct_page_init
    assert len(d.bios_e820()) == 8
    assert d.memblock_memory() == [(0x1000, 0x9F000), (0x100000, 0xBFFE0000),
                                   (0x100000000, 0x140000000)]
    assert d.max_physmem_bits == 52
    assert default_machine("6.1").kernel.release == "6.1.0-56-amd64"


def test_toml_load_and_round_trips(tmp_path):
    d = loads_toml(TOML)
    assert d.kernel.reserved_span == 0x3400000
    assert not d.kconfig.page_poisoning and d.kconfig.page_extension
    assert [n.nid for n in d.numa] == [0, 1] and d.numa[1].ranges == ((1 << 32, 2 << 32),)
    assert d.firmware.e820[1] == E820Entry(0x9FC00, 0x400, 2)
    assert d.user_e820() is not None
    assert loads_toml(dumps_toml(d)) == d
    assert loads_json(dumps_json(d)) == d
    assert MachineDescription.from_dict(json.loads(json.dumps(d.to_dict()))) == d
    p = tmp_path / "m.toml"
    p.write_text(dumps_toml(d))
    assert load(p) == d
    q = tmp_path / "m.json"
    q.write_text(dumps_json(d))
    assert load(q) == d


def test_uml_and_generic_round_trip():
    um = MachineDescription.from_dict({"arch": "um", "profile": "6.1", "cmdline": "mem=32M",
                                       "firmware": {"exec_shield_gap": 611262464}})
    assert isinstance(um.firmware, UmlFirmware)
    assert um.uml_physmem_size() == 0x266F2000
    assert loads_toml(dumps_toml(um)) == um
    um514 = MachineDescription.from_dict({"arch": "um", "profile": "5.14"})
    assert um514.uml_physmem_size() == 32 << 20
    rv = MachineDescription.from_dict({
        "arch": "riscv64", "kernel": {"release": "6.1.0-riscv64", "load_address": 0x80200000},
        "firmware": {"memory": [{"start": 0x80000000, "size": "2G", "type": "ram"},
                                {"start": 0x80000000, "size": "2M", "type": "reserved"}]},
        "arch_options": {"phys_bits": 56, "isa": "rv64gc", "sv": 48}})
    assert isinstance(rv.firmware, GenericFirmware)
    assert rv.arch_options["isa"] == "rv64gc" and rv.max_physmem_bits == 56
    assert rv.memblock_memory() == [(0x80000000, 0x100000000)]
    assert loads_json(dumps_json(rv)) == rv
    assert loads_toml(dumps_toml(rv)) == rv


def test_kconfig_and_system_map_files(tmp_path):
    (tmp_path / "my.config").write_text("CONFIG_NUMA=y\nCONFIG_NODES_SHIFT=6\n"
                                        "# CONFIG_X86_5LEVEL is not set\nCONFIG_NR_CPUS=64\n")
    (tmp_path / "System.map").write_text(SYSTEM_MAP)
    p = tmp_path / "m.toml"
    p.write_text(TOML.replace('kernel = "6.1.0-56-amd64"',
                              'kernel = { system_map = "System.map", release = "custom" }')
                 .replace("[kconfig]\npage_poisoning = false", '[kconfig]\npath = "my.config"'))
    d = load(p)
    assert d.kconfig.nodes_shift == 6 and not d.kconfig.x86_5level
    assert d.max_physmem_bits == 46
    assert d.kernel.release == "custom" and d.kernel.text == 0x800000


SYSTEM_MAP = """\
ffffffff81000000 T _text
ffffffff81000000 T _stext
ffffffff81800000 T _etext
ffffffff81a00000 R __start_rodata
ffffffff81c00000 R __end_rodata
ffffffff81e00000 D _sdata
ffffffff81f00000 D _edata
ffffffff82000000 T __init_begin
ffffffff82000100 T _sinittext
ffffffff82080000 T _einittext
ffffffff82200000 T __init_end
ffffffff82400000 B __bss_start
ffffffff82800000 B __bss_stop
ffffffff82800000 B __end_of_kernel_reserve
ffffffff82812345 B _end
"""


# --------------------------------------------------------------------------- errors


def mutate(fn):
    d = copy.deepcopy(base_dict())
    fn(d)
    return d


@pytest.mark.parametrize("change,field", [
    (lambda d: d.update(bogus=1), "bogus"),
    (lambda d: d["firmware"].update(extra=1), "firmware.extra"),
    (lambda d: d["firmware"]["e820"][3].update(color="red"), "firmware.e820[3].color"),
    (lambda d: d["firmware"]["e820"][3].update(size=0), "firmware.e820[3].size"),
    (lambda d: d["firmware"]["e820"][3].update(size=-4096), "firmware.e820[3].size"),
    (lambda d: d["firmware"]["e820"][3].update(size=1.5), "firmware.e820[3].size"),
    (lambda d: d["firmware"]["e820"][3].update(addr="lots"), "firmware.e820[3].addr"),
    (lambda d: d["firmware"]["e820"][3].update(type="weird"), "firmware.e820[3].type"),
    (lambda d: d["firmware"]["e820"][3].pop("size"), "firmware.e820[3].size"),
    (lambda d: d["firmware"]["e820"][7].update(addr=1 << 52), "firmware.e820[7]"),
    (lambda d: d["firmware"].update(e820=d["firmware"]["e820"][:1]), "firmware.e820"),
    (lambda d: d.update(profile="5.15"), "profile"),
    (lambda d: d.update(cpus=0), "cpus"),
    (lambda d: d.update(cpus=True), "cpus"),
    (lambda d: d["kconfig"].update(numa="yes"), "kconfig.numa"),
    (lambda d: d["kconfig"].update(flux_capacitor=True), "kconfig.flux_capacitor"),
    (lambda d: d["kernel"].update(text=-1), "kernel.text"),
    (lambda d: d["kernel"].update(colour=1), "kernel.colour"),
    (lambda d: d["cpu_features"].update(la57="on"), "cpu_features.la57"),
    (lambda d: d["cpu_features"].update(avx=True), "cpu_features.avx"),
    (lambda d: d.update(initrd={"start": 0x1000000, "size": 0}), "initrd.size"),
    (lambda d: d.update(initrd={"start": 0x1000000}), "initrd.size"),
    (lambda d: d.update(cmdline="memmap=12Q"), "cmdline: memmap=12Q"),
    (lambda d: d.update(cmdline="init_on_free=perhaps"), "cmdline: init_on_free=perhaps"),
    (lambda d: d.update(kernel="9.9.9-nope"), "kernel"),
    (lambda d: d.update(kernel={"release": "9.9.9-nope", "text": 4096}), "kernel.reserved_span"),
    (lambda d: d.update(numa=[{"nid": 0, "ranges": [{"start": 0, "end": 0x80000000}]},
                              {"nid": 1, "ranges": [{"start": 0x7fff0000, "end": 0x90000000}]}]),
     "numa[1].ranges[0]"),
    (lambda d: d.update(numa=[{"nid": 0, "ranges": [{"start": 0x1000, "end": 0x1000}]}]),
     "numa[0].ranges[0]"),
    (lambda d: d.update(numa=[{"nid": 5000, "ranges": []}]), "numa[0].nid"),
    (lambda d: d.update(numa=[{"nid": 0}, {"nid": 0}]), "numa[1].nid"),
    (lambda d: d.update(numa=[{"nid": 0, "cpus": [7]}]), "numa[0].cpus[0]"),
    (lambda d: d.update(numa=[{"nid": 0, "cpus": [0]}, {"nid": 1, "cpus": [0]}]),
     "numa[1].cpus[0]"),
    (lambda d: d.update(numa=[{"nid": 0, "ranges": [{"start": 0, "end": 1, "size": 1}]}]),
     "numa[0].ranges[0]"),
    (lambda d: d.update(numa=[{"ranges": []}]), "numa[0].nid"),
])
def test_errors_name_the_field(change, field):
    with pytest.raises(MachineConfigError) as ei:
        MachineDescription.from_dict(mutate(change))
    assert ei.value.field == field


def test_numa_needs_config_numa():
    d = mutate(lambda d: d.update(numa=[{"nid": 0}]))
    d["kconfig"]["numa"] = False
    with pytest.raises(MachineConfigError) as ei:
        MachineDescription.from_dict(d)
    assert ei.value.field == "numa"


def test_four_level_limit():
    d = mutate(lambda d: d["firmware"]["e820"][7].update(addr=1 << 46))
    d["cpu_features"]["la57"] = False
    with pytest.raises(MachineConfigError) as ei:
        MachineDescription.from_dict(d)
    assert "46-bit" in ei.value.reason
    d["cmdline"] = ""
    d["cpu_features"]["la57"] = True
    assert MachineDescription.from_dict(d).max_physmem_bits == 52
    d["cmdline"] = "no5lvl"
    with pytest.raises(MachineConfigError):
        MachineDescription.from_dict(d)


def test_bad_documents():
    with pytest.raises(MachineConfigError) as ei:
        loads_toml("arch = ")
    assert ei.value.field == "<toml>"
    with pytest.raises(MachineConfigError) as ei:
        loads_json("{")
    assert ei.value.field == "<json>"
    with pytest.raises(MachineConfigError) as ei:
        loads_json("[]")
    assert ei.value.field == "<root>"


def test_programmatic_construction_validates():
    d = default_machine()
    with pytest.raises(MachineConfigError) as ei:
        d.replace(cpus=3, numa=(NumaNode(0, ((0, 1 << 32),), (0, 5)),))
    assert ei.value.field == "numa[0].cpus[1]"
    with pytest.raises(MachineConfigError) as ei:
        d.replace(firmware=UmlFirmware())
    assert ei.value.field == "firmware"


def test_kernel_range_edit_on_reserved_kernel_area():
    d = default_machine().replace(cmdline="memmap=64M$16M")
    table, warned = d.e820_after_setup()
    assert warned
    assert table[0] == E820Entry(0, 0x1000, 2)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1 << 40), st.integers(1, 1 << 32),
                          st.sampled_from([1, 2, 3, 4, 5, 7, 12, 0xEFFFFFFF])),
                min_size=2, max_size=12),
       st.integers(1, 64), st.text(alphabet="abc =", max_size=20))
def test_round_trip_property(raw, cpus, junk):
    entries = tuple(E820Entry(a, s, t) for a, s, t in raw)
    cmdline = " ".join(w for w in junk.split() if "=" not in w)
    d = default_machine().replace(firmware=E820Firmware(entries), cpus=cpus, cmdline=cmdline)
    assert MachineDescription.from_dict(d.to_dict()) == d
    assert loads_json(dumps_json(d)) == d
    assert loads_toml(dumps_toml(d)) == d


def test_mp_table_round_trips_and_is_checked():
    import dataclasses

    from mmsvc.machine import MachineDescription, MpTable, default_machine

    m = default_machine("6.1")
    fw = dataclasses.replace(m.firmware, mp_table=MpTable(0xF5BA0, 0xF5BB0, 0xD0))
    with_mp = dataclasses.replace(m, firmware=fw)
    assert MachineDescription.from_dict(with_mp.to_dict()).firmware.mp_table == fw.mp_table
    data = with_mp.to_dict()
    del data["firmware"]["mp_table"]["config_length"]
    with pytest.raises(MachineConfigError) as ei:
        MachineDescription.from_dict(data)
    assert ei.value.field == "firmware.mp_table"
    data = with_mp.to_dict()
    data["firmware"]["mp_table"]["address"] = 0x200000
    with pytest.raises(MachineConfigError, match="first MiB"):
        MachineDescription.from_dict(data).validate()
