/* The engine of llmpack's compiled core, included once per instruction set (generic.c,
   avx2.c, avx512.c set ISA_LEVEL and VARIANT and compile it with that target): the
   Llama forward of model.py, its LM head, and the coder's per-token work over the
   vocabulary (engine.py's weights, online.py's adaptive bias).

   Every float operation is one that torch or numpy does elementwise on the torch path,
   in the same order and precision (IEEE-754 + - * / sqrt, round-half-even), so the
   compiler may vectorise these loops but never reassociate or fuse them (core.h).
   Matrix products are exact integer sums, the same whatever instructions compute them.

   Layouts (row-major; pointers come from torch tensors and numpy arrays):
     Lin.packed   (np/16, kp/4, 16, 4) int8: for 16 outputs, 4 consecutive inputs each
     cache k      per layer and (row, kv-head): [capacity/64][head_dim/2][64][2] int16
     cache v      per layer and (row, kv-head): [capacity/2][head_dim][2] int8
     cache ks/vs  per layer (rows, kv_heads, capacity) float32
*/

#include "core.h"

#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)
#define ENTRY(name) CAT(llmpack_##name, VARIANT)


/* ---- exact elementwise ops (ops.py) ---------------------------------------------- */

/* Sum of buf[0..n) as a fixed pairwise tree, zero-padded to a power of two (ops.tree_sum).
   buf has room for the padded width; it is overwritten. */
static float tree_sum(float *buf, int64_t n) {
    int64_t width = 1;
    while (width < n)
        width *= 2;
    for (int64_t i = n; i < width; i++)
        buf[i] = 0.0f;
    while (width > 1) {
        width /= 2;
        for (int64_t i = 0; i < width; i++)
            buf[i] = buf[i] + buf[i + width];
    }
    return buf[0];
}

/* RMSNorm (ops.rms_norm, numerics x2): x / sqrt(mean(x^2) + eps) * weight. */
static void rms_norm(const float *x, const float *weight, int64_t n, float eps, float *out, float *buf) {
    for (int64_t i = 0; i < n; i++)
        buf[i] = x[i] * x[i];
    float mean = tree_sum(buf, n) / (float)n;
    float inv = 1.0f / sqrtf(mean + eps);
    for (int64_t i = 0; i < n; i++)
        out[i] = (x[i] * inv) * weight[i];
}

#if ISA_LEVEL == ISA_AVX2
/* The largest of 8 floats (a max is exact in any order). */
static inline float hmax256(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}
#endif

/* max(0, max |x[i]|): exact in any order. */
static float absmax(const float *x, int64_t n) {
    float top = 0.0f;
    int64_t i = 0;
#if ISA_LEVEL == ISA_VNNI
    __m512 t = _mm512_setzero_ps();
    for (; i + 16 <= n; i += 16)
        t = _mm512_max_ps(t, _mm512_abs_ps(_mm512_loadu_ps(x + i)));
    top = _mm512_reduce_max_ps(t);
#elif ISA_LEVEL == ISA_AVX2
    __m256 t = _mm256_setzero_ps(), sign = _mm256_set1_ps(-0.0f);
    for (; i + 8 <= n; i += 8)
        t = _mm256_max_ps(t, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
    top = hmax256(t);
#endif
    for (; i < n; i++) {
        float a = fabsf(x[i]);
        top = a > top ? a : top;
    }
    return top;
}

/* Per-row symmetric quantization (ops.quantize): q = round(x / scale), scale = max|x| / levels. */
static float quantize(const float *x, int64_t n, int64_t levels, int16_t *q) {
    float top = absmax(x, n);
    float scale = (top > TINY ? top : TINY) / (float)levels;
    for (int64_t i = 0; i < n; i++)
        q[i] = (int16_t)rintf(x[i] / scale);
    return scale;
}

/* ---- linear layers: y = (int q) @ (int8 w).T * row scale * channel scale --------------- */

/* A row of quantized activations in the forms the product kernels read. */
typedef struct {
    int16_t *q;     /* (kp) the integers, zero-padded */
    uint8_t *u;     /* (kp) VNNI: (q + 128) mod 256 */
    int32_t *hg;    /* VNNI: the groups of 4 inputs where some h = (q + 128) div 256 is not 0 ... */
    uint32_t *hp;   /* ... max(h, 0) of its 4 inputs, a byte each ... */
    uint32_t *hn;   /* ... and max(-h, 0) (|h| <= 2) */
    int64_t ng;
    float s;
} Act;

/* Records group g of a's inputs (4 of them) if any has a high part h = (q + 128) div 256. */
static inline void act_high(Act *a, int64_t g) {
    uint32_t hp = 0, hn = 0;
    for (int j = 0; j < 4; j++) {
        int32_t h = ((int32_t)a->q[4 * g + j] + 128) >> 8;
        if (h > 0)
            hp |= (uint32_t)h << (8 * j);
        else if (h < 0)
            hn |= (uint32_t)(-h) << (8 * j);
    }
    if (hp | hn) {
        a->hg[a->ng] = (int32_t)g;
        a->hp[a->ng] = hp;
        a->hn[a->ng++] = hn;
    }
}

static void act_prepare(Act *a, const float *x, int64_t k, int64_t kp, int64_t levels, int vnni) {
    a->s = quantize(x, k, levels, a->q);
    for (int64_t i = k; i < kp; i++)
        a->q[i] = 0;
    if (!vnni)
        return;
    a->ng = 0;
    int64_t g = 0;
#if ISA_LEVEL == ISA_VNNI
    /* 4 groups at a time; most have no high part. Those that have are appended in order
       (compressed in registers, then masked stores: what act_high does one by one). */
    const __m128i steps = _mm_setr_epi32(0, 1, 2, 3);
    for (; 4 * g + 16 <= kp; g += 4) {
        __m512i v = _mm512_add_epi32(_mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)(a->q + 4 * g))),
                                     _mm512_set1_epi32(128));
        _mm_storeu_si128((__m128i *)(a->u + 4 * g), _mm512_cvtepi32_epi8(v)); /* v mod 256 */
        __m512i h = _mm512_srai_epi32(v, 8);
        if (!_mm512_test_epi32_mask(h, h))
            continue;
        __m128i hp = _mm512_cvtepi32_epi8(_mm512_max_epi32(h, _mm512_setzero_si512())); /* a byte per input */
        __m128i hn = _mm512_cvtepi32_epi8(_mm512_max_epi32(_mm512_sub_epi32(_mm512_setzero_si512(), h), _mm512_setzero_si512()));
        __m128i any = _mm_or_si128(hp, hn);
        __mmask8 groups = _mm_test_epi32_mask(any, any);
        __mmask8 first = (__mmask8)((1u << __builtin_popcount(groups)) - 1);
        _mm_mask_storeu_epi32(a->hg + a->ng, first, _mm_maskz_compress_epi32(groups, _mm_add_epi32(_mm_set1_epi32((int32_t)g), steps)));
        _mm_mask_storeu_epi32(a->hp + a->ng, first, _mm_maskz_compress_epi32(groups, hp));
        _mm_mask_storeu_epi32(a->hn + a->ng, first, _mm_maskz_compress_epi32(groups, hn));
        a->ng += __builtin_popcount(groups);
    }
#endif
    for (; g < kp / 4; g++) {
        for (int j = 0; j < 4; j++) /* q + 128 = 256 h + u */
            a->u[4 * g + j] = (uint8_t)(((int32_t)a->q[4 * g + j] + 128) & 255);
        act_high(a, g);
    }
}

/* A list of cache lines to fetch while the product kernels compute: a line per step of
   their loop over the inputs, where the multiply-adds leave memory idle (see
   qkv_slots_plan). A prefetch changes no number. */
typedef struct {
    const char *p, *end; /* lines p, p + stride, ... before end */
    int64_t stride;
} Span;
typedef struct {
    Span cur;          /* the span being fetched */
    Span *next, *last; /* the spans still to fetch */
    Span *spans;       /* room for the plan */
} Prefetch;

__attribute__((always_inline)) static inline void prefetch_one(Prefetch *f) {
    if (!f)
        return;
    if (f->cur.p >= f->cur.end) {
        if (f->next == f->last)
            return;
        f->cur = *f->next++;
    }
    __builtin_prefetch(f->cur.p, 1, 3);
    f->cur.p += f->cur.stride;
}

#if ISA_LEVEL == ISA_GENERIC
/* acc[m][n - n0] = sum_k q[m][k] * w[n][k] for outputs [n0, n1) (multiples of 16). */
static void dot_generic(Act *const *rows, int64_t M, const Lin *L, int64_t n0, int64_t n1, int32_t *acc, int64_t astride,
                        Prefetch *pfs) {
    int64_t k4n = L->kp / 4;
    for (int64_t m = 0; m < M; m++) {
        const int16_t *q = rows[m]->q;
        for (int64_t nb = n0 / 16; nb < n1 / 16; nb++) {
            int32_t sum[16] = {0};
            const int8_t *w = L->packed + nb * k4n * 64;
            for (int64_t k4 = 0; k4 < k4n; k4++, w += 64) {
                prefetch_one(pfs);
                for (int lane = 0; lane < 16; lane++)
                    for (int j = 0; j < 4; j++)
                        sum[lane] += (int32_t)q[4 * k4 + j] * (int32_t)w[lane * 4 + j];
            }
            memcpy(acc + m * astride + nb * 16 - n0, sum, sizeof(sum));
        }
    }
}
#endif

#if ISA_LEVEL == ISA_AVX2
/* AVX2: 16 bytes of the packed layout (4 outputs x 4 inputs) widened to int16 and
   multiplied by the 4 activations with vpmaddwd (exact: |2 * 511 * 127| < 2^15 * 2^15);
   adjacent int32 lanes hold one output's halves, added at the end. */
static void dot_avx2(Act *const *rows, int64_t M, const Lin *L, int64_t n0, int64_t n1, int32_t *acc, int64_t astride,
                     Prefetch *pfs) {
    int64_t k4n = L->kp / 4;
    for (int64_t nb = n0 / 16; nb < n1 / 16; nb++) {
        const int8_t *wb = L->packed + nb * k4n * 64;
        int64_t m = 0;
        for (; m < M; m += 2) {
            int two = m + 1 < M;
            const int16_t *qa = rows[m]->q, *qb = rows[two ? m + 1 : m]->q;
            __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            const int8_t *w = wb;
            for (int64_t k4 = 0; k4 < k4n; k4++, w += 64) {
                prefetch_one(pfs);
                __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w)));
                __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 16)));
                __m256i w2 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 32)));
                __m256i w3 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 48)));
                int64_t xa, xb;
                memcpy(&xa, qa + 4 * k4, 8);
                memcpy(&xb, qb + 4 * k4, 8);
                __m256i va = _mm256_set1_epi64x(xa), vb = _mm256_set1_epi64x(xb);
                a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(w0, va));
                a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(w1, va));
                a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(w2, va));
                a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(w3, va));
                b0 = _mm256_add_epi32(b0, _mm256_madd_epi16(w0, vb));
                b1 = _mm256_add_epi32(b1, _mm256_madd_epi16(w1, vb));
                b2 = _mm256_add_epi32(b2, _mm256_madd_epi16(w2, vb));
                b3 = _mm256_add_epi32(b3, _mm256_madd_epi16(w3, vb));
            }
            /* hadd: lanes (2i, 2i+1) -> output i; order [a0 a1] gives outputs 0-3 then 4-7 per 128-bit half */
            __m256i ha = _mm256_permute4x64_epi64(_mm256_hadd_epi32(a0, a1), 0xD8);
            __m256i hb = _mm256_permute4x64_epi64(_mm256_hadd_epi32(a2, a3), 0xD8);
            int32_t *out = acc + m * astride + nb * 16 - n0;
            _mm256_storeu_si256((__m256i *)out, ha);
            _mm256_storeu_si256((__m256i *)(out + 8), hb);
            if (two) {
                ha = _mm256_permute4x64_epi64(_mm256_hadd_epi32(b0, b1), 0xD8);
                hb = _mm256_permute4x64_epi64(_mm256_hadd_epi32(b2, b3), 0xD8);
                out += astride;
                _mm256_storeu_si256((__m256i *)out, ha);
                _mm256_storeu_si256((__m256i *)(out + 8), hb);
            }
        }
    }
}

#endif

#if ISA_LEVEL == ISA_VNNI
/* AVX512-VNNI: vpdpbusd multiplies the unsigned bytes u = (q + 128) mod 256 by the signed
   weights, 4 inputs per int32 lane, 16 outputs per register; MR rows x NB blocks of 16
   outputs per pass over k. Then each row's few groups of inputs with a high part h add
   256 * h.w, with the same weights, still in cache (h = hp - hn, both unsigned bytes).
   All int32 sums wrap exactly; the result, sum (q + 128) w, fits. linear_part takes
   the 128 * sum w off. */
#define VNNI_MR 4
#define VNNI_NB 4
__attribute__((always_inline)) static inline void
vnni_tile(Act *const *rows, int mr, const int8_t *wb, int nbc, int64_t k4n, int32_t *out, int64_t astride,
          const int8_t *pf, Prefetch *pfs) {
    __m512i acc[VNNI_MR][VNNI_NB];
    for (int r = 0; r < VNNI_MR; r++)
        for (int j = 0; j < VNNI_NB; j++)
            acc[r][j] = _mm512_setzero_si512();
    const uint8_t *u[VNNI_MR];
    for (int r = 0; r < VNNI_MR; r++)
        u[r] = rows[r < mr ? r : 0]->u;
    for (int64_t k4 = 0; k4 < k4n; k4++) {
        __m512i w[VNNI_NB];
        for (int j = 0; j < VNNI_NB; j++)
            w[j] = j < nbc ? _mm512_loadu_si512((const void *)(wb + (j * k4n + k4) * 64)) : _mm512_setzero_si512();
        if (pf) /* the next outputs' weights, fetched while these are computed from cache */
            for (int j = 0; j < VNNI_NB; j++)
                _mm_prefetch((const char *)(pf + (j * k4n + k4) * 64), _MM_HINT_T0);
        prefetch_one(pfs);
        for (int r = 0; r < VNNI_MR; r++) {
            if (r >= mr)
                break;
            int32_t x;
            memcpy(&x, u[r] + 4 * k4, 4);
            __m512i a = _mm512_set1_epi32(x);
            for (int j = 0; j < VNNI_NB; j++)
                if (j < nbc)
                    acc[r][j] = _mm512_dpbusd_epi32(acc[r][j], a, w[j]);
        }
    }
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < nbc; j++)
            _mm512_storeu_si512((void *)(out + r * astride + j * 16), acc[r][j]);
    for (int r = 0; r < mr; r++) {
        const Act *a = rows[r];
        if (!a->ng)
            continue;
        __m512i p[VNNI_NB], n[VNNI_NB];
        for (int j = 0; j < VNNI_NB; j++)
            p[j] = n[j] = _mm512_setzero_si512();
        for (int64_t i = 0; i < a->ng; i++) {
            const int8_t *wg = wb + (int64_t)a->hg[i] * 64;
            uint32_t hp = a->hp[i], hn = a->hn[i];
            __m512i xp = _mm512_set1_epi32((int32_t)hp), xn = _mm512_set1_epi32((int32_t)hn);
            /* a group's high parts mostly have one sign: skip the products by zeros */
            if (hp)
                for (int j = 0; j < VNNI_NB; j++)
                    if (j < nbc)
                        p[j] = _mm512_dpbusd_epi32(p[j], xp, _mm512_loadu_si512((const void *)(wg + j * k4n * 64)));
            if (hn)
                for (int j = 0; j < VNNI_NB; j++)
                    if (j < nbc)
                        n[j] = _mm512_dpbusd_epi32(n[j], xn, _mm512_loadu_si512((const void *)(wg + j * k4n * 64)));
        }
        for (int j = 0; j < nbc; j++) {
            int32_t *o = out + r * astride + j * 16;
            __m512i y = _mm512_loadu_si512((const void *)o);
            _mm512_storeu_si512((void *)o, _mm512_add_epi32(y, _mm512_slli_epi32(_mm512_sub_epi32(p[j], n[j]), 8)));
        }
    }
}

#define VNNI_CASE(MR, NBC) vnni_tile(rows + m, MR, wb, NBC, k4n, out, astride, pf, pfs)
static void dot_vnni(Act *const *rows, int64_t M, const Lin *L, int64_t n0, int64_t n1, int32_t *acc, int64_t astride,
                     Prefetch *pfs) {
    int64_t k4n = L->kp / 4;
    for (int64_t nb = n0 / 16; nb < n1 / 16; nb += VNNI_NB) {
        int nbc = (int)((n1 / 16 - nb) < VNNI_NB ? (n1 / 16 - nb) : VNNI_NB);
        const int8_t *wb = L->packed + nb * k4n * 64;
        /* the first tile of rows reads these weights from memory, the others from cache:
           those prefetch the next block's (where there is a next one of 4 blocks) */
        const int8_t *next = nb + 2 * VNNI_NB <= L->np / 16 ? wb + VNNI_NB * k4n * 64 : NULL;
        for (int64_t m = 0; m < M; m += VNNI_MR) {
            int mr = (int)(M - m < VNNI_MR ? M - m : VNNI_MR);
            const int8_t *pf = m ? next : NULL;
            int32_t *out = acc + m * astride + nb * 16 - n0;
            /* constant tile shapes, so that the accumulators stay in registers */
            if (nbc == 4) {
                if (mr == 4) VNNI_CASE(4, 4); else if (mr == 3) VNNI_CASE(3, 4); else if (mr == 2) VNNI_CASE(2, 4); else VNNI_CASE(1, 4);
            } else if (nbc == 3) {
                if (mr == 4) VNNI_CASE(4, 3); else if (mr == 3) VNNI_CASE(3, 3); else if (mr == 2) VNNI_CASE(2, 3); else VNNI_CASE(1, 3);
            } else if (nbc == 2) {
                if (mr == 4) VNNI_CASE(4, 2); else if (mr == 3) VNNI_CASE(3, 2); else if (mr == 2) VNNI_CASE(2, 2); else VNNI_CASE(1, 2);
            } else {
                if (mr == 4) VNNI_CASE(4, 1); else if (mr == 3) VNNI_CASE(3, 1); else if (mr == 2) VNNI_CASE(2, 1); else VNNI_CASE(1, 1);
            }
        }
    }
}
#endif


/* y[m][n] for n in [n0, n1): the exact products, then * row scale * channel scale (+ bias). */
static void linear_part(Act *const *rows, int64_t M, const Lin *L, int64_t n0, int64_t n1, int32_t *acc, float *y,
                        int64_t ystride, Prefetch *pfs) {
    int64_t width = n1 - n0;
#if ISA_LEVEL == ISA_VNNI
    dot_vnni(rows, M, L, n0, n1, acc, width, pfs);
#elif ISA_LEVEL == ISA_AVX2
    dot_avx2(rows, M, L, n0, n1, acc, width, pfs);
#else
    dot_generic(rows, M, L, n0, n1, acc, width, pfs);
#endif
    int64_t end = n1 < L->n ? n1 : L->n;
    const float *restrict scale = L->scale + n0, *restrict bias = L->bias ? L->bias + n0 : NULL;
#if ISA_LEVEL == ISA_VNNI
    const int32_t *restrict colsum = L->colsum + n0; /* the VNNI sums were of q + 128: take 128 * sum w off */
#endif
    for (int64_t m = 0; m < M; m++) {
        float s = rows[m]->s;
        const int32_t *restrict a = acc + m * width;
        float *restrict out = y + m * ystride + n0;
#if ISA_LEVEL == ISA_VNNI
        for (int64_t n = 0; n < end - n0; n++) /* in uint32: the sums wrap exactly */
            out[n] = ((float)(int32_t)((uint32_t)a[n] - 128u * (uint32_t)colsum[n]) * s) * scale[n];
#else
        for (int64_t n = 0; n < end - n0; n++)
            out[n] = ((float)a[n] * s) * scale[n];
#endif
        if (bias)
            for (int64_t n = 0; n < end - n0; n++)
                out[n] = out[n] + bias[n];
    }
}

/* ---- threads ------------------------------------------------------------------------ */

/* A team of threads that run one function over phases separated by barriers. Threads
   are made per call (no pool survives a fork); waiting spins briefly, then sleeps. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n, count;
    volatile unsigned gen;
} Barrier;

static void barrier_init(Barrier *b, int n) {
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    b->n = n;
    b->count = 0;
    b->gen = 0;
}

static void barrier_wait(Barrier *b) {
    if (b->n <= 1)
        return;
    pthread_mutex_lock(&b->mu);
    unsigned gen = b->gen;
    if (++b->count == b->n) {
        b->count = 0;
        __atomic_store_n(&b->gen, gen + 1, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
        return;
    }
    pthread_mutex_unlock(&b->mu);
    for (int spin = 0; spin < 20000; spin++) {
        if (__atomic_load_n(&b->gen, __ATOMIC_ACQUIRE) != gen)
            return;
#if X86
        _mm_pause();
#endif
    }
    pthread_mutex_lock(&b->mu);
    while (__atomic_load_n(&b->gen, __ATOMIC_ACQUIRE) == gen)
        pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

typedef struct Work Work;
typedef void (*WorkFn)(Work *w, int tid);

/* Threads wait at a gate until every one has been created: if creating one fails, the
   team shrinks to those that exist before any work is shared out (same numbers). */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
} Gate;

typedef struct {
    Work *w;
    int tid;
    WorkFn fn;
    Gate *gate;
    int *nt;
} Start;

static void *thread_main(void *p) {
    Start *s = (Start *)p;
    pthread_mutex_lock(&s->gate->mu);
    while (!s->gate->open)
        pthread_cond_wait(&s->gate->cv, &s->gate->mu);
    pthread_mutex_unlock(&s->gate->mu);
    if (s->tid < *s->nt)
        s->fn(s->w, s->tid);
    return NULL;
}

/* [lo, hi) of n items for thread tid of nt, in blocks of `align` items. */
static void share(int64_t n, int64_t align, int tid, int nt, int64_t *lo, int64_t *hi) {
    int64_t blocks = (n + align - 1) / align;
    int64_t b0 = blocks * tid / nt, b1 = blocks * (tid + 1) / nt;
    *lo = b0 * align;
    *hi = b1 * align < n ? b1 * align : n;
}

/* ---- the forward pass ------------------------------------------------------------------ */

struct Work {
    const Model *m;
    const Cache *c;
    const int64_t *ids, *pos, *keep;
    int64_t B, T, M, nout;
    float *out;
    int nt, vnni;
    Barrier bar;
    /* shared buffers */
    float *x, *h, *big, *tmp;
    Act *acts;
    Act **act_ptr;
    int16_t *qq;
    float *qsc;
    /* per thread scratch */
    int32_t **acc;
    float **fbuf;
    int32_t **ibuf;
    int64_t acc_size;
    Prefetch *pf; /* per thread, in decoding steps (T == 1); else NULL */
};

/* Points Act a at its part of a row's scratch memory p (9 * kp bytes for inputs padded to
   kp): q, then the high groups (kp / 4 at most, 4 bytes each per array), then u. */
static void act_bind(Act *a, char *p, int64_t kp) {
    a->q = (int16_t *)p;
    a->hg = (int32_t *)(p + 2 * kp);
    a->hp = (uint32_t *)(p + 3 * kp);
    a->hn = (uint32_t *)(p + 4 * kp);
    a->u = (uint8_t *)(p + 8 * kp);
}

/* Quantize rows [lo, hi) of src (M x k) into the Act rows. */
static void prepare_rows(Work *w, const float *src, int64_t k, int64_t kp, int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; r++)
        act_prepare(&w->acts[r], src + r * k, k, kp, w->m->act_levels, w->vnni);
}

/* Thread tid's share of y = L(acts) for all M rows, split over outputs. */
static void linear_rows(Work *w, int tid, const Lin *L, float *y) {
    int64_t lo, hi;
    share(L->np, 16, tid, w->nt, &lo, &hi);
    int64_t chunk = 256; /* outputs per pass: the accumulators stay small */
    for (int64_t n0 = lo; n0 < hi; n0 += chunk) {
        int64_t n1 = n0 + chunk < hi ? n0 + chunk : hi;
        for (int64_t m0 = 0; m0 < w->M; m0 += 64) {
            int64_t mc = w->M - m0 < 64 ? w->M - m0 : 64;
            linear_part(w->act_ptr + m0, mc, L, n0, n1, w->acc[tid], y + m0 * L->n, L->n, w->pf ? &w->pf[tid] : NULL);
        }
    }
}

static void rope(const Model *m, float *x, int64_t p) {
    int64_t D = m->head_dim, half = D / 2;
    const float *cs = m->cos + p * D, *sn = m->sin + p * D;
    float tmp[512];
    for (int64_t d = 0; d < D; d++) {
        float rot = d < half ? -x[d + half] : x[d - half];
        tmp[d] = x[d] * cs[d] + rot * sn[d];
    }
    memcpy(x, tmp, D * sizeof(float));
}

/* The compact cache, blocked for the integer dot products (capacity is a multiple of 64):
   keys of a (row, kv-head) as [position / 64][dim / 2][64 positions][2 dims] int16, so
   that a pair of dims of 64 positions (four blocks of 16, a register each) is 256
   contiguous bytes and a pass over the keys reads memory in order (with blocks of 16
   whole, four blocks were four streams 2 KB apart: qk ran 2x slower from memory);
   values as [position / 2][dim][2 positions] int8. */
#define KEY_BLOCK 16 /* positions whose dot products one register holds */
#define KEY_GROUP 64 /* positions stored together, pair of dims by pair of dims */
#define KEY_ROW (2 * KEY_GROUP) /* int16 from one pair of dims to the next within a group */
static inline int64_t key_at(int64_t p, int64_t d, int64_t D) {
    return (p / KEY_GROUP) * KEY_GROUP * D + (d / 2) * KEY_ROW + (p % KEY_GROUP) * 2 + (d % 2);
}
/* The first key of block blk (positions 16 blk ..): its pair of dims dp at + dp * KEY_ROW. */
static inline const int16_t *key_block(const int16_t *keys, int64_t blk, int64_t D) {
    return keys + (blk / (KEY_GROUP / KEY_BLOCK)) * KEY_GROUP * D + (blk % (KEY_GROUP / KEY_BLOCK)) * 2 * KEY_BLOCK;
}
static inline int64_t value_at(int64_t p, int64_t d, int64_t D) { return (p / 2) * 2 * D + d * 2 + (p % 2); }

/* In a decoding step, the cache lines where qkv_row will store the key and value of
   thread tid's rows in layer li, to be fetched (for writing) during the qkv product: in
   the blocked layout a key is 32 lines 256 bytes apart, and a decoding step finds them
   in memory (a row's cache was last read a whole step ago). */
static void qkv_slots_plan(Work *w, int tid, int64_t li, int64_t lo, int64_t hi) {
    if (!w->pf)
        return;
    const Model *m = w->m;
    int64_t Hkv = m->kv_heads, D = m->head_dim, cap = w->c->capacity;
    Prefetch *f = &w->pf[tid];
    Span *s = f->spans;
    for (int64_t r = lo; r < hi; r++)
        for (int64_t h = 0; h < Hkv; h++) {
            const char *kc = (const char *)(w->c->k[li] + (r * Hkv + h) * cap * D + key_at(w->pos[r], 0, D));
            const char *vc = (const char *)(w->c->v[li] + (r * Hkv + h) * cap * D + value_at(w->pos[r], 0, D));
            *s++ = (Span){kc, kc + D * KEY_ROW, 2 * KEY_ROW}; /* a line for each pair of dims */
            *s++ = (Span){vc, vc + 2 * D, 64};
        }
    f->cur = (Span){NULL, NULL, 0};
    f->next = f->spans;
    f->last = s;
}

/* Rope, quantize and store row r's keys and values; rope and quantize its queries. */
static void qkv_row(Work *w, int64_t li, int64_t r) {
    const Model *m = w->m;
    int64_t H = m->heads, Hkv = m->kv_heads, D = m->head_dim, cap = w->c->capacity;
    int64_t b = r / w->T, p = w->pos[r];
    float *row = w->big + r * (H + 2 * Hkv) * D;
    for (int64_t h = 0; h < H; h++) {
        rope(m, row + h * D, p);
        w->qsc[r * H + h] = quantize(row + h * D, D, m->qk_levels, w->qq + (r * H + h) * D) * m->score_to_index;
    }
    int16_t qtmp[512];
    for (int64_t h = 0; h < Hkv; h++) {
        float *k = row + (H + h) * D, *v = row + (H + Hkv + h) * D;
        int64_t head = b * Hkv + h, at = head * cap + p;
        rope(m, k, p);
        w->c->ks[li][at] = quantize(k, D, m->qk_levels, qtmp);
        int16_t *kc = w->c->k[li] + head * cap * D;
        for (int64_t d = 0; d < D; d++)
            kc[key_at(p, d, D)] = qtmp[d];
        w->c->vs[li][at] = quantize(v, D, m->v_levels, qtmp);
        int8_t *vc = w->c->v[li] + head * cap * D;
        for (int64_t d = 0; d < D; d++)
            vc[value_at(p, d, D)] = (int8_t)qtmp[d];
    }
}

#if ISA_LEVEL == ISA_GENERIC
/* dots[g][j] = q_g . k_j for the G queries q (G x D int16) and keys 0 .. nb*16-1 (blocked). */
static void qk_generic(const int16_t *q, int64_t G, const int16_t *keys, int64_t nb, int64_t D, int32_t *dots,
                       int64_t stride) {
    for (int64_t blk = 0; blk < nb; blk++) {
        const int16_t *kb = key_block(keys, blk, D);
        for (int64_t g = 0; g < G; g++) {
            int32_t acc[KEY_BLOCK] = {0};
            for (int64_t dp = 0; dp < D / 2; dp++)
                for (int l = 0; l < KEY_BLOCK; l++)
                    acc[l] += (int32_t)q[g * D + 2 * dp] * kb[dp * KEY_ROW + 2 * l] +
                              (int32_t)q[g * D + 2 * dp + 1] * kb[dp * KEY_ROW + 2 * l + 1];
            memcpy(dots + g * stride + blk * KEY_BLOCK, acc, sizeof(acc));
        }
    }
}
#endif

/* num[g][d] = sum_j wq[g][j] * v_j[d] over pairs of positions 0 .. 2*npairs-1, exact
   (int32 partial sums over PV_BLOCK positions, then int64). */
static void pv_generic(const int16_t *wq, int64_t G, int64_t stride, const int8_t *vals, int64_t npairs, int64_t D,
                       int64_t *num) {
    for (int64_t i = 0; i < G * D; i++)
        num[i] = 0;
    for (int64_t p0 = 0; p0 < npairs; p0 += PV_BLOCK / 2) {
        int64_t p1 = p0 + PV_BLOCK / 2 < npairs ? p0 + PV_BLOCK / 2 : npairs;
        for (int64_t g = 0; g < G; g++) {
            int32_t part[512] = {0};
            for (int64_t pp = p0; pp < p1; pp++) {
                const int8_t *vr = vals + pp * 2 * D;
                int32_t a = wq[g * stride + 2 * pp], c = wq[g * stride + 2 * pp + 1];
                for (int64_t d = 0; d < D; d++)
                    part[d] += a * vr[2 * d] + c * vr[2 * d + 1];
            }
            for (int64_t d = 0; d < D; d++)
                num[g * D + d] += part[d];
        }
    }
}

#if ISA_LEVEL == ISA_VNNI
/* AVX512-VNNI: a block of 16 keys is one register per pair of dims; vpdpwssd adds
   q[2i] k[2i] + q[2i+1] k[2i+1] into each position's lane (exact: |sum| < 2^24). */
static void qk_vnni(const int16_t *q, int64_t G, const int16_t *keys, int64_t nb, int64_t D, int32_t *dots,
                              int64_t stride) {
    for (int64_t blk = 0; blk < nb; blk++) {
        const int16_t *kb = key_block(keys, blk, D);
        __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
        /* a group's four blocks (blk is a multiple of 4 here): twelve independent sums
           hide vpdpwssd's latency, and the keys are read in order */
        if (G == 3 && blk + 4 <= nb) {
            __m512i acc[4][3];
            for (int b = 0; b < 4; b++)
                acc[b][0] = acc[b][1] = acc[b][2] = _mm512_setzero_si512();
            for (int64_t dp = 0; dp < D / 2; dp++) {
                int32_t x0, x1, x2;
                memcpy(&x0, q + 2 * dp, 4);
                memcpy(&x1, q + D + 2 * dp, 4);
                memcpy(&x2, q + 2 * D + 2 * dp, 4);
                __m512i q0 = _mm512_set1_epi32(x0), q1 = _mm512_set1_epi32(x1), q2 = _mm512_set1_epi32(x2);
#pragma GCC unroll 4
                for (int b = 0; b < 4; b++) {
                    __m512i k = _mm512_loadu_si512((const void *)(kb + dp * KEY_ROW + b * 2 * KEY_BLOCK));
                    acc[b][0] = _mm512_dpwssd_epi32(acc[b][0], k, q0);
                    acc[b][1] = _mm512_dpwssd_epi32(acc[b][1], k, q1);
                    acc[b][2] = _mm512_dpwssd_epi32(acc[b][2], k, q2);
                }
            }
            for (int b = 0; b < 4; b++)
                for (int g = 0; g < 3; g++)
                    _mm512_storeu_si512((void *)(dots + g * stride + (blk + b) * KEY_BLOCK), acc[b][g]);
            blk += 3;
            continue;
        }
        if (G == 3) { /* SmolLM2's grouping: the keys are read once for the three queries */
            for (int64_t dp = 0; dp < D / 2; dp++) {
                __m512i k = _mm512_loadu_si512((const void *)(kb + dp * KEY_ROW));
                int32_t x0, x1, x2;
                memcpy(&x0, q + 2 * dp, 4);
                memcpy(&x1, q + D + 2 * dp, 4);
                memcpy(&x2, q + 2 * D + 2 * dp, 4);
                a0 = _mm512_dpwssd_epi32(a0, k, _mm512_set1_epi32(x0));
                a1 = _mm512_dpwssd_epi32(a1, k, _mm512_set1_epi32(x1));
                a2 = _mm512_dpwssd_epi32(a2, k, _mm512_set1_epi32(x2));
            }
            _mm512_storeu_si512((void *)(dots + blk * KEY_BLOCK), a0);
            _mm512_storeu_si512((void *)(dots + stride + blk * KEY_BLOCK), a1);
            _mm512_storeu_si512((void *)(dots + 2 * stride + blk * KEY_BLOCK), a2);
            continue;
        }
        for (int64_t g = 0; g < G; g++) {
            a0 = a1 = a2 = a3 = _mm512_setzero_si512();
            for (int64_t dp = 0; dp < D / 2; dp++) {
                __m512i k = _mm512_loadu_si512((const void *)(kb + dp * KEY_ROW));
                int32_t x;
                memcpy(&x, q + g * D + 2 * dp, 4);
                a0 = _mm512_dpwssd_epi32(a0, k, _mm512_set1_epi32(x));
            }
            _mm512_storeu_si512((void *)(dots + g * stride + blk * KEY_BLOCK), a0);
        }
    }
}

/* AVX512-VNNI p.v: a pair of positions' values for 16 dims is one register of int16
   pairs; vpdpwssd with the pair of weights (each < 2^15) adds both products. G queries
   and ND registers of dims are constants where inlined, so the accumulators stay in
   registers. */
__attribute__((always_inline)) static inline void pv_vnni_tile(const int16_t *wq, const int G, int64_t stride,
                                                               const int8_t *vals, int64_t npairs, const int ND,
                                                               int64_t *num) {
    const int64_t D = 16 * ND;
    for (int64_t i = 0; i < G * D; i++)
        num[i] = 0;
    for (int64_t p0 = 0; p0 < npairs; p0 += PV_BLOCK / 2) {
        int64_t p1 = p0 + PV_BLOCK / 2 < npairs ? p0 + PV_BLOCK / 2 : npairs;
        __m512i acc[4][8];
#pragma GCC unroll 8
        for (int g = 0; g < G; g++)
#pragma GCC unroll 8
            for (int c = 0; c < ND; c++)
                acc[g][c] = _mm512_setzero_si512();
        for (int64_t pp = p0; pp < p1; pp++) {
            const int8_t *vr = vals + pp * 2 * D;
            __m512i v[8];
#pragma GCC unroll 8
            for (int c = 0; c < ND; c++)
                v[c] = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(vr + 32 * c)));
#pragma GCC unroll 8
            for (int g = 0; g < G; g++) {
                int32_t x; /* the pair of weights, as vpdpwssd / vpmaddwd read it */
                memcpy(&x, wq + g * stride + 2 * pp, 4);
                __m512i wv = _mm512_set1_epi32(x);
#pragma GCC unroll 8
                for (int c = 0; c < ND; c++)
                    acc[g][c] = _mm512_dpwssd_epi32(acc[g][c], v[c], wv);
            }
        }
        for (int g = 0; g < G; g++)
            for (int c = 0; c < ND; c++) {
                int32_t part[16];
                _mm512_storeu_si512((void *)part, acc[g][c]);
                for (int i = 0; i < 16; i++)
                    num[g * D + 16 * c + i] += part[i];
            }
    }
}

static void pv_vnni(const int16_t *wq, int64_t G, int64_t stride, const int8_t *vals, int64_t npairs,
                              int64_t D, int64_t *num) {
    if (G == 3 && D == 64) /* SmolLM2-135M */
        pv_vnni_tile(wq, 3, stride, vals, npairs, 4, num);
    else if (D % 16 == 0 && D <= 128 && G <= 4)
        pv_vnni_tile(wq, (int)G, stride, vals, npairs, (int)(D / 16), num);
    else
        pv_generic(wq, G, stride, vals, npairs, D, num);
}

#endif

#if ISA_LEVEL == ISA_AVX2
/* AVX2: the same blocks, vpmaddwd on 8 positions at a time. */
static void qk_avx2(const int16_t *q, int64_t G, const int16_t *keys, int64_t nb, int64_t D, int32_t *dots,
                              int64_t stride) {
    for (int64_t blk = 0; blk < nb; blk++) {
        const int16_t *kb = key_block(keys, blk, D);
        for (int64_t g = 0; g < G; g++) {
            __m256i lo = _mm256_setzero_si256(), hi = lo;
            for (int64_t dp = 0; dp < D / 2; dp++) {
                int32_t x;
                memcpy(&x, q + g * D + 2 * dp, 4);
                __m256i qv = _mm256_set1_epi32(x);
                lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(kb + dp * KEY_ROW)), qv));
                hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(kb + dp * KEY_ROW + 16)), qv));
            }
            _mm256_storeu_si256((__m256i *)(dots + g * stride + blk * KEY_BLOCK), lo);
            _mm256_storeu_si256((__m256i *)(dots + g * stride + blk * KEY_BLOCK + 8), hi);
        }
    }
}

static void pv_avx2(const int16_t *wq, int64_t G, int64_t stride, const int8_t *vals, int64_t npairs,
                              int64_t D, int64_t *num) {
    if (D % 8 || D > 128) {
        pv_generic(wq, G, stride, vals, npairs, D, num);
        return;
    }
    int64_t nd = D / 8;
    for (int64_t i = 0; i < G * D; i++)
        num[i] = 0;
    for (int64_t g = 0; g < G; g++)
        for (int64_t p0 = 0; p0 < npairs; p0 += PV_BLOCK / 2) {
            int64_t p1 = p0 + PV_BLOCK / 2 < npairs ? p0 + PV_BLOCK / 2 : npairs;
            __m256i acc[16];
            for (int64_t c = 0; c < nd; c++)
                acc[c] = _mm256_setzero_si256();
            for (int64_t pp = p0; pp < p1; pp++) {
                const int8_t *vr = vals + pp * 2 * D;
                int32_t x; /* the pair of weights, as vpdpwssd / vpmaddwd read it */
                memcpy(&x, wq + g * stride + 2 * pp, 4);
                __m256i wv = _mm256_set1_epi32(x);
                for (int64_t c = 0; c < nd; c++)
                    acc[c] = _mm256_add_epi32(
                        acc[c], _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(vr + 16 * c))), wv));
            }
            for (int64_t c = 0; c < nd; c++) {
                int32_t part[8];
                _mm256_storeu_si256((__m256i *)part, acc[c]);
                for (int i = 0; i < 8; i++)
                    num[g * D + 8 * c + i] += part[i];
            }
        }
}
#endif

/* The softmax of one query's scores, as model.py's _attend: s = dot * qsc * ks, then
   exp(s - max) from the table, their tree sum, times v's scale, quantized to p_levels.
   Elementwise float operations only, each the same IEEE operation in every lane (a max
   is exact in any order); the vector loops below and the scalar tails give equal bits. */
#if ISA_LEVEL == ISA_VNNI
#define SM_LANES 16
#elif ISA_LEVEL == ISA_AVX2
#define SM_LANES 8
#else
#define SM_LANES 1
#endif

static float softmax_row(const Model *m, const int32_t *dots, int64_t L, float qsc, const float *ks, const float *vs,
                         float *s, float *tree, int16_t *wq, float *scale_out) {
    int64_t vec = SM_LANES > 1 ? L / SM_LANES * SM_LANES : 0, j;
    float top = -INFINITY, last = (float)m->exp_last, wmax = 0.0f;
    const float *table = m->exp_table;
    /* scores and their max */
#if ISA_LEVEL == ISA_VNNI
    __m512 vtop = _mm512_set1_ps(-INFINITY), vq = _mm512_set1_ps(qsc);
    for (j = 0; j < vec; j += 16) {
        __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512((const void *)(dots + j))), vq),
                                 _mm512_loadu_ps(ks + j));
        _mm512_storeu_ps(s + j, v);
        vtop = _mm512_max_ps(vtop, v);
    }
    if (vec)
        top = _mm512_reduce_max_ps(vtop);
#elif ISA_LEVEL == ISA_AVX2
    __m256 vtop = _mm256_set1_ps(-INFINITY), vq = _mm256_set1_ps(qsc);
    for (j = 0; j < vec; j += 8) {
        __m256 v = _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(dots + j))), vq),
                                 _mm256_loadu_ps(ks + j));
        _mm256_storeu_ps(s + j, v);
        vtop = _mm256_max_ps(vtop, v);
    }
    if (vec)
        top = hmax256(vtop);
#endif
    for (j = vec; j < L; j++) {
        float v = ((float)dots[j] * qsc) * ks[j];
        s[j] = v;
        top = v > top ? v : top;
    }
    /* exp(s - top) from the table, into the tree to sum */
#if ISA_LEVEL == ISA_VNNI
    __m512 vt = _mm512_set1_ps(top), vl = _mm512_set1_ps(last);
    for (j = 0; j < vec; j += 16) {
        __m512 i = _mm512_roundscale_ps(_mm512_sub_ps(vt, _mm512_loadu_ps(s + j)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        i = _mm512_min_ps(i, vl);
        _mm512_storeu_ps(tree + j, _mm512_i32gather_ps(_mm512_cvttps_epi32(i), table, 4));
    }
#elif ISA_LEVEL == ISA_AVX2
    __m256 vt = _mm256_set1_ps(top), vl = _mm256_set1_ps(last);
    for (j = 0; j < vec; j += 8) {
        __m256 i = _mm256_round_ps(_mm256_sub_ps(vt, _mm256_loadu_ps(s + j)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        i = _mm256_min_ps(i, vl);
        _mm256_storeu_ps(tree + j, _mm256_i32gather_ps(table, _mm256_cvttps_epi32(i), 4));
    }
#endif
    for (j = vec; j < L; j++) {
        float i = rintf(top - s[j]);
        i = i < last ? i : last;
        tree[j] = table[(int32_t)i];
    }
    /* e * v's scale, before the tree sum overwrites the exps */
#if ISA_LEVEL == ISA_VNNI
    __m512 vw = _mm512_setzero_ps();
    for (j = 0; j < vec; j += 16) {
        __m512 e = _mm512_mul_ps(_mm512_loadu_ps(tree + j), _mm512_loadu_ps(vs + j));
        _mm512_storeu_ps(s + j, e);
        vw = _mm512_max_ps(vw, e);
    }
    if (vec)
        wmax = _mm512_reduce_max_ps(vw);
#elif ISA_LEVEL == ISA_AVX2
    __m256 vw = _mm256_setzero_ps();
    for (j = 0; j < vec; j += 8) {
        __m256 e = _mm256_mul_ps(_mm256_loadu_ps(tree + j), _mm256_loadu_ps(vs + j));
        _mm256_storeu_ps(s + j, e);
        vw = _mm256_max_ps(vw, e);
    }
    if (vec)
        wmax = hmax256(vw);
#endif
    for (j = vec; j < L; j++) {
        float e = tree[j] * vs[j];
        s[j] = e;
        wmax = e > wmax ? e : wmax;
    }
    float total = tree_sum(tree, L);
    float scale = (wmax > TINY ? wmax : TINY) / (float)m->p_levels;
    /* the weights, quantized */
#if ISA_LEVEL == ISA_VNNI
    __m512 vs_ = _mm512_set1_ps(scale);
    for (j = 0; j < vec; j += 16)
        _mm256_storeu_si256((__m256i *)(wq + j), _mm512_cvtepi32_epi16(_mm512_cvttps_epi32(_mm512_roundscale_ps(
            _mm512_div_ps(_mm512_loadu_ps(s + j), vs_), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC))));
#elif ISA_LEVEL == ISA_AVX2
    __m256 vs_ = _mm256_set1_ps(scale);
    for (j = 0; j < vec; j += 8) {
        __m256i i = _mm256_cvttps_epi32(_mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(s + j), vs_),
                                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        _mm_storeu_si128((__m128i *)(wq + j), _mm_packs_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1)));
    }
#endif
    for (j = vec; j < L; j++)
        wq[j] = (int16_t)rintf(s[j] / scale); /* <= p_levels < 2^15 */
    wq[L] = 0; /* the second of a last, half-filled pair of positions weighs 0 */
    *scale_out = scale;
    return total;
}

/* softmax(q.k / sqrt(d)) . v for row r's query heads of kv-head hk, over positions 0..pos. */
static void attend(Work *w, int tid, int64_t li, int64_t r, int64_t hk) {
    const Model *m = w->m;
    int64_t H = m->heads, Hkv = m->kv_heads, D = m->head_dim, G = H / Hkv, cap = w->c->capacity;
    int64_t b = r / w->T, L = w->pos[r] + 1;
    int64_t head = b * Hkv + hk;
    const int16_t *keys = w->c->k[li] + head * cap * D;
    const int8_t *vals = w->c->v[li] + head * cap * D;
    const float *ks = w->c->ks[li] + head * cap, *vs = w->c->vs[li] + head * cap;
    float *s = w->fbuf[tid], *tree = s + cap;
    int32_t *dots = w->ibuf[tid];               /* (G, cap) */
    int16_t *wq = (int16_t *)(dots + G * cap); /* (G, cap) */
    int64_t nb = (L + KEY_BLOCK - 1) / KEY_BLOCK, npairs = (L + 1) / 2;
    const int16_t *q = w->qq + (r * H + hk * G) * D;
#if ISA_LEVEL == ISA_VNNI
    qk_vnni(q, G, keys, nb, D, dots, cap);
#elif ISA_LEVEL == ISA_AVX2
    qk_avx2(q, G, keys, nb, D, dots, cap);
#else
    qk_generic(q, G, keys, nb, D, dots, cap);
#endif
    float total[64], scale[64];
    for (int64_t g = 0; g < G; g++)
        total[g] = softmax_row(m, dots + g * cap, L, w->qsc[r * H + hk * G + g], ks, vs, s, tree, wq + g * cap, &scale[g]);
    int64_t num[4096];
#if ISA_LEVEL == ISA_VNNI
    pv_vnni(wq, G, cap, vals, npairs, D, num);
#elif ISA_LEVEL == ISA_AVX2
    pv_avx2(wq, G, cap, vals, npairs, D, num);
#else
    pv_generic(wq, G, cap, vals, npairs, D, num);
#endif
    for (int64_t g = 0; g < G; g++) {
        float *out = w->h + r * H * D + (hk * G + g) * D;
        for (int64_t d = 0; d < D; d++)
            out[d] = ((float)(double)num[g * D + d] * scale[g]) / total[g];
    }
}

static void forward_thread(Work *w, int tid) {
    const Model *m = w->m;
    int64_t M = w->M, dim = m->dim, H = m->heads, Hkv = m->kv_heads, D = m->head_dim, hid = m->hidden;
    int64_t lo, hi;
    share(M, 1, tid, w->nt, &lo, &hi);
    float *nb = w->fbuf[tid];
    for (int64_t r = lo; r < hi; r++)
        memcpy(w->x + r * dim, m->embed + w->ids[r] * dim, dim * sizeof(float));
    for (int64_t li = 0; li < m->layers; li++) {
        const Layer *ly = &m->layer[li];
        for (int64_t r = lo; r < hi; r++)
            rms_norm(w->x + r * dim, ly->attn_norm, dim, m->eps, w->h + r * dim, nb);
        prepare_rows(w, w->h, dim, ly->qkv.kp, lo, hi);
        qkv_slots_plan(w, tid, li, lo, hi);
        barrier_wait(&w->bar);
        linear_rows(w, tid, &ly->qkv, w->big);
        barrier_wait(&w->bar);
        for (int64_t r = lo; r < hi; r++)
            qkv_row(w, li, r);
        barrier_wait(&w->bar);
        int64_t t0, t1;
        share(M * Hkv, 1, tid, w->nt, &t0, &t1);
        for (int64_t t = t0; t < t1; t++)
            attend(w, tid, li, t / Hkv, t % Hkv);
        barrier_wait(&w->bar);
        prepare_rows(w, w->h, H * D, ly->o.kp, lo, hi);
        barrier_wait(&w->bar);
        linear_rows(w, tid, &ly->o, w->tmp);
        barrier_wait(&w->bar);
        for (int64_t r = lo; r < hi; r++) {
            float *x = w->x + r * dim, *t = w->tmp + r * dim;
            for (int64_t i = 0; i < dim; i++)
                x[i] = x[i] + t[i];
            rms_norm(x, ly->mlp_norm, dim, m->eps, w->h + r * dim, nb);
        }
        prepare_rows(w, w->h, dim, ly->gate_up.kp, lo, hi);
        barrier_wait(&w->bar);
        linear_rows(w, tid, &ly->gate_up, w->big);
        barrier_wait(&w->bar);
        float grid = (float)m->exp_grid, half = (float)m->sig_half;
        for (int64_t r = lo; r < hi; r++) {
            const float *g = w->big + r * 2 * hid, *u = g + hid;
            float *a = w->h + r * hid;
            int64_t i = 0;
#if ISA_LEVEL == ISA_VNNI
            __m512 vg = _mm512_set1_ps(grid), lo_ = _mm512_set1_ps(-half), hi_ = _mm512_set1_ps(half);
            for (; i + 16 <= hid; i += 16) {
                __m512 gi = _mm512_loadu_ps(g + i);
                __m512 idx = _mm512_roundscale_ps(_mm512_mul_ps(gi, vg), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                idx = _mm512_min_ps(_mm512_max_ps(idx, lo_), hi_);
                __m512 sg = _mm512_i32gather_ps(_mm512_cvttps_epi32(_mm512_add_ps(idx, hi_)), m->sigmoid, 4);
                _mm512_storeu_ps(a + i, _mm512_mul_ps(_mm512_mul_ps(sg, gi), _mm512_loadu_ps(u + i)));
            }
#endif
            for (; i < hid; i++) {
                float idx = rintf(g[i] * grid);
                idx = idx < -half ? -half : (idx > half ? half : idx);
                a[i] = (m->sigmoid[(int64_t)(idx + half)] * g[i]) * u[i];
            }
        }
        prepare_rows(w, w->h, hid, ly->down.kp, lo, hi);
        barrier_wait(&w->bar);
        linear_rows(w, tid, &ly->down, w->tmp);
        barrier_wait(&w->bar);
        for (int64_t r = lo; r < hi; r++) {
            float *x = w->x + r * dim, *t = w->tmp + r * dim;
            for (int64_t i = 0; i < dim; i++)
                x[i] = x[i] + t[i];
        }
    }
    /* the final norm of the rows asked for: every row, or one per batch row (keep) */
    share(w->nout, 1, tid, w->nt, &lo, &hi);
    for (int64_t o = lo; o < hi; o++) {
        int64_t r = w->keep ? o * w->T + w->keep[o] : o;
        rms_norm(w->x + r * dim, m->norm, dim, m->eps, w->out + o * dim, nb);
    }
}

static void run_team(Work *w, WorkFn fn) {
    pthread_t th[64];
    Start st[64];
    Gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    int wanted = w->nt, started = 0;
    for (int t = 1; t < wanted; t++) {
        st[t] = (Start){w, t, fn, &gate, &w->nt};
        if (pthread_create(&th[t], NULL, thread_main, &st[t]) != 0)
            break;
        started++;
    }
    pthread_mutex_lock(&gate.mu);
    w->nt = started + 1;
    barrier_init(&w->bar, w->nt);
    gate.open = 1;
    pthread_cond_broadcast(&gate.cv);
    pthread_mutex_unlock(&gate.mu);
    fn(w, 0);
    for (int t = 1; t <= started; t++)
        pthread_join(th[t], NULL);
}

/* Buffers of a call, freed at its end. Returns 0, or -1 when out of memory. */
static int work_alloc(Work *w) {
    const Model *m = w->m;
    int64_t M = w->M, dim = m->dim, hid = m->hidden, H = m->heads, Hkv = m->kv_heads, D = m->head_dim;
    int64_t kmax = dim > hid ? dim : hid;
    if (H * D > kmax)
        kmax = H * D;
    int64_t kpmax = (kmax + 3) / 4 * 4;
    int64_t wide = (H + 2 * Hkv) * D;
    if (2 * hid > wide)
        wide = 2 * hid;
    int64_t cap = w->c ? w->c->capacity : 1;
    int64_t tree = 1;
    while (tree < (cap > kmax ? cap : kmax))
        tree *= 2;
    w->x = malloc(M * dim * sizeof(float));
    w->h = malloc(M * kmax * sizeof(float));
    w->big = malloc(M * wide * sizeof(float));
    w->tmp = malloc(M * dim * sizeof(float));
    w->acts = calloc(M, sizeof(Act));
    w->act_ptr = malloc(M * sizeof(Act *));
    w->qq = malloc(M * H * D * sizeof(int16_t));
    w->qsc = malloc(M * H * sizeof(float));
    w->acc = calloc(w->nt, sizeof(int32_t *));
    w->fbuf = calloc(w->nt, sizeof(float *));
    w->ibuf = calloc(w->nt, sizeof(int32_t *));
    char *actmem = malloc(M * (kpmax * (2 + 1 + 4 + 2)));
    if (!w->x || !w->h || !w->big || !w->tmp || !w->acts || !w->act_ptr || !w->qq || !w->qsc || !w->acc || !w->fbuf ||
        !w->ibuf || !actmem)
        return -1;
    for (int64_t r = 0; r < M; r++) {
        act_bind(&w->acts[r], actmem + r * kpmax * 9, kpmax);
        w->act_ptr[r] = &w->acts[r];
    }
    w->acc_size = 64 * 256;
    for (int t = 0; t < w->nt; t++) {
        w->acc[t] = malloc(w->acc_size * sizeof(int32_t));
        w->fbuf[t] = malloc((cap + tree + kmax) * sizeof(float));
        w->ibuf[t] = malloc((2 * (H / Hkv) * cap + 1) * sizeof(int32_t));
        if (!w->acc[t] || !w->fbuf[t] || !w->ibuf[t])
            return -1;
    }
    if (w->T == 1 && w->c) { /* a decoding step: the prefetch plans */
        if (!(w->pf = calloc(w->nt, sizeof(Prefetch))))
            return -1;
        for (int t = 0; t < w->nt; t++)
            if (!(w->pf[t].spans = malloc(M * Hkv * 2 * sizeof(Span))))
                return -1;
    }
    return 0;
}

static void work_free(Work *w) {
    if (w->acts && w->M)
        free(w->acts[0].q);
    free(w->x);
    free(w->h);
    free(w->big);
    free(w->tmp);
    free(w->acts);
    free(w->act_ptr);
    free(w->qq);
    free(w->qsc);
    for (int t = 0; t < w->nt; t++) {
        if (w->acc)
            free(w->acc[t]);
        if (w->fbuf)
            free(w->fbuf[t]);
        if (w->ibuf)
            free(w->ibuf[t]);
    }
    free(w->acc);
    free(w->fbuf);
    free(w->ibuf);
    for (int t = 0; w->pf && t < w->nt; t++)
        free(w->pf[t].spans);
    free(w->pf);
}

/* hidden(): the final normalised hidden states of tokens ids (B, T) at positions pos
   (B, T), whose keys and values are written to the cache. keep: NULL for every position
   (out: B*T x dim), else one index per batch row (out: B x dim). Returns 0, or -1 when
   out of memory, -2 on a position outside the cache. */
int ENTRY(forward)(const Model *m, const Cache *c, const int64_t *ids, const int64_t *pos, int64_t B, int64_t T,
                    const int64_t *keep, float *out, int threads) {
    Work w;
    memset(&w, 0, sizeof(w));
    w.m = m;
    w.c = c;
    w.ids = ids;
    w.pos = pos;
    w.B = B;
    w.T = T;
    w.M = B * T;
    w.keep = keep;
    w.nout = keep ? B : B * T;
    w.out = out;
    w.nt = threads < 1 ? 1 : (threads > 64 ? 64 : threads);
    w.vnni = ISA_LEVEL == ISA_VNNI;
    if (w.M == 0)
        return 0;
    for (int64_t b = 0; keep && b < B; b++)
        if (keep[b] < 0 || keep[b] >= T)
            return -2;
    if (c->capacity % KEY_GROUP || m->heads / m->kv_heads > 64 || m->head_dim > 512 || (m->heads / m->kv_heads) * m->head_dim > 4096)
        return -3;
    for (int64_t r = 0; r < w.M; r++)
        if (pos[r] < 0 || pos[r] >= c->capacity || pos[r] >= m->max_pos || ids[r] < 0 || ids[r] >= m->vocab ||
            r / T >= c->rows)
            return -2;
    int rc = 0;
    if (work_alloc(&w) == 0)
        run_team(&w, forward_thread);
    else
        rc = -1;
    work_free(&w);
    return rc;
}

/* ---- the LM head and the coder's weights -------------------------------------------- */

struct HeadWork {
    Work w;
    const float *h;
    float *logits;
};

static void head_thread(Work *w, int tid) {
    struct HeadWork *hw = (struct HeadWork *)w;
    int64_t lo, hi;
    share(w->M, 1, tid, w->nt, &lo, &hi);
    for (int64_t r = lo; r < hi; r++)
        act_prepare(&w->acts[r], hw->h + r * w->m->dim, w->m->dim, w->m->head.kp, w->m->act_levels, w->vnni);
    barrier_wait(&w->bar);
    linear_rows(w, tid, &w->m->head, hw->logits);
}

/* logits (n x vocab) of final hidden states h (n x dim). Returns 0 or -1 (memory). */
int ENTRY(head)(const Model *m, const float *h, int64_t n, float *logits, int threads) {
    struct HeadWork hw;
    memset(&hw, 0, sizeof(hw));
    Work *w = &hw.w;
    w->m = m;
    w->M = n;
    w->nt = threads < 1 ? 1 : (threads > 64 ? 64 : threads);
    w->vnni = ISA_LEVEL == ISA_VNNI;
    hw.h = h;
    hw.logits = logits;
    if (n == 0)
        return 0;
    int64_t kp = m->head.kp;
    w->acts = calloc(n, sizeof(Act));
    w->act_ptr = malloc(n * sizeof(Act *));
    char *mem = malloc(n * kp * 9);
    w->acc = calloc(w->nt, sizeof(int32_t *));
    int rc = 0;
    if (!w->acts || !w->act_ptr || !mem || !w->acc)
        rc = -1;
    for (int t = 0; rc == 0 && t < w->nt; t++)
        if (!(w->acc[t] = malloc(64 * 256 * sizeof(int32_t))))
            rc = -1;
    if (rc == 0) {
        for (int64_t r = 0; r < n; r++) {
            act_bind(&w->acts[r], mem + r * kp * 9, kp);
            w->act_ptr[r] = &w->acts[r];
        }
        run_team(w, head_thread);
    }
    for (int t = 0; w->acc && t < w->nt; t++)
        free(w->acc[t]);
    free(w->acc);
    free(mem);
    free(w->acts);
    free(w->act_ptr);
    return rc;
}

/* ExactLM.weights: exp(logit - max) from the table, widened to float64, for n rows of
   `vocab` logits; out rows are `stride` doubles apart (the coder's virtual symbols after
   the vocabulary are left as they are). */
void ENTRY(weights)(const float *logits, int64_t n, int64_t vocab, const float *table, int64_t last, int64_t grid,
                     double *out, int64_t stride) {
    float g = (float)grid, lastf = (float)last;
    for (int64_t r = 0; r < n; r++) {
        const float *l = logits + r * vocab;
        double *o = out + r * stride;
        float top = -INFINITY;
        int64_t j = 0;
#if ISA_LEVEL == ISA_VNNI
        __m512 vt = _mm512_set1_ps(-INFINITY);
        for (; j + 16 <= vocab; j += 16)
            vt = _mm512_max_ps(vt, _mm512_loadu_ps(l + j));
        top = _mm512_reduce_max_ps(vt);
#endif
        for (; j < vocab; j++)
            top = l[j] > top ? l[j] : top;
        j = 0;
#if ISA_LEVEL == ISA_VNNI
        __m512 vtop = _mm512_set1_ps(top), vg = _mm512_set1_ps(g), vlast = _mm512_set1_ps(lastf);
        for (; j + 16 <= vocab; j += 16) {
            __m512 i = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_sub_ps(vtop, _mm512_loadu_ps(l + j)), vg),
                                            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            i = _mm512_min_ps(_mm512_max_ps(i, _mm512_setzero_ps()), vlast);
            __m512 e = _mm512_i32gather_ps(_mm512_cvttps_epi32(i), table, 4);
            _mm512_storeu_pd(o + j, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
            _mm512_storeu_pd(o + j + 8, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
        }
#endif
        for (; j < vocab; j++) {
            float i = rintf((top - l[j]) * g);
            i = i < 0.0f ? 0.0f : (i > lastf ? lastf : i);
            o[j] = (double)table[(int64_t)i];
        }
    }
}

/* ---- the adaptive bias of online.py ----------------------------------------------------- */

/* Online.adjust's bias and fixed-point part on one row q (vocab doubles, modified in
   place): q *= table[index] (if bias), q = floor(q * 2^32), p = q / norm (if bias).
   Returns norm (the exact integer sum, as a double). */
double ENTRY(online_adjust)(double *q, int64_t vocab, const double *table, const int64_t *index, double *p,
                             int bias) {
    const double fixed = 4294967296.0;
    int64_t sum = 0, j = 0;
#if ISA_LEVEL == ISA_VNNI
    __m512i vsum = _mm512_setzero_si512();
    __m512d vf = _mm512_set1_pd(fixed);
    for (; j + 8 <= vocab; j += 8) {
        __m512d v = _mm512_loadu_pd(q + j);
        if (bias)
            v = _mm512_mul_pd(v, _mm512_i64gather_pd(_mm512_loadu_si512((const void *)(index + j)), table, 8));
        v = _mm512_roundscale_pd(_mm512_mul_pd(v, vf), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        _mm512_storeu_pd(q + j, v);
        vsum = _mm512_add_epi64(vsum, _mm512_cvttpd_epi64(v)); /* integers below 2^33: exact in any order */
    }
    sum = _mm512_reduce_add_epi64(vsum);
#endif
    for (; j < vocab; j++) {
        double v = q[j];
        if (bias)
            v = v * table[index[j]];
        v = floor(v * fixed);
        q[j] = v;
        sum += (int64_t)v;
    }
    double norm = (double)sum;
    if (bias)
        for (int64_t j = 0; j < vocab; j++)
            p[j] = q[j] / norm;
    return norm;
}

/* Online.update's bias step: b -= rate * p; b[symbol] += rate (if in the vocabulary);
   clip to [-limit, limit]; index = rint(b * grid) + limit * grid. */
void ENTRY(online_update)(double *b, const double *p, int64_t vocab, double rate, int64_t symbol, double limit,
                           double grid, int64_t *index, double *rounded) {
    int64_t offset = (int64_t)(limit * grid);
    for (int64_t j = 0; j < vocab; j++)
        b[j] = b[j] - rate * p[j];
    if (symbol >= 0 && symbol < vocab)
        b[symbol] = b[symbol] + rate;
    for (int64_t j = 0; j < vocab; j++) {
        double v = b[j];
        v = v < -limit ? -limit : (v > limit ? limit : v);
        b[j] = v;
        double r = nearbyint(v * grid);
        rounded[j] = r;
        index[j] = (int64_t)r + offset;
    }
}

/* ---- attention products for the torch path (kernels.py) --------------------------------- */

/* s[bh][g][l] = sum_d q[bh][g][d] * k[bh][l][d] as float (exact: |s| < 2^24). */
