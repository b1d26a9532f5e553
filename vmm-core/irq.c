/* GSI routing from devices to interrupt controllers, and the INTR pin. */
#include "gh/irq.h"

#include <errno.h>
#include <glib.h>
#include <stdint.h>

#define MAX_SINKS 4

struct sink {
	gh_irq_sink_fn *fn;
	void *opaque;
};

struct gh_irq {
	uint32_t level[GH_IRQ_MAX_GSI];		/* asserted sources */
	uint32_t allocated[GH_IRQ_MAX_GSI];	/* source ids in use */
	uint32_t muted[GH_IRQ_MAX_GSI];		/* sources the sinks do not see */
	struct sink sinks[MAX_SINKS];
	unsigned nsinks;
	const struct gh_intc_ops *intc;
	void *intc_opaque;
	void (*notify)(void *opaque);
	void *notify_opaque;
	gh_irq_msi_fn *msi;
	void *msi_opaque;
	gh_irq_eoi_fn *eoi;
	void *eoi_opaque;
};

struct gh_irq *gh_irq_new(void (*notify)(void *opaque), void *notify_opaque)
{
	struct gh_irq *irq = g_new0(struct gh_irq, 1);

	irq->notify = notify;
	irq->notify_opaque = notify_opaque;
	return irq;
}

void gh_irq_free(struct gh_irq *irq)
{
	g_free(irq);
}

int gh_irq_add_sink(struct gh_irq *irq, gh_irq_sink_fn *fn, void *opaque)
{
	unsigned gsi;

	if (irq->nsinks == MAX_SINKS)
		return -ENOSPC;
	irq->sinks[irq->nsinks++] = (struct sink){ fn, opaque };
	/* A controller added late sees the lines as they are. */
	for (gsi = 0; gsi < GH_IRQ_MAX_GSI; gsi++)
		if (gh_irq_level(irq, gsi))
			fn(opaque, gsi, 1);
	return 0;
}

void gh_irq_remove_sink(struct gh_irq *irq, gh_irq_sink_fn *fn, void *opaque)
{
	unsigned i;

	for (i = 0; i < irq->nsinks; i++) {
		if (irq->sinks[i].fn == fn && irq->sinks[i].opaque == opaque) {
			irq->sinks[i] = irq->sinks[--irq->nsinks];
			return;
		}
	}
}

void gh_irq_set_source(struct gh_irq *irq, unsigned gsi, int id, int level)
{
	unsigned i;

	if (gsi >= GH_IRQ_MAX_GSI || id < 0 || id >= GH_IRQ_MAX_SOURCES)
		return;
	if (level)
		irq->level[gsi] |= 1u << id;
	else
		irq->level[gsi] &= ~(1u << id);
	level = gh_irq_level(irq, gsi);
	/* Sinks do their own edge detection; repeated levels are harmless. */
	for (i = 0; i < irq->nsinks; i++)
		irq->sinks[i].fn(irq->sinks[i].opaque, gsi, level);
}

void gh_irq_mute_source(struct gh_irq *irq, unsigned gsi, int id, bool muted)
{
	uint32_t old;

	if (gsi >= GH_IRQ_MAX_GSI || id < 0 || id >= GH_IRQ_MAX_SOURCES)
		return;
	old = irq->muted[gsi];
	if (muted)
		irq->muted[gsi] |= 1u << id;
	else
		irq->muted[gsi] &= ~(1u << id);
	/* the sinks see the line change if the source was driving it */
	if (old != irq->muted[gsi] && (irq->level[gsi] & (1u << id)))
		for (unsigned i = 0; i < irq->nsinks; i++)
			irq->sinks[i].fn(irq->sinks[i].opaque, gsi,
					 gh_irq_level(irq, gsi));
}

void gh_irq_set(struct gh_irq *irq, unsigned gsi, int level)
{
	gh_irq_set_source(irq, gsi, 0, level);
}

int gh_irq_source_new(struct gh_irq *irq, unsigned gsi)
{
	int id;

	if (gsi >= GH_IRQ_MAX_GSI)
		return -EINVAL;
	for (id = 1; id < GH_IRQ_MAX_SOURCES; id++) {
		if (!(irq->allocated[gsi] & (1u << id))) {
			irq->allocated[gsi] |= 1u << id;
			return id;
		}
	}
	return -ENOSPC;
}

void gh_irq_source_free(struct gh_irq *irq, unsigned gsi, int id)
{
	if (gsi >= GH_IRQ_MAX_GSI || id <= 0 || id >= GH_IRQ_MAX_SOURCES)
		return;
	if (irq->level[gsi] & (1u << id))
		gh_irq_set_source(irq, gsi, id, 0);
	irq->allocated[gsi] &= ~(1u << id);
}

void gh_irq_pulse(struct gh_irq *irq, unsigned gsi)
{
	gh_irq_set(irq, gsi, 1);
	gh_irq_set(irq, gsi, 0);
}

int gh_irq_level(struct gh_irq *irq, unsigned gsi)
{
	return gsi < GH_IRQ_MAX_GSI ?
	       (irq->level[gsi] & ~irq->muted[gsi]) != 0 : 0;
}

void gh_irq_set_intc(struct gh_irq *irq, const struct gh_intc_ops *ops,
		     void *opaque)
{
	irq->intc = ops;
	irq->intc_opaque = opaque;
	gh_irq_intr_changed(irq);
}

bool gh_irq_intr_pending(struct gh_irq *irq)
{
	return irq->intc && irq->intc->pending(irq->intc_opaque);
}

int gh_irq_intr_ack(struct gh_irq *irq)
{
	return irq->intc ? irq->intc->ack(irq->intc_opaque) : -1;
}

void gh_irq_intr_changed(struct gh_irq *irq)
{
	if (irq->notify)
		irq->notify(irq->notify_opaque);
}

int gh_irq_msi(struct gh_irq *irq, uint64_t addr, uint32_t data)
{
	if ((addr >> 20) != 0xfee)
		return -EINVAL;
	if (!irq->msi)
		return -ENODEV;
	irq->msi(irq->msi_opaque, addr, data);
	return 0;
}

void gh_irq_set_msi(struct gh_irq *irq, gh_irq_msi_fn *fn, void *opaque)
{
	irq->msi = fn;
	irq->msi_opaque = fn ? opaque : NULL;
}

void gh_irq_eoi(struct gh_irq *irq, uint8_t vector)
{
	if (irq->eoi)
		irq->eoi(irq->eoi_opaque, vector);
}

void gh_irq_set_eoi(struct gh_irq *irq, gh_irq_eoi_fn *fn, void *opaque)
{
	irq->eoi = fn;
	irq->eoi_opaque = fn ? opaque : NULL;
}
