/* The engine for AVX512-VNNI CPUs (vpdpbusd and vpdpwssd products). Built only for x86-64. */
#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
#define ISA_LEVEL ISA_VNNI
#define VARIANT avx512
#include "engine.h"
#endif
