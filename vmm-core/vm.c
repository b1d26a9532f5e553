/* The VM object: memory, buses, IRQs, clock, vCPUs and their lifecycle. */
#include "gh/vm.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "accel/accel.h"
#include "gh/bus.h"
#include "gh/chardev.h"
#include "gh/clock.h"
#include "gh/input.h"
#include "gh/irq.h"
#include "gh/log.h"
#include "gh/memory.h"
#include "vcpu-internal.h"

struct reset_hook {
	gh_reset_fn *fn;
	void *opaque;
};

/*
 * A shadow window of the BIOS area: the DRAM behind it, what the PCI side
 * answers reads with when DRAM does not (the BIOS alias, or nothing), and
 * which of reads and writes go to DRAM.
 */
struct window {
	struct gh_vm *vm;
	uint64_t gpa, size;
	uint8_t *ram;
	const uint8_t *rom;
	bool read_ram, write_ram;
	bool mmio;		/* mapped on the MMIO bus (write-only mode) */
};

#define MAX_WINDOWS 13		/* 0xC0000-0xEFFFF by 16 KiB, 0xF0000-0xFFFFF */

struct gh_vm {
	struct gh_vm_config cfg;
	pthread_mutex_t lock;		/* the device lock */
	struct gh_memory *mem;
	void *ram;
	struct gh_bus *pio;
	struct gh_bus *mmio;
	struct gh_irq *irq;
	struct gh_clock *clock;
	struct gh_input *input;
	GMainContext *ctx;
	GMainLoop *loop;
	GSource *ctl_source;

	const struct gh_accel_ops *accel;
	void *accel_vm;
	struct gh_vcpu *vcpus[GH_VM_MAX_CPUS];
	bool started;
	struct {
		const struct gh_cpu_intc_ops *ops;
		void *opaque;
	} intc[GH_VM_MAX_CPUS];
	gh_cpu_signal_fn *signal_hook;
	void *signal_opaque;

	struct gh_chardev *serial[GH_VM_MAX_SERIAL];
	struct gh_chardev *debugcon;
	char boot_order[8];
	struct gh_cpu_state boot_state;
	bool have_boot_state;
	GArray *reset_hooks;
	struct window windows[MAX_WINDOWS];
	unsigned nwindows;
	bool a20;

	struct gh_vm_ctl ctl;
	bool paused;
	bool reset_req;
	unsigned reset_count;
	enum gh_stop_reason stop_reason;
	int stop_status;
	char stop_msg[256];
	struct gh_ratelimit rl;
};

/* The 8259's output: CPU 0's INTR directly, or its local APIC's LINT0. */
static void intr_notify(void *opaque)
{
	struct gh_vm *vm = opaque;

	gh_vm_cpu_intr_changed(vm, 0);
}

static gboolean ctl_dispatch(GSource *src, GSourceFunc cb, gpointer data);

static GSourceFuncs ctl_funcs = { .dispatch = ctl_dispatch };

static void wake_main(struct gh_vm *vm)
{
	g_source_set_ready_time(vm->ctl_source, 0);
}

static uint64_t host_ram(void)
{
	return (uint64_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
}

static int map_region(struct gh_vm *vm, uint64_t gpa, uint64_t size, void *hva,
		      bool rom, const char *name, struct gh_error *err)
{
	int ret = gh_memory_add(vm->mem, gpa, size, hva,
				rom ? GH_MEM_ROM : GH_MEM_RAM, name);

	if (ret < 0)
		return gh_error_set(err, ret, "cannot map %s at 0x%" PRIx64
				    ": %s", name, gpa, g_strerror(-ret));
	if (vm->accel)
		return vm->accel->map_memory(vm->accel_vm, gpa, size, hva, rom,
					     err);
	return 0;
}

/*
 * With firmware, 0xC0000-0xFFFFF are windows the chipset switches between
 * DRAM and the PCI side (82441FX PAM registers): all on the PCI side at
 * power-on, where the BIOS alias (gh_vm_set_window_rom) or nothing answers.
 */
static int add_windows(struct gh_vm *vm, struct gh_error *err)
{
	uint64_t gpa;

	for (gpa = GH_VM_WINDOWS_START; gpa < 0x100000;) {
		struct window *w = &vm->windows[vm->nwindows];
		uint64_t size = gpa < 0xf0000 ? 0x4000 : 0x10000;
		int ret = gh_memory_add_window(vm->mem, gpa, size, "shadow");

		if (ret < 0)
			return gh_error_set(err, ret, "cannot add the shadow "
					    "window at 0x%" PRIx64, gpa);
		*w = (struct window){ .vm = vm, .gpa = gpa, .size = size,
				      .ram = (uint8_t *)vm->ram + gpa };
		vm->nwindows++;
		gpa += size;
	}
	return 0;
}

/*
 * The PC layout: RAM up to 640 KiB, the VGA window 0xA0000-0xBFFFF left to
 * MMIO, RAM from 0xC0000 (ROM shadow and BIOS areas, reserved in e820; left
 * to the firmware's ROM when there is firmware) to the PCI hole at 3 GiB,
 * and the rest above 4 GiB.
 */
static int map_ram(struct gh_vm *vm, struct gh_error *err)
{
	uint64_t size = vm->cfg.ram_size;
	uint64_t low = MIN(size, GH_VM_LOWMEM_END);
	uint8_t *ram;
	int ret;

	ram = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ram == MAP_FAILED)
		return gh_error_set(err, -errno, "cannot allocate %" PRIu64
				    " MiB of guest RAM: %s", size >> 20,
				    g_strerror(errno));
	vm->ram = ram;
	ret = map_region(vm, 0, 0xa0000, ram, false, "ram-low", err);
	if (!ret && vm->cfg.firmware)
		ret = add_windows(vm, err);
	if (!ret && vm->cfg.firmware)
		ret = map_region(vm, 0x100000, low - 0x100000, ram + 0x100000,
				 false, "ram", err);
	else if (!ret)
		ret = map_region(vm, 0xc0000, low - 0xc0000, ram + 0xc0000,
				 false, "ram", err);
	if (!ret && size > low)
		ret = map_region(vm, 1ULL << 32, size - low, ram + low, false,
				 "ram-high", err);
	return ret;
}

int gh_vm_new(const struct gh_vm_config *cfg, struct gh_vm **out,
	      struct gh_error *err)
{
	struct gh_vm *vm;
	unsigned i;
	int ret;

	if (cfg->ram_size < GH_VM_MIN_RAM)
		return gh_error_set(err, -EINVAL,
				    "guest RAM must be at least %llu MiB",
				    GH_VM_MIN_RAM >> 20);
	if (cfg->ram_size > host_ram())
		return gh_error_set(err, -ENOMEM,
				    "%" PRIu64 " MiB of guest RAM is more than "
				    "this host has (%" PRIu64 " MiB)",
				    cfg->ram_size >> 20, host_ram() >> 20);
	if (cfg->ram_size & 0xfff)
		return gh_error_set(err, -EINVAL,
				    "guest RAM must be a whole number of 4 KiB pages");
	if (cfg->accel && (cfg->ncpus < 1 || cfg->ncpus > GH_VM_MAX_CPUS))
		return gh_error_set(err, -EINVAL,
				    "the number of CPUs must be 1 to %d",
				    GH_VM_MAX_CPUS);

	vm = g_new0(struct gh_vm, 1);
	vm->cfg = *cfg;
	if (!cfg->accel)
		vm->cfg.ncpus = 0;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_mutex_init(&vm->ctl.lock, NULL);
	pthread_cond_init(&vm->ctl.cond, NULL);
	vm->mem = gh_memory_new();
	vm->pio = gh_bus_new("pio");
	vm->mmio = gh_bus_new("mmio");
	vm->irq = gh_irq_new(intr_notify, vm);
	vm->input = gh_input_new(&vm->lock);
	vm->clock = cfg->manual_clock ? gh_clock_new_manual()
				      : gh_clock_new(&vm->lock);
	gh_clock_pause(vm->clock);
	vm->ctx = g_main_context_new();
	vm->loop = g_main_loop_new(vm->ctx, FALSE);
	vm->ctl_source = g_source_new(&ctl_funcs, sizeof(GSource));
	g_source_set_callback(vm->ctl_source, NULL, vm, NULL);
	g_source_attach(vm->ctl_source, vm->ctx);
	vm->reset_hooks = g_array_new(FALSE, FALSE, sizeof(struct reset_hook));
	vm->a20 = true;
	g_strlcpy(vm->boot_order, "cdn", sizeof(vm->boot_order));

	if (cfg->accel) {
		vm->accel = gh_accel_find(cfg->accel);
		if (!vm->accel) {
			ret = gh_error_set(err, -EINVAL,
					   "unknown accelerator '%s'",
					   cfg->accel);
			goto err_free;
		}
		ret = vm->accel->vm_init(vm, &vm->accel_vm, err);
		if (ret < 0)
			goto err_free;
		if (vm->accel->invalidate_code)
			gh_memory_set_write_notify(vm->mem, vm->accel->invalidate_code,
						   vm->accel_vm);
	}
	ret = map_ram(vm, err);
	if (ret < 0)
		goto err_free;
	for (i = 0; i < vm->cfg.ncpus; i++) {
		vm->vcpus[i] = gh_vcpu_new(vm, i, err);
		if (!vm->vcpus[i]) {
			ret = err && err->code ? err->code : -EIO;
			goto err_free;
		}
	}
	*out = vm;
	return 0;

err_free:
	gh_vm_free(vm);
	return ret;
}

void gh_vm_free(struct gh_vm *vm)
{
	unsigned i;

	if (!vm)
		return;
	if (vm->started) {
		gh_vm_request_stop(vm, GH_STOP_SIGNAL, 0, "the VM was destroyed");
		for (i = 0; i < vm->cfg.ncpus; i++)
			gh_vcpu_join(vm->vcpus[i]);
	}
	for (i = 0; i < GH_VM_MAX_CPUS; i++)
		gh_vcpu_free(vm->vcpus[i]);
	if (vm->accel && vm->accel_vm) {
		gh_memory_set_write_notify(vm->mem, NULL, NULL);
		vm->accel->vm_destroy(vm->accel_vm);
	}
	gh_clock_free(vm->clock);
	gh_input_free(vm->input);
	gh_irq_free(vm->irq);
	gh_bus_free(vm->pio);
	gh_bus_free(vm->mmio);
	gh_memory_free(vm->mem);
	if (vm->ram)
		munmap(vm->ram, vm->cfg.ram_size);
	g_source_destroy(vm->ctl_source);
	g_source_unref(vm->ctl_source);
	g_main_loop_unref(vm->loop);
	g_main_context_unref(vm->ctx);
	g_array_free(vm->reset_hooks, TRUE);
	pthread_cond_destroy(&vm->ctl.cond);
	pthread_mutex_destroy(&vm->ctl.lock);
	pthread_mutex_destroy(&vm->lock);
	g_free(vm);
}

struct gh_memory *gh_vm_memory(struct gh_vm *vm) { return vm->mem; }
struct gh_bus *gh_vm_pio(struct gh_vm *vm) { return vm->pio; }
struct gh_bus *gh_vm_mmio(struct gh_vm *vm) { return vm->mmio; }
struct gh_irq *gh_vm_irq(struct gh_vm *vm) { return vm->irq; }
struct gh_clock *gh_vm_clock(struct gh_vm *vm) { return vm->clock; }
struct gh_input *gh_vm_input(struct gh_vm *vm) { return vm->input; }
pthread_mutex_t *gh_vm_lock(struct gh_vm *vm) { return &vm->lock; }
GMainContext *gh_vm_main_context(struct gh_vm *vm) { return vm->ctx; }
unsigned gh_vm_ncpus(struct gh_vm *vm) { return vm->cfg.ncpus; }
uint64_t gh_vm_ram_size(struct gh_vm *vm) { return vm->cfg.ram_size; }
struct gh_vm_ctl *gh_vm_ctl(struct gh_vm *vm) { return &vm->ctl; }
const struct gh_accel_ops *gh_vm_accel(struct gh_vm *vm) { return vm->accel; }
void *gh_vm_accel_vm(struct gh_vm *vm) { return vm->accel_vm; }

const char *gh_vm_accel_name(struct gh_vm *vm)
{
	return vm->accel ? vm->accel->name : "none";
}

int gh_vm_add_memory(struct gh_vm *vm, uint64_t gpa, uint64_t size, void *hva,
		     bool rom, const char *name, struct gh_error *err)
{
	if (vm->started)
		return gh_error_set(err, -EBUSY,
				    "cannot add memory to a running VM");
	return map_region(vm, gpa, size, hva, rom, name, err);
}

/* A window in write-only mode: reads from the PCI side, writes to DRAM. */
static uint64_t window_read(void *opaque, uint64_t off, unsigned size)
{
	struct window *w = opaque;
	uint64_t v = 0;

	if (!w->rom)
		return UINT64_MAX;
	memcpy(&v, w->rom + off, size);
	return v;
}

static void window_write(void *opaque, uint64_t off, uint64_t val,
			 unsigned size)
{
	struct window *w = opaque;

	memcpy(w->ram + off, &val, size);
	gh_mem_dma_written(w->vm->mem, w->gpa + off, size);
}

static const struct gh_io_ops window_ops = {
	.read = window_read, .write = window_write,
};

static struct window *find_window(struct gh_vm *vm, uint64_t gpa)
{
	for (unsigned i = 0; i < vm->nwindows; i++)
		if (vm->windows[i].gpa == gpa)
			return &vm->windows[i];
	return NULL;
}

/* The vCPUs refill their TLBs before their next access (soft). */
static void kick_all(struct gh_vm *vm)
{
	for (unsigned i = 0; i < vm->cfg.ncpus; i++)
		if (vm->vcpus[i])
			gh_vcpu_kick(vm->vcpus[i]);
}

static void switch_backing(struct gh_vm *vm, uint64_t gpa, uint64_t size,
			   void *hva, enum gh_mem_kind kind);

/*
 * Puts the window's mode into the memory map, the backend and the MMIO bus;
 * decoded code from it is dropped and the vCPUs refill their TLBs.
 */
static void window_apply(struct gh_vm *vm, struct window *w)
{
	enum gh_mem_kind kind = GH_MEM_OFF;
	void *hva = NULL;
	bool mmio = false;

	if (w->read_ram) {
		hva = w->ram;
		kind = w->write_ram ? GH_MEM_RAM : GH_MEM_ROM;
	} else if (w->write_ram) {
		mmio = true;
	} else if (w->rom) {
		hva = (void *)w->rom;
		kind = GH_MEM_ROM;
	}
	if (w->mmio && !mmio)
		gh_bus_unmap(vm->mmio, w->gpa);
	if (mmio && !w->mmio &&
	    gh_bus_map(vm->mmio, w->gpa, w->size, &window_ops, w, "shadow") < 0) {
		/* something else decodes there; writes are lost */
		gh_log_guest(&vm->rl, "shadow window 0x%" PRIx64 " is taken",
			     w->gpa);
		mmio = false;
	}
	w->mmio = mmio;
	switch_backing(vm, w->gpa, w->size, hva, kind);
}

/*
 * Backs the window at gpa with hva as kind, in the memory map and the
 * backend; decoded code from it is dropped and the vCPUs refill their TLBs.
 */
static void switch_backing(struct gh_vm *vm, uint64_t gpa, uint64_t size,
			   void *hva, enum gh_mem_kind kind)
{
	gh_memory_set_window(vm->mem, gpa, hva, kind);
	if (vm->accel && vm->accel->remap_memory &&
	    vm->accel->remap_memory(vm->accel_vm, gpa, size, hva,
				    kind != GH_MEM_RAM) < 0)
		gh_vm_request_stop(vm, GH_STOP_ERROR, 0, "cannot remap the "
				   "window at 0x%" PRIx64, gpa);
	gh_mem_dma_written(vm->mem, gpa, size);
	kick_all(vm);
}

int gh_vm_add_romd(struct gh_vm *vm, uint64_t gpa, uint64_t size, void *hva,
		   const char *name, struct gh_error *err)
{
	int ret;

	if (vm->started)
		return gh_error_set(err, -EBUSY,
				    "cannot add memory to a running VM");
	ret = gh_memory_add_window(vm->mem, gpa, size, name);
	if (ret < 0)
		return gh_error_set(err, ret, "cannot map %s at 0x%" PRIx64
				    ": %s", name, gpa, g_strerror(-ret));
	switch_backing(vm, gpa, size, hva, GH_MEM_ROM);
	return 0;
}

void gh_vm_set_romd(struct gh_vm *vm, uint64_t gpa, uint64_t size, void *hva,
		    bool array)
{
	switch_backing(vm, gpa, size, hva, array ? GH_MEM_ROM : GH_MEM_OFF);
}

int gh_vm_set_window_rom(struct gh_vm *vm, uint64_t gpa, uint64_t size,
			 const void *rom, struct gh_error *err)
{
	uint64_t a;

	for (a = gpa; a - gpa < size;) {
		struct window *w = find_window(vm, a);

		if (!w || w->size > size - (a - gpa))
			return gh_error_set(err, -EINVAL, "0x%" PRIx64 " is not "
					    "a shadow window", a);
		a += w->size;
	}
	for (a = gpa; a - gpa < size;) {
		struct window *w = find_window(vm, a);

		w->rom = (const uint8_t *)rom + (a - gpa);
		window_apply(vm, w);
		a += w->size;
	}
	return 0;
}

int gh_vm_set_window(struct gh_vm *vm, uint64_t gpa, bool read_ram,
		     bool write_ram)
{
	struct window *w = find_window(vm, gpa);

	if (!w)
		return -ENOENT;
	if (w->read_ram == read_ram && w->write_ram == write_ram)
		return 0;
	w->read_ram = read_ram;
	w->write_ram = write_ram;
	window_apply(vm, w);
	return 0;
}

int gh_vm_map_device_memory(struct gh_vm *vm, uint64_t gpa, uint64_t size,
			    void *hva, const char *name)
{
	int ret = gh_memory_add_device(vm->mem, gpa, size, hva, name);

	if (ret < 0)
		return ret;
	if (vm->accel && vm->accel->remap_memory) {
		ret = vm->accel->remap_memory(vm->accel_vm, gpa, size, hva,
					      false);
		if (ret < 0) {
			gh_memory_remove_device(vm->mem, gpa);
			return ret;
		}
	}
	kick_all(vm);
	return 0;
}

int gh_vm_unmap_device_memory(struct gh_vm *vm, uint64_t gpa, uint64_t size)
{
	int ret = gh_memory_remove_device(vm->mem, gpa);

	if (ret < 0)
		return ret;
	if (vm->accel && vm->accel->remap_memory &&
	    vm->accel->remap_memory(vm->accel_vm, gpa, size, NULL, false) < 0)
		gh_vm_request_stop(vm, GH_STOP_ERROR, 0, "cannot unmap the "
				   "device memory at 0x%" PRIx64, gpa);
	/* code the soft CPU decoded from it is stale wherever it goes */
	gh_mem_dma_written(vm->mem, gpa, size);
	kick_all(vm);
	return 0;
}

bool gh_vm_has_windows(struct gh_vm *vm)
{
	return vm->nwindows != 0;
}

void gh_vm_set_serial(struct gh_vm *vm, unsigned index, struct gh_chardev *chr)
{
	if (index < GH_VM_MAX_SERIAL)
		vm->serial[index] = chr;
}

struct gh_chardev *gh_vm_serial(struct gh_vm *vm, unsigned index)
{
	return index < GH_VM_MAX_SERIAL ? vm->serial[index] : NULL;
}

void gh_vm_set_debugcon(struct gh_vm *vm, struct gh_chardev *chr)
{
	vm->debugcon = chr;
}

struct gh_chardev *gh_vm_debugcon(struct gh_vm *vm)
{
	return vm->debugcon;
}

void gh_vm_set_boot_order(struct gh_vm *vm, const char *order)
{
	g_strlcpy(vm->boot_order, order, sizeof(vm->boot_order));
}

const char *gh_vm_boot_order(struct gh_vm *vm)
{
	return vm->boot_order;
}

void gh_vm_set_boot_state(struct gh_vm *vm, const struct gh_cpu_state *s)
{
	vm->boot_state = *s;
	vm->have_boot_state = true;
}

int gh_vm_add_reset_hook(struct gh_vm *vm, gh_reset_fn *fn, void *opaque)
{
	struct reset_hook h = { fn, opaque };

	g_array_append_val(vm->reset_hooks, h);
	return 0;
}

void gh_vm_remove_reset_hook(struct gh_vm *vm, gh_reset_fn *fn, void *opaque)
{
	unsigned i;

	for (i = 0; i < vm->reset_hooks->len; i++) {
		struct reset_hook *h =
			&g_array_index(vm->reset_hooks, struct reset_hook, i);

		if (h->fn == fn && h->opaque == opaque) {
			g_array_remove_index(vm->reset_hooks, i);
			return;
		}
	}
}

void gh_vm_set_a20(struct gh_vm *vm, bool enabled)
{
	unsigned i;

	/* KVM has no A20 mask; the software CPU reads it after port I/O,
	 * without the device lock. The other vCPUs are kicked so that each
	 * re-reads it (and refills its TLB) before running on. */
	if (__atomic_exchange_n(&vm->a20, enabled, __ATOMIC_RELAXED) == enabled)
		return;
	for (i = 0; i < vm->cfg.ncpus; i++)
		gh_vcpu_kick(vm->vcpus[i]);
}

bool gh_vm_a20(struct gh_vm *vm)
{
	return __atomic_load_n(&vm->a20, __ATOMIC_RELAXED);
}

/* Every vCPU starts from its power-on state; the BSP from the loader's. */
static void load_cpu_states(struct gh_vm *vm)
{
	struct gh_cpu_state s;
	unsigned i;

	for (i = 0; i < vm->cfg.ncpus; i++) {
		if (i == 0 && vm->have_boot_state)
			s = vm->boot_state;
		else
			gh_cpu_state_reset(&s, i == 0);
		gh_vcpu_set_pending_state(vm->vcpus[i], &s);
	}
}

int gh_vm_start(struct gh_vm *vm, struct gh_error *err)
{
	unsigned i;
	int ret;

	if (vm->started || !vm->accel)
		return gh_error_set(err, -EINVAL, "the VM cannot be started");
	load_cpu_states(vm);
	vm->started = true;
	/* A VM paused before it started starts paused. */
	vm->ctl.park = vm->paused;
	/* time runs before the first guest instruction: a guest that reads a
	 * timer at once must see it move */
	if (!vm->paused)
		gh_clock_resume(vm->clock);
	for (i = 0; i < vm->cfg.ncpus; i++) {
		ret = gh_vcpu_start_thread(vm->vcpus[i], err);
		if (ret < 0) {
			gh_vm_request_stop(vm, GH_STOP_ERROR, 0, "%s", err->msg);
			/* none may run on while the caller frees the devices */
			while (i--)
				gh_vcpu_join(vm->vcpus[i]);
			if (!vm->paused)
				gh_clock_pause(vm->clock);
			return ret;
		}
	}
	return 0;
}

static unsigned running_threads(struct gh_vm *vm)
{
	return vm->started ? vm->cfg.ncpus : 0;
}

/* Main thread: stop every vCPU at a point where its state can change. */
static void park_all(struct gh_vm *vm)
{
	unsigned i;

	pthread_mutex_lock(&vm->ctl.lock);
	vm->ctl.park = true;
	pthread_mutex_unlock(&vm->ctl.lock);
	for (i = 0; i < vm->cfg.ncpus; i++)
		gh_vcpu_kick(vm->vcpus[i]);
	pthread_mutex_lock(&vm->ctl.lock);
	while (vm->ctl.nparked < running_threads(vm) &&
	       vm->stop_reason == GH_STOP_NONE)
		pthread_cond_wait(&vm->ctl.cond, &vm->ctl.lock);
	pthread_mutex_unlock(&vm->ctl.lock);
}

static void unpark_all(struct gh_vm *vm)
{
	pthread_mutex_lock(&vm->ctl.lock);
	vm->ctl.park = false;
	pthread_cond_broadcast(&vm->ctl.cond);
	pthread_mutex_unlock(&vm->ctl.lock);
}

void gh_vm_pause(struct gh_vm *vm)
{
	if (vm->paused)
		return;
	park_all(vm);
	gh_clock_pause(vm->clock);
	vm->paused = true;
}

void gh_vm_resume(struct gh_vm *vm)
{
	if (!vm->paused)
		return;
	vm->paused = false;
	if (!vm->started)
		return;
	gh_clock_resume(vm->clock);
	unpark_all(vm);
}

bool gh_vm_paused(struct gh_vm *vm)
{
	return vm->paused;
}

bool gh_vm_stopping(struct gh_vm *vm)
{
	return __atomic_load_n(&vm->stop_reason, __ATOMIC_ACQUIRE) !=
	       GH_STOP_NONE;
}

static void do_reset(struct gh_vm *vm)
{
	unsigned i;

	park_all(vm);
	if (gh_vm_stopping(vm))
		return;
	pthread_mutex_lock(&vm->lock);
	gh_vm_set_a20(vm, true);
	for (i = 0; i < vm->reset_hooks->len; i++) {
		struct reset_hook *h =
			&g_array_index(vm->reset_hooks, struct reset_hook, i);

		h->fn(h->opaque);
	}
	pthread_mutex_unlock(&vm->lock);
	load_cpu_states(vm);
	pthread_mutex_lock(&vm->ctl.lock);
	vm->reset_req = false;
	pthread_mutex_unlock(&vm->ctl.lock);
	if (!vm->paused)
		unpark_all(vm);
}

static gboolean ctl_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
	struct gh_vm *vm = data;
	bool reset;

	g_source_set_ready_time(src, -1);
	if (gh_vm_stopping(vm)) {
		g_main_loop_quit(vm->loop);
		return G_SOURCE_CONTINUE;
	}
	pthread_mutex_lock(&vm->ctl.lock);
	reset = vm->reset_req;
	pthread_mutex_unlock(&vm->ctl.lock);
	if (reset)
		do_reset(vm);
	if (gh_vm_stopping(vm))
		g_main_loop_quit(vm->loop);
	return G_SOURCE_CONTINUE;
}

void gh_vm_request_reset(struct gh_vm *vm)
{
	pthread_mutex_lock(&vm->ctl.lock);
	vm->reset_count++;
	if (vm->started && vm->cfg.no_reboot) {
		pthread_mutex_unlock(&vm->ctl.lock);
		gh_vm_request_stop(vm, GH_STOP_RESET, 0, "the guest reset");
		return;
	}
	vm->reset_req = true;
	/* Like the RESET pin: no CPU runs on until the machine has reset. */
	if (vm->started)
		vm->ctl.park = true;
	pthread_mutex_unlock(&vm->ctl.lock);
	if (vm->started)
		wake_main(vm);
}

void gh_vm_guest_shutdown(struct gh_vm *vm, unsigned cpu)
{
	if (vm->cfg.no_reboot) {
		gh_vm_request_stop(vm, GH_STOP_TRIPLE_FAULT, 0,
				   "cpu %u triple-faulted", cpu);
		return;
	}
	gh_log_guest(&vm->rl, "cpu %u triple-faulted; resetting the machine", cpu);
	gh_vm_request_reset(vm);
}

void gh_vm_cpu_init(struct gh_vm *vm, unsigned cpu)
{
	if (vm->signal_hook)
		vm->signal_hook(vm->signal_opaque, cpu, GH_CPU_SIGNAL_INIT, 0);
	else if (cpu < vm->cfg.ncpus)
		gh_vcpu_init_signal(vm->vcpus[cpu]);
}

void gh_vm_cpu_startup(struct gh_vm *vm, unsigned cpu, uint8_t vector)
{
	if (vm->signal_hook)
		vm->signal_hook(vm->signal_opaque, cpu, GH_CPU_SIGNAL_SIPI,
				vector);
	else if (cpu < vm->cfg.ncpus)
		gh_vcpu_startup_ipi(vm->vcpus[cpu], vector);
}

void gh_vm_cpu_nmi(struct gh_vm *vm, unsigned cpu)
{
	if (vm->signal_hook)
		vm->signal_hook(vm->signal_opaque, cpu, GH_CPU_SIGNAL_NMI, 0);
	else if (cpu < vm->cfg.ncpus)
		gh_vcpu_nmi(vm->vcpus[cpu]);
}

void gh_vm_set_cpu_signal_hook(struct gh_vm *vm, gh_cpu_signal_fn *fn,
			       void *opaque)
{
	vm->signal_hook = fn;
	vm->signal_opaque = opaque;
}

void gh_vm_set_cpu_intc(struct gh_vm *vm, unsigned cpu,
			const struct gh_cpu_intc_ops *ops, void *opaque)
{
	if (cpu >= GH_VM_MAX_CPUS)
		return;
	vm->intc[cpu].ops = ops;
	vm->intc[cpu].opaque = ops ? opaque : NULL;
	gh_vm_cpu_intr_changed(vm, cpu);
}

void gh_vm_cpu_intr_changed(struct gh_vm *vm, unsigned cpu)
{
	if (cpu < vm->cfg.ncpus)
		gh_vcpu_intr_changed(vm->vcpus[cpu]);
}

bool gh_vm_cpu_intr_pending(struct gh_vm *vm, unsigned cpu)
{
	bool pending = false;

	if (cpu >= GH_VM_MAX_CPUS)
		return false;
	pthread_mutex_lock(&vm->lock);
	if (vm->intc[cpu].ops)
		pending = vm->intc[cpu].ops->pending(vm->intc[cpu].opaque);
	else if (cpu == 0)
		pending = gh_irq_intr_pending(vm->irq);
	pthread_mutex_unlock(&vm->lock);
	return pending;
}

int gh_vm_cpu_intr_ack(struct gh_vm *vm, unsigned cpu)
{
	int vector = -1;

	if (cpu >= GH_VM_MAX_CPUS)
		return -1;
	pthread_mutex_lock(&vm->lock);
	if (vm->intc[cpu].ops)
		vector = vm->intc[cpu].ops->ack(vm->intc[cpu].opaque);
	else if (cpu == 0)
		vector = gh_irq_intr_ack(vm->irq);
	pthread_mutex_unlock(&vm->lock);
	return vector;
}

uint64_t gh_vm_cpu_mmio_read(struct gh_vm *vm, unsigned cpu, uint64_t gpa,
			     unsigned size)
{
	const struct gh_cpu_intc_ops *ops;
	uint64_t val = 0;

	pthread_mutex_lock(&vm->lock);
	ops = cpu < GH_VM_MAX_CPUS ? vm->intc[cpu].ops : NULL;
	if (!ops || !ops->mmio(vm->intc[cpu].opaque, gpa, false, &val, size))
		val = gh_bus_read(vm->mmio, gpa, size);
	pthread_mutex_unlock(&vm->lock);
	return val;
}

void gh_vm_cpu_mmio_write(struct gh_vm *vm, unsigned cpu, uint64_t gpa,
			  uint64_t val, unsigned size)
{
	const struct gh_cpu_intc_ops *ops;

	pthread_mutex_lock(&vm->lock);
	ops = cpu < GH_VM_MAX_CPUS ? vm->intc[cpu].ops : NULL;
	if (!ops || !ops->mmio(vm->intc[cpu].opaque, gpa, true, &val, size))
		gh_bus_write(vm->mmio, gpa, val, size);
	pthread_mutex_unlock(&vm->lock);
}

int gh_vm_cpu_msr(struct gh_vm *vm, unsigned cpu, uint32_t index, bool write,
		  uint64_t *val, uint64_t tsc)
{
	const struct gh_cpu_intc_ops *ops;
	int ret = -ENOENT;

	pthread_mutex_lock(&vm->lock);
	ops = cpu < GH_VM_MAX_CPUS ? vm->intc[cpu].ops : NULL;
	if (ops && ops->msr)
		ret = ops->msr(vm->intc[cpu].opaque, index, write, val, tsc);
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

int gh_vm_cpu_cr8(struct gh_vm *vm, unsigned cpu, bool write, uint64_t *val)
{
	const struct gh_cpu_intc_ops *ops;
	int ret = -ENOENT;

	pthread_mutex_lock(&vm->lock);
	ops = cpu < GH_VM_MAX_CPUS ? vm->intc[cpu].ops : NULL;
	if (ops && ops->get_cr8 && ops->set_cr8) {
		if (write)
			ops->set_cr8(vm->intc[cpu].opaque, *val & 0xf);
		else
			*val = ops->get_cr8(vm->intc[cpu].opaque);
		ret = 0;
	}
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

unsigned gh_vm_reset_count(struct gh_vm *vm)
{
	return vm->reset_count;
}

void gh_vm_request_stop(struct gh_vm *vm, enum gh_stop_reason reason,
			int status, const char *fmt, ...)
{
	va_list ap;
	unsigned i;

	pthread_mutex_lock(&vm->ctl.lock);
	if (vm->stop_reason != GH_STOP_NONE) {
		pthread_mutex_unlock(&vm->ctl.lock);
		return;
	}
	vm->stop_status = status;
	va_start(ap, fmt);
	vsnprintf(vm->stop_msg, sizeof(vm->stop_msg), fmt, ap);
	va_end(ap);
	__atomic_store_n(&vm->stop_reason, reason, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vm->ctl.cond);
	pthread_mutex_unlock(&vm->ctl.lock);
	for (i = 0; i < vm->cfg.ncpus; i++)
		gh_vcpu_kick(vm->vcpus[i]);
	wake_main(vm);
}

enum gh_stop_reason gh_vm_run_main_loop(struct gh_vm *vm)
{
	unsigned i;

	g_main_context_push_thread_default(vm->ctx);
	if (!gh_vm_stopping(vm))
		g_main_loop_run(vm->loop);
	g_main_context_pop_thread_default(vm->ctx);
	for (i = 0; i < vm->cfg.ncpus; i++)
		gh_vcpu_join(vm->vcpus[i]);
	gh_clock_pause(vm->clock);
	return vm->stop_reason;
}

enum gh_stop_reason gh_vm_stop_reason(struct gh_vm *vm)
{
	return __atomic_load_n(&vm->stop_reason, __ATOMIC_ACQUIRE);
}

int gh_vm_stop_status(struct gh_vm *vm)
{
	return vm->stop_status;
}

const char *gh_vm_stop_message(struct gh_vm *vm)
{
	return vm->stop_msg;
}

const char *gh_stop_reason_name(enum gh_stop_reason reason)
{
	static const char *const names[] = {
		[GH_STOP_NONE] = "running",
		[GH_STOP_POWEROFF] = "poweroff",
		[GH_STOP_RESET] = "reset",
		[GH_STOP_TRIPLE_FAULT] = "triple-fault",
		[GH_STOP_DEBUG_EXIT] = "debug-exit",
		[GH_STOP_SIGNAL] = "signal",
		[GH_STOP_TIMEOUT] = "timeout",
		[GH_STOP_ERROR] = "error",
	};

	return (unsigned)reason < G_N_ELEMENTS(names) ? names[reason] : "?";
}

int gh_vm_get_cpu_state(struct gh_vm *vm, unsigned cpu, struct gh_cpu_state *s)
{
	if (cpu >= vm->cfg.ncpus)
		return -EINVAL;
	return gh_vcpu_get_state(vm->vcpus[cpu], s);
}

int gh_vm_cpu_retired(struct gh_vm *vm, unsigned cpu, uint64_t *count)
{
	if (cpu >= vm->cfg.ncpus)
		return -EINVAL;
	return gh_vcpu_retired(vm->vcpus[cpu], count);
}

uint64_t gh_vm_pio_read(struct gh_vm *vm, uint16_t port, unsigned size)
{
	uint64_t val;

	pthread_mutex_lock(&vm->lock);
	val = gh_bus_read(vm->pio, port, size);
	pthread_mutex_unlock(&vm->lock);
	return val;
}

void gh_vm_pio_write(struct gh_vm *vm, uint16_t port, uint64_t val,
		     unsigned size)
{
	pthread_mutex_lock(&vm->lock);
	gh_bus_write(vm->pio, port, val, size);
	pthread_mutex_unlock(&vm->lock);
}
