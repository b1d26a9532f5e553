/*
 * Interrupt routing. Devices drive GSI lines; the router fans each line out
 * to the interrupt controllers registered as sinks (the 8259 pair and the
 * I/O APIC). The 8259 registers itself as the CPU-side controller: its INTR
 * output goes to the boot CPU, through the local APIC's LINT0 when there is
 * one (gh_vm_set_cpu_intc in gh/vm.h); the INTA cycle runs through it.
 * Message-signalled interrupts and EOI broadcasts pass through here too.
 */
#ifndef GH_IRQ_H
#define GH_IRQ_H

#include <stdbool.h>
#include <stdint.h>

#define GH_IRQ_MAX_GSI 24

struct gh_irq;

typedef void gh_irq_sink_fn(void *opaque, unsigned gsi, int level);

struct gh_intc_ops {
	bool (*pending)(void *opaque);	/* INTR asserted */
	int (*ack)(void *opaque);	/* INTA cycle: the vector to deliver */
};

/* notify is called whenever the CPU-side controller's output may have changed. */
struct gh_irq *gh_irq_new(void (*notify)(void *opaque), void *notify_opaque);
void gh_irq_free(struct gh_irq *irq);

__attribute__((warn_unused_result))
int gh_irq_add_sink(struct gh_irq *irq, gh_irq_sink_fn *fn, void *opaque);
void gh_irq_remove_sink(struct gh_irq *irq, gh_irq_sink_fn *fn, void *opaque);

/*
 * Line level from a device; out-of-range GSIs are ignored. A line's level is
 * the OR of its sources: gh_irq_set() drives source 0, and devices that
 * share a line (COM1 and COM3 on IRQ 4, PCI INTx later) each take a source
 * of their own, so one lowering its output does not hide another's request.
 */
void gh_irq_set(struct gh_irq *irq, unsigned gsi, int level);

#define GH_IRQ_MAX_SOURCES 32
/* A new source on gsi: its id (> 0), -EINVAL or -ENOSPC. */
__attribute__((warn_unused_result))
int gh_irq_source_new(struct gh_irq *irq, unsigned gsi);
/* Lowers and releases the source. */
void gh_irq_source_free(struct gh_irq *irq, unsigned gsi, int id);
void gh_irq_set_source(struct gh_irq *irq, unsigned gsi, int id, int level);
/* Raise then lower: an edge for edge-triggered inputs. */
void gh_irq_pulse(struct gh_irq *irq, unsigned gsi);
/*
 * Disconnects a source from its line (muted) or reconnects it: the sinks
 * stop or start seeing what it drives, and the source may go on driving
 * it meanwhile. The HPET's LegacyReplacement route takes IRQ 0 and IRQ 8
 * from the PIT and the RTC (source 0 of those lines) this way.
 */
void gh_irq_mute_source(struct gh_irq *irq, unsigned gsi, int id, bool muted);
/* Current level of a line: the OR of what its unmuted sources drive. */
int gh_irq_level(struct gh_irq *irq, unsigned gsi);

void gh_irq_set_intc(struct gh_irq *irq, const struct gh_intc_ops *ops,
		     void *opaque);
bool gh_irq_intr_pending(struct gh_irq *irq);
/* -1 if no controller is connected. */
int gh_irq_intr_ack(struct gh_irq *irq);
/* Called by the CPU-side controller when its INTR output changes. */
void gh_irq_intr_changed(struct gh_irq *irq);

/*
 * Message-signalled interrupts (Intel SDM vol. 3A, 10.11): a PCI device's
 * MSI or MSI-X write of data to addr in 0xFEExxxxx (address bits 19:12 the
 * destination APIC ID, bit 2 logical destination mode; data bits 7:0 the
 * vector, 10:8 the delivery mode, 15 level trigger) goes to the local
 * APICs. The I/O APIC sends its redirection entries as the same messages.
 * Device lock held. 0; -EINVAL for an address outside 0xFEExxxxx (the write
 * is dropped, as the chipset would); -ENODEV when no local APICs exist.
 */
typedef void gh_irq_msi_fn(void *opaque, uint64_t addr, uint32_t data);
int gh_irq_msi(struct gh_irq *irq, uint64_t addr, uint32_t data);
/* The local APICs register themselves as the receiver (NULL: removes). */
void gh_irq_set_msi(struct gh_irq *irq, gh_irq_msi_fn *fn, void *opaque);

/*
 * EOI of a level-triggered vector at a local APIC, broadcast to the I/O
 * APIC(s) so they clear remote IRR (SDM vol. 3A, 10.8.5). Device lock held.
 */
typedef void gh_irq_eoi_fn(void *opaque, uint8_t vector);
void gh_irq_eoi(struct gh_irq *irq, uint8_t vector);
void gh_irq_set_eoi(struct gh_irq *irq, gh_irq_eoi_fn *fn, void *opaque);

#endif
