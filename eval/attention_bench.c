/* The decoder's attention products (engine.h's q.k and p.v, AVX512-VNNI) reading the
   cache from memory, as a decoding step does, against reading it from cache: how far a
   step's attention is from the machine's memory bandwidth.

       gcc -O3 -ffp-contract=off -pthread -o /tmp/attention_bench eval/attention_bench.c -lm
       /tmp/attention_bench [POSITIONS] [ROWS]      # defaults: 900 positions, 22 rows

   ROWS x 30 layers x 3 KV heads of SmolLM2-135M (head_dim 64, 3 queries a KV head),
   each POSITIONS long, are passed over once per timing ("memory": every head once; "cache":
   the same 4 heads again and again). Random integers in the engine's own layout; the
   products are the engine's, compiled from its source. Needs an AVX512-VNNI CPU. */
#include "engine_bench.h"
#if ENGINE_BENCH

int main(int argc, char **argv) {
    if (need_vnni())
        return 2;
    const int64_t D = 64, G = 3, L = argc > 1 ? atol(argv[1]) : 900, rows = argc > 2 ? atol(argv[2]) : 22;
    const int64_t heads = rows * 30 * 3, cap = (L + KEY_GROUP - 1) / KEY_GROUP * KEY_GROUP;
    const int64_t nb = (L + KEY_BLOCK - 1) / KEY_BLOCK, npairs = (L + 1) / 2;
    int16_t *keys = aligned_alloc(64, heads * cap * D * sizeof(int16_t));
    int8_t *vals = aligned_alloc(64, heads * cap * D);
    int16_t q[3 * 64], *wq = calloc(G * cap + 1, sizeof(int16_t));
    int32_t *dots = calloc(G * cap, sizeof(int32_t));
    int64_t num[3 * 64], sink = 0;
    if (!keys || !vals || !wq || !dots)
        return 1;
    srand(1);
    for (int64_t h = 0; h < heads; h++)
        for (int64_t p = 0; p < cap; p++)
            for (int64_t d = 0; d < D; d++) {
                keys[h * cap * D + key_at(p, d, D)] = (int16_t)(rand() % 1023 - 511);
                vals[h * cap * D + value_at(p, d, D)] = (int8_t)(rand() % 255 - 127);
            }
    for (int i = 0; i < G * D; i++)
        q[i] = (int16_t)(rand() % 1023 - 511);
    for (int64_t i = 0; i < G * cap; i++)
        wq[i] = (int16_t)(rand() % 32767);
    printf("%ld rows x 90 heads x %ld positions: keys %.0f MB, values %.0f MB\n", rows, L,
           heads * L * D * 2 / 1e6, heads * L * D / 1e6);
    for (int rep = 0; rep < 4; rep++) {
        double t[5];
        t[0] = now();
        for (int64_t h = 0; h < heads; h++, sink += dots[L - 1])
            qk_vnni(q, G, keys + h * cap * D, nb, D, dots, cap);
        t[1] = now();
        for (int64_t h = 0; h < heads; h++, sink += dots[L - 1])
            qk_vnni(q, G, keys + (h % 4) * cap * D, nb, D, dots, cap);
        t[2] = now();
        for (int64_t h = 0; h < heads; h++, sink += num[0])
            pv_vnni(wq, G, cap, vals + h * cap * D, npairs, D, num);
        t[3] = now();
        for (int64_t h = 0; h < heads; h++, sink += num[0])
            pv_vnni(wq, G, cap, vals + (h % 4) * cap * D, npairs, D, num);
        t[4] = now();
        printf("q.k: memory %.2f ms (%.1f GB/s), cache %.2f ms | p.v: memory %.2f ms (%.1f GB/s), cache %.2f ms\n",
               (t[1] - t[0]) * 1e3, heads * L * D * 2 / (t[1] - t[0]) / 1e9, (t[2] - t[1]) * 1e3,
               (t[3] - t[2]) * 1e3, heads * L * D / (t[3] - t[2]) / 1e9, (t[4] - t[3]) * 1e3);
    }
    return (int)(sink & 0);
}
#endif
