/*
 * The VM object: guest memory, the port-I/O and MMIO buses, IRQ routing, the
 * virtual clock, input routing, the vCPUs on their threads and the execution
 * backend. It knows nothing about which devices exist; devices/board.c puts
 * a PC on it.
 *
 * Lifecycle: gh_vm_new -> (devices realize, a loader sets the boot CPU state)
 * -> gh_vm_start -> pause/resume/reset any number of times -> the VM stops
 * with a reason (gh_vm_wait) -> gh_vm_free.
 */
#ifndef GH_VM_H
#define GH_VM_H

#include <glib.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "gh/cpu-state.h"
#include "gh/error.h"

struct gh_bus;
struct gh_chardev;
struct gh_clock;
struct gh_input;
struct gh_irq;
struct gh_memory;
struct gh_vm;

#define GH_VM_MAX_CPUS 64
#define GH_VM_MIN_RAM (2ULL << 20)
/* RAM above this goes above 4 GiB; [3 GiB, 4 GiB) is the PCI/MMIO hole. */
#define GH_VM_LOWMEM_END 0xc0000000ULL

enum gh_stop_reason {
	GH_STOP_NONE,		/* still running */
	GH_STOP_POWEROFF,	/* the guest powered off */
	GH_STOP_RESET,		/* the guest reset and the policy is to stop */
	GH_STOP_TRIPLE_FAULT,	/* shutdown state: the policy is to stop */
	GH_STOP_DEBUG_EXIT,	/* the guest wrote the debug-exit port */
	GH_STOP_SIGNAL,		/* the host asked: SIGINT/SIGTERM, Ctrl-A x */
	GH_STOP_TIMEOUT,	/* --timeout elapsed */
	GH_STOP_ERROR,		/* the backend or a device failed */
};

struct gh_vm_config {
	uint64_t ram_size;
	unsigned ncpus;
	/* "kvm", "soft", "vmx", or NULL for a VM with no CPUs (device tests) */
	const char *accel;
	/* a manual clock that moves only by gh_clock_advance() (tests) */
	bool manual_clock;
	/* a guest reset stops the VM (GH_STOP_RESET) instead of restarting it */
	bool no_reboot;
	/* leave 0xC0000-0xFFFFF to firmware and option ROMs instead of RAM */
	bool firmware;
};

__attribute__((warn_unused_result))
int gh_vm_new(const struct gh_vm_config *cfg, struct gh_vm **out,
	      struct gh_error *err);
void gh_vm_free(struct gh_vm *vm);

struct gh_memory *gh_vm_memory(struct gh_vm *vm);
struct gh_bus *gh_vm_pio(struct gh_vm *vm);
struct gh_bus *gh_vm_mmio(struct gh_vm *vm);
struct gh_irq *gh_vm_irq(struct gh_vm *vm);
struct gh_clock *gh_vm_clock(struct gh_vm *vm);
struct gh_input *gh_vm_input(struct gh_vm *vm);
pthread_mutex_t *gh_vm_lock(struct gh_vm *vm);
GMainContext *gh_vm_main_context(struct gh_vm *vm);
unsigned gh_vm_ncpus(struct gh_vm *vm);
uint64_t gh_vm_ram_size(struct gh_vm *vm);
const char *gh_vm_accel_name(struct gh_vm *vm);

/*
 * Adds guest memory after creation (firmware ROMs); the backend maps it
 * too. Must be called before gh_vm_start.
 */
__attribute__((warn_unused_result))
int gh_vm_add_memory(struct gh_vm *vm, uint64_t gpa, uint64_t size, void *hva,
		     bool rom, const char *name, struct gh_error *err);

/*
 * The BIOS area of a VM with firmware: windows over 0xC0000-0xEFFFF (16 KiB
 * each) and 0xF0000-0xFFFFF (64 KiB) that the host bridge's PAM registers
 * switch (82441FX datasheet, 3.2.18): reads from DRAM or from the PCI
 * side, writes to DRAM or to the PCI side (dropped). The PCI side is the
 * BIOS alias where gh_vm_set_window_rom put one (rom, kept by the caller,
 * covering whole windows from gpa), else nothing (the MMIO bus). Direct
 * boot has no windows: RAM stays there, gh_vm_set_window gives -ENOENT.
 * Device lock held; the vCPUs see the switch before their next access.
 */
#define GH_VM_WINDOWS_START 0xc0000ULL
bool gh_vm_has_windows(struct gh_vm *vm);
__attribute__((warn_unused_result))
int gh_vm_set_window_rom(struct gh_vm *vm, uint64_t gpa, uint64_t size,
			 const void *rom, struct gh_error *err);
int gh_vm_set_window(struct gh_vm *vm, uint64_t gpa, bool read_ram,
		     bool write_ram);

/*
 * Device memory (a PCI BAR backed by host memory, as the VGA framebuffer)
 * mapped at gpa or taken away again while the VM may run: the backend maps
 * it, the vCPUs see it before their next access. Device lock held. 0,
 * -EEXIST if something is mapped there, -ENOSPC, or the backend's error;
 * unmap: -ENOENT if no device memory starts at gpa.
 */
__attribute__((warn_unused_result))
int gh_vm_map_device_memory(struct gh_vm *vm, uint64_t gpa, uint64_t size,
			    void *hva, const char *name);
int gh_vm_unmap_device_memory(struct gh_vm *vm, uint64_t gpa, uint64_t size);

/*
 * A ROM device's range (a flash chip, CFI): in array mode reads come from
 * hva as from ROM and writes go to the MMIO bus, where the device mapped
 * itself over the same range; out of it (command modes) the MMIO bus gets
 * reads too. Starts in array mode. gh_vm_set_romd switches, with the
 * device lock held; the vCPUs see it before their next access.
 */
__attribute__((warn_unused_result))
int gh_vm_add_romd(struct gh_vm *vm, uint64_t gpa, uint64_t size, void *hva,
		   const char *name, struct gh_error *err);
void gh_vm_set_romd(struct gh_vm *vm, uint64_t gpa, uint64_t size, void *hva,
		    bool array);

/* Backends of the serial ports (COM1..COM4) and the debug console. */
#define GH_VM_MAX_SERIAL 4
void gh_vm_set_serial(struct gh_vm *vm, unsigned index, struct gh_chardev *chr);
struct gh_chardev *gh_vm_serial(struct gh_vm *vm, unsigned index);
void gh_vm_set_debugcon(struct gh_vm *vm, struct gh_chardev *chr);
struct gh_chardev *gh_vm_debugcon(struct gh_vm *vm);

/* Boot device order as in QEMU and xl.cfg's boot=: "c", "dc", ... */
void gh_vm_set_boot_order(struct gh_vm *vm, const char *order);
const char *gh_vm_boot_order(struct gh_vm *vm);

/* The state the boot CPU starts from (and restarts from after a reset). */
void gh_vm_set_boot_state(struct gh_vm *vm, const struct gh_cpu_state *s);

/*
 * Called with the device lock held, vCPUs stopped, on every guest reset
 * before the vCPUs restart, in the order added. Devices reset here; a
 * direct-boot loader reloads its kernel here.
 */
typedef void gh_reset_fn(void *opaque);
__attribute__((warn_unused_result))
int gh_vm_add_reset_hook(struct gh_vm *vm, gh_reset_fn *fn, void *opaque);
void gh_vm_remove_reset_hook(struct gh_vm *vm, gh_reset_fn *fn, void *opaque);

__attribute__((warn_unused_result))
int gh_vm_start(struct gh_vm *vm, struct gh_error *err);
void gh_vm_pause(struct gh_vm *vm);
void gh_vm_resume(struct gh_vm *vm);
bool gh_vm_paused(struct gh_vm *vm);

/*
 * Requests from devices, vCPUs and the host; safe from any thread, with or
 * without the device lock. The first stop request wins.
 */
void gh_vm_request_reset(struct gh_vm *vm);
void gh_vm_request_stop(struct gh_vm *vm, enum gh_stop_reason reason,
			int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * INIT and startup IPIs, for the interrupt controller that delivers them
 * (the local APIC). INIT puts a CPU in its power-on state (an AP then
 * waits for a startup IPI); a startup IPI starts a waiting AP in real mode
 * at vector << 12 and is ignored by a CPU that is not waiting. Any thread;
 * out-of-range CPUs are ignored.
 */
void gh_vm_cpu_init(struct gh_vm *vm, unsigned cpu);
void gh_vm_cpu_startup(struct gh_vm *vm, unsigned cpu, uint8_t vector);
/* The NMI pin of a CPU; any thread. */
void gh_vm_cpu_nmi(struct gh_vm *vm, unsigned cpu);

/*
 * The interrupt controller of one CPU (its local APIC). The vCPU asks it,
 * not the 8259, whether INTR is asserted and for the vector of the INTA
 * cycle; it sees the CPU's own accesses to memory before the MMIO bus does
 * (the APIC page is per CPU), and owns some MSRs and CR8. Every callback
 * runs with the device lock held.
 */
struct gh_cpu_intc_ops {
	bool (*pending)(void *opaque);
	/* the vector to deliver, or -1 if the request went away */
	int (*ack)(void *opaque);
	/* true if the access falls in this CPU's register page (*val holds
	 * the value written, or receives the value read) */
	bool (*mmio)(void *opaque, uint64_t gpa, bool write, uint64_t *val,
		     unsigned size);
	/*
	 * RDMSR/WRMSR of index. tsc is the CPU's time-stamp counter at the
	 * access (1 GHz on the soft CPU). 0; -ENOENT if the MSR is not the
	 * controller's; -EINVAL if the access faults (#GP).
	 */
	int (*msr)(void *opaque, uint32_t index, bool write, uint64_t *val,
		   uint64_t tsc);
	/* MOV from/to CR8 (the TPR's priority class, 0-15) */
	uint8_t (*get_cr8)(void *opaque);
	void (*set_cr8)(void *opaque, uint8_t cr8);
};

/* Registers (ops NULL: removes) the controller of cpu; device lock held. */
void gh_vm_set_cpu_intc(struct gh_vm *vm, unsigned cpu,
			const struct gh_cpu_intc_ops *ops, void *opaque);
/* The controller's INTR output to cpu may have changed: wake it. */
void gh_vm_cpu_intr_changed(struct gh_vm *vm, unsigned cpu);

/*
 * A CPU's view of its controller, taking the device lock. Without a
 * controller, CPU 0's INTR is the 8259's (gh_irq_intr_pending) and the
 * other CPUs have none; MMIO goes to the bus; MSRs and CR8 give -ENOENT.
 */
bool gh_vm_cpu_intr_pending(struct gh_vm *vm, unsigned cpu);
int gh_vm_cpu_intr_ack(struct gh_vm *vm, unsigned cpu);
uint64_t gh_vm_cpu_mmio_read(struct gh_vm *vm, unsigned cpu, uint64_t gpa,
			     unsigned size);
void gh_vm_cpu_mmio_write(struct gh_vm *vm, unsigned cpu, uint64_t gpa,
			  uint64_t val, unsigned size);
int gh_vm_cpu_msr(struct gh_vm *vm, unsigned cpu, uint32_t index, bool write,
		  uint64_t *val, uint64_t tsc);
int gh_vm_cpu_cr8(struct gh_vm *vm, unsigned cpu, bool write, uint64_t *val);

/*
 * Device tests (a VM with no vCPUs): INIT, startup IPIs and NMIs go to fn
 * instead (signal is one of GH_CPU_SIGNAL_*).
 */
enum { GH_CPU_SIGNAL_INIT, GH_CPU_SIGNAL_SIPI, GH_CPU_SIGNAL_NMI };
typedef void gh_cpu_signal_fn(void *opaque, unsigned cpu, int signal,
			      uint8_t vector);
void gh_vm_set_cpu_signal_hook(struct gh_vm *vm, gh_cpu_signal_fn *fn,
			       void *opaque);

/* How many times the guest asked for a reset (tests). */
unsigned gh_vm_reset_count(struct gh_vm *vm);

/* Runs the main loop until the VM stops; returns the reason. */
enum gh_stop_reason gh_vm_run_main_loop(struct gh_vm *vm);
enum gh_stop_reason gh_vm_stop_reason(struct gh_vm *vm);
/* The debug-exit status or signal number that came with the stop. */
int gh_vm_stop_status(struct gh_vm *vm);
/* A sentence that says why the VM stopped. */
const char *gh_vm_stop_message(struct gh_vm *vm);
const char *gh_stop_reason_name(enum gh_stop_reason reason);

/* Guest A20 gate (i8042 output port, port 0x92). */
void gh_vm_set_a20(struct gh_vm *vm, bool enabled);
bool gh_vm_a20(struct gh_vm *vm);

/* Reads a vCPU's state (VM paused or stopped). */
int gh_vm_get_cpu_state(struct gh_vm *vm, unsigned cpu, struct gh_cpu_state *s);
/* Guest instructions a vCPU has retired (VM paused or stopped); -ENOTSUP
 * where the backend does not count them (KVM), -EINVAL for no such CPU. */
int gh_vm_cpu_retired(struct gh_vm *vm, unsigned cpu, uint64_t *count);

/* Dispatch with the device lock, as the vCPU loop does. */
uint64_t gh_vm_pio_read(struct gh_vm *vm, uint16_t port, unsigned size);
void gh_vm_pio_write(struct gh_vm *vm, uint16_t port, uint64_t val,
		     unsigned size);

#endif
