/*
 * printf-style formatting onto the UART. 64-bit values are divided in 16-bit
 * pieces so that 32-bit guests need no libgcc (__udivdi3).
 */
#include "guest.h"

/* n /= base, returns the remainder; base <= 16 */
static unsigned divmod(uint64_t *n, unsigned base)
{
	uint64_t q = 0;
	uint32_t r = 0;
	int shift;

	for (shift = 48; shift >= 0; shift -= 16) {
		uint32_t cur = r << 16 | (uint32_t)(*n >> shift & 0xffff);

		q |= (uint64_t)(cur / base) << shift;
		r = cur % base;
	}
	*n = q;
	return r;
}

static void pad(unsigned n, char c)
{
	while (n--)
		uart_putc(c);
}

static void put_num(uint64_t v, unsigned base, bool neg, bool upper, unsigned width,
		    bool zero, bool left)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char buf[24];
	unsigned n = 0, len;

	do
		buf[n++] = digits[divmod(&v, base)];
	while (v);
	len = n + neg;
	if (!left && !zero && width > len)
		pad(width - len, ' ');
	if (neg)
		uart_putc('-');
	if (!left && zero && width > len)
		pad(width - len, '0');
	while (n)
		uart_putc(buf[--n]);
	if (left && width > len)
		pad(width - len, ' ');
}

void vprintf(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		bool zero = false, left = false, upper = false;
		unsigned width = 0, lng = 0;
		uint64_t v;
		int64_t s;
		const char *str;

		if (*fmt != '%') {
			uart_putc(*fmt);
			continue;
		}
		fmt++;
		for (;; fmt++) {
			if (*fmt == '0')
				zero = true;
			else if (*fmt == '-')
				left = true;
			else
				break;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (unsigned)(*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 'd':
		case 'i':
			s = lng >= 2 ? va_arg(ap, long long) :
			    lng == 1 ? va_arg(ap, long) : va_arg(ap, int);
			put_num(s < 0 ? 0 - (uint64_t)s : (uint64_t)s, 10, s < 0, false,
				width, zero, left);
			break;
		case 'u':
		case 'x':
		case 'X':
			v = lng >= 2 ? va_arg(ap, unsigned long long) :
			    lng == 1 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
			upper = *fmt == 'X';
			put_num(v, *fmt == 'u' ? 10 : 16, false, upper, width, zero, left);
			break;
		case 'p':
			uart_puts("0x");
			put_num((uintptr_t)va_arg(ap, void *), 16, false, false,
				sizeof(void *) * 2, true, false);
			break;
		case 'c':
			uart_putc((char)va_arg(ap, int));
			break;
		case 's':
			str = va_arg(ap, const char *);
			if (!str)
				str = "(null)";
			if (!left && width > strlen(str))
				pad(width - strlen(str), ' ');
			uart_puts(str);
			if (left && width > strlen(str))
				pad(width - strlen(str), ' ');
			break;
		case '%':
			uart_putc('%');
			break;
		case '\0':
			return;
		default:
			uart_putc('%');
			uart_putc(*fmt);
			break;
		}
	}
}

void printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}
