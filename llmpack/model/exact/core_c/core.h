/* llmpack's compiled exact core: what api.c and the per-instruction-set engines share.

   The core computes exactly the bits of the torch path (model.py, ops.py, online.py),
   which stays as the fallback where it is not built. It is compiled with
   -ffp-contract=off (never an FMA where the torch path rounds twice) and without
   -ffast-math; the only libm calls are sqrtf, rintf, nearbyint and floor, which
   IEEE-754 makes exact or correctly rounded on every machine. */

#ifndef LLMPACK_CORE_H
#define LLMPACK_CORE_H

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define X86 1
#else
#define X86 0
#endif

#define TINY 1.17549435e-38f /* 2^-126, ops.TINY */
#define PV_BLOCK 512         /* p.v keys per int32 partial sum: 512 * 32767 * 127 < 2^31 */

#define ISA_GENERIC 0 /* the instruction sets of the engines (preprocessor constants: engine.h tests them) */
#define ISA_AVX2 1
#define ISA_VNNI 2

typedef struct {
    int64_t n, k, np, kp;
    const int8_t *packed;
    const int32_t *colsum; /* (np): sum over k of w[n][k] */
    const float *scale;    /* (n) */
    const float *bias;     /* (n) or NULL */
} Lin;

typedef struct {
    const float *attn_norm, *mlp_norm;
    Lin qkv, o, gate_up, down;
} Layer;

typedef struct {
    int64_t vocab, dim, hidden, layers, heads, kv_heads, head_dim, max_pos;
    float eps, score_to_index;
    int64_t act_levels, qk_levels, v_levels, p_levels;
    const float *exp_table;
    int64_t exp_last; /* exp_table[exp_last] == 0 */
    int64_t exp_grid;
    const float *sigmoid;
    int64_t sig_half; /* sigmoid[0 .. 2 * sig_half] */
    const float *cos, *sin;
    const float *embed, *norm;
    const Layer *layer;
    Lin head;
} Model;

typedef struct {
    int64_t rows, capacity;
    int16_t **k;
    int8_t **v;
    float **ks, **vs;
} Cache;

#define CORE_VERSION 3 /* core.py's VERSION: bumped when the structures above or the cache's layout change */

/* Each engine (engine.h, compiled per instruction set) exports these, suffixed. */
#define ENGINE_API(v)                                                                                           \
    int llmpack_forward_##v(const Model *m, const Cache *c, const int64_t *ids, const int64_t *pos, int64_t B,  \
                            int64_t T, const int64_t *keep, float *out, int threads);                           \
    int llmpack_head_##v(const Model *m, const float *h, int64_t n, float *logits, int threads);                \
    void llmpack_weights_##v(const float *logits, int64_t n, int64_t vocab, const float *table, int64_t last,   \
                             int64_t grid, double *out, int64_t stride);                                        \
    double llmpack_online_adjust_##v(double *q, int64_t vocab, const double *table, const int64_t *index,       \
                                     double *p, int bias);                                                      \
    void llmpack_online_update_##v(double *b, const double *p, int64_t vocab, double rate, int64_t symbol,      \
                                   double limit, double grid, int64_t *index, double *rounded);
ENGINE_API(generic)
ENGINE_API(avx2)
ENGINE_API(avx512)

#endif
