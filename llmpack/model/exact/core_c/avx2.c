/* The engine for AVX2 CPUs (vpmaddwd products). Built only for x86-64. */
#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC target("avx2")
#define ISA_LEVEL ISA_AVX2
#define VARIANT avx2
#include "engine.h"
#endif
