/*
 * guest-paging32 / guest-paging64: the paging formats of Intel SDM vol. 3,
 * chapter 4 (4.3 32-bit, 4.4 PAE, 4.5 4-level) with 4 KiB, 2/4 MiB and 1 GiB
 * pages; #PF error codes and CR2 (4.7) for not-present, read-only with
 * CR0.WP on and off, user access to supervisor pages from CPL3, NX fetches
 * and reserved bits; accessed and dirty bits (4.8); INVLPG, CR3 reloads and
 * global pages (4.10.4). Built as a 32-bit guest (32-bit and PAE paging) and
 * as a 64-bit one (4-level paging).
 * Exit: debug-exit 0x50 (32) / 0x52 (64) when every check passes, +1 otherwise.
 */
#include "lib/guest.h"

#define P	0x001ull
#define W	0x002ull
#define U	0x004ull
#define A	0x020ull
#define D	0x040ull
#define PS	0x080ull
#define G	0x100ull
#define XD	(1ull << 63)

#define TEST_VA		0x40000000ul	/* 4 KiB pages, see build() */
#define LARGE_VA	0x80000000ul	/* one 2/4 MiB page onto physical 0 */
#define RSVD_LARGE_VA	0x80c00000ul	/* a 4 MiB page with a reserved bit */
#define HUGE_VA		0xc0000000ul	/* one 1 GiB page onto physical 0 */
#define IDENT_SIZE	0x800000ul	/* identity-mapped, user-accessible */

#define MSR_EFER	0xc0000080
#define EFER_NXE	(1u << 11)

void guest_main(uint32_t magic, uint32_t mbi);

struct fmt {
	const char *name;
	unsigned levels;	/* 2, 3 (PAE) or 4 */
	bool wide;		/* 8-byte entries */
};

static const struct fmt *fmt;
static bool have_nx, have_pge, have_1g;
static unsigned maxphys = 36;

static uint8_t pool[24][4096] __attribute__((aligned(4096)));
static unsigned pool_used;
static uint8_t frame_a[4096] __attribute__((aligned(4096)));
static uint8_t frame_b[4096] __attribute__((aligned(4096)));
static uint8_t frame_c[4096] __attribute__((aligned(4096)));
static uint8_t frame_d[4096] __attribute__((aligned(4096)));
static uintptr_t top;		/* CR3 */

static unsigned shift(unsigned level)	/* level 1 = page table */
{
	if (!fmt->wide)
		return level == 1 ? 12 : 22;
	return 12 + 9 * (level - 1);
}

static unsigned index_of(uintptr_t va, unsigned level)
{
	unsigned bits = fmt->wide ? 9 : 10;

	if (fmt->levels == 3 && level == 3)
		bits = 2;
	return (unsigned)((uint64_t)va >> shift(level)) & ((1u << bits) - 1);
}

static uint64_t get(void *table, unsigned i)
{
	return fmt->wide ? ((volatile uint64_t *)table)[i] : ((volatile uint32_t *)table)[i];
}

static void set(void *table, unsigned i, uint64_t v)
{
	if (fmt->wide)
		((volatile uint64_t *)table)[i] = v;
	else
		((volatile uint32_t *)table)[i] = (uint32_t)v;
}

static void *alloc_table(void)
{
	void *t = pool[pool_used++];

	memset(t, 0, 4096);
	return t;
}

/* The table that holds the entry of level `level` for va, creating tables. */
static void *table_for(uintptr_t va, unsigned level)
{
	void *t = (void *)top;
	unsigned l;

	for (l = fmt->levels; l > level; l--) {
		unsigned i = index_of(va, l);
		uint64_t e = get(t, i);

		if (!(e & P)) {
			void *n = alloc_table();

			/* PAE PDPTEs have no R/W, U/S or A bits (4.4.1) */
			e = (uintptr_t)n | P | (fmt->levels == 3 && l == 3 ? 0 : W | U);
			set(t, i, e);
		}
		t = (void *)(uintptr_t)(e & 0xfffff000ull);
	}
	return t;
}

static void map(uintptr_t va, uint64_t entry, unsigned level)
{
	set(table_for(va, level), index_of(va, level), entry | (level > 1 ? PS : 0));
}

static uint64_t entry_of(uintptr_t va, unsigned level)
{
	return get(table_for(va, level), index_of(va, level));
}

static void set_entry(uintptr_t va, unsigned level, uint64_t v)
{
	set(table_for(va, level), index_of(va, level), v);
}

static uintptr_t phys(void *p)
{
	return (uintptr_t)p;
}

static void build(void)
{
	uintptr_t a;
	unsigned large = fmt->wide ? 0x200000 : 0x400000;

	pool_used = 0;
	top = (uintptr_t)alloc_table();
	for (a = 0; a < IDENT_SIZE; a += large)
		map(a, a | P | W | U, 2);
	map(TEST_VA + 0x0000, phys(frame_a) | P | W | U, 1);
	map(TEST_VA + 0x1000, phys(frame_b) | P | U, 1);		/* read-only */
	/* TEST_VA + 0x2000: not present */
	map(TEST_VA + 0x3000, phys(frame_c) | P | W, 1);		/* supervisor */
	if (fmt->wide) {
		map(TEST_VA + 0x4000, phys(frame_d) | P | W | U | (have_nx ? XD : 0), 1);
		map(TEST_VA + 0x5000, phys(frame_a) | P | W | U | 1ull << maxphys, 1);
	}
	map(TEST_VA + 0x6000, phys(frame_a) | P | W | U | (have_pge ? G : 0), 1);
	map(TEST_VA + 0x7000, phys(frame_a) | P | W | U, 1);
	map(TEST_VA + 0x8000, phys(frame_b) | P | U, 1);		/* read-only, CPL0 */
	map(LARGE_VA, 0 | P | W | U, 2);
	if (!fmt->wide)
		map(RSVD_LARGE_VA, 0 | P | W | U | 1u << 21, 2);
	if (fmt->levels == 4 && have_1g)
		map(HUGE_VA, 0 | P | W | U, 3);
}

static void invlpg(uintptr_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

static void reload_cr3(void)
{
	unsigned long v;

	__asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(v) : : "memory");
}



#ifdef __x86_64__
static unsigned long saved_cr3;

static void paging_on(void)
{
	unsigned long cr4 = read_cr4() | (have_pge ? 0x80 : 0);

	saved_cr3 = read_cr3();
	__asm__ volatile("mov %0, %%cr4; mov %1, %%cr3; mov %2, %%cr0"
			 : : "r"(cr4), "r"(top), "r"(read_cr0() | 0x10000) : "memory");
}

static void paging_off(void)
{
	__asm__ volatile("mov %0, %%cr3; mov %1, %%cr0"
			 : : "r"(saved_cr3), "r"(read_cr0() & ~0x10000ul) : "memory");
}
#else
static void paging_on(void)
{
	uint32_t cr4 = (uint32_t)read_cr4() | (fmt->wide ? 0x20 : 0x10) | (have_pge ? 0x80 : 0);

	__asm__ volatile("mov %0, %%cr3\n\t"
			 "mov %1, %%cr4\n\t"
			 "mov %%cr0, %%eax\n\t"
			 "orl $0x80010000, %%eax\n\t"	/* PG, WP */
			 "mov %%eax, %%cr0\n\t"
			 "jmp 1f\n"
			 "1:"
			 : : "r"(top), "r"(cr4) : "eax", "memory");
}

static void paging_off(void)
{
	__asm__ volatile("mov %%cr0, %%eax\n\t"
			 "andl $0x7fffffff, %%eax\n\t"
			 "mov %%eax, %%cr0\n\t"
			 "jmp 1f\n"
			 "1:\tmov %%cr4, %%eax\n\t"
			 "andl $~0xb0, %%eax\n\t"		/* PSE, PAE, PGE */
			 "mov %%eax, %%cr4"
			 : : : "eax", "memory");
}
#endif

/* "<format>: <what>", valid until the next call */
static const char *named(const char *what)
{
	static char buf[160];
	size_t n = strlen(fmt->name), w = strlen(what);

	if (n + 2 + w >= sizeof(buf))
		return what;
	memcpy(buf, fmt->name, n);
	buf[n++] = ':';
	buf[n++] = ' ';
	memcpy(buf + n, what, w + 1);
	return buf;
}

static void skip(const char *what, const char *why)
{
	printf("SKIP: %s (%s)\n", named(what), why);
}

/* Loads or stores at va expecting a fault; records where it happened. */
static unsigned long access(uintptr_t va, bool write)
{
	unsigned long ip;

	trap_expect.count = 0;
	if (write)
		__asm__ volatile("mov $1f, %%eax\n\t"
				 "mov %%" "eax, trap_expect\n\t"
				 "mov $2f, %0\n"
				 "2:\tmovl $0x5a5a5a5a, (%1)\n"
				 "1:"
				 : "=&r"(ip) : "r"(va) : "eax", "memory");
	else
		__asm__ volatile("mov $1f, %%eax\n\t"
				 "mov %%" "eax, trap_expect\n\t"
				 "mov $2f, %0\n"
				 "2:\tmovl (%1), %%eax\n"
				 "1:"
				 : "=&r"(ip) : "r"(va) : "eax", "memory");
	return ip;
}

/* Jumps to va expecting a fault on the fetch. */
static void fetch(uintptr_t va)
{
	trap_expect.count = 0;
	__asm__ volatile("mov $1f, %%eax\n\t"
			 "mov %%" "eax, trap_expect\n\t"
			 "jmp *%0\n"
			 "1:"
			 : : "r"(va) : "eax", "memory");
}

static bool pf(uintptr_t cr2, unsigned long err, unsigned long ip)
{
	if (trap_expect.count == 1 && trap_expect.vector == 14 && trap_expect.cr2 == cr2 &&
	    trap_expect.error == err && (ip == 0 || trap_expect.ip == ip))
		return true;
	printf("  #PF: count %u vector %lu cr2 0x%lx error 0x%lx ip 0x%lx (want cr2 0x%lx "
	       "error 0x%lx ip 0x%lx)\n", trap_expect.count, trap_expect.vector,
	       trap_expect.cr2, trap_expect.error, trap_expect.ip, (unsigned long)cr2, err, ip);
	return false;
}

/* What user_mode() found, checked at CPL0 afterwards. */
static struct {
	unsigned long cs;
	unsigned count[4];
	unsigned long vector[4], error[4], cr2[4], ip[4];
	uint32_t readback;
} um;

static void record(unsigned i, unsigned long ip)
{
	um.count[i] = trap_expect.count;
	um.vector[i] = trap_expect.vector;
	um.error[i] = trap_expect.error;
	um.cr2[i] = trap_expect.cr2;
	um.ip[i] = ip == trap_expect.ip;
}

static unsigned long user_mode(unsigned long arg)
{
	unsigned long cs, ip;

	(void)arg;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	um.cs = cs;
	ip = access(TEST_VA + 0x3000, false);	/* supervisor page */
	record(0, ip);
	ip = access(TEST_VA + 0x1000, true);	/* read-only user page */
	record(1, ip);
	ip = access(TEST_VA + 0x2000, false);	/* not present */
	record(2, ip);
	*(volatile uint32_t *)(TEST_VA + 4) = 0xc3c3c3c3;
	um.readback = *(volatile uint32_t *)(TEST_VA + 4);
	return 0;
}

static bool user_pf(unsigned i, uintptr_t cr2, unsigned long err)
{
	if (um.count[i] == 1 && um.vector[i] == 14 && um.cr2[i] == cr2 &&
	    um.error[i] == err && um.ip[i])
		return true;
	printf("  #PF at CPL3: count %u vector %lu cr2 0x%lx error 0x%lx ip ok %lu\n",
	       um.count[i], um.vector[i], um.cr2[i], um.error[i], um.ip[i]);
	return false;
}

static void test_format(const struct fmt *f)
{
	volatile uint32_t *va = (volatile uint32_t *)TEST_VA;
	unsigned long ip, cr0;
	uint64_t e;
	bool nx_on = false;

	fmt = f;
	memset(frame_a, 0, 4096);
	memset(frame_b, 0, 4096);
	memset(frame_c, 0, 4096);
	memset(frame_d, 0x90, 4096);
	((volatile uint32_t *)frame_b)[0] = 0xb0b0b0b0;
	((volatile uint32_t *)frame_b)[4] = 0x0b0b0b0b;
	build();
	paging_on();
	printf("%s: paging on, CR3 0x%lx, CR4 0x%lx\n", f->name, read_cr3(), read_cr4());

	/* 4 KiB page: write, and the accessed and dirty bits of every level */
	va[0] = 0x12345678;
	check_eq(*(volatile uint32_t *)frame_a, 0x12345678,
		 named("write through a 4 KiB page reaches its frame"));
	check_eq(entry_of(TEST_VA, 1) & (A | D), A | D, named("write sets PTE accessed and dirty"));
	check_eq(entry_of(TEST_VA, 2) & A, A, named("PDE accessed set"));
	if (f->levels == 4) {
		check_eq(entry_of(TEST_VA, 3) & A, A, named("PDPTE accessed set"));
		check_eq(entry_of(TEST_VA, 4) & A, A, named("PML4E accessed set"));
	}
	check_eq(va[1024], 0xb0b0b0b0, named("read through a read-only page"));
	check_eq(entry_of(TEST_VA + 0x1000, 1) & (A | D), A,
		 named("read sets PTE accessed, not dirty"));

	/* large pages */
	e = entry_of(LARGE_VA, 2);
	check_eq(*(volatile uint32_t *)(LARGE_VA + phys(frame_a)), 0x12345678,
		 named(f->wide ? "read through a 2 MiB page" : "read through a 4 MiB page"));
	check_eq(entry_of(LARGE_VA, 2) & (A | D), A, named("large page read: accessed, not dirty"));
	*(volatile uint32_t *)(LARGE_VA + phys(frame_a) + 8) = 0x2468ace0;
	check_eq(((volatile uint32_t *)frame_a)[2], 0x2468ace0,
		 named("write through the large page reaches the frame"));
	check_eq(entry_of(LARGE_VA, 2) & (A | D), A | D, named("large page write sets dirty"));
	(void)e;
	if (f->levels == 4) {
		if (have_1g) {
			check_eq(*(volatile uint32_t *)(HUGE_VA + phys(frame_a) + 8), 0x2468ace0,
				 named("read through a 1 GiB page"));
			*(volatile uint32_t *)(HUGE_VA + phys(frame_a) + 12) = 0x1357;
			check_eq(((volatile uint32_t *)frame_a)[3], 0x1357,
				 named("write through a 1 GiB page"));
			check_eq(entry_of(HUGE_VA, 3) & (A | D), A | D,
				 named("1 GiB page accessed and dirty"));
		} else {
			skip("read through a 1 GiB page", "CPUID: no 1 GiB pages");
			skip("write through a 1 GiB page", "CPUID: no 1 GiB pages");
			skip("1 GiB page accessed and dirty", "CPUID: no 1 GiB pages");
		}
	}

	/* #PF at CPL0 */
	ip = access(TEST_VA + 0x2008, true);
	check(pf(TEST_VA + 0x2008, 0x2, ip), named("#PF write, not present: CR2, error 0x2"));
	ip = access(TEST_VA + 0x200c, false);
	check(pf(TEST_VA + 0x200c, 0x0, ip), named("#PF read, not present: CR2, error 0x0"));
	ip = access(TEST_VA + 0x8010, true);
	check(pf(TEST_VA + 0x8010, 0x3, ip),
	      named("#PF write to a read-only page at CPL0 with CR0.WP=1: error 0x3"));
	check_eq(((volatile uint32_t *)frame_b)[4], 0x0b0b0b0b,
		 named("the faulting write did not happen"));
	check_eq(entry_of(TEST_VA + 0x8000, 1) & D, 0, named("the faulting write did not set dirty"));

	cr0 = read_cr0();
	__asm__ volatile("mov %0, %%cr0" : : "r"(cr0 & ~0x10000ul) : "memory");
	trap_expect.count = 0;
	*(volatile uint32_t *)(TEST_VA + 0x8010) = 0x600d600d;
	__asm__ volatile("mov %0, %%cr0" : : "r"(cr0) : "memory");
	check(trap_expect.count == 0 && ((volatile uint32_t *)frame_b)[4] == 0x600d600d,
	      named("CPL0 write to a read-only page with CR0.WP=0 succeeds"));
	check_eq(entry_of(TEST_VA + 0x8000, 1) & (A | D), A | D,
		 named("that write sets accessed and dirty"));

	/* reserved bits */
	if (f->wide) {
		if (maxphys < 52) {
			ip = access(TEST_VA + 0x5000, false);
			check_sdm(pf(TEST_VA + 0x5000, 0x9, ip),
			      named("#PF reserved bit (MAXPHYADDR) in a PTE: error 0x9"));
		} else {
			skip("#PF reserved bit (MAXPHYADDR) in a PTE: error 0x9", "MAXPHYADDR 52");
		}
	} else {
		ip = access(RSVD_LARGE_VA + 0x10, false);
		check_sdm(pf(RSVD_LARGE_VA + 0x10, 0x9, ip),
		      named("#PF reserved bit 21 in a 4 MiB PDE: error 0x9"));
	}

	/* CPL3 */
	memset(&um, 0, sizeof(um));
	user_run(user_mode, 0);
	check_eq(um.cs & 3, 3, named("user code runs at CPL3"));
	check(user_pf(0, TEST_VA + 0x3000, 0x5), named("#PF CPL3 read of a supervisor page: error 0x5"));
	check(user_pf(1, TEST_VA + 0x1000, 0x7), named("#PF CPL3 write to a read-only page: error 0x7"));
	check(user_pf(2, TEST_VA + 0x2000, 0x4), named("#PF CPL3 read, not present: error 0x4"));
	check_eq(um.readback, 0xc3c3c3c3, named("CPL3 write and read of a user page"));

	/* NX */
	if (f->wide) {
		if (have_nx) {
			wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
			nx_on = true;
			fetch(TEST_VA + 0x4000);
			check(pf(TEST_VA + 0x4000, 0x11, TEST_VA + 0x4000),
			      named("#PF fetch from an NX page with EFER.NXE: error 0x11"));
			fetch(TEST_VA + 0x2000);
			check(pf(TEST_VA + 0x2000, 0x10, TEST_VA + 0x2000),
			      named("#PF fetch from a not-present page with EFER.NXE: error 0x10"));
			check_eq(va[4096], 0x90909090, named("data read from an NX page works"));
		} else {
			skip("#PF fetch from an NX page with EFER.NXE: error 0x11", "CPUID: no NX");
			skip("#PF fetch from a not-present page with EFER.NXE: error 0x10",
			     "CPUID: no NX");
			skip("data read from an NX page works", "CPUID: no NX");
		}
	}

	/* TLB: a changed PTE is seen after INVLPG; a CR3 write drops non-global ones */
	((volatile uint32_t *)frame_b)[0] = 0xb0b0b0b0;
	((volatile uint32_t *)frame_a)[0] = 0xa0a0a0a0;
	(void)*(volatile uint32_t *)(TEST_VA + 0x7000);
	set_entry(TEST_VA + 0x7000, 1, phys(frame_b) | P | W | U);
	printf("  after the PTE change, before INVLPG: 0x%x (either frame is right)\n",
	       *(volatile uint32_t *)(TEST_VA + 0x7000));
	invlpg(TEST_VA + 0x7000);
	check_eq(*(volatile uint32_t *)(TEST_VA + 0x7000), 0xb0b0b0b0,
		 named("INVLPG makes a changed PTE visible"));
	set_entry(TEST_VA + 0x7000, 1, phys(frame_a) | P | W | U);
	reload_cr3();
	check_eq(*(volatile uint32_t *)(TEST_VA + 0x7000), 0xa0a0a0a0,
		 named("a CR3 write makes a changed non-global PTE visible"));
	set_entry(TEST_VA + 0x7000, 1, 0);
	invlpg(TEST_VA + 0x7000);
	ip = access(TEST_VA + 0x7000, false);
	check(pf(TEST_VA + 0x7000, 0, ip),
	      named("INVLPG after clearing P: the next access faults"));

	if (have_pge) {
		(void)*(volatile uint32_t *)(TEST_VA + 0x6000);
		set_entry(TEST_VA + 0x6000, 1, phys(frame_b) | P | W | U | G);
		reload_cr3();
		printf("  global page after a CR3 write: 0x%x (either frame is right)\n",
		       *(volatile uint32_t *)(TEST_VA + 0x6000));
		invlpg(TEST_VA + 0x6000);
		check_eq(*(volatile uint32_t *)(TEST_VA + 0x6000), 0xb0b0b0b0,
			 named("INVLPG drops a global page"));
		set_entry(TEST_VA + 0x6000, 1, phys(frame_a) | P | W | U | G);
		__asm__ volatile("mov %0, %%cr4; mov %1, %%cr4"
				 : : "r"(read_cr4() & ~0x80ul), "r"(read_cr4()) : "memory");
		check_eq(*(volatile uint32_t *)(TEST_VA + 0x6000), 0xa0a0a0a0,
			 named("toggling CR4.PGE drops a global page"));
	} else {
		skip("INVLPG drops a global page", "CPUID: no PGE");
		skip("toggling CR4.PGE drops a global page", "CPUID: no PGE");
	}

	if (nx_on)
		wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~(uint64_t)EFER_NXE);
	paging_off();
	printf("%s: paging off\n", f->name);
}

void guest_main(uint32_t magic, uint32_t mbi)
{
#ifdef __x86_64__
	static const struct fmt four = { "4-level paging", 4, true };
	const char *guest = "guest-paging64";
#else
	static const struct fmt legacy = { "32-bit paging", 2, false };
	static const struct fmt pae = { "PAE paging", 3, true };
	const char *guest = "guest-paging32";
#endif
	uint32_t r[4];

	uart_init(COM1);
	guest_flags(mbi);
	printf("%s: paging and page faults\n", guest);
	check_eq(magic, MULTIBOOT_BOOT_MAGIC, "multiboot magic in EAX");
	idt_init(SEL_KCODE);
	ring_init();

	cpuid(1, 0, r);
	have_pge = r[3] & (1u << 13);
	cpuid(0x80000000, 0, r);
	if (r[0] >= 0x80000001) {
		uint32_t max = r[0];

		cpuid(0x80000001, 0, r);
		have_nx = r[3] & (1u << 20);
		have_1g = r[3] & (1u << 26);
		if (max >= 0x80000008) {
			cpuid(0x80000008, 0, r);
			maxphys = r[0] & 0xff;
		}
	}
	printf("  CPUID: PGE %d NX %d 1G %d MAXPHYADDR %u\n", have_pge, have_nx, have_1g,
	       maxphys);
#ifdef __x86_64__
	test_format(&four);
	finish(guest, 0x52, 0x53);
#else
	cpuid(1, 0, r);
	check((r[3] & 0x48) == 0x48, "CPUID reports PSE and PAE");
	test_format(&legacy);
	test_format(&pae);
	finish(guest, 0x50, 0x51);
#endif
}
