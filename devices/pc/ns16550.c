/*
 * NS16550A UART as wired on the PC (COM1-COM4, IRQ gated by MCR.OUT2).
 * Follows the National/TI PC16550D datasheet (register set, FIFO, IIR priorities).
 */
#include "gh/device.h"

#include <errno.h>
#include <stdbool.h>

#include "gh/bus.h"
#include "gh/chardev.h"
#include "gh/clock.h"
#include "gh/irq.h"
#include "gh/log.h"
#include "gh/vm.h"

#define FIFO_SIZE 16
#define UART_CLOCK_HZ 115200	/* 1.8432 MHz crystal / 16 */

/* Register offsets */
#define REG_RBR_THR 0
#define REG_IER 1
#define REG_IIR_FCR 2
#define REG_LCR 3
#define REG_MCR 4
#define REG_LSR 5
#define REG_MSR 6
#define REG_SCR 7

#define IER_ERBFI 0x01		/* received data available */
#define IER_ETBEI 0x02		/* THR empty */
#define IER_ELSI 0x04		/* receiver line status */
#define IER_EDSSI 0x08		/* modem status */

#define IIR_NONE 0x01
#define IIR_MSR 0x00
#define IIR_THRE 0x02
#define IIR_RDA 0x04
#define IIR_RLS 0x06
#define IIR_CTI 0x0c
#define IIR_FIFO 0xc0

#define FCR_ENABLE 0x01
#define FCR_RX_RESET 0x02
#define FCR_TX_RESET 0x04

#define LCR_STB 0x04
#define LCR_PEN 0x08
#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_PE 0x04
#define LSR_FE 0x08
#define LSR_BI 0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_ERRORS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80
#define MSR_DELTAS 0x0f

/* What the host side drives when not in loopback: a connected, ready modem. */
#define MSR_HOST_LINES (MSR_CTS | MSR_DSR | MSR_DCD)

static const uint16_t std_ports[4] = { 0x3f8, 0x2f8, 0x3e8, 0x2e8 };
static const char *const port_names[4] = { "com1", "com2", "com3", "com4" };

struct ns16550 {
	struct gh_vm *vm;
	struct gh_irq *irq;
	struct gh_clock *clock;
	struct gh_chardev *chr;
	struct gh_timer *timeout_timer;
	struct gh_ratelimit rl;
	uint64_t base;
	bool mapped;
	int gsi;		/* -1: not connected */
	int irq_src;		/* our source on the (shared) line */
	unsigned index;
	int irq_out;		/* level last driven on the GSI */

	uint8_t rx[FIFO_SIZE];
	unsigned rx_head, rx_count;
	uint8_t rbr;		/* last byte read, returned again on an empty read */

	uint8_t ier, lcr, mcr, scr, fcr;
	uint8_t lsr_errors;	/* OE/PE/FE/BI latched until LSR is read */
	uint8_t msr;
	uint16_t divisor;
	bool thr_ipending;
	bool timeout_ipending;
};

static bool fifo_enabled(const struct ns16550 *s)
{
	return s->fcr & FCR_ENABLE;
}

static unsigned rx_capacity(const struct ns16550 *s)
{
	return fifo_enabled(s) ? FIFO_SIZE : 1;
}

static unsigned rx_trigger(const struct ns16550 *s)
{
	static const uint8_t levels[4] = { 1, 4, 8, 14 };

	return fifo_enabled(s) ? levels[s->fcr >> 6] : 1;
}

static uint8_t compute_iir(const struct ns16550 *s)
{
	uint8_t id;

	if ((s->ier & IER_ELSI) && (s->lsr_errors & LSR_ERRORS))
		id = IIR_RLS;
	else if ((s->ier & IER_ERBFI) && s->rx_count >= rx_trigger(s))
		id = IIR_RDA;
	else if ((s->ier & IER_ERBFI) && s->timeout_ipending)
		id = IIR_CTI;
	else if ((s->ier & IER_ETBEI) && s->thr_ipending)
		id = IIR_THRE;
	else if ((s->ier & IER_EDSSI) && (s->msr & MSR_DELTAS))
		id = IIR_MSR;
	else
		id = IIR_NONE;
	return id | (fifo_enabled(s) ? IIR_FIFO : 0);
}

/*
 * On the PC the UART's INTR pin reaches the PIC through a buffer enabled by
 * the OUT2 pin. In loopback the chip forces OUT2 inactive, so its interrupts
 * are visible in IIR but never reach the PIC.
 */
static void update_irq(struct ns16550 *s)
{
	bool pending = (compute_iir(s) & 0x0f) != IIR_NONE;
	int level = pending && (s->mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2;

	if (level == s->irq_out)
		return;
	s->irq_out = level;
	if (s->gsi >= 0)
		gh_irq_set_source(s->irq, s->gsi, s->irq_src, level);
}

/* 4 character times at the current line settings, as in the datasheet's timeout rule. */
static uint64_t char_timeout_ns(const struct ns16550 *s)
{
	unsigned data_bits = 5 + (s->lcr & 3);
	/* counted in half bits because 5-bit words with STB set use 1.5 stop bits */
	unsigned half_bits = 2 * (1 + data_bits + !!(s->lcr & LCR_PEN));
	unsigned divisor = s->divisor ? s->divisor : 0x10000;

	if (s->lcr & LCR_STB)
		half_bits += data_bits == 5 ? 3 : 4;
	else
		half_bits += 2;
	return gh_ticks_to_ns(4ULL * half_bits * divisor, 2ULL * UART_CLOCK_HZ);
}

/* Restarts the timeout count: called when a byte enters or leaves the RX FIFO. */
static void restart_timeout(struct ns16550 *s)
{
	if (fifo_enabled(s) && s->rx_count)
		gh_timer_mod(s->timeout_timer,
			     gh_clock_ns(s->clock) + char_timeout_ns(s));
	else
		gh_timer_del(s->timeout_timer);
}

static void timeout_expired(void *opaque)
{
	struct ns16550 *s = opaque;

	if (fifo_enabled(s) && s->rx_count) {
		s->timeout_ipending = true;
		update_irq(s);
	}
}

static void rx_clear(struct ns16550 *s)
{
	s->rx_head = 0;
	s->rx_count = 0;
	s->timeout_ipending = false;
	gh_timer_del(s->timeout_timer);
}

static void rx_push(struct ns16550 *s, uint8_t c)
{
	if (s->rx_count == rx_capacity(s)) {
		/*
		 * Overrun. With the FIFO the new character in the shift register is
		 * lost; without it the holding register is overwritten.
		 */
		s->lsr_errors |= LSR_OE;
		if (!fifo_enabled(s))
			s->rx[s->rx_head] = c;
		return;
	}
	s->rx[(s->rx_head + s->rx_count) % FIFO_SIZE] = c;
	s->rx_count++;
	/* A pending timeout is not withdrawn by new data, only by a read. */
	if (!s->timeout_ipending)
		restart_timeout(s);
}

static size_t uart_can_receive(void *opaque)
{
	struct ns16550 *s = opaque;

	/* In loopback the serial input is disconnected from the outside. */
	if (s->mcr & MCR_LOOP)
		return 0;
	return rx_capacity(s) - s->rx_count;
}

static void uart_receive(void *opaque, const uint8_t *buf, size_t len)
{
	struct ns16550 *s = opaque;

	for (size_t i = 0; i < len; i++)
		rx_push(s, buf[i]);
	update_irq(s);
}

static const struct gh_chardev_frontend uart_frontend = {
	.can_receive = uart_can_receive,
	.receive = uart_receive,
};

static void accept_more_input(struct ns16550 *s)
{
	if (s->chr && uart_can_receive(s))
		gh_chardev_accept_input(s->chr);
}

/* Modem inputs follow MCR in loopback, the host lines otherwise. */
static void update_msr(struct ns16550 *s)
{
	uint8_t lines = MSR_HOST_LINES;
	uint8_t old = s->msr;

	if (s->mcr & MCR_LOOP) {
		lines = 0;
		if (s->mcr & MCR_RTS)
			lines |= MSR_CTS;
		if (s->mcr & MCR_DTR)
			lines |= MSR_DSR;
		if (s->mcr & MCR_OUT1)
			lines |= MSR_RI;
		if (s->mcr & MCR_OUT2)
			lines |= MSR_DCD;
	}
	s->msr = lines | (old & MSR_DELTAS);
	if ((old ^ lines) & MSR_CTS)
		s->msr |= MSR_DCTS;
	if ((old ^ lines) & MSR_DSR)
		s->msr |= MSR_DDSR;
	if ((old & MSR_RI) && !(lines & MSR_RI))
		s->msr |= MSR_TERI;	/* trailing edge only */
	if ((old ^ lines) & MSR_DCD)
		s->msr |= MSR_DDCD;
}

static void transmit(struct ns16550 *s, uint8_t c)
{
	/* The byte leaves (or loops back) at once, so THR empties again at once. */
	s->thr_ipending = false;
	update_irq(s);	/* a falling edge, so the next THRE is a new edge */

	if (s->mcr & MCR_LOOP) {
		rx_push(s, c);
	} else if (s->chr) {
		gh_chardev_write(s->chr, &c, 1);
	}
	s->thr_ipending = true;
	update_irq(s);
}

static void write_fcr(struct ns16550 *s, uint8_t val)
{
	bool was_enabled = fifo_enabled(s);

	/* FCR bits other than bit 0 only take when bit 0 is written as 1. */
	if (!(val & FCR_ENABLE)) {
		s->fcr = 0;
		if (was_enabled)
			rx_clear(s);
		return;
	}
	s->fcr = val & 0xc9;	/* enable, DMA mode, trigger level */
	if (!was_enabled || (val & FCR_RX_RESET))
		rx_clear(s);
	/* TX reset has nothing to clear: bytes leave as soon as they are written. */
}

static uint8_t uart_readb(struct ns16550 *s, unsigned reg)
{
	uint8_t val;

	switch (reg) {
	case REG_RBR_THR:
		if (s->lcr & LCR_DLAB)
			return s->divisor & 0xff;
		if (s->rx_count) {
			s->rbr = s->rx[s->rx_head];
			s->rx_head = (s->rx_head + 1) % FIFO_SIZE;
			s->rx_count--;
			s->timeout_ipending = false;
			restart_timeout(s);
		}
		update_irq(s);
		accept_more_input(s);
		return s->rbr;
	case REG_IER:
		if (s->lcr & LCR_DLAB)
			return s->divisor >> 8;
		return s->ier;
	case REG_IIR_FCR:
		val = compute_iir(s);
		if ((val & 0x0f) == IIR_THRE) {
			s->thr_ipending = false;
			update_irq(s);
		}
		return val;
	case REG_LCR:
		return s->lcr;
	case REG_MCR:
		return s->mcr;
	case REG_LSR:
		/* Nothing puts PE/FE/BI in the FIFO, so bit 7 stays clear. */
		val = LSR_THRE | LSR_TEMT | s->lsr_errors | (s->rx_count ? LSR_DR : 0);
		s->lsr_errors = 0;
		update_irq(s);
		return val;
	case REG_MSR:
		val = s->msr;
		s->msr &= ~MSR_DELTAS;
		update_irq(s);
		return val;
	default:
		return s->scr;
	}
}

static void uart_writeb(struct ns16550 *s, unsigned reg, uint8_t val)
{
	uint8_t old;

	switch (reg) {
	case REG_RBR_THR:
		if (s->lcr & LCR_DLAB) {
			s->divisor = (s->divisor & 0xff00) | val;
			return;
		}
		transmit(s, val);
		break;
	case REG_IER:
		if (s->lcr & LCR_DLAB) {
			s->divisor = (s->divisor & 0x00ff) | (uint16_t)val << 8;
			return;
		}
		old = s->ier;
		s->ier = val & 0x0f;
		/* Enabling ETBEI while THR is empty raises THRE, as the chip does. */
		if ((s->ier ^ old) & IER_ETBEI)
			s->thr_ipending = s->ier & IER_ETBEI;
		update_irq(s);
		break;
	case REG_IIR_FCR:
		write_fcr(s, val);
		update_irq(s);
		accept_more_input(s);
		break;
	case REG_LCR:
		s->lcr = val;
		break;
	case REG_MCR:
		old = s->mcr;
		s->mcr = val & MCR_MASK;
		update_msr(s);
		update_irq(s);
		if ((old & MCR_LOOP) && !(s->mcr & MCR_LOOP))
			accept_more_input(s);
		break;
	case REG_LSR:
	case REG_MSR:
		/* Factory-test registers on the real part: writes have no effect. */
		gh_log_guest(&s->rl, "%s: write 0x%02x to read-only register %u ignored",
			     port_names[s->index], val, reg);
		break;
	default:
		s->scr = val;
		break;
	}
}

/* The chip is on an 8-bit bus: wider accesses are split into byte cycles. */
static uint64_t uart_read(void *opaque, uint64_t off, unsigned size)
{
	uint64_t val = 0;

	for (unsigned i = 0; i < size && off + i < 8; i++)
		val |= (uint64_t)uart_readb(opaque, off + i) << (8 * i);
	return val;
}

static void uart_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	for (unsigned i = 0; i < size && off + i < 8; i++)
		uart_writeb(opaque, off + i, val >> (8 * i));
}

static const struct gh_io_ops uart_ops = {
	.read = uart_read,
	.write = uart_write,
};

static void ns16550_reset(void *dev)
{
	struct ns16550 *s = dev;

	s->ier = 0;
	s->lcr = 0;
	s->mcr = 0;
	s->scr = 0;
	s->fcr = 0;
	s->lsr_errors = 0;
	s->msr = MSR_HOST_LINES;
	/* The datasheet leaves the divisor undefined; 1 is 115200 baud. */
	s->divisor = 1;
	s->rbr = 0;
	s->thr_ipending = false;
	rx_clear(s);
	update_irq(s);
	accept_more_input(s);
}

static void ns16550_unrealize(void *dev)
{
	struct ns16550 *s = dev;

	if (s->chr)
		gh_chardev_set_frontend(s->chr, NULL, NULL);
	if (s->mapped)
		gh_bus_unmap(gh_vm_pio(s->vm), s->base);
	if (s->timeout_timer)
		gh_timer_free(s->timeout_timer);
	if (s->gsi >= 0)
		gh_irq_source_free(s->irq, s->gsi, s->irq_src);
}

static int ns16550_realize(void *dev, struct gh_vm *vm, const struct gh_device_cfg *cfg,
			   struct gh_error *err)
{
	struct ns16550 *s = dev;
	int ret;

	if (cfg->index >= G_N_ELEMENTS(std_ports))
		return gh_error_set(err, -EINVAL,
				    "serial port %u does not exist (COM1-COM4 only)",
				    cfg->index + 1);
	if (cfg->irq >= GH_IRQ_MAX_GSI)
		return gh_error_set(err, -EINVAL,
				    "serial port %u: IRQ %d is out of range",
				    cfg->index + 1, cfg->irq);

	s->vm = vm;
	s->index = cfg->index;
	s->irq = gh_vm_irq(vm);
	s->clock = gh_vm_clock(vm);
	s->gsi = cfg->irq < 0 ? -1 : cfg->irq;
	s->base = cfg->base ? cfg->base : std_ports[cfg->index];
	if (s->base > 0xffff - 7)
		return gh_error_set(err, -EINVAL,
				    "serial port %u: port 0x%llx is out of range",
				    cfg->index + 1, (unsigned long long)s->base);

	/* COM1/COM3 and COM2/COM4 share their lines: each drives its own source. */
	if (s->gsi >= 0) {
		s->irq_src = gh_irq_source_new(s->irq, s->gsi);
		if (s->irq_src < 0)
			return gh_error_set(err, s->irq_src, "serial port %u: "
					    "too many devices on IRQ %d",
					    cfg->index + 1, s->gsi);
	}
	s->timeout_timer = gh_timer_new(s->clock, timeout_expired, s);
	ret = gh_bus_map(gh_vm_pio(vm), s->base, 8, &uart_ops, s, port_names[cfg->index]);
	if (ret < 0) {
		gh_error_set(err, ret,
			     "serial port %u: ports 0x%llx-0x%llx are already in use",
			     cfg->index + 1, (unsigned long long)s->base,
			     (unsigned long long)s->base + 7);
		goto err_timer;
	}
	s->mapped = true;

	s->chr = gh_vm_serial(vm, cfg->index);
	if (s->chr)
		gh_chardev_set_frontend(s->chr, &uart_frontend, s);
	return 0;

err_timer:
	gh_timer_free(s->timeout_timer);
	s->timeout_timer = NULL;
	if (s->gsi >= 0)
		gh_irq_source_free(s->irq, s->gsi, s->irq_src);
	return ret;
}

const struct gh_device_type gh_ns16550_type = {
	.name = "ns16550",
	.level = 1,
	.size = sizeof(struct ns16550),
	.realize = ns16550_realize,
	.reset = ns16550_reset,
	.unrealize = ns16550_unrealize,
};
