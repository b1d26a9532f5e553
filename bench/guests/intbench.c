/*
 * intbench: the integer workload of bench/soft-cpu.sh, a 64-bit Multiboot
 * guest. A sieve, a table-driven CRC-32 (IEEE 802.3 polynomial), a
 * quicksort, a recursive tree walk, pointer chasing through a shuffled list
 * and a switch-dispatched bytecode interpreter, each iteration on data
 * seeded by its index, folded into one checksum that must not depend on the
 * backend. The TSC is calibrated against PIT channel 2 (8254 mode 0, gated
 * by port 0x61) and read around the workload.
 *
 * Everything after setup runs at CPL3 and never returns to
 * ring 0: a nested KVM emulates guest supervisor code slowly (and cannot
 * emulate IRET, far RET to ring 3 or INT n there), while user code runs
 * natively. Entered by SYSEXIT, left through the debug-exit port from ring 3.
 *
 * Command line: "iters=N" (default 1; 0 runs setup and calibration only,
 * the baseline the bench subtracts). Exit: debug-exit 0x31 when its self
 * checks pass, 0x32 otherwise.
 */
#include "lib/guest.h"

#define EXIT_OK 0x31
#define EXIT_BAD 0x32

#define PIT_HZ 1193182u
#define PIT_CAL_COUNT 59659u	/* 50 ms */
#define PORT_B 0x61

#define SIEVE_N 16384
#define SIEVE_PRIMES 1900	/* pi(16384) */
#define CRC_BYTES 4096
#define SORT_N 512
#define TREE_N 511
#define LIST_N 1024
#define LIST_LAPS 4
#define FIB_N 16

void guest_main(uint32_t magic, uint32_t mbi);

static uint8_t sieve_buf[SIEVE_N];
static uint8_t crc_buf[CRC_BYTES];
static uint32_t crc_table[256];
static uint32_t sort_buf[SORT_N];

struct tree {
	struct tree *l, *r;
	uint32_t key;
};
static struct tree tree_nodes[TREE_N];

struct node {
	struct node *next;
	uint32_t val;
};
static struct node list_nodes[LIST_N];
static uint32_t perm[LIST_N];

static unsigned failures;

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	/* FNV-1a over 64-bit words */
	return (h ^ v) * 0x100000001b3ull;
}

static uint32_t xorshift(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static void expect(bool ok, const char *what, unsigned it)
{
	if (!ok) {
		if (failures++ < 8)
			printf("FAIL: %s (iteration %u)\n", what, it);
	}
}

/* ---- the kernels ---------------------------------------------------------- */

static uint64_t sieve(unsigned it)
{
	unsigned i, j, count = 0;
	uint64_t sum = 0;

	for (i = 0; i < SIEVE_N; i++)
		sieve_buf[i] = 1;
	sieve_buf[0] = sieve_buf[1] = 0;
	for (i = 2; i * i < SIEVE_N; i++)
		if (sieve_buf[i])
			for (j = i * i; j < SIEVE_N; j += i)
				sieve_buf[j] = 0;
	for (i = 0; i < SIEVE_N; i++)
		if (sieve_buf[i]) {
			count++;
			sum += i * (uint64_t)(it + 1);
		}
	expect(count == SIEVE_PRIMES, "sieve: prime count", it);
	return sum ^ count;
}

static void crc_init(void)
{
	uint32_t c;
	unsigned i, k;

	for (i = 0; i < 256; i++) {
		c = i;
		for (k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ c >> 1 : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32(const uint8_t *p, unsigned n)
{
	uint32_t c = 0xffffffffu;

	while (n--)
		c = crc_table[(c ^ *p++) & 0xff] ^ c >> 8;
	return ~c;
}

static uint64_t crc(unsigned it)
{
	uint32_t s = 0x9e3779b9u ^ it, c, check;
	unsigned i;

	for (i = 0; i < CRC_BYTES; i++)
		crc_buf[i] = (uint8_t)xorshift(&s);
	c = crc32(crc_buf, CRC_BYTES);
	/* appending the CRC (little-endian) gives the CRC-32 residue */
	check = crc32(crc_buf, CRC_BYTES - 4);
	crc_buf[CRC_BYTES - 4] = (uint8_t)check;
	crc_buf[CRC_BYTES - 3] = (uint8_t)(check >> 8);
	crc_buf[CRC_BYTES - 2] = (uint8_t)(check >> 16);
	crc_buf[CRC_BYTES - 1] = (uint8_t)(check >> 24);
	expect(crc32(crc_buf, CRC_BYTES) == 0x2144df1cu, "crc32: residue", it);
	return c;
}

static void insertion_sort(uint32_t *a, int n)
{
	int i, j;
	uint32_t v;

	for (i = 1; i < n; i++) {
		v = a[i];
		for (j = i - 1; j >= 0 && a[j] > v; j--)
			a[j + 1] = a[j];
		a[j + 1] = v;
	}
}

__attribute__((noinline)) static void quicksort(uint32_t *a, int n)
{
	uint32_t pivot, t;
	int i, j;

	while (n > 12) {
		pivot = a[n / 2];
		for (i = 0, j = n - 1;; i++, j--) {
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i >= j)
				break;
			t = a[i];
			a[i] = a[j];
			a[j] = t;
		}
		/* recurse into the smaller half, loop on the larger */
		if (j + 1 < n - j - 1) {
			quicksort(a, j + 1);
			a += j + 1;
			n -= j + 1;
		} else {
			quicksort(a + j + 1, n - j - 1);
			n = j + 1;
		}
	}
	insertion_sort(a, n);
}

static uint64_t sort(unsigned it)
{
	uint32_t s = 0x12345678u + it * 0x10001u;
	uint64_t h = 0;
	unsigned i;
	bool sorted = true;

	for (i = 0; i < SORT_N; i++)
		sort_buf[i] = xorshift(&s) % 100000u;
	quicksort(sort_buf, SORT_N);
	for (i = 0; i < SORT_N; i++) {
		if (i && sort_buf[i - 1] > sort_buf[i])
			sorted = false;
		h = mix(h, sort_buf[i]);
	}
	expect(sorted, "quicksort: order", it);
	return h;
}

/* A balanced search tree over the sorted array, built and walked by recursion. */
__attribute__((noinline)) static struct tree *tree_build(unsigned lo, unsigned hi,
							  unsigned *next)
{
	struct tree *t;
	unsigned mid;

	if (lo >= hi)
		return NULL;
	mid = lo + (hi - lo) / 2;
	t = &tree_nodes[(*next)++];
	t->key = sort_buf[mid];
	t->l = tree_build(lo, mid, next);
	t->r = tree_build(mid + 1, hi, next);
	return t;
}

__attribute__((noinline)) static uint64_t tree_walk(const struct tree *t, unsigned depth)
{
	if (!t)
		return depth;
	return mix(tree_walk(t->l, depth + 1), t->key) + tree_walk(t->r, depth + 1);
}

static bool tree_find(const struct tree *t, uint32_t key)
{
	while (t) {
		if (key == t->key)
			return true;
		t = key < t->key ? t->l : t->r;
	}
	return false;
}

__attribute__((noinline)) static unsigned fib(unsigned n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static uint64_t recurse(unsigned it)
{
	unsigned next = 0, i, found = 0;
	struct tree *root = tree_build(0, TREE_N, &next);
	uint64_t h = tree_walk(root, 0);

	for (i = 0; i < TREE_N; i += 7)
		found += tree_find(root, sort_buf[i]);
	expect(found == (TREE_N + 6) / 7, "tree: lookups", it);
	expect(fib(FIB_N) == 987, "fib", it);
	return mix(h, found);
}

static uint64_t chase(unsigned it)
{
	uint32_t s = 0xdeadbeefu ^ (it << 8), t;
	struct node *n;
	uint64_t sum = 0;
	unsigned i, j, lap, steps = 0;

	/* one cycle through every node, in a shuffled order (Fisher-Yates) */
	for (i = 0; i < LIST_N; i++)
		perm[i] = i;
	for (i = LIST_N - 1; i > 0; i--) {
		j = xorshift(&s) % (i + 1);
		t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	for (i = 0; i < LIST_N; i++) {
		list_nodes[perm[i]].next = &list_nodes[perm[(i + 1) % LIST_N]];
		list_nodes[perm[i]].val = perm[i] * 2654435761u;
	}
	for (lap = 0; lap < LIST_LAPS; lap++) {
		n = &list_nodes[perm[0]];
		do {
			sum = sum * 31 + n->val;
			n = n->next;
			steps++;
		} while (n != &list_nodes[perm[0]]);
	}
	expect(steps == LIST_N * LIST_LAPS, "list: cycle length", it);
	return sum;
}

/*
 * A stack machine and its program: with [k acc] on the stack at "loop",
 * acc = ((acc + k * k) ^ (k >> 1)) + k % 7 for k = n down to 1.
 */
enum op { OP_PUSH, OP_DUP, OP_SWAP, OP_OVER, OP_ADD, OP_SUB, OP_MUL, OP_XOR,
	  OP_SHR, OP_MOD, OP_DROP, OP_JNZ, OP_HALT };

#define LOOP 2
#define NEXT 28

static const int32_t program[] = {
	OP_PUSH, 0,			/* [n 0] */
	OP_OVER, OP_DUP, OP_MUL,	/* LOOP: [k acc k*k] */
	OP_PUSH, 0, OP_DROP,		/* a no-op: dispatch work only */
	OP_ADD,				/* [k acc] */
	OP_OVER, OP_PUSH, 1, OP_SHR,	/* [k acc k>>1] */
	OP_XOR,
	OP_OVER, OP_PUSH, 7, OP_MOD,	/* [k acc k%7] */
	OP_ADD,
	OP_SWAP, OP_PUSH, 1, OP_SUB,	/* [acc k-1] */
	OP_DUP, OP_JNZ, NEXT,
	OP_SWAP, OP_HALT,		/* k = 0: [0 acc] */
	OP_SWAP, OP_PUSH, 1, OP_JNZ, LOOP, /* NEXT: [k-1 acc] */
};

static int64_t interp(const int32_t *code, int64_t n, unsigned *steps)
{
	int64_t stack[16], a, b;
	int sp = 0, pc = 0;
	unsigned count = 0;

	stack[sp++] = n;
	for (;;) {
		count++;
		switch (code[pc++]) {
		case OP_PUSH:
			stack[sp++] = code[pc++];
			break;
		case OP_DUP:
			stack[sp] = stack[sp - 1];
			sp++;
			break;
		case OP_SWAP:
			a = stack[sp - 1];
			stack[sp - 1] = stack[sp - 2];
			stack[sp - 2] = a;
			break;
		case OP_OVER:
			stack[sp] = stack[sp - 2];
			sp++;
			break;
		case OP_ADD:
			b = stack[--sp];
			stack[sp - 1] += b;
			break;
		case OP_SUB:
			b = stack[--sp];
			stack[sp - 1] -= b;
			break;
		case OP_MUL:
			b = stack[--sp];
			stack[sp - 1] *= b;
			break;
		case OP_XOR:
			b = stack[--sp];
			stack[sp - 1] ^= b;
			break;
		case OP_SHR:
			b = stack[--sp];
			stack[sp - 1] >>= b & 63;
			break;
		case OP_MOD:
			b = stack[--sp];
			stack[sp - 1] = b ? stack[sp - 1] % b : 0;
			break;
		case OP_DROP:
			sp--;
			break;
		case OP_JNZ:
			b = stack[--sp];
			a = code[pc++];
			if (b)
				pc = (int)a;
			break;
		case OP_HALT:
		default:
			*steps = count;
			return stack[sp - 1];
		}
		if (sp < 1 || sp > 14) {
			*steps = count;
			return -1;
		}
	}
}

/* The same sum computed in C, as the interpreter's reference. */
static int64_t interp_ref(int64_t n)
{
	int64_t acc = 0, k;

	for (k = n; k > 0; k--)
		acc = ((acc + k * k) ^ (k >> 1)) + k % 7;
	return acc;
}

static uint64_t interpret(unsigned it)
{
	int64_t n = 150 + it % 16, r;
	unsigned steps = 0;

	r = interp(program, n, &steps);
	expect(r == interp_ref(n), "interpreter: result", it);
	return mix((uint64_t)r, steps);
}

static uint64_t workload(unsigned iters)
{
	uint64_t h = 0xcbf29ce484222325ull;
	unsigned it;

	for (it = 0; it < iters; it++) {
		h = mix(h, sieve(it));
		h = mix(h, crc(it));
		h = mix(h, sort(it));
		h = mix(h, recurse(it));
		h = mix(h, chase(it));
		h = mix(h, interpret(it));
	}
	return h;
}

/* ---- timing and the ring-3 entry ------------------------------------------ */

/*
 * Instructions spent polling for the PIT: their number depends on how fast
 * the backend runs, so the guest counts them and the bench subtracts them
 * from the soft CPU's retired count (the rest of a run is the same
 * instructions under every backend, iteration count aside).
 */
static uint64_t poll_insns;

/* Polls port B until channel 2's OUT is high: 4 instructions a round. */
static void wait_out2(void)
{
	uint64_t rounds = 0;
	uint8_t al;

	__asm__ volatile("1: inc %0\n\t"
			 "inb %w2, %1\n\t"
			 "testb $0x20, %1\n\t"
			 "jz 1b"
			 : "+r"(rounds), "=&a"(al) : "d"(PORT_B) : "cc");
	poll_insns += 4 * rounds;
}

/*
 * TSC ticks per second against PIT channel 2 in mode 0, as Linux's
 * pit_calibrate_tsc() does: gate high, load the count, wait for OUT.
 */
static uint64_t calibrate_once(void)
{
	uint64_t t0, t1;

	outb(PORT_B, (inb(PORT_B) & ~0x02) | 0x01);	/* gate 2 on, speaker off */
	outb(0x43, 0xb0);				/* ch 2, LSB then MSB, mode 0 */
	outb(0x42, PIT_CAL_COUNT & 0xff);
	outb(0x42, PIT_CAL_COUNT >> 8);
	t0 = rdtsc();
	wait_out2();
	t1 = rdtsc();
	return (t1 - t0) * PIT_HZ / PIT_CAL_COUNT;
}

static uint64_t calibrate(void)
{
	uint64_t a = calibrate_once(), b = calibrate_once(), c = calibrate_once(), t;

	/* the median of three */
	if (a > b) {
		t = a;
		a = b;
		b = t;
	}
	if (b > c)
		b = c;
	return a > b ? a : b;
}

__attribute__((noreturn)) static void bench_main(unsigned long iters)
{
	uint64_t hz, t0, t1, sum;
	uint16_t cs;

	uint64_t fl;

	__asm__ volatile("mov %%cs, %0; pushfq; popq %1" : "=r"(cs), "=r"(fl));
	printf("intbench: running at CPL%u with IOPL %u, iters=%lu\n", cs & 3u,
	       (unsigned)(fl >> 12 & 3), iters);
	hz = calibrate();
	crc_init();
	t0 = rdtsc();
	sum = workload((unsigned)iters);
	t1 = rdtsc();
	printf("tsc-hz: %llu\n", (unsigned long long)hz);
	printf("tsc-ticks: %llu\n", (unsigned long long)(t1 - t0));
	printf("checksum: 0x%016llx\n", (unsigned long long)sum);
	printf("poll-insns: %llu\n", (unsigned long long)poll_insns);
	printf("intbench: %s\n", failures ? "FAILURE" : "SUCCESS");
	debug_exit(failures ? EXIT_BAD : EXIT_OK);
}

static unsigned long parse_iters(uint32_t mbi)
{
	const struct multiboot_info *m = (const void *)(uintptr_t)mbi;
	const char *p;
	unsigned long n = 0;

	if (!mbi || !(m->flags & 4) || !m->cmdline)
		return 1;
	p = strstr((const char *)(uintptr_t)m->cmdline, "iters=");
	if (!p)
		return 1;
	for (p += 6; *p >= '0' && *p <= '9'; p++)
		n = n * 10 + (unsigned long)(*p - '0');
	return n;
}

/*
 * SYSEXIT with REX.W is the way into 64-bit ring 3 this KVM can emulate
 * (a far RET or IRET to an outer level it cannot), and it leaves RFLAGS
 * alone, IOPL included (SDM vol. 2B, SYSEXIT): CS is SYSENTER_CS + 32 and SS
 * SYSENTER_CS + 40, the two user descriptors set up here.
 */
#define SYSEXIT_BASE (GDT_FREE * 8)
#define MSR_SYSENTER_CS 0x174

static void allow_ports(uint16_t first, unsigned n)
{
	for (; n; n--, first++)
		ring_tss.iopb[first / 8] &= ~(1u << (first % 8));
}

__attribute__((noreturn)) static void enter_ring3(unsigned long iters)
{
	/*
	 * Ring 3 reaches COM1, the PIT and debug-exit through the TSS I/O
	 * bitmap, not IOPL 3: this KVM's emulated POPF at CPL0 drops IOPL.
	 */
	allow_ports(COM1, 8);
	allow_ports(0x40, 4);
	allow_ports(PORT_B, 1);
	allow_ports(DEBUG_EXIT_PORT, 1);
	ring_gdt[GDT_FREE + 4] = seg_desc(0, 0xfffff, 0xfa, 0xa);	/* 64-bit code */
	ring_gdt[GDT_FREE + 5] = seg_desc(0, 0xfffff, 0xf2, 0xc);	/* data */
	wrmsr(MSR_SYSENTER_CS, SYSEXIT_BASE);
	__asm__ volatile("sysexitq"
			 : : "d"(bench_main), "c"((uintptr_t)user_stack_top - 8), "D"(iters)
			 : "memory");
	__builtin_unreachable();
}

void guest_main(uint32_t magic, uint32_t mbi)
{
	uart_init(COM1);
	if (magic != MULTIBOOT_BOOT_MAGIC) {
		printf("intbench: not started by a Multiboot loader\n");
		debug_exit(EXIT_BAD);
	}
	idt_init(SEL_KCODE);
	ring_init();
	enter_ring3(parse_iters(mbi));
}
