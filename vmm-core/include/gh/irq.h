/*
 * Interrupt routing. Devices drive GSI lines; the router fans each line out
 * to the interrupt controllers registered as sinks (the 8259 pair now, the
 * I/O APIC later). The controller that drives the boot CPU's INTR pin
 * registers itself as the CPU-side controller; the vCPU loop asks it whether
 * INTR is asserted and runs the INTA cycle through it.
 */
#ifndef GH_IRQ_H
#define GH_IRQ_H

#include <stdbool.h>

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

#endif
