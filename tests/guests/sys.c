/*
 * guest-sys32 / guest-sys64: system instructions (Intel SDM vol. 2 and vol. 3
 * chapter 5): SYSCALL/SYSRET (64-bit: STAR, LSTAR, SFMASK, RCX/R11, CPL) or
 * SYSENTER/SYSEXIT (32-bit) round trips from ring 3 and their #GP/#UD cases,
 * SWAPGS and the FS/GS base MSRs (64-bit), RDTSC monotonic, RDTSCP with
 * TSC_AUX, CR4.TSD, CPUID leaves 0, 1 and 0x80000000+, #GP for RDMSR/WRMSR of
 * an unknown MSR, MOV to/from DR0-DR7 and CR4.DE, LAR/LSL/VERR/VERW on valid
 * and invalid selectors at CPL 0 and 3, SMSW/LMSW/CLTS.
 * Exit: debug-exit 0x5a (32) / 0x5c (64) when every check passes, +1 otherwise.
 */
#include "lib/guest.h"

#define MSR_SYSENTER_CS		0x174
#define MSR_SYSENTER_ESP	0x175
#define MSR_SYSENTER_EIP	0x176
#define MSR_EFER		0xc0000080
#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_SFMASK		0xc0000084
#define MSR_FS_BASE		0xc0000100
#define MSR_GS_BASE		0xc0000101
#define MSR_KERNEL_GS_BASE	0xc0000102
#define MSR_TSC_AUX		0xc0000103
#define MSR_UNKNOWN		0x00009999
#define XO_IDX			GDT_FREE	/* execute-only code, DPL 0 */
#define XO_SEL			(XO_IDX * 8)

void guest_main(uint32_t magic, uint32_t mbi);

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/*
 * Runs an instruction that should fault and returns its address; the resume
 * label follows it. EXPECT_FAULT_IN gives it inputs and no clobbers: only
 * for instructions that fault before they write anything.
 */
#define EXPECT_FAULT(insn)						\
	({								\
		unsigned long ip_;					\
		trap_expect.count = 0;					\
		__asm__ volatile("mov" SFX " $1f, trap_expect\n\t"	\
				 "mov $2f, %0\n"			\
				 "2:\t" insn "\n"			\
				 "1:"					\
				 : "=&r"(ip_) : : "eax", "ecx", "edx", "memory"); \
		ip_;							\
	})
#define EXPECT_FAULT_IN(insn, ...)					\
	({								\
		unsigned long ip_;					\
		trap_expect.count = 0;					\
		__asm__ volatile("mov" SFX " $1f, trap_expect\n\t"	\
				 "mov $2f, %0\n"			\
				 "2:\t" insn "\n"			\
				 "1:"					\
				 : "=&r"(ip_) : __VA_ARGS__ : "memory");	\
		ip_;							\
	})
#ifdef __x86_64__
#define SFX "q"
#else
#define SFX "l"
#endif

static struct {
	unsigned long cs, ss, sp_before, sp_after, flags_after, ret_ip;
	unsigned count;
	unsigned long vector, error;
	bool ip_ok;
	unsigned zf[4];
} u;

static void take_trap(unsigned long ip)
{
	u.count = trap_expect.count;
	u.vector = trap_expect.vector;
	u.error = trap_expect.error;
	u.ip_ok = trap_expect.ip == ip;
}

static bool u_trap(unsigned vec, unsigned long err)
{
	if (u.count == 1 && u.vector == vec && u.error == err && u.ip_ok)
		return true;
	printf("  trap at CPL3: count %u vector %lu error 0x%lx ip ok %d\n", u.count, u.vector,
	       u.error, u.ip_ok);
	return false;
}

#ifdef __x86_64__
unsigned long sc_rcx, sc_r11, sc_rsp, sc_rflags;
uint16_t sc_cs, sc_ss;
unsigned sc_count;
extern char syscall_entry[];

static unsigned long u_syscall(unsigned long arg)
{
	unsigned long before, fl, ip, cs, ss;

	(void)arg;
	__asm__ volatile("mov %%rsp, %0\n\t"
			 "lea 1f(%%rip), %2\n\t"
			 "std\n\t"
			 "syscall\n"
			 "1:\tpushfq\n\t"
			 "popq %1\n\t"
			 "cld\n\t"
			 "mov %%cs, %3\n\t"
			 "mov %%ss, %4"
			 : "=&r"(before), "=&r"(fl), "=&r"(ip), "=&r"(cs), "=&r"(ss)
			 : : "rcx", "r11", "memory");
	u.sp_before = before;
	u.flags_after = fl;
	u.ret_ip = ip;
	u.cs = cs & 0xffff;
	u.ss = ss & 0xffff;
	return 0;
}

static unsigned long u_sysret(unsigned long arg)
{
	(void)arg;
	take_trap(EXPECT_FAULT("sysretq"));
	return 0;
}

static unsigned long u_swapgs(unsigned long arg)
{
	(void)arg;
	take_trap(EXPECT_FAULT("swapgs"));
	return 0;
}

static void test_syscall(void)
{
	uint32_t r[4];
	unsigned long ip;

	cpuid(0x80000001, 0, r);
	check(r[3] & (1u << 11), "CPUID reports SYSCALL/SYSRET");
	wrmsr(MSR_STAR, (uint64_t)0x18 << 48 | (uint64_t)SEL_KCODE << 32);
	wrmsr(MSR_LSTAR, (uintptr_t)syscall_entry);
	wrmsr(MSR_SFMASK, 0x40700);		/* AC, DF, IF, TF */
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1);	/* SCE */
	check_eq(rdmsr(MSR_LSTAR), (uintptr_t)syscall_entry, "LSTAR reads back");
	check_eq(rdmsr(MSR_SFMASK), 0x40700, "SFMASK reads back");

	memset(&u, 0, sizeof(u));
	user_run(u_syscall, 0);
	check_eq(sc_count, 1, "SYSCALL from ring 3 reaches LSTAR");
	check(sc_cs == SEL_KCODE && sc_ss == SEL_KDATA, "SYSCALL: CS and SS from STAR[47:32]");
	check_eq(sc_rcx, u.ret_ip, "SYSCALL: RCX holds the return RIP");
	check((sc_r11 & 0x400) && (sc_r11 & 2), "SYSCALL: R11 holds RFLAGS (DF set)");
	check_eq(sc_rflags & 0x40700, 0, "SYSCALL: RFLAGS masked by SFMASK");
	check_eq(sc_rsp, u.sp_before, "SYSCALL: RSP unchanged");
	check(u.cs == SEL_UCODE64 && u.ss == SEL_UDATA,
	      "SYSRET: CS = STAR[63:48] + 16 and SS = STAR[63:48] + 8, RPL 3");
	check(u.flags_after & 0x400, "SYSRET: RFLAGS from R11");

	memset(&u, 0, sizeof(u));
	user_run(u_sysret, 0);
	check(u_trap(13, 0), "#GP(0) for SYSRET at CPL 3");

	wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~1ull);
	ip = EXPECT_FAULT("syscall");
	check(trap_was(6, 0, ip), "#UD for SYSCALL with EFER.SCE clear");
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1);
}

static uint64_t gs_a[2] = { 0xaaaa, 1 }, gs_b[2] = { 0xbbbb, 2 }, fs_c = 0xcccc;

static void test_swapgs(void)
{
	uint64_t v, f;

	wrmsr(MSR_GS_BASE, (uintptr_t)gs_a);
	wrmsr(MSR_KERNEL_GS_BASE, (uintptr_t)gs_b);
	__asm__ volatile("movq %%gs:0, %0" : "=r"(v));
	check_eq(v, 0xaaaa, "GS_BASE MSR sets the GS base");
	__asm__ volatile("swapgs; movq %%gs:0, %0" : "=r"(v) : : "memory");
	check_eq(v, 0xbbbb, "SWAPGS: GS base from KERNEL_GS_BASE");
	check(rdmsr(MSR_GS_BASE) == (uintptr_t)gs_b && rdmsr(MSR_KERNEL_GS_BASE) == (uintptr_t)gs_a,
	      "SWAPGS exchanges GS_BASE and KERNEL_GS_BASE");
	__asm__ volatile("swapgs" : : : "memory");
	check_eq(rdmsr(MSR_GS_BASE), (uintptr_t)gs_a, "SWAPGS twice restores GS_BASE");
	wrmsr(MSR_FS_BASE, (uintptr_t)&fs_c);
	__asm__ volatile("movq %%fs:0, %0" : "=r"(f));
	check_eq(f, 0xcccc, "FS_BASE MSR sets the FS base");
	wrmsr(MSR_FS_BASE, 0);
	wrmsr(MSR_GS_BASE, 0);
	memset(&u, 0, sizeof(u));
	user_run(u_swapgs, 0);
	check(u_trap(13, 0), "#GP(0) for SWAPGS at CPL 3");
}
#else
unsigned long se_esp, se_eflags;
uint16_t se_cs, se_ss;
unsigned se_count;
extern char sysenter_entry[];
static uint8_t se_stack[1024] __attribute__((aligned(16)));

static unsigned long u_sysenter(unsigned long arg)
{
	unsigned long before, after, ip, cs, ss;

	(void)arg;
	__asm__ volatile("mov %%esp, %0\n\t"
			 "mov $1f, %2\n\t"
			 "mov %%esp, %%ecx\n\t"
			 "mov %2, %%edx\n\t"
			 "sysenter\n"
			 "1:\tmov %%esp, %1\n\t"
			 "mov %%cs, %3\n\t"
			 "mov %%ss, %4"
			 : "=&r"(before), "=&r"(after), "=&r"(ip), "=&r"(cs), "=&r"(ss)
			 : : "ecx", "edx", "memory");
	u.sp_before = before;
	u.sp_after = after;
	u.ret_ip = ip;
	u.cs = cs & 0xffff;
	u.ss = ss & 0xffff;
	return 0;
}

static unsigned long u_sysexit(unsigned long arg)
{
	(void)arg;
	take_trap(EXPECT_FAULT("sysexit"));
	return 0;
}

static void test_sysenter(void)
{
	uint32_t r[4];
	unsigned long ip;

	cpuid(1, 0, r);
	if (!(r[3] & (1u << 11))) {
		printf("SKIP: SYSENTER/SYSEXIT (CPUID: no SEP)\n");
		return;
	}
	wrmsr(MSR_SYSENTER_CS, SEL_KCODE);
	wrmsr(MSR_SYSENTER_ESP, (uintptr_t)se_stack + sizeof(se_stack));
	wrmsr(MSR_SYSENTER_EIP, (uintptr_t)sysenter_entry);
	check_eq(rdmsr(MSR_SYSENTER_EIP), (uintptr_t)sysenter_entry, "SYSENTER_EIP reads back");
	memset(&u, 0, sizeof(u));
	user_run(u_sysenter, 0);
	check_eq(se_count, 1, "SYSENTER from ring 3 reaches SYSENTER_EIP");
	check(se_cs == SEL_KCODE && se_ss == SEL_KDATA,
	      "SYSENTER: CS = SYSENTER_CS, SS = SYSENTER_CS + 8");
	check_eq(se_esp, (uintptr_t)se_stack + sizeof(se_stack), "SYSENTER: ESP = SYSENTER_ESP");
	check_eq(se_eflags & 0x20200, 0, "SYSENTER: IF and VM clear");
	check(u.cs == SEL_UCODE32 && u.ss == SEL_UDATA,
	      "SYSEXIT: CS = SYSENTER_CS + 16, SS = SYSENTER_CS + 24, RPL 3");
	check_eq(u.sp_after, u.sp_before, "SYSEXIT: ESP from ECX, EIP from EDX");

	memset(&u, 0, sizeof(u));
	user_run(u_sysexit, 0);
	check(u_trap(13, 0), "#GP(0) for SYSEXIT at CPL 3");
	wrmsr(MSR_SYSENTER_CS, 0);
	ip = EXPECT_FAULT("sysenter");
	check(trap_was(13, 0, ip), "#GP(0) for SYSENTER with SYSENTER_CS = 0");
}
#endif

static void test_cpuid(void)
{
	uint32_t r[4], max, ext;
	char vendor[13], brand[49];
	unsigned i;
	bool ok = true;

	cpuid(0, 0, r);
	max = r[0];
	memcpy(vendor, &r[1], 4);
	memcpy(vendor + 4, &r[3], 4);
	memcpy(vendor + 8, &r[2], 4);
	vendor[12] = 0;
	for (i = 0; i < 12; i++)
		ok = ok && vendor[i] >= 0x20 && vendor[i] < 0x7f;
	printf("  CPUID 0: max leaf 0x%x, vendor \"%s\"\n", max, vendor);
	check(max >= 1 && ok, "CPUID 0: max leaf >= 1 and a printable 12-character vendor");
	cpuid(1, 0, r);
	printf("  CPUID 1: eax 0x%08x ebx 0x%08x ecx 0x%08x edx 0x%08x\n", r[0], r[1], r[2], r[3]);
	check(((r[0] >> 8) & 0xf) != 0, "CPUID 1: a family in EAX");
	check((r[3] & 0x30) == 0x30, "CPUID 1: TSC and MSR advertised (they are used)");
	cpuid(0x80000000, 0, r);
	ext = r[0];
	printf("  CPUID 0x80000000: max extended leaf 0x%x\n", ext);
#ifdef __x86_64__
	check(ext >= 0x80000001, "CPUID 0x80000000: extended leaves up to 0x80000001 at least");
	cpuid(0x80000001, 0, r);
	check(r[3] & (1u << 29), "CPUID 0x80000001: LM set (we run in long mode)");
#else
	check(ext == 0 || (ext >= 0x80000000 && ext < 0x80000100),
	      "CPUID 0x80000000: max extended leaf in range");
#endif
	if (ext >= 0x80000004) {
		for (i = 0; i < 3; i++) {
			cpuid(0x80000002 + i, 0, r);
			memcpy(brand + 16 * i, r, 16);
		}
		brand[48] = 0;
		ok = true;
		for (i = 0; i < 48 && brand[i]; i++)
			ok = ok && brand[i] >= 0x20 && brand[i] < 0x7f;
		printf("  brand \"%s\"\n", brand);
		check(ok, "CPUID 0x80000002-4: brand string is printable ASCII");
	} else {
		printf("SKIP: CPUID 0x80000002-4: brand string is printable ASCII (none)\n");
	}
}

static unsigned long u_rdtsc(unsigned long arg)
{
	(void)arg;
	take_trap(EXPECT_FAULT("rdtsc"));
	return 0;
}

static void test_tsc(void)
{
	uint64_t first = rdtsc(), prev = first, t;
	unsigned i, back = 0;
	uint32_t r[4], lo, hi, aux;

	for (i = 0; i < 200; i++) {
		t = rdtsc();
		back += t < prev;
		prev = t;
	}
	check(back == 0 && prev > first, "RDTSC is monotonic and advances");

	memset(&u, 0, sizeof(u));
	user_run(u_rdtsc, 0);
	check_eq(u.count, 0, "RDTSC at CPL 3 with CR4.TSD clear");
	__asm__ volatile("mov %0, %%cr4" : : "r"(read_cr4() | 4));
	memset(&u, 0, sizeof(u));
	user_run(u_rdtsc, 0);
	__asm__ volatile("mov %0, %%cr4" : : "r"(read_cr4() & ~4ul));
	check(u_trap(13, 0), "#GP(0) for RDTSC at CPL 3 with CR4.TSD set");

	cpuid(0x80000000, 0, r);
	if (r[0] >= 0x80000001)
		cpuid(0x80000001, 0, r);
	else
		r[3] = 0;
	if (!(r[3] & (1u << 27))) {
		printf("SKIP: RDTSCP returns TSC_AUX in ECX (CPUID: no RDTSCP)\n");
		return;
	}
	wrmsr(MSR_TSC_AUX, 0x1234);
	t = rdtsc();
	__asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
	check(aux == 0x1234 && ((uint64_t)hi << 32 | lo) >= t,
	      "RDTSCP returns TSC_AUX in ECX");
}

static void test_msr(void)
{
	unsigned long ip;

	trap_expect.count = 0;
	__asm__ volatile("mov" SFX " $1f, trap_expect\n\t"
			 "mov $2f, %0\n"
			 "2:\trdmsr\n"
			 "1:" : "=&r"(ip) : "c"(MSR_UNKNOWN) : "eax", "edx", "memory");
	check_sdm(trap_was(13, 0, ip), "#GP(0) for RDMSR of an unknown MSR");
	ip = EXPECT_FAULT_IN("wrmsr", "c"(MSR_UNKNOWN), "a"(0), "d"(0));
	check_sdm(trap_was(13, 0, ip), "#GP(0) for WRMSR of an unknown MSR");
}

static void test_dr(void)
{
	unsigned long v[4], dr6, dr7, dr4, ip;

	__asm__ volatile("mov %2, %%dr0; mov %3, %%dr1; mov %%dr0, %0; mov %%dr1, %1"
			 : "=&r"(v[0]), "=&r"(v[1]) : "r"(0x1000ul), "r"(0x2004ul));
	__asm__ volatile("mov %2, %%dr2; mov %3, %%dr3; mov %%dr2, %0; mov %%dr3, %1"
			 : "=&r"(v[2]), "=&r"(v[3]) : "r"(0x3008ul), "r"(0x400cul));
	check(v[0] == 0x1000 && v[1] == 0x2004 && v[2] == 0x3008 && v[3] == 0x400c,
	      "MOV to and from DR0-DR3");
	__asm__ volatile("mov %2, %%dr7; mov %%dr7, %0; mov %2, %%dr6; mov %%dr6, %1"
			 : "=&r"(dr7), "=&r"(dr6) : "r"(0ul));
	printf("  DR6 after writing 0: 0x%lx\n", dr6);
	check_eq(dr7, 0x400, "DR7 written 0 reads 0x400 (bit 10 always set)");
	check_eq(dr6 & 0xffff0ff0, 0xffff0ff0, "DR6 reserved bits read as 1");
	__asm__ volatile("mov %%dr4, %0" : "=r"(dr4));
	check_eq(dr4, dr6, "DR4 is DR6 with CR4.DE clear");
	__asm__ volatile("mov %0, %%cr4" : : "r"(read_cr4() | 8));
#ifdef __x86_64__
	ip = EXPECT_FAULT("mov %%dr4, %%rax");
#else
	ip = EXPECT_FAULT("mov %%dr4, %%eax");
#endif
	__asm__ volatile("mov %0, %%cr4" : : "r"(read_cr4() & ~8ul));
	check(trap_was(6, 0, ip), "#UD for MOV from DR4 with CR4.DE set");
#ifdef __x86_64__
	ip = EXPECT_FAULT_IN("mov %%rcx, %%dr7", "c"(1ul << 32));
	check(trap_was(13, 0, ip), "#GP(0) for MOV to DR7 with bits 63:32 set");
#endif
	__asm__ volatile("mov %0, %%dr0; mov %0, %%dr1; mov %0, %%dr2; mov %0, %%dr3"
			 : : "r"(0ul));
}

/* LAR/LSL/VERR/VERW: result and ZF */
static unsigned long lar(unsigned long sel, bool *zf)
{
	unsigned long v = 0xdead;
	uint8_t z;

	__asm__ volatile("lar %2, %0; setz %1" : "+r"(v), "=q"(z) : "r"(sel) : "cc");
	*zf = z;
	return v;
}

static unsigned long lsl(unsigned long sel, bool *zf)
{
	unsigned long v = 0xdead;
	uint8_t z;

	__asm__ volatile("lsl %2, %0; setz %1" : "+r"(v), "=q"(z) : "r"(sel) : "cc");
	*zf = z;
	return v;
}

static bool verr(uint16_t sel)
{
	uint8_t z;

	__asm__ volatile("verr %1; setz %0" : "=q"(z) : "r"(sel) : "cc");
	return z;
}

static bool verw(uint16_t sel)
{
	uint8_t z;

	__asm__ volatile("verw %1; setz %0" : "=q"(z) : "r"(sel) : "cc");
	return z;
}

static unsigned long u_segchecks(unsigned long arg)
{
	bool z;

	(void)arg;
	lar(SEL_KDATA, &z);
	u.zf[0] = z;
	lar(SEL_UDATA, &z);
	u.zf[1] = z;
	u.zf[2] = verw(SEL_UDATA);
	u.zf[3] = verr(SEL_KDATA);
	return 0;
}

static void test_segs(void)
{
	unsigned long v;
	bool z;

	v = lar(SEL_KDATA, &z);
	/* LAR's mask is 00FxFF00H: the limit bits 19:16 are undefined; A may be set */
	check(z && (v & 0x00f0fe00) == 0x00c09200, "LAR of the data segment: ZF, access rights");
	v = lar(SEL_KCODE, &z);
#ifdef __x86_64__
	check(z && (v & 0x00f0fe00) == 0x00a09a00, "LAR of the 64-bit code segment");
#else
	check(z && (v & 0x00f0fe00) == 0x00c09a00, "LAR of the code segment");
#endif
	v = lar(SEL_TSS, &z);
	check(z && (v & 0x00f0ff00) == 0x00008b00, "LAR of the busy TSS");
	v = lar(0, &z);
	check(!z && v == 0xdead, "LAR of the null selector: ZF clear, destination unchanged");
	v = lar(GDT_ENTRIES * 8 + 8, &z);
	check(!z && v == 0xdead, "LAR of a selector past the GDT limit: ZF clear, no fault");
	lar(SEL_KDATA | 3, &z);
	check(!z, "LAR with RPL 3 of a DPL 0 segment: ZF clear");
	v = lsl(SEL_KDATA, &z);
	check(z && v == 0xffffffff, "LSL of a 4 GiB data segment: limit scaled by G");
	v = lsl(SEL_TSS, &z);
	check(z && v == sizeof(ring_tss) - 1, "LSL of the TSS");
	lsl(GDT_FREE * 8 + 8, &z);	/* a null descriptor slot */
	check(!z, "LSL of an empty descriptor: ZF clear");
	check(verr(SEL_KCODE) && !verw(SEL_KCODE), "code segment: VERR set, VERW clear");
	check(verr(SEL_KDATA) && verw(SEL_KDATA), "data segment: VERR and VERW set");
	check(!verr(XO_SEL), "execute-only code segment: VERR clear");
	check(!verr(0) && !verw(0), "null selector: VERR and VERW clear");

	memset(&u, 0, sizeof(u));
	user_run(u_segchecks, 0);
	check(!u.zf[0] && u.zf[1], "LAR at CPL 3: DPL 0 segment refused, DPL 3 accepted");
	check(u.zf[2] && !u.zf[3], "VERW/VERR at CPL 3: DPL 3 data yes, DPL 0 data no");
}

static void test_msw(void)
{
	unsigned long cr0 = read_cr0(), after;
	uint16_t msw;

	__asm__ volatile("smsw %0" : "=m"(msw));
	check_eq(msw, cr0 & 0xffff, "SMSW stores CR0[15:0]");
	__asm__ volatile("lmsw %0" : : "r"((uint16_t)(cr0 | 8)));
	after = read_cr0();
	check_eq(after, cr0 | 8, "LMSW sets CR0.TS and leaves the other bits");
	__asm__ volatile("clts");
	check_eq(read_cr0(), cr0 & ~8ul, "CLTS clears CR0.TS");
	__asm__ volatile("lmsw %0" : : "r"((uint16_t)(cr0 & ~1ul)));
	check_eq(read_cr0() & 1, 1, "LMSW cannot clear CR0.PE");
	__asm__ volatile("mov %0, %%cr0" : : "r"(cr0));
}

void guest_main(uint32_t magic, uint32_t mbi)
{
#ifdef __x86_64__
	const char *guest = "guest-sys64";
#else
	const char *guest = "guest-sys32";
#endif

	uart_init(COM1);
	guest_flags(mbi);
	printf("%s: system instructions\n", guest);
	check_eq(magic, MULTIBOOT_BOOT_MAGIC, "multiboot magic in EAX");
	idt_init(SEL_KCODE);
	ring_init();
#ifdef __x86_64__
	ring_gdt[XO_IDX] = seg_desc(0, 0xfffff, 0x98, 0xa);
	test_syscall();
	test_swapgs();
#else
	ring_gdt[XO_IDX] = seg_desc(0, 0xfffff, 0x98, 0xc);
	test_sysenter();
#endif
	test_cpuid();
	test_tsc();
	test_msr();
	test_dr();
	test_segs();
	test_msw();
#ifdef __x86_64__
	finish(guest, 0x5c, 0x5d);
#else
	finish(guest, 0x5a, 0x5b);
#endif
}
