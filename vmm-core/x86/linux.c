/*
 * Linux x86 boot protocol loader (Documentation/arch/x86/boot.rst, protocol
 * 2.02 and newer, bzImage only): 32-bit and 64-bit direct entry.
 */
#include "gh/x86-boot.h"

#include <errno.h>
#include <glib.h>
#include <stdbool.h>
#include <string.h>

#include "boot-internal.h"
#include "gh/memory.h"
#include "gh/x86-acpi.h"

/*
 * Guest-physical layout. Everything the loader owns sits below 640 KiB, in
 * the first e820 RAM range, and the kernel goes at 1 MiB as in boot.rst's
 * "bzImage" memory map.
 *
 *   0x06000  GDT and stack (boot-internal.h; the kernel sets its own stack
 *            soon after entry)
 *   0x07000  boot_params, the "zero page"
 *   0x09000  PML4, 0x0a000 PDPT, 0x0b000..0x0f000 four PDs (64-bit entry)
 *   0x10000  the real-mode setup code, with its heap up to 0x20000
 *            (firmware-mediated boot only)
 *   0x20000  command line, up to CMDLINE_AREA bytes
 *   0x100000 the protected-mode kernel
 */
#define BP_ADDR		0x7000ULL
#define PML4_ADDR	0x9000ULL
#define PDPT_ADDR	0xa000ULL
#define PD_ADDR		0xb000ULL
#define LOW_END		0xf000ULL
#define SETUP_ADDR	0x10000ULL	/* firmware boot: the real-mode part */
#define CMDLINE_ADDR	0x20000ULL
#define CMDLINE_AREA	0x10000ULL
#define KERNEL_ADDR	0x100000ULL

/* setup_header offsets (boot.rst, "The real-mode kernel header") */
#define HDR_START		0x1f1
#define HDR_SETUP_SECTS		0x1f1
#define HDR_SYSSIZE		0x1f4
#define HDR_VID_MODE		0x1fa
#define HDR_JUMP		0x200
#define HDR_VERSION		0x206
#define HDR_TYPE_OF_LOADER	0x210
#define HDR_LOADFLAGS		0x211
#define HDR_CODE32_START	0x214
#define HDR_RAMDISK_IMAGE	0x218
#define HDR_RAMDISK_SIZE	0x21c
#define HDR_HEAP_END_PTR	0x224
#define HDR_CMD_LINE_PTR	0x228
#define HDR_INITRD_ADDR_MAX	0x22c
#define HDR_KERNEL_ALIGNMENT	0x230
#define HDR_RELOCATABLE		0x234
#define HDR_XLOADFLAGS		0x236
#define HDR_CMDLINE_SIZE	0x238
#define HDR_HW_SUBARCH		0x23c
#define HDR_HW_SUBARCH_DATA	0x240
#define HDR_SETUP_DATA		0x250
#define HDR_PREF_ADDRESS	0x258
#define HDR_INIT_SIZE		0x260
/* boot_params (zero-page.rst): the header may not extend past this */
#define HDR_MAX_END		0x290

#define LOADED_HIGH		0x01
#define CAN_USE_HEAP		0x80
#define XLF_KERNEL_64		0x0001

/* boot_params fields outside the setup header (zero-page.rst) */
#define BP_SIZE			4096
#define BP_ORIG_Y		0x001
#define BP_EXT_MEM_K		0x002
#define BP_ORIG_VIDEO_MODE	0x006
#define BP_ORIG_VIDEO_COLS	0x007
#define BP_ORIG_VIDEO_LINES	0x00e
#define BP_ORIG_VIDEO_ISVGA	0x00f
#define BP_ORIG_VIDEO_POINTS	0x010
#define BP_ACPI_RSDP_ADDR	0x070
#define BP_ALT_MEM_K		0x1e0
#define BP_E820_ENTRIES		0x1e8
#define BP_E820_TABLE		0x2d0
#define BP_E820_MAX		128
#define BP_E820_ENTRY_SIZE	20

#define TYPE_OF_LOADER_UNDEFINED 0xff

struct reservation {
	uint64_t start, end;
};

/*
 * The highest page-aligned address below limit (inclusive) where size bytes
 * lie in e820 RAM without touching any reservation (boot.rst: "as high as
 * possible" below initrd_addr_max). 0 if there is none.
 */
static uint64_t place_initrd(const struct gh_e820_entry *e, unsigned n,
			     uint64_t limit, uint64_t size,
			     const struct reservation *res, unsigned nres)
{
	uint64_t best = 0;

	for (unsigned i = 0; i < n; i++) {
		uint64_t lo = e[i].addr, top = e[i].addr + e[i].size, addr;

		if (e[i].type != GH_E820_RAM || top <= lo)
			continue;
		if (top > limit + 1)
			top = limit + 1;
		if (top <= lo || top - lo < size)
			continue;
		addr = (top - size) & ~(GH_X86_PAGE_SIZE - 1);
		/* each step moves below one reservation, so nres + 1 steps suffice */
		for (unsigned step = 0; step <= nres && addr >= lo; step++) {
			unsigned r;

			for (r = 0; r < nres; r++)
				if (addr < res[r].end && res[r].start < addr + size)
					break;
			if (r == nres) {
				if (addr > best)
					best = addr;
				break;
			}
			if (res[r].start < lo + size)
				break;
			addr = (res[r].start - size) & ~(GH_X86_PAGE_SIZE - 1);
		}
	}
	return best;
}

static void build_page_tables(uint8_t *pt)
{
	/* PML4[0] -> PDPT; PDPT[0..3] -> PDs; each PD maps 1 GiB in 2 MiB pages */
	gh_x86_put64(pt, PDPT_ADDR | 0x03);
	for (unsigned i = 0; i < 4; i++)
		gh_x86_put64(pt + 0x1000 + i * 8, (PD_ADDR + i * 0x1000) | 0x03);
	for (uint64_t j = 0; j < 4 * 512; j++)
		gh_x86_put64(pt + 0x2000 + j * 8, (j << 21) | 0x83);
}

/* What the loaders need from a bzImage's setup header, checked. */
struct linux_image {
	const char *name;
	uint8_t hdr[HDR_MAX_END];	/* the setup header, zero-padded */
	size_t hdr_end;
	size_t setup_size;		/* the real-mode part, sectors * 512 */
	size_t payload;			/* the protected-mode kernel after it */
	unsigned version;
	uint32_t cmdline_max, initrd_max;
	uint64_t run_start, run_end;	/* where it decompresses itself */
	bool long_mode;
};

/*
 * Checks a bzImage and the command line it will get: boot.rst's header
 * fields and the algorithm under init_size for where it will run.
 */
static int parse_image(const struct gh_boot_args *args, struct linux_image *im,
		       struct gh_error *err)
{
	const char *name = args->kernel_name ? args->kernel_name : "kernel";
	const uint8_t *f = args->kernel;
	size_t size = args->kernel_size;
	const char *cmdline = args->cmdline ? args->cmdline : "";
	uint8_t *hdr = im->hdr;
	unsigned setup_sects;
	uint32_t syssize, align;
	uint16_t xloadflags;
	uint64_t pref, init_size;
	bool relocatable;

	memset(im, 0, sizeof(*im));
	im->name = name;
	/* 0x208: the version at 0x206 is read below */
	if (!f || size < 0x208 || !gh_x86_is_bzimage(f, size))
		return gh_error_set(err, -ENOEXEC, "%s: not a Linux bzImage", name);

	/* The header ends where the jump at 0x200 lands (boot.rst). */
	im->hdr_end = 0x202 + (size_t)f[HDR_JUMP + 1];
	if (im->hdr_end > size)
		return gh_error_set(err, -EINVAL,
				    "%s: the setup header runs past the end of the file",
				    name);
	if (im->hdr_end > HDR_MAX_END)
		im->hdr_end = HDR_MAX_END;
	memcpy(hdr, f, im->hdr_end);

	im->version = gh_x86_get16(hdr + HDR_VERSION);
	if (im->version < 0x202)
		return gh_error_set(err, -ENOEXEC,
				    "%s: Linux boot protocol %u.%02u is too old (2.02 or "
				    "newer is needed)", name, im->version >> 8,
				    im->version & 0xff);
	if (!(hdr[HDR_LOADFLAGS] & LOADED_HIGH))
		return gh_error_set(err, -ENOEXEC,
				    "%s: a zImage (loaded below 1 MiB); only bzImage "
				    "kernels are supported", name);

	setup_sects = hdr[HDR_SETUP_SECTS] ? hdr[HDR_SETUP_SECTS] : 4;
	im->setup_size = (setup_sects + 1) * 512;
	if (im->setup_size > size)
		return gh_error_set(err, -EINVAL,
				    "%s: setup header claims %u setup sectors but the "
				    "file has only %zu", name, setup_sects,
				    (size - 512) / 512);
	im->payload = size - im->setup_size;
	if (im->payload == 0)
		return gh_error_set(err, -EINVAL,
				    "%s: the file ends after the setup code, with no "
				    "kernel",
				    name);
	syssize = im->version >= 0x204 ? gh_x86_get32(hdr + HDR_SYSSIZE) :
					 gh_x86_get16(hdr + HDR_SYSSIZE);
	if ((uint64_t)syssize * 16 > im->payload)
		return gh_error_set(err, -EINVAL,
				    "%s is truncated: the setup header says %llu bytes "
				    "of kernel follow the setup code but only %zu do",
				    name,
				    (unsigned long long)syssize * 16, im->payload);

	xloadflags = im->version >= 0x20c ? gh_x86_get16(hdr + HDR_XLOADFLAGS) : 0;
	im->long_mode = xloadflags & XLF_KERNEL_64;

	im->cmdline_max = im->version >= 0x206 ?
			  gh_x86_get32(hdr + HDR_CMDLINE_SIZE) : 255;
	if (im->cmdline_max > CMDLINE_AREA - 1)
		im->cmdline_max = CMDLINE_AREA - 1;
	if (strlen(cmdline) > im->cmdline_max)
		return gh_error_set(err, -EINVAL,
				    "%s: the command line is %zu bytes long but the "
				    "kernel accepts at most %u", name, strlen(cmdline),
				    im->cmdline_max);

	im->initrd_max = im->version >= 0x203 ?
			 gh_x86_get32(hdr + HDR_INITRD_ADDR_MAX) : 0x37ffffff;
	if (im->initrd_max == 0)
		im->initrd_max = 0x37ffffff;

	/*
	 * Where the kernel decompresses itself and how much it needs there:
	 * the algorithm in boot.rst under init_size.
	 */
	relocatable = im->version >= 0x205 && hdr[HDR_RELOCATABLE];
	align = im->version >= 0x205 ? gh_x86_get32(hdr + HDR_KERNEL_ALIGNMENT) : 0;
	pref = im->version >= 0x20a ? gh_x86_get64(hdr + HDR_PREF_ADDRESS) :
				      KERNEL_ADDR;
	init_size = im->version >= 0x20a ? gh_x86_get32(hdr + HDR_INIT_SIZE) : 0;
	if (pref >= GH_X86_FOUR_GIB)
		return gh_error_set(err, -EINVAL,
				    "%s: the preferred load address 0x%llx is above "
				    "4 GiB",
				    name, (unsigned long long)pref);
	if (relocatable) {
		im->run_start = pref > KERNEL_ADDR ? pref : KERNEL_ADDR;
		if (align && !(align & (align - 1)))
			im->run_start = (im->run_start + align - 1) &
					~((uint64_t)align - 1);
	} else {
		im->run_start = pref;
	}
	if (im->run_start < KERNEL_ADDR)
		return gh_error_set(err, -EINVAL,
				    "%s: the kernel wants to run at 0x%llx, below 1 MiB",
				    name, (unsigned long long)im->run_start);
	im->run_end = im->run_start + init_size;
	if (args->nmodules > 1)
		return gh_error_set(err, -EINVAL,
				    "%s: Linux takes one initrd but %u were given", name,
				    args->nmodules);
	if (args->nmodules == 1 && args->modules[0].size &&
	    !args->modules[0].data)
		return gh_error_set(err, -EINVAL, "%s: no data",
				    args->modules[0].name ? args->modules[0].name :
				    "initrd");
	return 0;
}

/*
 * The setup header fields every loader sets (boot.rst, "Details of header
 * fields"), into a copy of the kernel's own header at bp.
 */
static void fill_header(uint8_t *bp, const struct linux_image *im,
			uint32_t cmdline_addr, uint16_t heap_end,
			uint64_t initrd_addr, uint64_t initrd_size)
{
	memcpy(bp + HDR_START, im->hdr + HDR_START, im->hdr_end - HDR_START);
	bp[HDR_TYPE_OF_LOADER] = TYPE_OF_LOADER_UNDEFINED;
	bp[HDR_LOADFLAGS] |= CAN_USE_HEAP;
	gh_x86_put16(bp + HDR_HEAP_END_PTR, heap_end);
	gh_x86_put32(bp + HDR_CODE32_START, KERNEL_ADDR);
	gh_x86_put32(bp + HDR_RAMDISK_IMAGE, initrd_addr);
	gh_x86_put32(bp + HDR_RAMDISK_SIZE, initrd_size);
	gh_x86_put32(bp + HDR_CMD_LINE_PTR, cmdline_addr);
	/* fields the loader owns: never pass on what the file says */
	if (im->version >= 0x207) {
		gh_x86_put32(bp + HDR_HW_SUBARCH, 0);
		gh_x86_put64(bp + HDR_HW_SUBARCH_DATA, 0);
	}
	if (im->version >= 0x209)
		gh_x86_put64(bp + HDR_SETUP_DATA, 0);
}

int gh_x86_load_linux(struct gh_memory *mem, const struct gh_boot_args *args,
		      struct gh_cpu_state *cpu, struct gh_error *err)
{
	struct linux_image im;
	const char *name;
	const uint8_t *f = args->kernel;
	const char *cmdline = args->cmdline ? args->cmdline : "";
	struct gh_e820_entry e820[GH_E820_MAX];
	struct reservation res[3];
	uint8_t bp[BP_SIZE] = { 0 };
	uint8_t gdt[GH_X86_GDT_SIZE];
	uint8_t *pt;
	size_t setup_size, payload, cmdlen = strlen(cmdline);
	unsigned ne820;
	uint64_t run_start, run_end, initrd_addr = 0, initrd_size = 0;
	uint64_t upper;
	bool long_mode;
	int ret;

	ret = parse_image(args, &im, err);
	if (ret < 0)
		return ret;
	name = im.name;
	setup_size = im.setup_size;
	payload = im.payload;
	run_start = im.run_start;
	run_end = im.run_end;
	long_mode = im.long_mode;

	ne820 = gh_memory_e820(mem, e820, GH_E820_MAX);
	if (!gh_x86_e820_covers(e820, ne820, GH_X86_GDT_ADDR,
				LOW_END - GH_X86_GDT_ADDR) ||
	    !gh_x86_e820_covers(e820, ne820, CMDLINE_ADDR, CMDLINE_AREA))
		return gh_error_set(err, -ENOMEM,
				    "%s: the VM has no RAM below 640 KiB for the boot "
				    "parameters", name);
	if (!gh_x86_e820_covers(e820, ne820, KERNEL_ADDR, payload) ||
	    !gh_x86_e820_covers(e820, ne820, run_start, run_end - run_start) ||
	    run_end > GH_X86_FOUR_GIB) {
		uint64_t need = MAX(run_end, KERNEL_ADDR + payload);

		return gh_error_set(err, -ENOMEM,
				    "%s needs RAM up to %llu MiB to load and decompress "
				    "but the VM has %llu MiB", name,
				    (unsigned long long)((need + (1 << 20) - 1) >> 20),
				    gh_x86_ram_mib(mem));
	}

	if (args->nmodules == 1 && args->modules[0].size) {
		const struct gh_boot_module *m = &args->modules[0];
		const char *iname = m->name ? m->name : "initrd";

		res[0] = (struct reservation){ 0, KERNEL_ADDR };
		res[1] = (struct reservation){ KERNEL_ADDR, KERNEL_ADDR + payload };
		res[2] = (struct reservation){ run_start, run_end };
		if (m->size > 0xffffffffULL ||
		    !(initrd_addr = place_initrd(e820, ne820, im.initrd_max, m->size,
						 res, 3)))
			return gh_error_set(err, -ENOMEM,
					    "%s does not fit below the kernel's initrd "
					    "limit (0x%x) in %llu MiB of RAM", iname,
					    im.initrd_max, gh_x86_ram_mib(mem));
		initrd_size = m->size;
	}

	/* boot_params from scratch, with the kernel's own setup header */
	fill_header(bp, &im, CMDLINE_ADDR, 0xfe00, initrd_addr, initrd_size);

	/* no VGA BIOS ran: an 80x25 text mode the kernel may ignore */
	bp[BP_ORIG_Y] = 0;
	bp[BP_ORIG_VIDEO_MODE] = 3;
	bp[BP_ORIG_VIDEO_COLS] = 80;
	bp[BP_ORIG_VIDEO_LINES] = 25;
	bp[BP_ORIG_VIDEO_ISVGA] = 0;
	gh_x86_put16(bp + BP_ORIG_VIDEO_POINTS, 16);

	upper = gh_x86_e820_ram_from(e820, ne820, KERNEL_ADDR) >> 10;
	gh_x86_put16(bp + BP_EXT_MEM_K, upper > 0xfc00 ? 0xfc00 : upper);
	gh_x86_put32(bp + BP_ALT_MEM_K, upper > 0xffffffff ? 0xffffffff : upper);

	bp[BP_E820_ENTRIES] = ne820 < BP_E820_MAX ? ne820 : BP_E820_MAX;
	for (unsigned i = 0; i < bp[BP_E820_ENTRIES]; i++)
		gh_x86_put_e820(bp + BP_E820_TABLE + i * BP_E820_ENTRY_SIZE, &e820[i]);

	if (args->ncpus) {
		uint64_t rsdp;

		ret = gh_x86_build_tables(mem, args->ncpus, &rsdp, err);
		if (ret < 0)
			return ret;
		/* the kernel scans for it too; this saves the scan (zero-page.rst) */
		gh_x86_put64(bp + BP_ACPI_RSDP_ADDR, rsdp);
	}

	gh_x86_boot_flat_state(cpu, gdt, long_mode);
	cpu->gpr[GH_RSI] = BP_ADDR;
	if (long_mode) {
		/* boot.rst, "64-bit Boot Protocol": paging on, identity mapped */
		cpu->cr0 |= GH_CR0_PG;
		cpu->cr3 = PML4_ADDR;
		cpu->cr4 = GH_CR4_PAE;
		cpu->efer = GH_EFER_LME | GH_EFER_LMA;
		cpu->rip = KERNEL_ADDR + 0x200;
	} else {
		cpu->rip = KERNEL_ADDR;
	}

	ret = gh_x86_boot_write(mem, KERNEL_ADDR, f + setup_size, payload, name, err);
	if (!ret && initrd_size)
		ret = gh_x86_boot_write(mem, initrd_addr, args->modules[0].data,
					initrd_size, name, err);
	if (!ret)
		ret = gh_x86_boot_write(mem, BP_ADDR, bp, sizeof(bp), name, err);
	if (!ret)
		ret = gh_x86_boot_write(mem, CMDLINE_ADDR, cmdline, cmdlen + 1, name,
					err);
	if (!ret)
		ret = gh_x86_boot_write(mem, GH_X86_GDT_ADDR, gdt, sizeof(gdt), name,
					err);
	if (!ret && long_mode) {
		pt = g_malloc0(LOW_END - PML4_ADDR);
		build_page_tables(pt);
		ret = gh_x86_boot_write(mem, PML4_ADDR, pt, LOW_END - PML4_ADDR, name,
					err);
		g_free(pt);
	}
	return ret;
}

/*
 * vga= on the command line is the loader's to read (boot.rst, vid_mode):
 * "normal", "ext", "ask" or a mode number, which the setup code sets
 * through the video BIOS before the kernel starts. Anything else leaves
 * the image's own default.
 */
static void set_vid_mode(uint8_t *setup, const char *cmdline)
{
	const char *p = cmdline, *v = NULL;
	char *end;
	unsigned long mode;

	for (; (p = strstr(p, "vga=")); p += 4)
		if (p == cmdline || p[-1] == ' ')
			v = p + 4;
	if (!v)
		return;
	if (!strncmp(v, "normal", 6) && (!v[6] || v[6] == ' '))
		mode = 0xffff;
	else if (!strncmp(v, "ext", 3) && (!v[3] || v[3] == ' '))
		mode = 0xfffe;
	else if (!strncmp(v, "ask", 3) && (!v[3] || v[3] == ' '))
		mode = 0xfffd;
	else {
		mode = strtoul(v, &end, 0);
		if (end == v || (*end && *end != ' ') || mode > 0xffff)
			return;
	}
	gh_x86_put16(setup + HDR_VID_MODE, (uint16_t)mode);
}

/* What a firmware-booted VM keeps to itself at the top of low RAM: SeaBIOS's
 * high zone (256 KiB) and the ACPI tables it installs, with room to spare. */
#define FW_RESERVED	(1ULL << 20)

int gh_x86_linux_fw_image(const struct gh_boot_args *args, uint64_t ram_below_4g,
			  struct gh_linux_fw_image *out, struct gh_error *err)
{
	const char *cmdline = args->cmdline ? args->cmdline : "";
	struct linux_image im;
	uint64_t top, kernel_end, initrd_addr = 0, initrd_size = 0;
	uint8_t *setup;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = parse_image(args, &im, err);
	if (ret < 0)
		return ret;
	/* the real-mode part runs at 0x10000 with its heap below the
	 * command line, which leaves it 63.5 KiB (boot.rst's layout) */
	if (im.setup_size > CMDLINE_ADDR - SETUP_ADDR - 0x200)
		return gh_error_set(err, -EINVAL, "%s: the setup code (%zu bytes) "
				    "is too big for a BIOS boot", im.name,
				    im.setup_size);
	top = ram_below_4g > FW_RESERVED ? ram_below_4g - FW_RESERVED : 0;
	kernel_end = MAX(KERNEL_ADDR + im.payload, im.run_end);
	if (kernel_end > top)
		return gh_error_set(err, -ENOMEM,
				    "%s needs RAM up to %llu MiB to load and decompress "
				    "but the VM has %llu MiB below 4 GiB", im.name,
				    (unsigned long long)((kernel_end + FW_RESERVED +
							 (1 << 20) - 1) >> 20),
				    (unsigned long long)(ram_below_4g >> 20));
	if (args->nmodules == 1 && args->modules[0].size) {
		const struct gh_boot_module *m = &args->modules[0];
		uint64_t limit = MIN(top, (uint64_t)im.initrd_max + 1);

		/* as high as possible below the kernel's limit, above the
		 * kernel's own area (boot.rst, ramdisk_image) */
		if (m->size > limit ||
		    ((limit - m->size) & ~(GH_X86_PAGE_SIZE - 1)) < kernel_end)
			return gh_error_set(err, -ENOMEM,
					    "%s does not fit below the kernel's initrd "
					    "limit (0x%x) in %llu MiB of RAM",
					    m->name ? m->name : "initrd",
					    im.initrd_max,
					    (unsigned long long)(ram_below_4g >> 20));
		initrd_size = m->size;
		initrd_addr = (limit - m->size) & ~(GH_X86_PAGE_SIZE - 1);
		out->initrd = m->data;
	}

	setup = g_malloc(im.setup_size);
	memcpy(setup, args->kernel, im.setup_size);
	fill_header(setup, &im, CMDLINE_ADDR,
		    CMDLINE_ADDR - SETUP_ADDR - 0x200, initrd_addr, initrd_size);
	set_vid_mode(setup, cmdline);
	out->setup = setup;
	out->setup_size = im.setup_size;
	out->setup_addr = SETUP_ADDR;
	out->kernel = (const uint8_t *)args->kernel + im.setup_size;
	out->kernel_size = im.payload;
	out->kernel_addr = KERNEL_ADDR;
	out->initrd_size = initrd_size;
	out->initrd_addr = initrd_addr;
	out->cmdline = cmdline;
	out->cmdline_size = strlen(cmdline) + 1;
	out->cmdline_addr = CMDLINE_ADDR;
	return 0;
}

void gh_x86_linux_fw_image_free(struct gh_linux_fw_image *im)
{
	g_free(im->setup);
	im->setup = NULL;
}
