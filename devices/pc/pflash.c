/*
 * Parallel NOR flash, 8 bits wide, with the Intel/Sharp basic command set
 * (Intel 3 Volt Synchronous StrataFlash datasheet, "Command Definitions")
 * and a CFI query table (JEDEC JESD68): the chip QEMU's PC puts OVMF's
 * variable store in, and that OVMF's QemuFlashFvbServicesRuntimeDxe
 * detects and programs.
 *
 * In read-array mode the chip is ROM: reads come from its contents without
 * a trap, and writes (the commands) reach us through the MMIO bus. Any
 * other mode (status, identifier, CFI) takes the range off ROM, so reads
 * trap too. Programs and erases complete at once, so the status register
 * always says ready once it has been used. As QEMU's chip, a program
 * stores the data rather than ANDing it into the cells, and Clear Status
 * clears the ready bit too: OVMF's flash detection relies on both.
 */
#include "gh/pflash.h"

#include <errno.h>
#include <glib.h>
#include <string.h>
#include <sys/mman.h>

#include "gh/bus.h"
#include "gh/log.h"
#include "gh/memory.h"
#include "gh/vm.h"

/* commands */
#define CMD_READ_ARRAY		0xff
#define CMD_READ_ARRAY_ALT	0x00
#define CMD_PROGRAM		0x10
#define CMD_PROGRAM_ALT		0x40
#define CMD_ERASE		0x20
#define CMD_ERASE_CONFIRM	0xd0
#define CMD_CLEAR_STATUS	0x50
#define CMD_LOCK_SETUP		0x60
#define CMD_READ_STATUS		0x70
#define CMD_READ_ID		0x90
#define CMD_CFI_QUERY		0x98

/* status register */
#define ST_READY		0x80
#define ST_ERASE_ERROR		0x20
#define ST_PROGRAM_ERROR	0x10
#define ST_SEQUENCE_ERROR	(ST_ERASE_ERROR | ST_PROGRAM_ERROR)

/* what the identifier mode reads: Intel, and a device code of ours */
#define ID_MANUFACTURER		0x89
#define ID_DEVICE		0x18

enum mode {
	MODE_ARRAY,
	MODE_STATUS,
	MODE_ID,
	MODE_CFI,
	MODE_PROGRAM,		/* the next write is the data */
	MODE_ERASE,		/* the next write must be the confirm */
	MODE_LOCK,		/* the next write completes a lock command */
};

struct gh_pflash {
	struct gh_vm *vm;
	uint64_t gpa;
	uint8_t *data;
	size_t size;
	bool sync_file;
	bool mapped;
	bool hooked;
	enum mode mode;
	uint8_t status;
	uint8_t cfi[0x40];
	struct gh_ratelimit rl;
};

/* The CFI query table at byte offsets 0x10 on (JESD68, tables 1-5). */
static void build_cfi(struct gh_pflash *pf)
{
	uint8_t *q = pf->cfi;
	unsigned blocks = pf->size / GH_PFLASH_BLOCK;

	memset(q, 0, sizeof(pf->cfi));
	q[0x10] = 'Q';
	q[0x11] = 'R';
	q[0x12] = 'Y';
	q[0x13] = 0x01;			/* Intel/Sharp extended command set */
	q[0x15] = 0x31;			/* its extended table: none here */
	q[0x1b] = 0x27;			/* Vcc 2.7-3.6 V */
	q[0x1c] = 0x36;
	q[0x1f] = 0x07;			/* typical program: 2^7 us */
	q[0x21] = 0x0a;			/* typical block erase: 2^10 ms */
	q[0x23] = 0x04;			/* maximum: 2^4 times typical */
	q[0x25] = 0x04;
	q[0x27] = g_bit_storage(pf->size) - 1;	/* 2^n bytes */
	q[0x28] = 0x00;			/* x8 interface */
	q[0x2c] = 1;			/* one erase block region: */
	q[0x2d] = (blocks - 1) & 0xff;	/* blocks - 1 */
	q[0x2e] = (blocks - 1) >> 8;
	q[0x2f] = (GH_PFLASH_BLOCK / 256) & 0xff;	/* block size / 256 */
	q[0x30] = (GH_PFLASH_BLOCK / 256) >> 8;
}

/* Array mode maps the contents as ROM; every other mode traps reads. */
static void set_mode(struct gh_pflash *pf, enum mode mode)
{
	bool array = mode == MODE_ARRAY;

	if ((pf->mode == MODE_ARRAY) != array)
		gh_vm_set_romd(pf->vm, pf->gpa, pf->size, pf->data, array);
	pf->mode = mode;
}

/* A byte as the current mode reads it at off. */
static uint8_t read_byte(struct gh_pflash *pf, uint64_t off)
{
	switch (pf->mode) {
	case MODE_ARRAY:
		return pf->data[off];
	case MODE_ID:
		/* the identifier codes repeat in every block */
		switch (off & (GH_PFLASH_BLOCK - 1)) {
		case 0:
			return ID_MANUFACTURER;
		case 1:
			return ID_DEVICE;
		default:
			return 0;	/* block lock status: unlocked */
		}
	case MODE_CFI:
		return (off & 0xff) < sizeof(pf->cfi) ? pf->cfi[off & 0xff] : 0;
	default:
		/* status mode, and the status after a command's first cycle */
		return pf->status;
	}
}

static uint64_t pflash_read(void *opaque, uint64_t off, unsigned size)
{
	struct gh_pflash *pf = opaque;
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)read_byte(pf, off + i) << (8 * i);
	return v;
}

/* Writes the changed range of a file-backed store through to its file. */
static void sync_range(struct gh_pflash *pf, uint64_t off, size_t len)
{
	uint64_t page = off & ~(uint64_t)(GH_PFLASH_BLOCK - 1);

	if (pf->sync_file &&
	    msync(pf->data + page, off + len - page, MS_SYNC) < 0)
		gh_log_guest(&pf->rl, "pflash: cannot write the variable "
			     "store back to its file: %s", g_strerror(errno));
}

static void program(struct gh_pflash *pf, uint64_t off, uint64_t val,
		    unsigned size)
{
	for (unsigned i = 0; i < size; i++)
		pf->data[off + i] = val >> (8 * i);
	gh_mem_dma_written(gh_vm_memory(pf->vm), pf->gpa + off, size);
	sync_range(pf, off, size);
	pf->status |= ST_READY;
}

static void erase(struct gh_pflash *pf, uint64_t off)
{
	uint64_t block = off & ~(uint64_t)(GH_PFLASH_BLOCK - 1);

	memset(pf->data + block, 0xff, GH_PFLASH_BLOCK);
	gh_mem_dma_written(gh_vm_memory(pf->vm), pf->gpa + block, GH_PFLASH_BLOCK);
	sync_range(pf, block, GH_PFLASH_BLOCK);
	pf->status |= ST_READY;
}

static void pflash_write(void *opaque, uint64_t off, uint64_t val,
			 unsigned size)
{
	struct gh_pflash *pf = opaque;
	uint8_t cmd = val;

	switch (pf->mode) {
	case MODE_PROGRAM:
		program(pf, off, val, size);
		set_mode(pf, MODE_STATUS);
		return;
	case MODE_ERASE:
		if (cmd == CMD_ERASE_CONFIRM)
			erase(pf, off);
		else
			pf->status |= ST_SEQUENCE_ERROR | ST_READY;
		set_mode(pf, MODE_STATUS);
		return;
	case MODE_LOCK:
		/* lock, unlock, lock-down: no block is ever locked here */
		pf->status |= ST_READY;
		set_mode(pf, MODE_STATUS);
		return;
	default:
		break;
	}
	switch (cmd) {
	case CMD_READ_ARRAY:
	case CMD_READ_ARRAY_ALT:
		set_mode(pf, MODE_ARRAY);
		break;
	case CMD_PROGRAM:
	case CMD_PROGRAM_ALT:
		set_mode(pf, MODE_PROGRAM);
		break;
	case CMD_ERASE:
		set_mode(pf, MODE_ERASE);
		break;
	case CMD_CLEAR_STATUS:
		pf->status = 0;
		set_mode(pf, MODE_ARRAY);
		break;
	case CMD_LOCK_SETUP:
		set_mode(pf, MODE_LOCK);
		break;
	case CMD_READ_STATUS:
		set_mode(pf, MODE_STATUS);
		break;
	case CMD_READ_ID:
		set_mode(pf, MODE_ID);
		break;
	case CMD_CFI_QUERY:
		set_mode(pf, MODE_CFI);
		break;
	default:
		/* write-to-buffer and the rest are not implemented: a
		 * sequence error, as for a command the chip does not have */
		gh_log_guest(&pf->rl, "pflash: unsupported command 0x%02x",
			     cmd);
		pf->status |= ST_SEQUENCE_ERROR | ST_READY;
		set_mode(pf, MODE_STATUS);
		break;
	}
}

static const struct gh_io_ops pflash_ops = {
	.read = pflash_read,
	.write = pflash_write,
};

/* A reset hook: the device lock is held. */
static void pflash_reset(void *opaque)
{
	struct gh_pflash *pf = opaque;

	set_mode(pf, MODE_ARRAY);
	pf->status = ST_READY;
}

int gh_pflash_new(struct gh_vm *vm, uint64_t gpa, void *data, size_t size,
		  bool sync_file, struct gh_pflash **out, struct gh_error *err)
{
	struct gh_pflash *pf;
	int ret;

	if (!size || size % GH_PFLASH_BLOCK || size > (64u << 20) ||
	    (size & (size - 1)))
		return gh_error_set(err, -EINVAL, "a flash chip is a power of "
				    "two of 4 KiB blocks, up to 64 MiB (not "
				    "%zu bytes)", size);
	pf = g_new0(struct gh_pflash, 1);
	pf->vm = vm;
	pf->gpa = gpa;
	pf->data = data;
	pf->size = size;
	pf->sync_file = sync_file;
	pf->status = ST_READY;
	build_cfi(pf);
	ret = gh_vm_add_romd(vm, gpa, size, data, "pflash", err);
	if (ret < 0)
		goto err;
	ret = gh_bus_map(gh_vm_mmio(vm), gpa, size, &pflash_ops, pf, "pflash");
	if (ret < 0) {
		gh_error_set(err, ret, "pflash: 0x%" G_GINT64_MODIFIER "x is "
			     "taken on the MMIO bus", gpa);
		goto err;
	}
	pf->mapped = true;
	ret = gh_vm_add_reset_hook(vm, pflash_reset, pf);
	if (ret < 0) {
		gh_error_set(err, ret, "pflash: cannot register its reset");
		goto err;
	}
	pf->hooked = true;
	*out = pf;
	return 0;

err:
	gh_pflash_free(pf);
	return ret;
}

void gh_pflash_free(struct gh_pflash *pf)
{
	if (!pf)
		return;
	if (pf->hooked)
		gh_vm_remove_reset_hook(pf->vm, pflash_reset, pf);
	if (pf->mapped)
		gh_bus_unmap(gh_vm_mmio(pf->vm), pf->gpa);
	g_free(pf);
}
