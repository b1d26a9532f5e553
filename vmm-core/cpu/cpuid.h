/*
 * CPUID of the software CPU (Intel SDM vol. 2A, CPUID): it reports only what
 * the interpreter implements, one table row per feature bit.
 */
#ifndef GH_CPU_CPUID_H
#define GH_CPU_CPUID_H

#include <stdint.h>

struct gh_cpu;

/* Output registers, in the order of gh_cpuid()'s out[]. */
enum { GH_CPUID_EAX, GH_CPUID_EBX, GH_CPUID_ECX, GH_CPUID_EDX };

/* The highest basic and extended leaves. */
#define GH_CPUID_MAX_BASIC 0x16u
#define GH_CPUID_MAX_EXT 0x80000008u
#define GH_CPUID_HV_BASE 0x40000000u

/* IA32_MISC_ENABLE bit 22: CPUID reports at most leaf 2 (SDM vol. 4, 2.1). */
#define GH_MISC_ENABLE_LIMIT_CPUID (1ULL << 22)

/* Leaf 1 EAX: family 6, model 0x1c, stepping 10 (see cpuid.c). */
#define GH_CPUID_SIGNATURE 0x000106cau

/*
 * One advertised feature bit and the ops that implement it (up to four,
 * 0-terminated; none for features of the MMU or of stored state, which the
 * comment in cpuid.c names). Tests check that every op listed is bound.
 */
struct gh_cpuid_feature {
	uint32_t leaf;
	uint8_t reg;
	uint8_t bit;
	const char *name;
	uint16_t ops[4];
};

extern const struct gh_cpuid_feature gh_cpuid_features[];
extern const unsigned gh_cpuid_nfeatures;

/* The four registers CPUID leaf/subleaf gives on cpu (APIC ID, MISC_ENABLE). */
void gh_cpuid(const struct gh_cpu *cpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

#endif
