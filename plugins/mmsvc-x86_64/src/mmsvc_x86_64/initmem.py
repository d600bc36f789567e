"""What x86_64 gives back once boot is over (kernel_init: free_initmem,
free_initrd_mem, mark_rodata_ro's image gaps, the unused decrypted bss and
the SMP alternatives).

The image is laid out the way vmlinux.lds.S lays it out: text, the gap to
the 2 MiB-aligned rodata, rodata, the gap to the 2 MiB-aligned data, data,
init, bss. Sizes the log does not give come from the kernel catalogue, or
from that alignment rule for an uncatalogued build.
"""

from __future__ import annotations

from mmsvc.api import PAGE_SIZE, BootContext, round_up

HPAGE_SIZE = 2 << 20


def section_starts(ctx: BootContext) -> dict[str, int]:
    """Physical start of each part of the image (and ``end``, the end of
    what the kernel reserves for it)."""
    k, b = ctx.machine.kernel, ctx.build
    text_end = round_up(k.load_address + k.text, PAGE_SIZE)
    gap1 = b.text_rodata_gap if b.text_rodata_gap is not None else \
        round_up(text_end, HPAGE_SIZE) - text_end
    rodata = text_end + gap1
    rodata_end = round_up(rodata + k.rodata, PAGE_SIZE)
    gap2 = b.rodata_data_gap if b.rodata_data_gap is not None else \
        round_up(rodata_end, HPAGE_SIZE) - rodata_end
    data = rodata_end + gap2
    alternatives = round_up(data + k.rwdata, PAGE_SIZE)
    init = alternatives + (b.smp_alternatives or 0)
    bss = round_up(init + k.init, PAGE_SIZE)
    return {"text_end": text_end, "rodata": rodata, "rodata_end": rodata_end, "data": data,
            "alternatives": alternatives, "init": init, "bss": bss,
            "decrypted": round_up(bss + k.bss, PAGE_SIZE),
            "end": k.load_address + k.reserved_span}


def image_layout(ctx: BootContext) -> dict[str, tuple[int, int]]:
    """Physical ``[start, end)`` of each freeable piece of the image."""
    s, b, k = section_starts(ctx), ctx.build, ctx.machine.kernel
    decrypted = s["decrypted"]
    pieces = {
        "SMP alternatives": (s["alternatives"], s["init"]),
        "unused decrypted": (decrypted, min(s["end"], decrypted + (b.decrypted_unused or 0))),
        "unused kernel image (initmem)": (s["init"], s["init"] + round_up(k.init, PAGE_SIZE)),
        "unused kernel image (text/rodata gap)": (s["text_end"], s["rodata"]),
        "unused kernel image (rodata/data gap)": (s["rodata_end"], s["data"]),
    }
    return {name: (lo, hi) for name, (lo, hi) in pieces.items() if hi > lo}


def free_initmem(ctx: BootContext) -> None:
    """Give the pieces back to the buddy allocator and print what the kernel prints."""
    freed: dict[str, int] = {}

    def give(name: str, start: int, end: int) -> None:
        pages = ctx.mm.free_reserved_area(start // PAGE_SIZE, end // PAGE_SIZE)
        freed[name] = pages
        ctx.pr_info(f"Freeing {name} memory: {pages * PAGE_SIZE >> 10}K")

    layout = image_layout(ctx)
    if "SMP alternatives" in layout:
        give("SMP alternatives", *layout.pop("SMP alternatives"))
    rd = ctx.machine.initrd
    if rd is not None and rd.size:
        start = rd.start & ~(PAGE_SIZE - 1)
        give("initrd", start, round_up(rd.start + rd.size, PAGE_SIZE))
    for name, (start, end) in layout.items():
        give(name, start, end)
    ctx.arch_state["freed_after_boot"] = freed
