/*
 * The vCPU loop on the KVM backend with tiny hand-assembled guests: port I/O
 * dispatch, HLT and interrupt injection from a timer, pause/resume, state
 * read-back, reset and triple fault. Skipped where /dev/kvm cannot be used.
 */
#include <string.h>

#include <glib.h>

#include "accel/accel.h"
#include "gh/accel-select.h"
#include "gh/bus.h"
#include "gh/clock.h"
#include "gh/irq.h"
#include "gh/memory.h"
#include "gh/vm.h"

#define CODE 0x1000
#define IDT 0x2000
#define HANDLER 0x3000
#define STACK 0x8000
#define GDT 0x400

struct probe {
	struct gh_vm *vm;
	GString *out;		/* bytes written to port 0xe9 */
	bool intr;		/* the test controller's INTR output */
	unsigned acks;
	struct gh_timer *timer;
	unsigned resets;
};

static uint64_t probe_read(void *opaque, uint64_t off, unsigned size)
{
	return 0x5a;
}

static void raise_intr(void *opaque)
{
	struct probe *p = opaque;

	p->intr = true;
	gh_irq_intr_changed(gh_vm_irq(p->vm));
}

static void probe_write(void *opaque, uint64_t off, uint64_t val,
			unsigned size)
{
	struct probe *p = opaque;

	switch (off) {
	case 0:		/* 0xe9: output */
		g_string_append_c(p->out, (char)val);
		break;
	case 1:		/* 0xea: raise INTR 20 ms from now */
		gh_timer_mod(p->timer, gh_clock_ns(gh_vm_clock(p->vm)) +
				       20000000);
		break;
	case 2:		/* 0xeb: startup IPI to CPU 1, vector 5 (0x5000) */
		gh_vm_cpu_startup(p->vm, 1, 0x05);
		break;
	case 3:		/* 0xec: INIT to CPU 1 */
		gh_vm_cpu_init(p->vm, 1);
		break;
	case 0xb:	/* 0xf4: done */
		gh_vm_request_stop(p->vm, GH_STOP_DEBUG_EXIT,
				   (int)((val << 1) | 1), "exit %u",
				   (unsigned)val);
		break;
	}
}

/* An MMIO register file in the PCI hole: reads return offset-tagged data. */
static uint64_t mmio_read(void *opaque, uint64_t off, unsigned size)
{
	struct probe *p = opaque;

	g_string_append_printf(p->out, "r%u@%x;", size, (unsigned)off);
	return 0x1122334455667788ULL + off;
}

static void mmio_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	struct probe *p = opaque;

	g_string_append_printf(p->out, "w%u@%x=%llx;", size, (unsigned)off,
			       (unsigned long long)val);
}

static const struct gh_io_ops mmio_ops = {
	.read = mmio_read,
	.write = mmio_write,
};

static const struct gh_io_ops probe_ops = {
	.read = probe_read,
	.write = probe_write,
};

static bool intc_pending(void *opaque)
{
	return ((struct probe *)opaque)->intr;
}

static int intc_ack(void *opaque)
{
	struct probe *p = opaque;

	p->intr = false;
	p->acks++;
	return 0x20;
}

static const struct gh_intc_ops intc_ops = { intc_pending, intc_ack };

static bool have_kvm(void)
{
	struct gh_error err = { 0 };

	if (gh_accel_kvm.probe(&err) < 0) {
		g_test_skip(err.msg);
		return false;
	}
	return true;
}

static const uint8_t xmm7_mark[16] = "guesthouse xmm7";

static struct gh_vm *new_vm_cpus(struct probe *p, bool no_reboot,
				 unsigned ncpus)
{
	/* null, flat 32-bit code at 0x08, flat data at 0x10 */
	static const uint64_t gdt[] = {
		0, 0x00cf9b000000ffffULL, 0x00cf93000000ffffULL,
	};
	struct gh_vm_config cfg = {
		.ram_size = 16 << 20, .ncpus = ncpus, .accel = "kvm",
		.no_reboot = no_reboot,
	};
	struct gh_error err = { 0 };
	struct gh_vm *vm = NULL;
	struct gh_cpu_state s;
	unsigned i;

	g_assert_cmpint(gh_vm_new(&cfg, &vm, &err), ==, 0);
	memset(p, 0, sizeof(*p));
	p->vm = vm;
	p->out = g_string_new(NULL);
	p->timer = gh_timer_new(gh_vm_clock(vm), raise_intr, p);
	g_assert_cmpint(gh_bus_map(gh_vm_pio(vm), 0xe9, 12, &probe_ops, p,
				   "probe"), ==, 0);
	gh_irq_set_intc(gh_vm_irq(vm), &intc_ops, p);

	gh_cpu_state_reset(&s, true);
	for (i = 0; i < GH_NR_SEGS; i++)
		gh_cpu_state_flat_seg(&s.seg[i], 0x10, false, false);
	gh_cpu_state_flat_seg(&s.seg[GH_CS], 0x08, true, false);
	s.cr0 = GH_CR0_PE | GH_CR0_ET;
	s.rip = CODE;
	s.gpr[GH_RSP] = STACK;
	s.idt = (struct gh_dtable){ IDT, 0x20 * 8 + 7 };
	s.gdt = (struct gh_dtable){ GDT, sizeof(gdt) - 1 };
	/* SSE state the guests leave alone, for the state round trip */
	memcpy(s.fxsave + GH_FXSAVE_XMM(7), xmm7_mark, 16);
	s.fxsave[GH_FXSAVE_MXCSR] = 0xc0;	/* 0x1fc0: DAZ */
	g_assert_cmpint(gh_mem_write(gh_vm_memory(vm), GDT, gdt, sizeof(gdt)),
			==, 0);
	gh_vm_set_boot_state(vm, &s);
	return vm;
}

static struct gh_vm *new_vm(struct probe *p, bool no_reboot)
{
	return new_vm_cpus(p, no_reboot, 1);
}

static void free_vm(struct probe *p)
{
	gh_timer_free(p->timer);
	gh_vm_free(p->vm);
	g_string_free(p->out, TRUE);
}

static void put(struct gh_vm *vm, uint64_t gpa, const void *code, size_t len)
{
	g_assert_cmpint(gh_mem_write(gh_vm_memory(vm), gpa, code, len), ==, 0);
}

static void run(struct gh_vm *vm)
{
	struct gh_error err = { 0 };

	g_assert_cmpint(gh_vm_start(vm, &err), ==, 0);
	gh_vm_run_main_loop(vm);
}

static void test_speed(void)
{
	struct gh_error err = { 0 };
	double mips = 0;

	if (!have_kvm())
		return;
	g_assert_cmpint(gh_kvm_measure_mips(&mips, &err), ==, 0);
	g_test_message("kvm runs guest CPL0 code at %.1f MIPS", mips);
	g_assert_cmpfloat(mips, >, 0.1);
}

static void test_pio(void)
{
	static const uint8_t code[] = {
		0xb0, 'h', 0xe6, 0xe9,		/* mov al,'h'; out 0xe9,al */
		0xb0, 'i', 0xe6, 0xe9,		/* mov al,'i'; out 0xe9,al */
		0x66, 0xba, 0xe9, 0x00,		/* mov dx,0xe9 */
		0xec,				/* in al,dx */
		0xe6, 0xe9,			/* out 0xe9,al: echoes 0x5a */
		0xe4, 0x42,			/* in al,0x42: nothing there */
		0xe6, 0xe9,			/* out: 0xff */
		0xb0, 0x21, 0xe6, 0xf4,		/* exit with 0x21 */
		0xf4,
	};
	struct probe p;
	struct gh_vm *vm;

	if (!have_kvm())
		return;
	vm = new_vm(&p, true);
	put(vm, CODE, code, sizeof(code));
	run(vm);
	g_assert_cmpint(gh_vm_stop_reason(vm), ==, GH_STOP_DEBUG_EXIT);
	g_assert_cmpint(gh_vm_stop_status(vm), ==, 0x43);
	g_assert_cmpstr(p.out->str, ==, "hi\x5a\xff");
	free_vm(&p);
}

/* HLT with IF=1 sleeps until a timer raises INTR; the handler runs once. */
static void test_hlt_interrupt(void)
{
	static const uint8_t code[] = {
		0xe6, 0xea,			/* out 0xea: arm the timer */
		0xfb,				/* sti */
		0xf4,				/* hlt */
		0xfa,				/* cli */
		0xb0, 'b', 0xe6, 0xe9,
		0xb0, 0x05, 0xe6, 0xf4,
		0xf4,
	};
	/*
	 * The handler returns by popping the frame and jumping: this
	 * machine's nested KVM cannot emulate a protected-mode IRET at CPL0
	 * (KVM's instruction emulator handles IRET only in real mode).
	 */
	static const uint8_t handler[] = {
		0xb0, 'I', 0xe6, 0xe9,		/* out 'I' */
		0x58,				/* pop eax: return EIP */
		0x83, 0xc4, 0x08,		/* add esp, 8: CS, EFLAGS */
		0xff, 0xe0,			/* jmp eax */
	};
	/* 32-bit interrupt gate, selector 8, DPL 0 */
	uint8_t gate[8] = { HANDLER & 0xff, HANDLER >> 8, 0x08, 0, 0, 0x8e,
			    0, 0 };
	struct probe p;
	struct gh_vm *vm;

	if (!have_kvm())
		return;
	vm = new_vm(&p, true);
	put(vm, CODE, code, sizeof(code));
	put(vm, HANDLER, handler, sizeof(handler));
	put(vm, IDT + 0x20 * 8, gate, sizeof(gate));
	run(vm);
	g_test_message("stop: %s", gh_vm_stop_message(vm));
	g_assert_cmpint(gh_vm_stop_reason(vm), ==, GH_STOP_DEBUG_EXIT);
	g_assert_cmpstr(p.out->str, ==, "Ib");
	g_assert_cmpint(p.acks, ==, 1);
	free_vm(&p);
}

/* A guest spinning forever: pause, read its state, resume, stop. */
static gpointer stopper(gpointer opaque)
{
	struct probe *p = opaque;
	struct gh_cpu_state s;

	g_usleep(100000);
	gh_vm_pause(p->vm);
	g_assert_true(gh_vm_paused(p->vm));
	g_assert_cmpint(gh_vm_get_cpu_state(p->vm, 0, &s), ==, 0);
	g_assert_cmphex(s.rip, >=, CODE);
	g_assert_cmphex(s.rip, <, CODE + 8);
	g_assert_cmphex(s.gpr[GH_RBX], ==, 0xfeedbeef);
	g_assert_true(s.cr0 & GH_CR0_PE);
	/* the x87/SSE image and XCR0 came through KVM_SET_FPU/_GET_FPU */
	g_assert_cmpmem(s.fxsave + GH_FXSAVE_XMM(7), 16, xmm7_mark, 16);
	g_assert_cmphex(s.fxsave[GH_FXSAVE_MXCSR], ==, 0xc0);
	g_assert_cmphex(s.fxsave[GH_FXSAVE_MXCSR + 1], ==, 0x1f);
	g_assert_cmphex(s.fxsave[GH_FXSAVE_FCW], ==, 0x40);	/* reset value */
	g_assert_cmphex(s.xcr0, ==, 1);
	gh_vm_resume(p->vm);
	g_usleep(50000);
	gh_vm_request_stop(p->vm, GH_STOP_SIGNAL, 15, "test");
	return NULL;
}

static void test_pause_state(void)
{
	static const uint8_t code[] = {
		0xbb, 0xef, 0xbe, 0xed, 0xfe,	/* mov ebx, 0xfeedbeef */
		0xeb, 0xfe,			/* jmp $ */
	};
	struct probe p;
	struct gh_vm *vm;
	GThread *t;

	if (!have_kvm())
		return;
	vm = new_vm(&p, true);
	put(vm, CODE, code, sizeof(code));
	t = g_thread_new("stopper", stopper, &p);
	run(vm);
	g_thread_join(t);
	g_assert_cmpint(gh_vm_stop_reason(vm), ==, GH_STOP_SIGNAL);
	g_assert_cmpint(gh_vm_stop_status(vm), ==, 15);
	free_vm(&p);
}

static void count_reset(void *opaque)
{
	((struct probe *)opaque)->resets++;
}

/*
 * An empty IDT turns #DE into a triple fault: with --no-reboot the VM
 * stops saying so; otherwise the machine resets and the guest, seeing the
 * reset hook ran (port 0xe9 reads back differently), exits.
 */
static void test_triple_fault(void)
{
	static const uint8_t code[] = {
		0x0f, 0x01, 0x1d, 0x00, 0x05, 0, 0,	/* lidt [0x500] */
		0x31, 0xc9, 0xf7, 0xf1,			/* xor ecx,ecx; div ecx */
		0xf4,
	};
	static const uint8_t empty_idt[6] = { 0 };
	struct probe p;
	struct gh_vm *vm;

	if (!have_kvm())
		return;
	vm = new_vm(&p, true);
	put(vm, CODE, code, sizeof(code));
	put(vm, 0x500, empty_idt, sizeof(empty_idt));
	run(vm);
	g_test_message("stop: %s", gh_vm_stop_message(vm));
	g_assert_cmpint(gh_vm_stop_reason(vm), ==, GH_STOP_TRIPLE_FAULT);
	free_vm(&p);
}

static void test_reset(void)
{
	/* First boot: mark memory and triple-fault. After the reset the
	 * boot state runs again, sees the mark and exits with 3. */
	static const uint8_t code[] = {
		0x80, 0x3d, 0x00, 0x06, 0, 0, 0x00,	/* cmp byte [0x600],0 */
		0x75, 0x12,				/* jne second */
		0xc6, 0x05, 0x00, 0x06, 0, 0, 0x01,	/* mov byte [0x600],1 */
		0x0f, 0x01, 0x1d, 0x00, 0x05, 0, 0,	/* lidt [0x500] */
		0x31, 0xc9, 0xf7, 0xf1,			/* xor ecx,ecx; div ecx */
		/* second: */
		0xb0, 0x03, 0xe6, 0xf4, 0xf4,
	};
	static const uint8_t empty_idt[6] = { 0 };
	struct probe p, gone = { 0 };
	struct gh_vm *vm;

	if (!have_kvm())
		return;
	vm = new_vm(&p, false);
	g_assert_cmpint(gh_vm_add_reset_hook(vm, count_reset, &gone), ==, 0);
	g_assert_cmpint(gh_vm_add_reset_hook(vm, count_reset, &p), ==, 0);
	gh_vm_remove_reset_hook(vm, count_reset, &gone);
	put(vm, CODE, code, sizeof(code));
	put(vm, 0x500, empty_idt, sizeof(empty_idt));
	run(vm);
	g_assert_cmpint(gh_vm_stop_reason(vm), ==, GH_STOP_DEBUG_EXIT);
	g_assert_cmpint(gh_vm_stop_status(vm), ==, 7);
	g_assert_cmpint(p.resets, ==, 1);
	g_assert_cmpint(gone.resets, ==, 0);	/* a removed hook is not run */
	g_assert_cmpint(gh_vm_reset_count(vm), ==, 1);
	free_vm(&p);
}

/*
 * Two vCPUs: the AP waits for a startup IPI, runs real-mode code at the
 * vector's page, and ignores a second SIPI while running; INIT stops it
 * again and a third SIPI restarts it.
 */
static void test_startup_ipi(void)
{
	static const uint8_t bsp[] = {
		0xe6, 0xeb,				/* out 0xeb: SIPI */
		0x80, 0x3d, 0x00, 0x06, 0, 0, 0x01,	/* 1: cmp byte [0x600],1 */
		0x75, 0xf7,				/* jne 1 */
		0xe6, 0xeb,				/* out 0xeb: ignored */
		0xe6, 0xec,				/* out 0xec: INIT */
		0xc6, 0x05, 0x00, 0x06, 0, 0, 0x00,	/* mov byte [0x600],0 */
		0xe6, 0xeb,				/* out 0xeb: SIPI again */
		0x80, 0x3d, 0x00, 0x06, 0, 0, 0x01,	/* 2: cmp byte [0x600],1 */
		0x75, 0xf7,				/* jne 2 */
		0xb0, 0x11, 0xe6, 0xf4,			/* exit 0x11 */
		0xf4,
	};
	static const uint8_t ap[] = {
		0xb0, 'A', 0xe6, 0xe9,			/* out 'A' */
		0xc6, 0x06, 0x00, 0x06, 0x01,		/* mov byte [0x600],1 */
		0xeb, 0xfe,				/* jmp $ */
	};
	struct probe p;
	struct gh_vm *vm;

	if (!have_kvm())
		return;
	vm = new_vm_cpus(&p, true, 2);
	put(vm, CODE, bsp, sizeof(bsp));
	put(vm, 0x5000, ap, sizeof(ap));
	run(vm);
	g_test_message("stop: %s", gh_vm_stop_message(vm));
	g_assert_cmpint(gh_vm_stop_reason(vm), ==, GH_STOP_DEBUG_EXIT);
	g_assert_cmpint(gh_vm_stop_status(vm), ==, 0x23);
	/* once per SIPI that started it: the ignored one printed nothing */
	g_assert_cmpstr(p.out->str, ==, "AA");
	free_vm(&p);
}

/* Loads and stores to an address with no RAM reach the MMIO bus. */
static void test_mmio(void)
{
	static const uint8_t code[] = {
		0xa1, 0x08, 0x00, 0xd0, 0xfe,		/* mov eax,[0xfed00008] */
		0xa3, 0x00, 0x06, 0x00, 0x00,		/* mov [0x600],eax */
		0xc7, 0x05, 0x10, 0x00, 0xd0, 0xfe,	/* mov dword [0xfed00010], */
		0xef, 0xbe, 0xad, 0xde,			/*   0xdeadbeef */
		0x66, 0xc7, 0x05, 0x02, 0x00, 0xd0, 0xfe, /* mov word [0xfed00002], */
		0x34, 0x12,				/*   0x1234 */
		0xa0, 0x00, 0x10, 0xe0, 0xfe,		/* mov al,[0xfee01000]: nothing */
		0xa2, 0x04, 0x06, 0x00, 0x00,		/* mov [0x604],al */
		0xb0, 0x01, 0xe6, 0xf4, 0xf4,
	};
	struct probe p;
	struct gh_vm *vm;
	uint32_t v = 0;
	uint8_t b = 0;

	if (!have_kvm())
		return;
	vm = new_vm(&p, true);
	g_assert_cmpint(gh_bus_map(gh_vm_mmio(vm), 0xfed00000, 0x1000, &mmio_ops,
				   &p, "regs"), ==, 0);
	put(vm, CODE, code, sizeof(code));
	run(vm);
	g_test_message("stop: %s", gh_vm_stop_message(vm));
	g_assert_cmpint(gh_vm_stop_reason(vm), ==, GH_STOP_DEBUG_EXIT);
	g_assert_cmpstr(p.out->str, ==, "r4@8;w4@10=deadbeef;w2@2=1234;");
	g_assert_cmpint(gh_mem_read(gh_vm_memory(vm), 0x600, &v, 4), ==, 0);
	g_assert_cmphex(v, ==, 0x55667790);
	g_assert_cmpint(gh_mem_read(gh_vm_memory(vm), 0x604, &b, 1), ==, 0);
	g_assert_cmphex(b, ==, 0xff);
	free_vm(&p);
}

static void test_bad_config(void)
{
	struct gh_vm_config cfg = { .ram_size = 1ULL << 50, .ncpus = 1,
				    .accel = "kvm" };
	struct gh_error err = { 0 };
	struct gh_vm *vm = NULL;

	g_assert_cmpint(gh_vm_new(&cfg, &vm, &err), ==, -ENOMEM);
	g_assert_nonnull(strstr(err.msg, "more than this host has"));
	cfg.ram_size = 16 << 20;
	cfg.ncpus = 0;
	memset(&err, 0, sizeof(err));
	g_assert_cmpint(gh_vm_new(&cfg, &vm, &err), ==, -EINVAL);
	cfg.ncpus = 1;
	cfg.accel = "warp";
	memset(&err, 0, sizeof(err));
	g_assert_cmpint(gh_vm_new(&cfg, &vm, &err), ==, -EINVAL);
	g_assert_nonnull(strstr(err.msg, "warp"));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/kvm/speed", test_speed);
	g_test_add_func("/kvm/pio", test_pio);
	g_test_add_func("/kvm/hlt-interrupt", test_hlt_interrupt);
	g_test_add_func("/kvm/pause-state", test_pause_state);
	g_test_add_func("/kvm/triple-fault", test_triple_fault);
	g_test_add_func("/kvm/reset", test_reset);
	g_test_add_func("/kvm/startup-ipi", test_startup_ipi);
	g_test_add_func("/kvm/mmio", test_mmio);
	g_test_add_func("/kvm/bad-config", test_bad_config);
	return g_test_run();
}
