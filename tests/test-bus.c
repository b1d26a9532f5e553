/*
 * Tests for the port-I/O/MMIO address spaces (gh/bus.h): overlap rules,
 * relative offsets, unassigned accesses and accesses split at a range end.
 */
#include "gh/bus.h"

#include <errno.h>
#include <string.h>

/* A device that logs every access and answers reads with a pattern. */
struct access {
	char op;		/* 'r' or 'w' */
	uint64_t off;
	uint64_t val;
	unsigned size;
};

struct dev {
	unsigned id;
	GArray *log;		/* struct access */
};

static uint64_t dev_read(void *opaque, uint64_t off, unsigned size)
{
	struct dev *d = opaque;
	struct access a = { 'r', off, 0, size };

	g_array_append_val(d->log, a);
	/* Each byte tells which device and which offset answered. */
	return ((uint64_t)d->id << 56 | (off & 0xff) << 48 | size) &
	       (size == 8 ? UINT64_MAX : (1ULL << (size * 8)) - 1);
}

static void dev_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	struct dev *d = opaque;
	struct access a = { 'w', off, val, size };

	g_array_append_val(d->log, a);
}

static const struct gh_io_ops dev_ops = { .read = dev_read, .write = dev_write };

/* Bytes read back as id:off, so split accesses can be checked byte by byte. */
static uint64_t byte_read(void *opaque, uint64_t off, unsigned size)
{
	struct dev *d = opaque;
	struct access a = { 'r', off, 0, size };
	uint64_t v = 0;
	unsigned i;

	g_array_append_val(d->log, a);
	for (i = 0; i < size; i++)
		v |= (uint64_t)((d->id << 4 | (off + i)) & 0xff) << (i * 8);
	return v;
}

static const struct gh_io_ops byte_ops = { .read = byte_read, .write = dev_write };

static void dev_init(struct dev *d, unsigned id)
{
	d->id = id;
	d->log = g_array_new(FALSE, FALSE, sizeof(struct access));
}

static void dev_fini(struct dev *d)
{
	g_array_free(d->log, TRUE);
}

static struct access *acc(struct dev *d, unsigned i)
{
	g_assert_cmpuint(i, <, d->log->len);
	return &g_array_index(d->log, struct access, i);
}

static void check(struct dev *d, unsigned i, char op, uint64_t off, uint64_t val,
		  unsigned size)
{
	struct access *a = acc(d, i);

	g_assert_cmpint(a->op, ==, op);
	g_assert_cmphex(a->off, ==, off);
	g_assert_cmpuint(a->size, ==, size);
	if (op == 'w')
		g_assert_cmphex(a->val, ==, val);
}

static void test_map_unmap(void)
{
	struct gh_bus *bus = gh_bus_new("test");
	struct dev d;

	dev_init(&d, 1);
	g_assert_cmpint(gh_bus_map(bus, 0x3f8, 8, &dev_ops, &d, "com1"), ==, 0);
	g_assert_cmpstr(gh_bus_lookup(bus, 0x3f8), ==, "com1");
	g_assert_cmpstr(gh_bus_lookup(bus, 0x3ff), ==, "com1");
	g_assert_null(gh_bus_lookup(bus, 0x3f7));
	g_assert_null(gh_bus_lookup(bus, 0x400));

	/* Only the base of a mapping unmaps it. */
	g_assert_cmpint(gh_bus_unmap(bus, 0x3f9), ==, -ENOENT);
	g_assert_cmpint(gh_bus_unmap(bus, 0x100), ==, -ENOENT);
	g_assert_cmpint(gh_bus_unmap(bus, 0x3f8), ==, 0);
	g_assert_null(gh_bus_lookup(bus, 0x3f8));
	g_assert_cmpint(gh_bus_unmap(bus, 0x3f8), ==, -ENOENT);

	/* Unmapped: no callbacks. */
	g_assert_cmphex(gh_bus_read(bus, 0x3f8, 1), ==, 0xff);
	gh_bus_write(bus, 0x3f8, 0x12, 1);
	g_assert_cmpuint(d.log->len, ==, 0);

	/* The same range maps again. */
	g_assert_cmpint(gh_bus_map(bus, 0x3f8, 8, &dev_ops, &d, "com1"), ==, 0);
	gh_bus_write(bus, 0x3f8, 0x12, 1);
	g_assert_cmpuint(d.log->len, ==, 1);
	dev_fini(&d);
	gh_bus_free(bus);
}

static void test_overlap(void)
{
	struct gh_bus *bus = gh_bus_new("test");
	struct dev d;

	dev_init(&d, 1);
	g_assert_cmpint(gh_bus_map(bus, 0x100, 0x100, &dev_ops, &d, "a"), ==, 0);
	g_assert_cmpint(gh_bus_map(bus, 0x100, 0x100, &dev_ops, &d, "x"), ==, -EBUSY);
	g_assert_cmpint(gh_bus_map(bus, 0x80, 0x81, &dev_ops, &d, "x"), ==, -EBUSY);
	g_assert_cmpint(gh_bus_map(bus, 0x1ff, 0x100, &dev_ops, &d, "x"), ==, -EBUSY);
	g_assert_cmpint(gh_bus_map(bus, 0x150, 0x10, &dev_ops, &d, "x"), ==, -EBUSY);
	g_assert_cmpint(gh_bus_map(bus, 0x0, 0x1000, &dev_ops, &d, "x"), ==, -EBUSY);
	g_assert_cmpint(gh_bus_map(bus, 0x1ff, 1, &dev_ops, &d, "x"), ==, -EBUSY);

	/* Neighbours that touch are fine; then a gap between them is exact. */
	g_assert_cmpint(gh_bus_map(bus, 0x80, 0x80, &dev_ops, &d, "lo"), ==, 0);
	g_assert_cmpint(gh_bus_map(bus, 0x200, 0x10, &dev_ops, &d, "hi"), ==, 0);
	g_assert_cmpint(gh_bus_map(bus, 0x220, 0x10, &dev_ops, &d, "hi2"), ==, 0);
	g_assert_cmpint(gh_bus_map(bus, 0x20f, 0x12, &dev_ops, &d, "x"), ==, -EBUSY);
	g_assert_cmpint(gh_bus_map(bus, 0x210, 0x11, &dev_ops, &d, "x"), ==, -EBUSY);
	g_assert_cmpint(gh_bus_map(bus, 0x210, 0x10, &dev_ops, &d, "gap"), ==, 0);
	g_assert_cmpstr(gh_bus_lookup(bus, 0x7f), ==, NULL);
	g_assert_cmpstr(gh_bus_lookup(bus, 0x80), ==, "lo");
	g_assert_cmpstr(gh_bus_lookup(bus, 0xff), ==, "lo");
	g_assert_cmpstr(gh_bus_lookup(bus, 0x100), ==, "a");
	g_assert_cmpstr(gh_bus_lookup(bus, 0x1ff), ==, "a");
	g_assert_cmpstr(gh_bus_lookup(bus, 0x200), ==, "hi");
	g_assert_cmpstr(gh_bus_lookup(bus, 0x210), ==, "gap");
	g_assert_cmpstr(gh_bus_lookup(bus, 0x21f), ==, "gap");
	g_assert_cmpstr(gh_bus_lookup(bus, 0x22f), ==, "hi2");
	g_assert_null(gh_bus_lookup(bus, 0x230));

	/* Empty and wrapping ranges. */
	g_assert_cmpint(gh_bus_map(bus, 0x1000, 0, &dev_ops, &d, "x"), ==, -EINVAL);
	g_assert_cmpint(gh_bus_map(bus, UINT64_MAX - 1, 4, &dev_ops, &d, "x"), ==, -EINVAL);
	g_assert_cmpint(gh_bus_map(bus, 0x1000, UINT64_MAX, &dev_ops, &d, "x"), ==, -EINVAL);
	g_assert_null(gh_bus_lookup(bus, 0x1000));
	g_assert_null(gh_bus_lookup(bus, 0));

	/* A range ending on the last address does not wrap. */
	g_assert_cmpint(gh_bus_map(bus, UINT64_MAX - 0xf, 0x10, &dev_ops, &d, "top"), ==, 0);
	g_assert_cmpstr(gh_bus_lookup(bus, UINT64_MAX), ==, "top");
	g_assert_cmpint(gh_bus_map(bus, UINT64_MAX, 1, &dev_ops, &d, "x"), ==, -EBUSY);
	gh_bus_write(bus, UINT64_MAX, 0x77, 1);
	check(&d, 0, 'w', 0xf, 0x77, 1);
	dev_fini(&d);
	gh_bus_free(bus);
}

static void test_offsets(void)
{
	struct gh_bus *bus = gh_bus_new("test");
	struct dev d;

	dev_init(&d, 7);
	g_assert_cmpint(gh_bus_map(bus, 0xfee00000, 0x1000, &dev_ops, &d, "apic"), ==, 0);
	g_assert_cmphex(gh_bus_read(bus, 0xfee00020, 4), ==, 4);
	gh_bus_write(bus, 0xfee000f0, 0x1ff, 4);
	gh_bus_write(bus, 0xfee00ff8, 0x1122334455667788ULL, 8);
	g_assert_cmphex(gh_bus_read(bus, 0xfee00000, 2), ==, 2);
	g_assert_cmphex(gh_bus_read(bus, 0xfee00ff8, 8), ==,
			(7ULL << 56) | (0xf8ULL << 48) | 8);
	g_assert_cmphex(gh_bus_read(bus, 0xfee00fff, 1), ==, 1);
	g_assert_cmpuint(d.log->len, ==, 6);
	check(&d, 0, 'r', 0x20, 0, 4);
	check(&d, 1, 'w', 0xf0, 0x1ff, 4);
	check(&d, 2, 'w', 0xff8, 0x1122334455667788ULL, 8);
	check(&d, 3, 'r', 0, 0, 2);
	check(&d, 4, 'r', 0xff8, 0, 8);
	check(&d, 5, 'r', 0xfff, 0, 1);
	dev_fini(&d);
	gh_bus_free(bus);
}

static void test_unassigned(void)
{
	struct gh_bus *bus = gh_bus_new("test");
	struct dev d;

	dev_init(&d, 1);
	g_assert_cmpint(gh_bus_map(bus, 0x60, 1, &dev_ops, &d, "kbd"), ==, 0);
	g_assert_cmphex(gh_bus_read(bus, 0x80, 1), ==, 0xff);
	g_assert_cmphex(gh_bus_read(bus, 0x80, 2), ==, 0xffff);
	g_assert_cmphex(gh_bus_read(bus, 0x80, 4), ==, 0xffffffff);
	g_assert_cmphex(gh_bus_read(bus, 0x80, 8), ==, UINT64_MAX);
	g_assert_cmphex(gh_bus_read(bus, 0, 4), ==, 0xffffffff);
	g_assert_cmphex(gh_bus_read(bus, UINT64_MAX, 1), ==, 0xff);
	gh_bus_write(bus, 0x80, 0xff, 1);
	gh_bus_write(bus, 0x61, 0xffffffff, 4);
	gh_bus_write(bus, 0x58, UINT64_MAX, 8);
	g_assert_cmpuint(d.log->len, ==, 0);
	/* Past the unassigned flood the device still works. */
	g_assert_cmphex(gh_bus_read(bus, 0x60, 1), ==, 1);
	dev_fini(&d);
	gh_bus_free(bus);
}

static void test_straddle(void)
{
	struct gh_bus *bus = gh_bus_new("test");
	struct dev a, b;
	unsigned i;

	dev_init(&a, 0xa);
	dev_init(&b, 0xb);
	g_assert_cmpint(gh_bus_map(bus, 0x10, 4, &byte_ops, &a, "a"), ==, 0);
	g_assert_cmpint(gh_bus_map(bus, 0x14, 2, &byte_ops, &b, "b"), ==, 0);

	/* Into a hole: two bytes from a, two all-ones. */
	g_assert_cmphex(gh_bus_read(bus, 0x16, 4), ==, 0xffffffff);
	g_assert_cmphex(gh_bus_read(bus, 0x12, 4), ==, 0xb1b0a3a2);
	g_assert_cmpuint(a.log->len, ==, 2);
	check(&a, 0, 'r', 2, 0, 1);
	check(&a, 1, 'r', 3, 0, 1);
	g_assert_cmpuint(b.log->len, ==, 2);
	check(&b, 0, 'r', 0, 0, 1);
	check(&b, 1, 'r', 1, 0, 1);

	/* Across b's end into the hole: unassigned bytes read 0xff. */
	g_array_set_size(a.log, 0);
	g_array_set_size(b.log, 0);
	g_assert_cmphex(gh_bus_read(bus, 0x15, 2), ==, 0xffb1);
	g_assert_cmphex(gh_bus_read(bus, 0x0f, 2), ==, 0xa0ff);
	g_assert_cmphex(gh_bus_read(bus, 0x0e, 8), ==, 0xb1b0a3a2a1a0ffffULL);
	g_assert_cmpuint(a.log->len, ==, 5);
	g_assert_cmpuint(b.log->len, ==, 3);
	for (i = 0; i < a.log->len; i++)
		g_assert_cmpuint(acc(&a, i)->size, ==, 1);

	/* Writes split the same way; bytes over the hole are dropped. */
	g_array_set_size(a.log, 0);
	g_array_set_size(b.log, 0);
	gh_bus_write(bus, 0x13, 0x44332211, 4);
	g_assert_cmpuint(a.log->len, ==, 1);
	check(&a, 0, 'w', 3, 0x11, 1);
	g_assert_cmpuint(b.log->len, ==, 2);
	check(&b, 0, 'w', 0, 0x22, 1);
	check(&b, 1, 'w', 1, 0x33, 1);

	/* An access bigger than its range is split too. */
	g_array_set_size(b.log, 0);
	gh_bus_write(bus, 0x14, 0x8877665544332211ULL, 8);
	g_assert_cmpuint(b.log->len, ==, 2);
	check(&b, 0, 'w', 0, 0x11, 1);
	check(&b, 1, 'w', 1, 0x22, 1);

	/* An access that fits is not split. */
	g_array_set_size(a.log, 0);
	g_assert_cmphex(gh_bus_read(bus, 0x10, 4), ==, 0xa3a2a1a0);
	g_assert_cmpuint(a.log->len, ==, 1);
	check(&a, 0, 'r', 0, 0, 4);
	dev_fini(&a);
	dev_fini(&b);
	gh_bus_free(bus);
}

static const struct gh_io_ops wide_ops = {
	.read = dev_read, .write = dev_write, .wide = true,
};

/*
 * A wide range takes whole accesses that start at its base (PCI's CONFADD
 * at 0xCF8 beside the reset register at 0xCF9); the byte after it is still
 * its neighbour's, and accesses that start inside it are split as usual.
 */
static void test_wide(void)
{
	struct gh_bus *bus = gh_bus_new("test");
	struct dev a, b;

	dev_init(&a, 0xa);
	dev_init(&b, 0xb);
	g_assert_cmpint(gh_bus_map(bus, 0xcf8, 1, &wide_ops, &a, "a"), ==, 0);
	g_assert_cmpint(gh_bus_map(bus, 0xcf9, 1, &byte_ops, &b, "b"), ==, 0);
	gh_bus_write(bus, 0xcf8, 0x80001234, 4);
	g_assert_cmpuint(a.log->len, ==, 1);
	check(&a, 0, 'w', 0, 0x80001234, 4);
	g_assert_cmpuint(b.log->len, ==, 0);
	g_assert_cmphex(gh_bus_read(bus, 0xcf8, 4), ==, 4);
	g_assert_cmpuint(a.log->len, ==, 2);
	check(&a, 1, 'r', 0, 0, 4);
	/* a byte at 0xcf9 is b's; a word at 0xcf9 goes to b and the hole */
	gh_bus_write(bus, 0xcf9, 0x06, 1);
	g_assert_cmpuint(b.log->len, ==, 1);
	check(&b, 0, 'w', 0, 0x06, 1);
	g_assert_cmphex(gh_bus_read(bus, 0xcf9, 2), ==, 0xffb0);
	g_assert_cmpuint(a.log->len, ==, 2);
	/* an access from below that runs into it is split into bytes */
	g_assert_cmphex(gh_bus_read(bus, 0xcf7, 2) & 0xff, ==, 0xff);
	check(&a, 2, 'r', 0, 0, 1);
	dev_fini(&a);
	dev_fini(&b);
	gh_bus_free(bus);
}

/* Ranges inserted in random order still dispatch to the right device. */
static void test_random(void)
{
	enum { N = 300 };
	struct gh_bus *bus = gh_bus_new("test");
	GRand *rand = g_rand_new_with_seed(0x6e5);
	struct dev *devs = g_new0(struct dev, N);
	uint64_t base[N], len[N], end;
	unsigned order[N], i, j;
	char names[N][8];

	/* Consecutive ranges of random length with random gaps. */
	end = 0x1000;
	for (i = 0; i < N; i++) {
		end += g_rand_int_range(rand, 0, 3) * 0x10;
		base[i] = end;
		len[i] = g_rand_int_range(rand, 1, 40);
		end += len[i];
		order[i] = i;
		dev_init(&devs[i], i);
		g_snprintf(names[i], sizeof(names[i]), "d%u", i);
	}
	for (i = N - 1; i > 0; i--) {
		unsigned k = g_rand_int_range(rand, 0, i + 1), t = order[i];

		order[i] = order[k];
		order[k] = t;
	}
	for (i = 0; i < N; i++) {
		unsigned k = order[i];

		g_assert_cmpint(gh_bus_map(bus, base[k], len[k], &dev_ops, &devs[k],
					   names[k]), ==, 0);
	}
	/* Every earlier range now refuses a duplicate. */
	for (i = 0; i < N; i++)
		g_assert_cmpint(gh_bus_map(bus, base[i] + len[i] - 1, 1, &dev_ops, NULL, "x"),
				==, -EBUSY);

	for (i = 0, j = 0; i < N; i++) {
		uint64_t a;

		for (a = base[i]; a < base[i] + len[i]; a++) {
			uint64_t v = gh_bus_read(bus, a, 1);

			g_assert_cmphex(v, ==, 1);
			g_assert_cmpstr(gh_bus_lookup(bus, a), ==, names[i]);
		}
		g_assert_cmpuint(devs[i].log->len, ==, len[i]);
		for (j = 0; j < len[i]; j++)
			check(&devs[i], j, 'r', j, 0, 1);
		/* The byte after a range belongs to the next range or nobody. */
		if (i + 1 == N || base[i + 1] != base[i] + len[i])
			g_assert_null(gh_bus_lookup(bus, base[i] + len[i]));
	}
	g_assert_null(gh_bus_lookup(bus, 0xfff));

	/* Remove every other range (in shuffled order); the rest still work. */
	for (i = 0; i < N; i++)
		if (order[i] % 2)
			g_assert_cmpint(gh_bus_unmap(bus, base[order[i]]), ==, 0);
	for (i = 0; i < N; i++) {
		uint64_t a = base[i] + len[i] / 2;

		if (i % 2) {
			g_assert_null(gh_bus_lookup(bus, a));
			g_assert_cmphex(gh_bus_read(bus, a, 1), ==, 0xff);
		} else {
			g_assert_cmpstr(gh_bus_lookup(bus, a), ==, names[i]);
			gh_bus_write(bus, a, i & 0xff, 1);
			check(&devs[i], devs[i].log->len - 1, 'w', len[i] / 2, i & 0xff, 1);
		}
	}
	for (i = 0; i < N; i++)
		dev_fini(&devs[i]);
	g_free(devs);
	g_rand_free(rand);
	gh_bus_free(bus);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/bus/map-unmap", test_map_unmap);
	g_test_add_func("/bus/overlap", test_overlap);
	g_test_add_func("/bus/offsets", test_offsets);
	g_test_add_func("/bus/unassigned", test_unassigned);
	g_test_add_func("/bus/straddle", test_straddle);
	g_test_add_func("/bus/wide", test_wide);
	g_test_add_func("/bus/random", test_random);
	return g_test_run();
}
