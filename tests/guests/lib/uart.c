/*
 * Polled output on a 16550 UART (National Semiconductor PC16550D data
 * sheet): 115200 baud, 8N1, FIFOs on, no interrupts.
 */
#include "guest.h"

#define UART_THR 0	/* DLAB=0 */
#define UART_DLL 0	/* DLAB=1 */
#define UART_IER 1
#define UART_DLM 1	/* DLAB=1 */
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5

#define LCR_8N1  0x03
#define LCR_DLAB 0x80
#define LSR_THRE 0x20

/* Bounds the wait for a transmitter that never drains: output is then lost,
 * not the whole run. */
#define THRE_SPINS 100000

static uint16_t uart_base = COM1;

void uart_init(uint16_t base)
{
	uart_base = base;
	outb(base + UART_IER, 0x00);
	outb(base + UART_LCR, LCR_DLAB);
	outb(base + UART_DLL, 1);		/* 115200 / 1 */
	outb(base + UART_DLM, 0);
	outb(base + UART_LCR, LCR_8N1);
	outb(base + UART_FCR, 0x07);		/* enable and clear FIFOs */
	outb(base + UART_MCR, 0x03);		/* DTR, RTS */
}

void uart_putc(char c)
{
	unsigned spins;

	if (c == '\n')
		uart_putc('\r');
	for (spins = 0; spins < THRE_SPINS; spins++)
		if (inb(uart_base + UART_LSR) & LSR_THRE)
			break;
	outb(uart_base + UART_THR, (uint8_t)c);
}

void uart_puts(const char *s)
{
	while (*s)
		uart_putc(*s++);
}
