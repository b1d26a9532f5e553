/* Tests for the 16550A UART, driven through its ports as a guest driver would. */
#include "devtest.h"

#include <errno.h>
#include <string.h>

#include "gh/chardev.h"

#define COM1 0x3f8
#define RBR 0
#define THR 0
#define DLL 0
#define IER 1
#define DLM 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

struct uart {
	struct gh_vm *vm;
	struct gh_device *dev;
	struct gh_chardev *chr;
	struct gh_bus *pio;
	struct gh_irq *irq;
	struct gh_clock *clock;
	uint16_t base;
	unsigned gsi;
};

static void uart_setup(struct uart *u, unsigned index, bool with_chr)
{
	struct gh_device_cfg cfg = {
		.base = 0, .irq = index & 1 ? 3 : 4, .index = index,
	};
	static const uint16_t bases[4] = { 0x3f8, 0x2f8, 0x3e8, 0x2e8 };

	memset(u, 0, sizeof(*u));
	u->vm = dt_vm_new();
	if (with_chr) {
		u->chr = gh_chardev_new_buffer();
		gh_vm_set_serial(u->vm, index, u->chr);
	}
	u->dev = dt_dev_new(u->vm, &gh_ns16550_type, &cfg);
	u->pio = gh_vm_pio(u->vm);
	u->irq = gh_vm_irq(u->vm);
	u->clock = gh_vm_clock(u->vm);
	u->base = bases[index];
	u->gsi = cfg.irq;
}

static void uart_teardown(struct uart *u)
{
	gh_device_free(u->dev);
	gh_vm_free(u->vm);
	gh_chardev_free(u->chr);
}

static uint8_t rd(struct uart *u, unsigned reg)
{
	return dt_inb(u->vm, u->base + reg);
}

static void wr(struct uart *u, unsigned reg, uint8_t val)
{
	dt_outb(u->vm, u->base + reg, val);
}

static int line(struct uart *u)
{
	return gh_irq_level(u->irq, u->gsi);
}

static char *take(struct uart *u)
{
	return gh_chardev_buffer_take(u->chr, NULL);
}

static void set_divisor(struct uart *u, uint16_t div, uint8_t lcr)
{
	wr(u, LCR, 0x80);
	wr(u, DLL, div & 0xff);
	wr(u, DLM, div >> 8);
	wr(u, LCR, lcr);
}

static void test_reset_values(void)
{
	struct uart u;

	uart_setup(&u, 0, true);
	g_assert_cmphex(rd(&u, IER), ==, 0x00);
	g_assert_cmphex(rd(&u, IIR), ==, 0x01);
	g_assert_cmphex(rd(&u, LCR), ==, 0x00);
	g_assert_cmphex(rd(&u, MCR), ==, 0x00);
	g_assert_cmphex(rd(&u, LSR), ==, 0x60);
	g_assert_cmphex(rd(&u, MSR), ==, 0xb0);
	g_assert_cmphex(rd(&u, SCR), ==, 0x00);
	wr(&u, LCR, 0x80);
	g_assert_cmphex(rd(&u, DLL), ==, 0x01);
	g_assert_cmphex(rd(&u, DLM), ==, 0x00);
	g_assert_cmpint(line(&u), ==, 0);

	/* Dirty everything, then a reset brings back the power-on state. */
	wr(&u, LCR, 0x03);
	wr(&u, FCR, 0xc7);
	wr(&u, MCR, 0x1f);
	wr(&u, IER, 0x0f);
	wr(&u, SCR, 0x55);
	for (int i = 0; i < 20; i++)
		wr(&u, THR, 'a' + i);
	gh_device_reset(u.dev);
	g_assert_cmphex(rd(&u, IER), ==, 0x00);
	g_assert_cmphex(rd(&u, IIR), ==, 0x01);
	g_assert_cmphex(rd(&u, LCR), ==, 0x00);
	g_assert_cmphex(rd(&u, MCR), ==, 0x00);
	g_assert_cmphex(rd(&u, LSR), ==, 0x60);
	g_assert_cmphex(rd(&u, MSR), ==, 0xb0);
	g_assert_cmphex(rd(&u, SCR), ==, 0x00);
	g_assert_cmpint(line(&u), ==, 0);
	uart_teardown(&u);
}

static void test_transmit(void)
{
	struct uart u;
	char *s;

	uart_setup(&u, 0, true);
	wr(&u, THR, 'H');
	wr(&u, THR, 'i');
	wr(&u, THR, '\n');
	wr(&u, THR, 0);
	g_assert_cmphex(rd(&u, LSR), ==, 0x60);
	s = gh_chardev_buffer_take(u.chr, NULL);
	g_assert_cmpmem(s, 4, "Hi\n\0", 4);
	g_free(s);

	/* With the FIFO on, output still leaves at once and THR/TEMT stay empty. */
	wr(&u, FCR, 0x07);
	for (int i = 0; i < 40; i++)
		wr(&u, THR, 'A' + i % 26);
	g_assert_cmphex(rd(&u, LSR), ==, 0x60);
	s = take(&u);
	g_assert_cmpuint(strlen(s), ==, 40);
	g_assert_cmpint(s[39], ==, 'A' + 39 % 26);
	g_free(s);

	/* Loopback: nothing goes out, the byte comes back in. */
	wr(&u, MCR, 0x10);
	wr(&u, THR, 'x');
	s = take(&u);
	g_assert_cmpstr(s, ==, "");
	g_free(s);
	g_assert_cmphex(rd(&u, LSR), ==, 0x61);
	g_assert_cmphex(rd(&u, RBR), ==, 'x');
	g_assert_cmphex(rd(&u, LSR), ==, 0x60);
	uart_teardown(&u);
}

static void test_no_chardev(void)
{
	struct uart u;

	uart_setup(&u, 1, false);
	g_assert_cmpuint(u.base, ==, 0x2f8);
	wr(&u, THR, 'q');
	g_assert_cmphex(rd(&u, LSR), ==, 0x60);
	g_assert_cmphex(rd(&u, RBR), ==, 0x00);
	g_assert_cmphex(rd(&u, LSR), ==, 0x60);
	wr(&u, MCR, 0x08);
	wr(&u, IER, 0x02);
	g_assert_cmpint(gh_irq_level(u.irq, 3), ==, 1);
	g_assert_cmpint(gh_irq_level(u.irq, 4), ==, 0);
	uart_teardown(&u);
}

static void test_thre_interrupt(void)
{
	struct uart u;

	uart_setup(&u, 0, true);
	wr(&u, MCR, 0x08);
	g_assert_cmpint(line(&u), ==, 0);

	/* Enabling ETBEI with THR empty raises THRE at once. */
	wr(&u, IER, 0x02);
	g_assert_cmpint(line(&u), ==, 1);
	g_assert_cmphex(rd(&u, IIR), ==, 0x02);
	/* That read of IIR was the acknowledgement. */
	g_assert_cmpint(line(&u), ==, 0);
	g_assert_cmphex(rd(&u, IIR), ==, 0x01);

	/* Each write empties THR again at once: a fresh THRE interrupt. */
	wr(&u, THR, 'a');
	g_assert_cmpint(line(&u), ==, 1);
	g_assert_cmphex(rd(&u, IIR), ==, 0x02);
	g_assert_cmpint(line(&u), ==, 0);
	wr(&u, THR, 'b');
	g_assert_cmpint(line(&u), ==, 1);
	/* Masking ETBEI drops the line; unmasking brings THRE back. */
	wr(&u, IER, 0x00);
	g_assert_cmpint(line(&u), ==, 0);
	g_assert_cmphex(rd(&u, IIR), ==, 0x01);
	wr(&u, IER, 0x02);
	g_assert_cmpint(line(&u), ==, 1);
	/* Reading LSR does not acknowledge THRE. */
	g_assert_cmphex(rd(&u, LSR), ==, 0x60);
	g_assert_cmpint(line(&u), ==, 1);
	/* In FIFO mode IIR carries bits 6-7. */
	wr(&u, FCR, 0x01);
	g_assert_cmphex(rd(&u, IIR), ==, 0xc2);
	g_assert_cmphex(rd(&u, IIR), ==, 0xc1);
	uart_teardown(&u);
}

static void test_out2_gating(void)
{
	struct uart u;

	uart_setup(&u, 0, true);
	wr(&u, IER, 0x02);
	g_assert_cmphex(rd(&u, IIR), ==, 0x02);
	wr(&u, IER, 0x00);
	wr(&u, IER, 0x02);
	/* Pending inside the chip, but OUT2 keeps it off the bus. */
	g_assert_cmpint(line(&u), ==, 0);
	wr(&u, MCR, 0x0b);	/* DTR | RTS | OUT2, as drivers set it */
	g_assert_cmpint(line(&u), ==, 1);
	wr(&u, MCR, 0x03);
	g_assert_cmpint(line(&u), ==, 0);
	wr(&u, MCR, 0x08);
	g_assert_cmpint(line(&u), ==, 1);
	/* Loopback forces the OUT2 pin inactive: no interrupt reaches the PIC. */
	wr(&u, MCR, 0x18);
	g_assert_cmpint(line(&u), ==, 0);
	wr(&u, MCR, 0x08);
	g_assert_cmpint(line(&u), ==, 1);
	g_assert_cmphex(rd(&u, IIR), ==, 0x02);
	g_assert_cmpint(line(&u), ==, 0);
	uart_teardown(&u);
}

static void test_fifo_trigger_loopback(void)
{
	static const struct { uint8_t fcr; unsigned level; } levels[] = {
		{ 0x01, 1 }, { 0x41, 4 }, { 0x81, 8 }, { 0xc1, 14 },
	};
	struct uart u;

	uart_setup(&u, 0, true);
	wr(&u, MCR, 0x10);
	rd(&u, MSR);		/* clear the deltas from entering loopback */
	wr(&u, IER, 0x01);
	for (size_t l = 0; l < G_N_ELEMENTS(levels); l++) {
		wr(&u, FCR, levels[l].fcr | 0x06);
		g_assert_cmphex(rd(&u, IIR), ==, 0xc1);
		g_assert_cmphex(rd(&u, LSR), ==, 0x60);
		for (unsigned n = 1; n <= 16; n++) {
			wr(&u, THR, 0x30 + n);
			g_assert_cmphex(rd(&u, LSR), ==, 0x61);
			g_assert_cmphex(rd(&u, IIR), ==,
					n >= levels[l].level ? 0xc4 : 0xc1);
			/* loopback: the interrupt never reaches the line */
			g_assert_cmpint(line(&u), ==, 0);
		}
		for (unsigned n = 1; n <= 16; n++) {
			g_assert_cmphex(rd(&u, RBR), ==, 0x30 + n);
			g_assert_cmphex(rd(&u, IIR), ==,
					16 - n >= levels[l].level ? 0xc4 : 0xc1);
		}
		g_assert_cmphex(rd(&u, LSR), ==, 0x60);
	}

	/* The RX reset bit empties the FIFO; the trigger bits need bit 0 set. */
	wr(&u, FCR, 0xc1);
	for (int n = 0; n < 14; n++)
		wr(&u, THR, n);
	g_assert_cmphex(rd(&u, IIR), ==, 0xc4);
	wr(&u, FCR, 0xc3);
	g_assert_cmphex(rd(&u, IIR), ==, 0xc1);
	g_assert_cmphex(rd(&u, LSR), ==, 0x60);
	uart_teardown(&u);
}

static void test_receive_chardev(void)
{
	struct uart u;
	char buf[21];

	uart_setup(&u, 0, true);
	wr(&u, MCR, 0x0b);
	wr(&u, FCR, 0x41);	/* trigger at 4 */
	wr(&u, IER, 0x01);
	gh_chardev_buffer_input(u.chr, "abc", 3);
	g_assert_cmphex(rd(&u, LSR), ==, 0x61);
	g_assert_cmphex(rd(&u, IIR), ==, 0xc1);
	g_assert_cmpint(line(&u), ==, 0);
	gh_chardev_buffer_input(u.chr, "d", 1);
	g_assert_cmphex(rd(&u, IIR), ==, 0xc4);
	g_assert_cmpint(line(&u), ==, 1);

	/* More than the FIFO holds waits in the backend: no overrun, no loss. */
	gh_chardev_buffer_input(u.chr, "efghijklmnopqrst", 16);
	for (int i = 0; i < 20; i++) {
		uint8_t lsr = rd(&u, LSR);

		g_assert_cmphex(lsr & 0x9f, ==, 0x01);
		buf[i] = rd(&u, RBR);
	}
	buf[20] = 0;
	g_assert_cmpstr(buf, ==, "abcdefghijklmnopqrst");
	g_assert_cmphex(rd(&u, LSR), ==, 0x60);
	g_assert_cmphex(rd(&u, IIR), ==, 0xc1);
	g_assert_cmpint(line(&u), ==, 0);

	/* Without the FIFO the UART takes one byte at a time. */
	wr(&u, FCR, 0x00);
	gh_chardev_buffer_input(u.chr, "XY", 2);
	g_assert_cmphex(rd(&u, IIR), ==, 0x04);
	g_assert_cmphex(rd(&u, RBR), ==, 'X');
	g_assert_cmphex(rd(&u, RBR), ==, 'Y');
	g_assert_cmphex(rd(&u, LSR), ==, 0x60);
	g_assert_cmphex(rd(&u, IIR), ==, 0x01);

	/* In loopback the outside input is held back until loopback ends. */
	wr(&u, MCR, 0x18);
	gh_chardev_buffer_input(u.chr, "Z", 1);
	g_assert_cmphex(rd(&u, LSR), ==, 0x60);
	wr(&u, MCR, 0x08);
	g_assert_cmphex(rd(&u, LSR), ==, 0x61);
	g_assert_cmphex(rd(&u, RBR), ==, 'Z');
	uart_teardown(&u);
}

/* Feeds one byte and checks the timeout fires after exactly [lo, hi] ns. */
static void check_timeout(struct uart *u, uint64_t lo, uint64_t hi)
{
	gh_chardev_buffer_input(u->chr, "t", 1);
	gh_clock_advance(u->clock, lo);
	g_assert_cmphex(rd(u, IIR), ==, 0xc1);
	g_assert_cmpint(line(u), ==, 0);
	gh_clock_advance(u->clock, hi - lo);
	g_assert_cmphex(rd(u, IIR), ==, 0xcc);
	g_assert_cmpint(line(u), ==, 1);
	g_assert_cmphex(rd(u, RBR), ==, 't');
	g_assert_cmphex(rd(u, IIR), ==, 0xc1);
	g_assert_cmpint(line(u), ==, 0);
}

static void test_char_timeout(void)
{
	struct uart u;

	uart_setup(&u, 0, true);
	wr(&u, MCR, 0x08);
	wr(&u, FCR, 0x81);	/* trigger at 8 */
	wr(&u, IER, 0x01);

	/* 8N1 at 115200: 10 bits a character, 4 characters = 347222.2 ns. */
	set_divisor(&u, 1, 0x03);
	check_timeout(&u, 347000, 347300);
	/* 7E2 at 9600: 11 bits, 4 characters = 4583333.3 ns. */
	set_divisor(&u, 12, 0x1e);
	check_timeout(&u, 4583000, 4583400);
	/* 5 bits with 1.5 stop bits, divisor 3: 7.5 bits, 4 characters = 781250 ns. */
	set_divisor(&u, 3, 0x04);
	check_timeout(&u, 781249, 781250);

	/* A new character restarts the count; a read clears and restarts it too. */
	set_divisor(&u, 1, 0x03);
	gh_chardev_buffer_input(u.chr, "a", 1);
	gh_clock_advance(u.clock, 200000);
	gh_chardev_buffer_input(u.chr, "b", 1);
	gh_clock_advance(u.clock, 200000);
	g_assert_cmphex(rd(&u, IIR), ==, 0xc1);
	gh_clock_advance(u.clock, 147300);
	g_assert_cmphex(rd(&u, IIR), ==, 0xcc);
	/* More data does not withdraw a pending timeout. */
	gh_chardev_buffer_input(u.chr, "c", 1);
	g_assert_cmphex(rd(&u, IIR), ==, 0xcc);
	g_assert_cmphex(rd(&u, RBR), ==, 'a');
	g_assert_cmphex(rd(&u, IIR), ==, 0xc1);
	gh_clock_advance(u.clock, 347000);
	g_assert_cmphex(rd(&u, IIR), ==, 0xc1);
	gh_clock_advance(u.clock, 300);
	g_assert_cmphex(rd(&u, IIR), ==, 0xcc);
	g_assert_cmphex(rd(&u, RBR), ==, 'b');
	g_assert_cmphex(rd(&u, RBR), ==, 'c');
	/* Empty FIFO: no timeout however long we wait. */
	gh_clock_advance(u.clock, GH_NS_PER_SEC);
	g_assert_cmphex(rd(&u, IIR), ==, 0xc1);
	g_assert_cmpint(line(&u), ==, 0);

	/* Without the FIFO there is no timeout indication, only data available. */
	wr(&u, FCR, 0x00);
	gh_chardev_buffer_input(u.chr, "n", 1);
	g_assert_cmphex(rd(&u, IIR), ==, 0x04);
	gh_clock_advance(u.clock, GH_NS_PER_SEC);
	g_assert_cmphex(rd(&u, IIR), ==, 0x04);
	g_assert_cmphex(rd(&u, RBR), ==, 'n');
	g_assert_cmphex(rd(&u, IIR), ==, 0x01);
	uart_teardown(&u);
}

static void test_iir_priority(void)
{
	struct uart u;

	uart_setup(&u, 0, true);
	/* Loopback drops the host's CTS/DSR/DCD: three modem status deltas. */
	wr(&u, MCR, 0x10);
	wr(&u, IER, 0x0f);
	wr(&u, THR, 'a');
	wr(&u, THR, 'b');	/* no FIFO: overruns the holding register */
	g_assert_cmphex(rd(&u, IIR), ==, 0x06);
	g_assert_cmphex(rd(&u, IIR), ==, 0x06);
	g_assert_cmphex(rd(&u, LSR), ==, 0x63);
	g_assert_cmphex(rd(&u, IIR), ==, 0x04);
	g_assert_cmphex(rd(&u, RBR), ==, 'b');
	g_assert_cmphex(rd(&u, IIR), ==, 0x02);
	g_assert_cmphex(rd(&u, IIR), ==, 0x00);
	g_assert_cmphex(rd(&u, MSR), ==, 0x0b);
	g_assert_cmphex(rd(&u, IIR), ==, 0x01);

	/* Masked sources do not show. */
	wr(&u, THR, 'c');
	wr(&u, THR, 'd');
	wr(&u, IER, 0x00);
	g_assert_cmphex(rd(&u, IIR), ==, 0x01);
	wr(&u, IER, 0x01);
	g_assert_cmphex(rd(&u, IIR), ==, 0x04);
	wr(&u, IER, 0x04);
	g_assert_cmphex(rd(&u, IIR), ==, 0x06);
	uart_teardown(&u);
}

static void test_overrun_fifo(void)
{
	struct uart u;

	uart_setup(&u, 0, true);
	wr(&u, MCR, 0x10);
	wr(&u, FCR, 0x07);
	for (int i = 0; i < 17; i++)
		wr(&u, THR, 0x40 + i);
	g_assert_cmphex(rd(&u, LSR), ==, 0x63);
	g_assert_cmphex(rd(&u, LSR), ==, 0x61);
	/* The 17th character was lost; the FIFO kept the first 16. */
	for (int i = 0; i < 16; i++)
		g_assert_cmphex(rd(&u, RBR), ==, 0x40 + i);
	g_assert_cmphex(rd(&u, LSR), ==, 0x60);
	/* An empty read returns the last character again and sets nothing. */
	g_assert_cmphex(rd(&u, RBR), ==, 0x4f);
	g_assert_cmphex(rd(&u, LSR), ==, 0x60);

	/* 16 exactly is no overrun. */
	for (int i = 0; i < 16; i++)
		wr(&u, THR, i);
	g_assert_cmphex(rd(&u, LSR), ==, 0x61);
	uart_teardown(&u);
}

static void test_msr_loopback(void)
{
	struct uart u;

	uart_setup(&u, 0, true);
	wr(&u, IER, 0x08);
	g_assert_cmphex(rd(&u, IIR), ==, 0x01);
	wr(&u, MCR, 0x10);
	g_assert_cmphex(rd(&u, IIR), ==, 0x00);
	g_assert_cmphex(rd(&u, MSR), ==, 0x0b);
	g_assert_cmphex(rd(&u, MSR), ==, 0x00);
	g_assert_cmphex(rd(&u, IIR), ==, 0x01);
	wr(&u, MCR, 0x11);	/* DTR -> DSR */
	g_assert_cmphex(rd(&u, MSR), ==, 0x22);
	g_assert_cmphex(rd(&u, MSR), ==, 0x20);
	wr(&u, MCR, 0x13);	/* RTS -> CTS */
	g_assert_cmphex(rd(&u, MSR), ==, 0x31);
	wr(&u, MCR, 0x17);	/* OUT1 -> RI: a rising edge gives no TERI */
	g_assert_cmphex(rd(&u, MSR), ==, 0x70);
	wr(&u, MCR, 0x13);	/* RI falls: TERI */
	g_assert_cmphex(rd(&u, IIR), ==, 0x00);
	g_assert_cmphex(rd(&u, MSR), ==, 0x34);
	wr(&u, MCR, 0x1b);	/* OUT2 -> DCD */
	g_assert_cmphex(rd(&u, MSR), ==, 0xb8);
	g_assert_cmphex(rd(&u, MSR), ==, 0xb0);
	/* Leaving loopback with the same lines: no deltas. */
	wr(&u, MCR, 0x0b);
	g_assert_cmphex(rd(&u, MSR), ==, 0xb0);
	g_assert_cmphex(rd(&u, IIR), ==, 0x01);
	/* Deltas accumulate until read. */
	wr(&u, MCR, 0x10);
	wr(&u, MCR, 0x11);
	g_assert_cmphex(rd(&u, MSR), ==, 0x2b);
	uart_teardown(&u);
}

static void test_dlab(void)
{
	struct uart u;
	char *s;

	uart_setup(&u, 0, true);
	wr(&u, IER, 0x05);
	wr(&u, LCR, 0x83);
	wr(&u, DLL, 0x0c);
	wr(&u, DLM, 0xa5);
	g_assert_cmphex(rd(&u, DLL), ==, 0x0c);
	g_assert_cmphex(rd(&u, DLM), ==, 0xa5);
	g_assert_cmphex(rd(&u, LCR), ==, 0x83);
	s = take(&u);
	g_assert_cmpstr(s, ==, "");	/* DLL writes are not transmitted */
	g_free(s);
	wr(&u, LCR, 0x03);
	g_assert_cmphex(rd(&u, IER), ==, 0x05);
	wr(&u, THR, 'k');
	s = take(&u);
	g_assert_cmpstr(s, ==, "k");
	g_free(s);
	wr(&u, LCR, 0x80);
	g_assert_cmphex(rd(&u, DLL), ==, 0x0c);
	g_assert_cmphex(rd(&u, DLM), ==, 0xa5);
	wr(&u, LCR, 0x00);

	wr(&u, SCR, 0x5a);
	g_assert_cmphex(rd(&u, SCR), ==, 0x5a);
	wr(&u, SCR, 0xff);
	g_assert_cmphex(rd(&u, SCR), ==, 0xff);
	uart_teardown(&u);
}

static void test_garbage(void)
{
	struct uart u;
	struct gh_device *dev2;
	struct gh_device_cfg cfg = { .base = 0, .irq = 4, .index = 4 };
	struct gh_error err = { 0 };

	uart_setup(&u, 0, true);
	/* Writes to the read-only status registers change nothing. */
	wr(&u, LSR, 0xff);
	wr(&u, MSR, 0xff);
	wr(&u, LSR, 0x00);
	g_assert_cmphex(rd(&u, LSR), ==, 0x60);
	g_assert_cmphex(rd(&u, MSR), ==, 0xb0);
	g_assert_cmphex(rd(&u, IIR), ==, 0x01);
	/* Reserved bits read back as zero. */
	wr(&u, IER, 0xff);
	g_assert_cmphex(rd(&u, IER), ==, 0x0f);
	wr(&u, IER, 0x00);
	wr(&u, MCR, 0xe0);
	g_assert_cmphex(rd(&u, MCR), ==, 0x00);
	/* FCR without bit 0 programs nothing. */
	wr(&u, FCR, 0xfe);
	g_assert_cmphex(rd(&u, IIR), ==, 0x01);
	/* Word accesses are byte cycles to consecutive registers. */
	wr(&u, SCR, 0x77);
	g_assert_cmphex(gh_bus_read(u.pio, u.base + LSR, 2), ==, 0xb060);
	g_assert_cmphex(gh_bus_read(u.pio, u.base + MCR, 4), ==, 0x77b06000);
	gh_bus_write(u.pio, u.base + LCR, 0x1b03, 2);
	g_assert_cmphex(rd(&u, LCR), ==, 0x03);
	g_assert_cmphex(rd(&u, MCR), ==, 0x1b);

	/* No such port, and a port already taken. */
	g_assert_cmpint(gh_device_new(&gh_ns16550_type, u.vm, &cfg, &dev2, &err), ==,
			-EINVAL);
	memset(&err, 0, sizeof(err));
	cfg.index = 0;
	g_assert_cmpint(gh_device_new(&gh_ns16550_type, u.vm, &cfg, &dev2, &err), ==,
			-EBUSY);
	memset(&err, 0, sizeof(err));
	cfg.index = 2;
	cfg.irq = 99;
	g_assert_cmpint(gh_device_new(&gh_ns16550_type, u.vm, &cfg, &dev2, &err), ==,
			-EINVAL);
	/* A custom base works and is where the guest finds it. */
	memset(&err, 0, sizeof(err));
	cfg.irq = -1;
	cfg.base = 0x500;
	g_assert_cmpint(gh_device_new(&gh_ns16550_type, u.vm, &cfg, &dev2, &err), ==, 0);
	gh_bus_write(u.pio, 0x500 + SCR, 0x42, 1);
	g_assert_cmphex(gh_bus_read(u.pio, 0x500 + SCR, 1), ==, 0x42);
	g_assert_cmphex(gh_bus_read(u.pio, 0x500 + LSR, 1), ==, 0x60);
	/* No IRQ connected: interrupts stay inside. */
	gh_bus_write(u.pio, 0x500 + MCR, 0x08, 1);
	gh_bus_write(u.pio, 0x500 + IER, 0x02, 1);
	g_assert_cmphex(gh_bus_read(u.pio, 0x500 + IIR, 1), ==, 0x02);
	g_assert_cmpint(gh_irq_level(u.irq, 4), ==, 0);
	gh_device_free(dev2);
	uart_teardown(&u);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/ns16550/reset-values", test_reset_values);
	g_test_add_func("/ns16550/transmit", test_transmit);
	g_test_add_func("/ns16550/no-chardev", test_no_chardev);
	g_test_add_func("/ns16550/thre-interrupt", test_thre_interrupt);
	g_test_add_func("/ns16550/out2-gating", test_out2_gating);
	g_test_add_func("/ns16550/fifo-trigger-loopback", test_fifo_trigger_loopback);
	g_test_add_func("/ns16550/receive-chardev", test_receive_chardev);
	g_test_add_func("/ns16550/char-timeout", test_char_timeout);
	g_test_add_func("/ns16550/iir-priority", test_iir_priority);
	g_test_add_func("/ns16550/overrun-fifo", test_overrun_fifo);
	g_test_add_func("/ns16550/msr-loopback", test_msr_loopback);
	g_test_add_func("/ns16550/dlab-scratch", test_dlab);
	g_test_add_func("/ns16550/garbage", test_garbage);
	return g_test_run();
}
