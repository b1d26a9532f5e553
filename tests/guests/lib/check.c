/* PASS/FAIL lines the runner reads, and the isa-debug-exit port (QEMU semantics:
 * writing V ends the run with exit status (V << 1) | 1). */
#include "guest.h"

unsigned checks_passed, checks_failed;

bool check(bool ok, const char *name)
{
	printf("%s: %s\n", ok ? "PASS" : "FAIL", name);
	if (ok)
		checks_passed++;
	else
		checks_failed++;
	return ok;
}

bool check_eq(uint64_t got, uint64_t want, const char *name)
{
	if (got == want)
		return check(true, name);
	printf("FAIL: %s (got 0x%llx, want 0x%llx)\n", name,
	       (unsigned long long)got, (unsigned long long)want);
	checks_failed++;
	return false;
}

bool qemu_ref;

void guest_flags(uint32_t mbi)
{
	const struct multiboot_info *m = (const void *)(uintptr_t)mbi;

	qemu_ref = mbi && (m->flags & 4) && m->cmdline &&
		   strstr((const char *)(uintptr_t)m->cmdline, "gh.ref=qemu");
}

bool check_sdm(bool ok, const char *name)
{
	if (ok || !qemu_ref)
		return check(ok, name);
	printf("XFAIL: %s (QEMU TCG differs from the SDM here)\n", name);
	return false;
}

void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

void debug_exit(uint8_t code)
{
	outb(DEBUG_EXIT_PORT, code);
	/* Only reached without a debug-exit device. */
	uart_puts("debug-exit: the machine did not stop; halting\n");
	halt_forever();
}

bool summary(const char *guest)
{
	bool ok = checks_failed == 0 && checks_passed > 0;

	/* Not "N passed, N failed": CI would take that for a test runner's total. */
	printf("%s: %u checks passed, %u failed: %s\n", guest, checks_passed,
	       checks_failed, ok ? "SUCCESS" : "FAILURE");
	return ok;
}

void finish(const char *guest, uint8_t ok_code, uint8_t fail_code)
{
	debug_exit(summary(guest) ? ok_code : fail_code);
}
