/* Int8 weight-only matrix products for one-token decode steps on an x86-64 CPU with AVX-512 (core/int8mm.py
 * builds and loads this file; README "Speed" says why it exists).
 *
 *   y[m, n] = scale[n] * sum_k w[n, k] * x[m, k]
 *
 * x: [M, K] activations (bf16 or fp32), w: int8 weights packed by int8mm.pack ([ceil(N/8)][K/16][8][16]: each
 * block of 8 output rows stored 16 columns at a time, so a block is read front to back as one stream), scale:
 * [N] per output row (x's dtype), y: [M, N] (x's dtype). K must be a multiple of 16.
 *
 * Every (m, n) sums in one fixed order whatever M is and whichever rows share the call: a 16-lane fp32
 * accumulator over k in steps of 16, the lanes then added in a fixed tree, times scale[n], rounded once to
 * the output dtype. So a row's numbers are the ones it gets alone (a shopper's answer does not depend on who
 * else is in the batch). These are torch's `_weight_int8pack_mm` sums but for 1-ulp differences in about
 * one output in 10,000.
 *
 * torch's kernel reads weights at ~11 GB/s here, a plain read of the same bytes ~25 GB/s: it walks the
 * weight rows one by one in their stored layout. This one reads each block of 8 rows as one stream and
 * prefetches ahead. The parallel loop runs on the OpenMP runtime torch already loaded (the same libgomp,
 * found by its soname), so its workers are the calling thread's torch workers.
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))
#ifndef PREFETCH_BYTES
#define PREFETCH_BYTES 8192 /* how far ahead of the block being summed */
#endif

static inline float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t f32_to_bf16(float f) { /* round to nearest even, as torch's conversion */
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* NaN stays NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

AVX512 static inline float lanes_sum(__m512 v) { /* the fixed tree: halves, quarters, pairs */
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    return _mm_cvtss_f32(q);
}

/* rows r0 .. r0+R-1 of one packed block against M activation rows (R * M accumulators in registers) */
#define BLOCK(R, M)                                                                                           \
    AVX512 static void block_##R##x##M(const float *xf, int K, const int8_t *blk, int r0, float *acc_out) {    \
        __m512 acc[R][M];                                                                                     \
        for (int r = 0; r < R; r++)                                                                           \
            for (int m = 0; m < M; m++) acc[r][m] = _mm512_setzero_ps();                                      \
        for (int k = 0; k < K; k += 16) {                                                                     \
            const int8_t *c = blk + (size_t)k * 8 + r0 * 16;                                                  \
            _mm_prefetch((const char *)c + PREFETCH_BYTES, _MM_HINT_T0);                                      \
            _mm_prefetch((const char *)c + PREFETCH_BYTES + 64, _MM_HINT_T0);                                 \
            for (int r = 0; r < R; r++) {                                                                     \
                __m512 wv = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_load_si128((const __m128i *)(c + r * 16)))); \
                for (int m = 0; m < M; m++) acc[r][m] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(xf + m * K + k), acc[r][m]); \
            }                                                                                                 \
        }                                                                                                     \
        for (int r = 0; r < R; r++)                                                                           \
            for (int m = 0; m < M; m++) acc_out[m * 8 + r0 + r] = lanes_sum(acc[r][m]);                       \
    }
BLOCK(8, 1)
BLOCK(8, 2)
BLOCK(4, 3)
BLOCK(4, 4)

int int8mm_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma");
}

/* 0 on success; -1: K not a multiple of 16; -2: out of memory */
AVX512 int int8mm(const void *x, const int8_t *w, const void *scale, void *y, int M, int N, int K, int f32,
                  int threads) {
    if (K % 16) return -1;
    float *xf = aligned_alloc(64, ((size_t)M * K * sizeof(float) + 63) / 64 * 64);
    if (!xf) return -2;
    for (size_t i = 0; i < (size_t)M * K; i++)
        xf[i] = f32 ? ((const float *)x)[i] : bf16_to_f32(((const uint16_t *)x)[i]);
    int blocks = (N + 7) / 8;
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (int b = 0; b < blocks; b++) {
        const int8_t *blk = w + (size_t)b * 8 * K;
        float acc[4 * 8];
        for (int m0 = 0; m0 < M; m0 += 4) {
            int c = M - m0 < 4 ? M - m0 : 4;
            const float *xm = xf + (size_t)m0 * K;
            if (c == 1) block_8x1(xm, K, blk, 0, acc);
            else if (c == 2) block_8x2(xm, K, blk, 0, acc);
            else if (c == 3) { block_4x3(xm, K, blk, 0, acc); block_4x3(xm, K, blk, 4, acc); }
            else { block_4x4(xm, K, blk, 0, acc); block_4x4(xm, K, blk, 4, acc); }
            for (int m = 0; m < c; m++)
                for (int r = 0; r < 8 && b * 8 + r < N; r++) {
                    size_t n = (size_t)b * 8 + r, at = (size_t)(m0 + m) * N + n;
                    if (f32) ((float *)y)[at] = acc[m * 8 + r] * ((const float *)scale)[n];
                    else ((uint16_t *)y)[at] = f32_to_bf16(acc[m * 8 + r] * bf16_to_f32(((const uint16_t *)scale)[n]));
                }
        }
    }
    free(xf);
    return 0;
}
