/* What the C benchmarks in eval/ share: the engine compiled from its own source for
   AVX512-VNNI (engine.h, as avx512.c compiles it), a clock, and the check that this CPU
   can run it. A benchmark includes it and puts its own code inside `#if ENGINE_BENCH`;
   elsewhere (not x86-64 with GCC) the program is the main below, which says so. */
#if defined(__x86_64__) && defined(__GNUC__)
#define ENGINE_BENCH 1
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
#define ISA_LEVEL ISA_VNNI
#define VARIANT bench
#include "../llmpack/model/exact/core_c/engine.h"
#include <stdio.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* 0 where this CPU has AVX512-VNNI, else says so and returns main's exit status. */
static int need_vnni(void) {
    if (__builtin_cpu_supports("avx512vnni"))
        return 0;
    fprintf(stderr, "needs an AVX512-VNNI CPU\n");
    return 2;
}
#else
#define ENGINE_BENCH 0
#include <stdio.h>
int main(void) {
    fprintf(stderr, "needs x86-64 and GCC\n");
    return 2;
}
#endif
