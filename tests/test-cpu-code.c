/*
 * Decoded code and writers other than the CPU that decoded it: a second
 * CPU of the machine (one code map shared by both), and devices writing
 * guest RAM through gh_memory (DMA). Real mode, no paging: what matters
 * is which writes reach the decoded blocks, not how addresses translate.
 */
#include <glib.h>
#include <pthread.h>

#include "cputest.h"
#include "gh/memory.h"

#define RAM_SIZE 0x100000
/* A's loop: l: mov al, imm8 ; mov [0x2000], al ; jmp l */
#define LOOP 0x1000
#define LOOP_IMM (LOOP + 1)
#define OUT 0x2000
/* B's code: mov byte [LOOP_IMM], 2 ; jmp $ */
#define PATCH 0x3000

static const uint8_t loop_code[] = { 0xb0, 0x01, 0xa2, 0x00, 0x20, 0xeb, 0xf9 };
static const uint8_t patch_code[] = { 0xc6, 0x06, LOOP_IMM & 0xff, LOOP_IMM >> 8, 0x02,
				      0xeb, 0xfe };

struct machine {
	uint8_t *ram;
	struct gh_memory *mem;	/* over ram, for the DMA tests */
	struct gh_code_map *map;
	struct gh_cpu *cpu[2];
};

static uint8_t *page(void *opaque, uint64_t gpa, bool *writable)
{
	struct machine *m = opaque;

	return gh_mem_map_page(m->mem, gpa, writable);
}

static void notify(void *opaque, uint64_t gpa, uint64_t len)
{
	gh_code_map_invalidate(opaque, gpa, len);
}

static void real_at(struct gh_cpu *cpu, uint64_t ip)
{
	struct gh_cpu_state s;

	gh_cpu_state_reset(&s, true);
	s.cr0 = GH_CR0_ET;
	ct_real_seg(&s, GH_CS, 0);
	ct_real_seg(&s, GH_DS, 0);
	ct_real_seg(&s, GH_SS, 0);
	s.gpr[GH_RSP] = 0x8000;
	s.rip = ip;
	s.rflags = GH_RFLAGS_FIXED;
	g_assert_cmpint(gh_cpu_set_state(cpu, &s), ==, 0);
}

/* Two CPUs over one RAM; shared: one code map, else one each (the bug). */
static void machine_init(struct machine *m, bool shared)
{
	struct gh_cpu_bus bus = {
		.page = page,
		.mmio_read = ct_mmio_read,
		.mmio_write = ct_mmio_write,
	};

	m->ram = g_malloc0(RAM_SIZE);
	m->mem = gh_memory_new();
	g_assert_cmpint(gh_memory_add(m->mem, 0, RAM_SIZE, m->ram, GH_MEM_RAM, "ram"), ==, 0);
	m->map = shared ? gh_code_map_new() : NULL;
	if (m->map)
		gh_memory_set_write_notify(m->mem, notify, m->map);
	bus.opaque = m;
	for (unsigned k = 0; k < 2; k++) {
		m->cpu[k] = shared ? gh_cpu_new_shared(&bus, k, m->map) : gh_cpu_new(&bus, k);
		g_assert_nonnull(m->cpu[k]);
	}
	memcpy(m->ram + LOOP, loop_code, sizeof(loop_code));
	memcpy(m->ram + PATCH, patch_code, sizeof(patch_code));
	real_at(m->cpu[0], LOOP);
	real_at(m->cpu[1], PATCH);
}

static void machine_free(struct machine *m)
{
	gh_cpu_free(m->cpu[0]);
	gh_cpu_free(m->cpu[1]);
	gh_code_map_free(m->map);
	gh_memory_free(m->mem);
	g_free(m->ram);
}

static uint8_t run_loop(struct machine *m)
{
	m->ram[OUT] = 0;
	g_assert_cmpint(gh_cpu_run(m->cpu[0], 30), ==, GH_CPU_BUDGET);
	return m->ram[OUT];
}

/*
 * B writes the immediate of A's decoded loop. B's TLB already maps the
 * page for fast writes (B wrote it before A decoded anything there), so
 * this also checks that A's claim took that path away from B.
 */
static void test_other_cpu(void)
{
	struct machine m;

	machine_init(&m, true);
	/* B: mov byte [0x1800], 0x55 (filling B's TLB for writes to the
	 * page) ; mov byte [LOOP_IMM], 2 ; jmp $ */
	memcpy(m.ram + PATCH, (const uint8_t[]){ 0xc6, 0x06, 0x00, 0x18, 0x55 }, 5);
	memcpy(m.ram + PATCH + 5, patch_code, sizeof(patch_code));
	g_assert_cmpint(gh_cpu_run(m.cpu[1], 1), ==, GH_CPU_BUDGET);
	g_assert_cmpint(m.ram[0x1800], ==, 0x55);
	g_assert_cmpint(run_loop(&m), ==, 1);
	g_assert_cmpint(gh_cpu_run(m.cpu[1], 1), ==, GH_CPU_BUDGET);
	g_assert_cmpint(m.ram[LOOP_IMM], ==, 2);
	g_assert_cmpint(run_loop(&m), ==, 2);
	machine_free(&m);
}

/* The failure the shared map fixes: with a map each, A keeps stale code. */
static void test_separate_maps_are_stale(void)
{
	struct machine m;

	machine_init(&m, false);
	g_assert_cmpint(run_loop(&m), ==, 1);
	g_assert_cmpint(gh_cpu_run(m.cpu[1], 1), ==, GH_CPU_BUDGET);
	g_assert_cmpint(m.ram[LOOP_IMM], ==, 2);
	g_assert_cmpint(run_loop(&m), ==, 1);
	machine_free(&m);
}

/*
 * A system write (an interrupt's pushes) into a page of decoded code drops
 * that code too. The loop "mov ax, imm16 ; mov [OUT], ax ; jmp" runs
 * first; then, from CS=0xb800, an INT with SP just past the immediate
 * pushes FLAGS (0x0002) over it, and CS (0xb800) so that its high byte
 * lands on the MOV opcode (0xb8) in front of it, keeping the loop whole.
 */
static void test_push_into_code(void)
{
	static const uint8_t loop16[] = { 0xb8, 0x01, 0x01, 0xa3, 0x00, 0x20, 0xeb, 0xf8 };
	static const uint8_t intr[] = {
		0xbc, 0x00, 0x80,	/* mov sp, 0x8000 */
		0x6a, 0x00,		/* push 0 */
		0x9d,			/* popf: FLAGS = 0x0002 */
		0xbc, 0x03, 0x10,	/* mov sp, LOOP + 3 */
		0xcd, 0x30,		/* int 0x30 */
	};
	struct machine m;
	struct gh_cpu_state s;

	machine_init(&m, true);
	memcpy(m.ram + LOOP, loop16, sizeof(loop16));
	memcpy(m.ram + 0xb8000, intr, sizeof(intr));
	ct_put16(m.ram, 0x30 * 4, 0x1100);
	ct_put16(m.ram, 0x30 * 4 + 2, 0);
	m.ram[0x1100] = 0xcf;	/* iret */
	g_assert_cmpint(gh_cpu_run(m.cpu[0], 3), ==, GH_CPU_BUDGET);
	g_assert_cmphex(ct_get16(m.ram, OUT), ==, 0x0101);

	gh_cpu_get_state(m.cpu[0], &s);
	ct_real_seg(&s, GH_CS, 0xb800);
	s.rip = 0;
	g_assert_cmpint(gh_cpu_set_state(m.cpu[0], &s), ==, 0);
	g_assert_cmpint(gh_cpu_run(m.cpu[0], 5), ==, GH_CPU_BUDGET);
	gh_cpu_get_state(m.cpu[0], &s);
	g_assert_cmphex(s.rip, ==, 0x1100);
	g_assert_cmphex(ct_get16(m.ram, LOOP + 1), ==, 0x0002);
	g_assert_cmphex(m.ram[LOOP], ==, 0xb8);

	ct_real_seg(&s, GH_CS, 0);
	s.rip = LOOP;
	g_assert_cmpint(gh_cpu_set_state(m.cpu[0], &s), ==, 0);
	g_assert_cmpint(gh_cpu_run(m.cpu[0], 3), ==, GH_CPU_BUDGET);
	g_assert_cmphex(ct_get16(m.ram, OUT), ==, 0x0002);
	machine_free(&m);
}

/* A device writes the immediate through gh_mem_write (DMA). */
static void test_dma_write(void)
{
	struct machine m;
	uint8_t v = 5;

	machine_init(&m, true);
	g_assert_cmpint(run_loop(&m), ==, 1);
	g_assert_cmpint(gh_mem_write(m.mem, LOOP_IMM, &v, 1), ==, 0);
	g_assert_cmpint(run_loop(&m), ==, 5);
	machine_free(&m);
}

/* A device writes through a mapped pointer and reports the range. */
static void test_dma_mapped(void)
{
	struct machine m;
	uint8_t *p;

	machine_init(&m, true);
	g_assert_cmpint(run_loop(&m), ==, 1);
	p = gh_mem_map(m.mem, LOOP, 0x10);
	g_assert_nonnull(p);
	p[1] = 6;
	/* unreported, the write is not seen: the decoded loop runs on */
	g_assert_cmpint(run_loop(&m), ==, 1);
	gh_mem_dma_written(m.mem, LOOP_IMM, 1);
	g_assert_cmpint(run_loop(&m), ==, 6);
	/* a range wrapping the address space is refused, not looped over */
	gh_mem_dma_written(m.mem, UINT64_MAX - 2, 8);
	gh_code_map_invalidate(m.map, 0, UINT64_MAX);
	p[1] = 8;
	gh_code_map_invalidate(m.map, 0x1000, 0x100000000ULL);
	g_assert_cmpint(run_loop(&m), ==, 8);
	machine_free(&m);
}

/*
 * One thread each: B bumps A's immediate 1..200 while A runs; A must see
 * the last value within a bounded number of instructions after B is done.
 */
struct race {
	struct machine *m;
	int done;
};

static void *patcher(void *opaque)
{
	struct race *r = opaque;
	/* l: inc byte [LOOP_IMM] ; dec cx ; jnz l ; jmp $ */
	static const uint8_t code[] = { 0xfe, 0x06, LOOP_IMM & 0xff, LOOP_IMM >> 8,
					0x49, 0x75, 0xf9, 0xeb, 0xfe };
	struct gh_cpu_state s;

	memcpy(r->m->ram + PATCH, code, sizeof(code));
	gh_cpu_get_state(r->m->cpu[1], &s);
	s.gpr[GH_RCX] = 199;
	g_assert_cmpint(gh_cpu_set_state(r->m->cpu[1], &s), ==, 0);
	gh_cpu_run(r->m->cpu[1], 3 * 199);
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_threads(void)
{
	struct machine m;
	struct race r = { &m, 0 };
	pthread_t t;

	machine_init(&m, true);
	g_assert_cmpint(run_loop(&m), ==, 1);
	g_assert_cmpint(pthread_create(&t, NULL, patcher, &r), ==, 0);
	while (!__atomic_load_n(&r.done, __ATOMIC_ACQUIRE))
		gh_cpu_run(m.cpu[0], 300);
	pthread_join(t, NULL);
	g_assert_cmpint(m.ram[LOOP_IMM], ==, 200);
	g_assert_cmpint(run_loop(&m), ==, 200);
	machine_free(&m);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/cpu-code/other-cpu", test_other_cpu);
	g_test_add_func("/cpu-code/separate-maps-are-stale", test_separate_maps_are_stale);
	g_test_add_func("/cpu-code/push-into-code", test_push_into_code);
	g_test_add_func("/cpu-code/dma-write", test_dma_write);
	g_test_add_func("/cpu-code/dma-mapped", test_dma_mapped);
	g_test_add_func("/cpu-code/threads", test_threads);
	return g_test_run();
}
