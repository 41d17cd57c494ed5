/* The decoder's linear products (engine.h's linear_part, AVX512-VNNI) for a decoding step's
   rows, with the weights in cache or in memory, in 4 KB or 2 MB pages: how far a step's
   linear layers are from the VNNI rate, and what the TLB costs them.

       gcc -O3 -ffp-contract=off -pthread -o /tmp/linear_bench eval/linear_bench.c -lm
       /tmp/linear_bench [OUTPUTS INPUTS ROWS HIGH COPIES]   # defaults: 3072 576 22 0.03 40

   OUTPUTS x INPUTS int8 weights (SmolLM2-135M: gate_up 3072 x 576, down 576 x 1536, qkv
   960 x 576, the LM head 49152 x 576), ROWS activation rows of which a share HIGH of the
   inputs have a high part (|q| > 127; the real decoder's activations give 10-13% of
   groups of 4). The first line reads one copy of the weights again and again (from cache
   where they fit: not the LM head's 28 MB); the next two cycle through COPIES copies, so
   that with 40 of them (70 MB for gate_up) each pass reads its weights from memory, as a
   decoding step does, in ordinary pages and then advised MADV_HUGEPAGE (memory.py's).
   Each line gives the best of the passes, counting the high parts' products too. Random
   numbers; the products are the engine's, compiled from its source. Needs an
   AVX512-VNNI CPU. */
#include "engine_bench.h"
#if ENGINE_BENCH
#include <sys/mman.h>

static void run(int64_t n, int64_t k, int64_t M, double high, int copies, int huge) {
    const int64_t np = (n + 15) / 16 * 16, kp = (k + 3) / 4 * 4, page = 2 << 20;
    size_t bytes = (size_t)((np * kp * copies + page) / page * page);
    int8_t *w = aligned_alloc(page, bytes);
    if (huge)
        madvise(w, bytes, MADV_HUGEPAGE);
    for (size_t i = 0; i < (size_t)(np * kp * copies); i++)
        w[i] = (int8_t)(rand() % 255 - 127);
    int32_t *colsum = calloc(np, sizeof(int32_t));
    float *scale = malloc(np * sizeof(float)), *x = malloc(k * sizeof(float)), *y = malloc(M * n * sizeof(float));
    for (int64_t i = 0; i < np; i++)
        scale[i] = 1.0f;
    Lin L = {n, k, np, kp, w, colsum, scale, NULL};
    Act *acts = calloc(M, sizeof(Act));
    Act **rows = malloc(M * sizeof(Act *));
    char *mem = malloc(M * kp * 9);
    int32_t *acc = malloc(64 * 256 * sizeof(int32_t));
    int64_t groups = 0;
    for (int64_t r = 0; r < M; r++) {
        act_bind(&acts[r], mem + r * kp * 9, kp);
        rows[r] = &acts[r];
        for (int64_t i = 0; i < k; i++) /* most inputs within a quarter of the row's largest */
            x[i] = (double)rand() / RAND_MAX < high ? 0.5f + 0.5f * rand() / RAND_MAX : 0.24f * (2.0f * rand() / RAND_MAX - 1);
        x[0] = 1.0f;
        act_prepare(&acts[r], x, k, kp, 511, 1);
        groups += acts[r].ng;
    }
    double best = 1e9;
    for (int rep = 0; rep < 2 * copies + 20; rep++) {
        L.packed = w + (int64_t)(rep % copies) * np * kp;
        double t = now();
        for (int64_t n0 = 0; n0 < np; n0 += 256)
            linear_part(rows, M, &L, n0, n0 + 256 < np ? n0 + 256 : np, acc, y, n, NULL);
        t = now() - t;
        best = t < best ? t : best;
    }
    double main_pass = (double)M * np * kp / 64, high_pass = (double)groups * np / 16;
    printf("%5ld x %4ld, %ld rows, %2d cop%s, %s pages: %.3f ms, %.1f%% of groups high, %.2f G vpdpbusd/s\n", n, k,
           M, copies, copies > 1 ? "ies" : "y  ", huge ? "2 MB" : "4 KB", best * 1e3, 100.0 * groups / (M * kp / 4),
           (main_pass + high_pass) / best / 1e9);
    free(w), free(colsum), free(scale), free(x), free(y), free(acts), free(rows), free(mem), free(acc);
}

int main(int argc, char **argv) {
    if (need_vnni())
        return 2;
    int64_t n = argc > 1 ? atol(argv[1]) : 3072, k = argc > 2 ? atol(argv[2]) : 576, M = argc > 3 ? atol(argv[3]) : 22;
    double high = argc > 4 ? atof(argv[4]) : 0.03;
    int copies = argc > 5 ? atoi(argv[5]) : 40;
    srand(1);
    run(n, k, M, high, 1, 0);
    run(n, k, M, high, copies, 0);
    run(n, k, M, high, copies, 1);
    return 0;
}
#endif
