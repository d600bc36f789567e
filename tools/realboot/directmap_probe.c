// SPDX-License-Identifier: GPL-2.0
/*
 * directmap_probe: print, from inside a running x86_64 kernel, how its
 * direct map and kernel-image mapping are made up (4K, 2M or 1G leaves) and
 * which pfns back the module area (the BPF JIT's packs live there). Loading
 * it maps its own pages in the module area too; they are the last run.
 * Its init fails on purpose (ECANCELED), so nothing is left behind.
 */
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>
#include <asm/pgtable_types.h>

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("print direct-map leaf sizes and module-area pfns");

static unsigned long maxpfn = 0x80000;
module_param(maxpfn, ulong, 0);
/* the image mapping with nokaslr: _text at 16 MiB */
static unsigned long image_start = 0xffffffff81000000UL;
module_param(image_start, ulong, 0);
static unsigned long image_end = 0xffffffff84800000UL;
module_param(image_end, ulong, 0);

/* 1 = 4K, 2 = 2M, 3 = 1G (enum pg_level), -1 = not mapped */
static int leaf_level(unsigned long va)
{
	unsigned int level = 0;
	pte_t *pte = lookup_address(va, &level);

	return pte && pte_present(*pte) ? (int)level : -1;
}

static void print_direct_map(void)
{
	unsigned long pfn, run = 0;
	int prev = -2, lvl = -2;

	for (pfn = 0; pfn < maxpfn; pfn += 512) {
		lvl = leaf_level((unsigned long)__va(pfn << PAGE_SHIFT));
		if (lvl != prev && prev != -2)
			pr_info("DM: [%#lx-%#lx) level %d\n", run << PAGE_SHIFT, pfn << PAGE_SHIFT, prev);
		if (lvl != prev)
			run = pfn;
		prev = lvl;
	}
	pr_info("DM: [%#lx-%#lx) level %d\n", run << PAGE_SHIFT, pfn << PAGE_SHIFT, prev);
}

static void print_image_map(void)
{
	unsigned long va;

	for (va = image_start; va < image_end; va += PMD_SIZE)
		pr_info("HM: %#lx level %d\n", va, leaf_level(va));
}

static void print_module_area(void)
{
	unsigned long va, run_va = 0, first = 0, last = 0, pages = 0;

	for (va = MODULES_VADDR; va < MODULES_END; va += PAGE_SIZE) {
		struct page *page = vmalloc_to_page((void *)va);
		unsigned long pfn;

		if (!page)
			continue;
		pfn = page_to_pfn(page);
		if (pages && pfn == last + 1 && va == run_va + (pfn - first) * PAGE_SIZE) {
			last = pfn;
			pages++;
			continue;
		}
		if (pages)
			pr_info("MA: va %#lx pfn [%#lx-%#lx]\n", run_va, first, last);
		run_va = va;
		first = last = pfn;
		pages++;
	}
	if (pages)
		pr_info("MA: va %#lx pfn [%#lx-%#lx]\n", run_va, first, last);
	pr_info("MA: %lu pages\n", pages);
}

static int __init directmap_probe_init(void)
{
	print_direct_map();
	print_image_map();
	print_module_area();
	return -ECANCELED;
}
module_init(directmap_probe_init);
