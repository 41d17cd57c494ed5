/* llmpack's compiled core: its entry points (core.py loads them with ctypes). Each call
   goes to the engine compiled for the best instruction set this CPU has, capped by
   llmpack_core_set_isa; every engine computes the same bits. */

#include "core.h"

static int isa_cap = -1; /* set by llmpack_core_set_isa */

static int cpu_isa(void) {
#if X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vnni"))
        return ISA_VNNI;
    if (__builtin_cpu_supports("avx2"))
        return ISA_AVX2;
#endif
    return ISA_GENERIC;
}

int llmpack_core_version(void) { return CORE_VERSION; }

/* The instruction set used from now on: the CPU's best, capped by `cap` (-1: no cap). */
int llmpack_core_set_isa(int cap) {
    int best = cpu_isa();
    isa_cap = (cap >= 0 && cap < best) ? cap : best;
    return isa_cap;
}

static int isa(void) {
    if (isa_cap < 0)
        llmpack_core_set_isa(-1);
    return isa_cap;
}

#if X86
#define DISPATCH(name, ...)                                                                                     \
    (isa() == ISA_VNNI ? llmpack_##name##_avx512(__VA_ARGS__)                                                   \
                       : isa() == ISA_AVX2 ? llmpack_##name##_avx2(__VA_ARGS__) : llmpack_##name##_generic(__VA_ARGS__))
#else
#define DISPATCH(name, ...) llmpack_##name##_generic(__VA_ARGS__)
#endif

/* hidden(): the final normalised hidden states of tokens ids (B, T) at positions pos
   (B, T), whose keys and values are written to the (blocked) cache. keep: NULL for every
   position (out: B*T x dim), else one index per batch row (out: B x dim). Returns 0, -1
   when out of memory, -2 on a token, position or index out of range, -3 on a shape the
   core does not handle. */
int llmpack_forward(const Model *m, const Cache *c, const int64_t *ids, const int64_t *pos, int64_t B, int64_t T,
                    const int64_t *keep, float *out, int threads) {
    return DISPATCH(forward, m, c, ids, pos, B, T, keep, out, threads);
}

/* logits (n x vocab) of final hidden states h (n x dim). Returns 0 or -1 (memory). */
int llmpack_head(const Model *m, const float *h, int64_t n, float *logits, int threads) {
    return DISPATCH(head, m, h, n, logits, threads);
}

/* ExactLM.weights: exp(logit - max) from the table, as float64, for n rows of `vocab`
   logits; out rows are `stride` doubles apart (columns past vocab are left as they are). */
void llmpack_weights(const float *logits, int64_t n, int64_t vocab, const float *table, int64_t last, int64_t grid,
                     double *out, int64_t stride) {
    DISPATCH(weights, logits, n, vocab, table, last, grid, out, stride);
}

/* Online.adjust's adaptive-bias and fixed-point part on one row (online.py). */
double llmpack_online_adjust(double *q, int64_t vocab, const double *table, const int64_t *index, double *p, int bias) {
    return DISPATCH(online_adjust, q, vocab, table, index, p, bias);
}

/* Online.update's adaptive-bias step (online.py). */
void llmpack_online_update(double *b, const double *p, int64_t vocab, double rate, int64_t symbol, double limit,
                           double grid, int64_t *index, double *rounded) {
    DISPATCH(online_update, b, p, vocab, rate, symbol, limit, grid, index, rounded);
}

/* s[bh][g][l] = sum_d q[bh][g][d] * k[bh][l][d] as float (exact: |s| < 2^24). */
__attribute__((target_clones("avx2", "default"))) void llmpack_qk(const int16_t *q, const int16_t *k, float *s, int64_t bh_count, int64_t g_count, int64_t length,
                int64_t dim, int64_t stride) {
    for (int64_t bh = 0; bh < bh_count; bh++) {
        const int16_t *kp = k + bh * stride;
        for (int64_t l = 0; l < length; l++) {
            const int16_t *kr = kp + l * dim;
            for (int64_t g = 0; g < g_count; g++) {
                const int16_t *qr = q + (bh * g_count + g) * dim;
                int32_t acc = 0;
                for (int64_t d = 0; d < dim; d++)
                    acc += (int32_t)qr[d] * (int32_t)kr[d];
                s[(bh * g_count + g) * length + l] = (float)acc;
            }
        }
    }
}

/* o[bh][g][d] = sum_l w[bh][g][l] * v[bh][l][d], w in [0, 2^15), v in [-127, 127], as float. */
__attribute__((target_clones("avx2", "default"))) int llmpack_pv(const int32_t *w, const int8_t *v, float *o, int64_t bh_count, int64_t g_count, int64_t length,
               int64_t dim, int64_t stride) {
    int64_t total[4096];
    int32_t part[4096];
    if (g_count * dim > 4096)
        return 1;
    for (int64_t bh = 0; bh < bh_count; bh++) {
        const int8_t *vp = v + bh * stride;
        const int32_t *wp = w + bh * g_count * length;
        for (int64_t i = 0; i < g_count * dim; i++)
            total[i] = 0;
        for (int64_t l0 = 0; l0 < length; l0 += PV_BLOCK) {
            int64_t l1 = l0 + PV_BLOCK < length ? l0 + PV_BLOCK : length;
            for (int64_t i = 0; i < g_count * dim; i++)
                part[i] = 0;
            for (int64_t l = l0; l < l1; l++) {
                const int8_t *vr = vp + l * dim;
                for (int64_t g = 0; g < g_count; g++) {
                    int32_t wl = wp[g * length + l];
                    int32_t *pr = part + g * dim;
                    for (int64_t d = 0; d < dim; d++)
                        pr[d] += wl * (int32_t)vr[d];
                }
            }
            for (int64_t i = 0; i < g_count * dim; i++)
                total[i] += part[i];
        }
        for (int64_t i = 0; i < g_count * dim; i++)
            o[bh * g_count * dim + i] = (float)(double)total[i];
    }
    return 0;
}

void *PyInit__core(void) { return 0; } /* never imported: loaded with ctypes (core.py) */
