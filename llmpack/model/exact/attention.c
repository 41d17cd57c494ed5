/* Attention products of a decoding step, read from a compact KV cache (llmpack.model.exact.kernels).

   Keys are int16 (10-bit values), values int8: 3 bytes per cached number instead of the
   8 that fp32 keys and values take, and a decoding step is bound by reading the cache.
   Both products are integer sums, so they are exact however the compiler vectorises or
   orders them: the results equal the engine's float32 GEMMs (whose partial sums stay
   below 2^24) and its float64 p.v bit for bit. No OpenMP, no libm.

   Layout, for each of BH (row, kv-head) pairs: queries/weights (BH, G, ...) contiguous;
   cache rows (L, D) contiguous inside a pair, pairs `stride` elements apart. */

#include <stdint.h>

/* Runtime dispatch to AVX2 where the CPU has it (GCC/Clang on x86-64); integer results
   are the same either way. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__INTEL_COMPILER)
#define CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CLONES
#endif

/* s[bh][g][l] = sum_d q[bh][g][d] * k[bh][l][d], as float (exact: |s| < 2^24). DIM is a
   constant in the common head size, so the compiler unrolls and vectorises the dot. */
#define QK_BODY(DIM)                                                                   \
    for (int64_t bh = 0; bh < bh_count; bh++) {                                        \
        const int16_t *kp = k + bh * stride;                                           \
        for (int64_t l = 0; l < length; l++) {                                         \
            const int16_t *kr = kp + l * (DIM);                                        \
            for (int64_t g = 0; g < g_count; g++) {                                    \
                const int16_t *qr = q + (bh * g_count + g) * (DIM);                    \
                int32_t acc = 0;                                                       \
                for (int64_t d = 0; d < (DIM); d++)                                    \
                    acc += (int32_t)qr[d] * (int32_t)kr[d];                            \
                s[(bh * g_count + g) * length + l] = (float)acc;                       \
            }                                                                          \
        }                                                                              \
    }

CLONES void llmpack_qk(const int16_t *q, const int16_t *k, float *s, int64_t bh_count, int64_t g_count,
                       int64_t length, int64_t dim, int64_t stride) {
    if (dim == 64) {
        QK_BODY(64)
    } else {
        QK_BODY(dim)
    }
}

/* o[bh][g][d] = sum_l w[bh][g][l] * v[bh][l][d], w in [0, 2^15), v in [-127, 127]:
   int32 partial sums over blocks of PV_BLOCK keys (< 2^31), added in int64, then
   rounded once to float (through double, which holds them exactly: as the float path's
   float64 product rounds to float32). */
#define PV_BLOCK 512
#define MAX_OUT 4096 /* g_count * dim */

#define PV_BODY(DIM)                                                                   \
    for (int64_t bh = 0; bh < bh_count; bh++) {                                        \
        const int8_t *vp = v + bh * stride;                                            \
        const int32_t *wp = w + bh * g_count * length;                                 \
        for (int64_t i = 0; i < g_count * (DIM); i++)                                  \
            total[i] = 0;                                                              \
        for (int64_t l0 = 0; l0 < length; l0 += PV_BLOCK) {                            \
            int64_t l1 = l0 + PV_BLOCK < length ? l0 + PV_BLOCK : length;              \
            for (int64_t i = 0; i < g_count * (DIM); i++)                              \
                part[i] = 0;                                                           \
            for (int64_t l = l0; l < l1; l++) {                                        \
                const int8_t *vr = vp + l * (DIM);                                     \
                for (int64_t g = 0; g < g_count; g++) {                                \
                    int32_t wl = wp[g * length + l];                                   \
                    int32_t *pr = part + g * (DIM);                                    \
                    for (int64_t d = 0; d < (DIM); d++)                                \
                        pr[d] += wl * (int32_t)vr[d];                                  \
                }                                                                      \
            }                                                                          \
            for (int64_t i = 0; i < g_count * (DIM); i++)                              \
                total[i] += part[i];                                                   \
        }                                                                              \
        for (int64_t i = 0; i < g_count * (DIM); i++)                                  \
            o[bh * g_count * (DIM) + i] = (float)(double)total[i];                     \
    }

CLONES int llmpack_pv(const int32_t *w, const int8_t *v, float *o, int64_t bh_count, int64_t g_count,
                      int64_t length, int64_t dim, int64_t stride) {
    int64_t total[MAX_OUT];
    int32_t part[MAX_OUT];
    if (g_count * dim > MAX_OUT)
        return 1;
    if (dim == 64) {
        PV_BODY(64)
    } else {
        PV_BODY(dim)
    }
    return 0;
}
