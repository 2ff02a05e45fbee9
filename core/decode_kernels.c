/* A one-token decode step's kernels for an x86-64 CPU with AVX-512 (core/decode_kernels.py builds and loads
 * this file; README "Speed" says why it exists).
 *
 * packed_mm: y[m, n] = scale[n] * sum_k w[n, k] * x[m, k] (int8 weights), or sum_k w[n, k] * x[m, k]
 * (weights of x's own dtype). x: [M, K] activations (bf16 or fp32); w packed by decode_kernels.pack
 * ([ceil(N/8)][K/16][8][16]: each block of 8 output rows stored 16 columns at a time, so a block is read front
 * to back as one stream, prefetched ahead); scale: [N] per output row; y: [M, N]. K a multiple of 16.
 * Every (m, n) sums in one fixed order whatever M is and whichever rows share the call: a 16-lane fp32
 * accumulator over k in steps of 16, the lanes then added in a fixed tree, rounded once to the output dtype,
 * so a row's numbers are the ones it gets alone (a shopper's answer does not depend on who else is in the
 * batch). For int8 weights these are torch's `_weight_int8pack_mm` sums but for 1-ulp differences in about
 * one output in 10,000; torch's kernel reads the weights at ~11 GB/s here, this one at ~25 GB/s, a plain
 * read's speed. int8 weights against bf16 activations on a CPU with AVX-512 VNNI take packed_mm_vnni instead:
 * exact integer sums (see there).
 *
 * rms_norm, silu_mul, attend: the rest of a step, row by row. layers_step: every layer of a step in one call.
 * greedy_pick: a step's greedy choice per row.
 * The parallel loops run on the OpenMP runtime torch already loaded (the same libgomp, found by its soname),
 * so their workers are the calling thread's torch workers.
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

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

static inline float ld(const void *p, size_t i, int f32) {
    return f32 ? ((const float *)p)[i] : bf16_to_f32(((const uint16_t *)p)[i]);
}

static inline void st(void *p, size_t i, float v, int f32) {
    if (f32) ((float *)p)[i] = v;
    else ((uint16_t *)p)[i] = f32_to_bf16(v);
}

static inline float rnd(float v, int f32) { return f32 ? v : bf16_to_f32(f32_to_bf16(v)); }

AVX512 static inline float lanes_sum(__m512 v) { /* the fixed tree: halves, quarters, pairs */
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    return _mm_cvtss_f32(q);
}

/* rows r0 .. r0+R-1 of one packed block against M activation rows (R * M accumulators in registers), for one
 * kind of weight: T its element type, LOADW(p) 16 of them from p as fp32 lanes */
#define LOAD_I8(p) _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p))))
#define LOAD_BF16(p) _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p))), 16))
#define LOAD_F32(p) _mm512_loadu_ps((const float *)(p))
#define BLOCK(NAME, T, LOADW, R, M)                                                                           \
    AVX512 static void NAME##_##R##x##M(const float *xf, int K, const T *blk, int r0, float *acc_out) {        \
        __m512 acc[R][M];                                                                                     \
        for (int r = 0; r < R; r++)                                                                           \
            for (int m = 0; m < M; m++) acc[r][m] = _mm512_setzero_ps();                                      \
        for (int k = 0; k < K; k += 16) {                                                                     \
            const T *c = blk + (size_t)k * 8 + r0 * 16;                                                       \
            for (int line = 0; line < (int)sizeof(T) * 2; line++) /* the 16 x 8 weights' cache lines */       \
                _mm_prefetch((const char *)c + PREFETCH_BYTES * (int)sizeof(T) + 64 * line, _MM_HINT_T0);     \
            for (int r = 0; r < R; r++) {                                                                     \
                __m512 wv = LOADW(c + r * 16);                                                                \
                for (int m = 0; m < M; m++) acc[r][m] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(xf + m * K + k), acc[r][m]); \
            }                                                                                                 \
        }                                                                                                     \
        for (int r = 0; r < R; r++)                                                                           \
            for (int m = 0; m < M; m++) acc_out[m * 8 + r0 + r] = lanes_sum(acc[r][m]);                       \
    }
#define BLOCKS(NAME, T, LOADW)                                                                                \
    BLOCK(NAME, T, LOADW, 8, 1) BLOCK(NAME, T, LOADW, 8, 2) BLOCK(NAME, T, LOADW, 4, 3) BLOCK(NAME, T, LOADW, 4, 4) \
    AVX512 static void NAME(const float *xm, int K, const void *w, int b, int c, float *acc) {                \
        const T *blk = (const T *)w + (size_t)b * 8 * K;                                                      \
        if (c == 1) NAME##_8x1(xm, K, blk, 0, acc);                                                           \
        else if (c == 2) NAME##_8x2(xm, K, blk, 0, acc);                                                      \
        else if (c == 3) { NAME##_4x3(xm, K, blk, 0, acc); NAME##_4x3(xm, K, blk, 4, acc); }                  \
        else { NAME##_4x4(xm, K, blk, 0, acc); NAME##_4x4(xm, K, blk, 4, acc); }                              \
    }
BLOCKS(block_i8, int8_t, LOAD_I8)
BLOCKS(block_bf16, uint16_t, LOAD_BF16)
BLOCKS(block_f32, float, LOAD_F32)

int int8mm_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma");
}

static int packed_mm_vnni(const void *x, const void *w, const void *scale, void *y, int M, int N, int K,
                          int threads, const void *residual);

/* y = x @ w.T (times scale[n] for int8 weights), w packed. int8_weights: 1 for int8 weights with `scale`, 2 for
 * int8 weights in the VNNI layout with `scale` (bf16 x only; see packed_mm_vnni), 0 for weights of x's own
 * dtype (scale unused). 0 on success; -1: K not a multiple of 16; -2: out of memory.
 * residual: NULL, or [M, N] added to the product once it is rounded to the output dtype (torch's
 * `residual + product`, one more rounding). */
AVX512 int packed_mm(const void *x, const void *w, const void *scale, void *y, int M, int N, int K, int f32,
                     int int8_weights, int threads, const void *residual) {
    if (K % 16) return -1;
    if (int8_weights == 2) return f32 ? -3 : packed_mm_vnni(x, w, scale, y, M, N, K, threads, residual);
    float *xf = aligned_alloc(64, ((size_t)M * K * sizeof(float) + 63) / 64 * 64);
    if (!xf) return -2;
    for (size_t i = 0; i < (size_t)M * K; i++)
        xf[i] = f32 ? ((const float *)x)[i] : bf16_to_f32(((const uint16_t *)x)[i]);
    void (*block)(const float *, int, const void *, int, int, float *) =
        int8_weights ? block_i8 : f32 ? block_f32 : block_bf16;
    int blocks = (N + 7) / 8;
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (int b = 0; b < blocks; b++) {
        float acc[4 * 8];
        for (int m0 = 0; m0 < M; m0 += 4) {
            int c = M - m0 < 4 ? M - m0 : 4;
            block(xf + (size_t)m0 * K, K, w, b, c, acc);
            for (int m = 0; m < c; m++)
                for (int r = 0; r < 8 && b * 8 + r < N; r++) {
                    size_t n = (size_t)b * 8 + r, at = (size_t)(m0 + m) * N + n;
                    float v = acc[m * 8 + r];
                    if (int8_weights) v *= ld(scale, n, f32);
                    v = rnd(v, f32);
                    st(y, at, residual ? ld(residual, at, f32) + v : v, f32);
                }
        }
    }
    free(xf);
    return 0;
}

/* ---- the rest of a decode step, row by row: each row's numbers are its own (no sum crosses rows) ---------- */

AVX512 static inline __m512 ld16(const void *p, size_t i, int f32) {
    if (f32) return _mm512_loadu_ps((const float *)p + i);
    __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)p + i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* the first n (<= 16) values from p as fp32 lanes, zeros after */
AVX512 static inline __m512 ld16n(const void *p, size_t i, int f32, int n) {
    if (n >= 16) return ld16(p, i, f32);
    __mmask16 m = (__mmask16)((1u << n) - 1);
    if (f32) return _mm512_maskz_loadu_ps(m, (const float *)p + i);
    __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)p + i);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* ---- int8 weights against bf16 activations on AVX-512 VNNI (vpdpbusd: 4 byte products summed per 32-bit lane) ----
 * Each activation row is turned into exact integers first: q[k] = x[k] / step rounded, step = 2^(e - 22) for the
 * row's largest |x| in [2^(e-1), 2^e), so |q| < 2^22 and every element within 2^-14 of the row's largest is exact
 * (bf16 holds 8 significant bits); q is split into three signed 8-bit digits (q = d2 * 65536 + d1 * 256 + d0).
 * The weights are stored as unsigned bytes w + 128 ([ceil(N/64) groups of 64 output rows][K/4][64][4]: a group's
 * 64 rows 4 columns at a time, one stream of four 64-byte lines per 4 columns), so sum_k (w + 128) d = sum_k w d + 128 sum_k d,
 * and each digit's sum over k is exact in 32-bit lanes (K < 65,000). The three sums recombine exactly (int64),
 * then times step and the row's scale, rounded once to fp32 and then to the output dtype. Exact integer sums
 * have no order, so a row's numbers cannot depend on the rows beside it; and a 4-row call costs ~2 vpdpbusd per
 * 64 weights and row where fp32 FMAs cost 5.3 instructions (int8 -> fp32 conversions included). */
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,fma")))
#define DIGITS 3
#define VROWS 64 /* output rows per group of packed blocks (the packing pads N to a multiple) */

int vnni_supported(void) {
    __builtin_cpu_init();
    return int8mm_supported() && !!__builtin_cpu_supports("avx512vnni");
}

/* one group of 64 output rows (4 lines of 16 rows x 4 columns per 4 columns, one stream) against M (1 or 2)
 * activation rows: out[m][t][64] */
#define VBLOCK(M)                                                                                             \
    VNNI static void vblock_##M(const int8_t *dig, int K, const uint8_t *grp, int32_t *out) {                \
        __m512i acc[4][M][DIGITS];                                                                            \
        for (int b = 0; b < 4; b++)                                                                           \
            for (int m = 0; m < M; m++)                                                                       \
                for (int t = 0; t < DIGITS; t++) acc[b][m][t] = _mm512_setzero_si512();                       \
        for (int k = 0; k < K; k += 4) {                                                                      \
            const uint8_t *c = grp + (size_t)k * VROWS;                                                       \
            __m512i wv[4];                                                                                    \
            for (int b = 0; b < 4; b++) {                                                                     \
                _mm_prefetch((const char *)c + PREFETCH_BYTES + 64 * b, _MM_HINT_T0);                         \
                wv[b] = _mm512_loadu_si512((const void *)(c + 64 * b));                                       \
            }                                                                                                 \
            for (int m = 0; m < M; m++)                                                                       \
                for (int t = 0; t < DIGITS; t++) {                                                            \
                    int32_t four;                                                                             \
                    memcpy(&four, dig + ((size_t)m * DIGITS + t) * K + k, 4);                                 \
                    __m512i d = _mm512_set1_epi32(four);                                                      \
                    for (int b = 0; b < 4; b++) acc[b][m][t] = _mm512_dpbusd_epi32(acc[b][m][t], wv[b], d);  \
                }                                                                                             \
        }                                                                                                     \
        for (int b = 0; b < 4; b++)                                                                           \
            for (int m = 0; m < M; m++)                                                                       \
                for (int t = 0; t < DIGITS; t++)                                                              \
                    _mm512_store_si512((void *)(out + ((size_t)m * DIGITS + t) * VROWS + b * 16), acc[b][m][t]); \
    }
VBLOCK(1) VBLOCK(2)

/* 16 fp32 lanes -> bf16, rounded to nearest even as f32_to_bf16 (NaN stays NaN) */
VNNI static inline __m256i bf16_of(__m512 v) {
    __m512i u = _mm512_castps_si512(v);
    __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff),
                                                     _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1))));
    __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    r = _mm512_mask_or_epi32(r, nan, u, _mm512_set1_epi32(0x400000));
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16));
}

/* row m of x (bf16, K a multiple of 16) -> its digits dig[t][K], their sums, and its step (NaN for a row with
 * a non-finite value: its outputs are then NaN, as a float sum would make them) */
VNNI static void digits_of(const uint16_t *x, int K, int8_t *dig, int32_t *sums, double *step) {
    __m512 mx = _mm512_setzero_ps();
    __mmask16 nan = 0; /* max_ps drops a NaN operand, so NaNs are looked for apart */
    for (int k = 0; k < K; k += 16) {
        __m512 v = ld16(x, k, 0);
        nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        mx = _mm512_max_ps(mx, _mm512_abs_ps(v));
    }
    float biggest = nan ? NAN : _mm512_reduce_max_ps(mx);
    for (int t = 0; t < DIGITS; t++) sums[t] = 0;
    if (!(biggest <= 3.4e38f) || biggest == 0.0f) { /* NaN / inf, or all zeros */
        memset(dig, 0, (size_t)DIGITS * K);
        *step = biggest == 0.0f ? 1.0 : NAN;
        return;
    }
    int e;
    frexpf(biggest, &e); /* biggest in [2^(e-1), 2^e) */
    *step = ldexp(1.0, e - 22);
    __m512 up = _mm512_set1_ps((float)(22 - e));
    __m512i s[DIGITS], c128 = _mm512_set1_epi32(128), c255 = _mm512_set1_epi32(255);
    for (int t = 0; t < DIGITS; t++) s[t] = _mm512_setzero_si512();
    for (int k = 0; k < K; k += 16) {
        __m512i q = _mm512_cvtps_epi32(_mm512_scalef_ps(ld16(x, k, 0), up)); /* round to nearest even */
        for (int t = 0; t < DIGITS; t++) {
            __m512i d = t == DIGITS - 1 ? q : _mm512_sub_epi32(_mm512_and_si512(_mm512_add_epi32(q, c128), c255), c128);
            s[t] = _mm512_add_epi32(s[t], d);
            _mm_storeu_si128((__m128i *)(dig + (size_t)t * K + k), _mm512_cvtepi32_epi8(d));
            q = _mm512_srai_epi32(_mm512_sub_epi32(q, d), 8);
        }
    }
    for (int t = 0; t < DIGITS; t++) sums[t] = _mm512_reduce_add_epi32(s[t]);
}

/* packed_mm's int8 product for bf16 activations on the VNNI layout (see above) */
VNNI static int packed_mm_vnni(const void *x, const void *w, const void *scale, void *y, int M, int N, int K,
                               int threads, const void *residual) {
    int8_t *dig = malloc((size_t)M * DIGITS * K + 64);
    int32_t *sums = malloc(sizeof(int32_t) * (size_t)M * DIGITS);
    double *step = malloc(sizeof(double) * (size_t)M);
    if (!dig || !sums || !step) { free(dig); free(sums); free(step); return -2; }
    for (int m = 0; m < M; m++)
        digits_of((const uint16_t *)x + (size_t)m * K, K, dig + (size_t)m * DIGITS * K, sums + m * DIGITS, step + m);
    int groups = (N + VROWS - 1) / VROWS;
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (int g = 0; g < groups; g++) {
        int32_t acc[2 * DIGITS * VROWS] __attribute__((aligned(64)));
        const uint8_t *grp = (const uint8_t *)w + (size_t)g * VROWS * K;
        for (int m0 = 0; m0 < M; m0 += 2) {
            int c = M - m0 < 2 ? M - m0 : 2;
            if (c == 1) vblock_1(dig + (size_t)m0 * DIGITS * K, K, grp, acc);
            else vblock_2(dig + (size_t)m0 * DIGITS * K, K, grp, acc);
            for (int m = 0; m < c; m++) {
                const int32_t *o = acc + (size_t)m * DIGITS * VROWS, *sm = sums + (size_t)(m0 + m) * DIGITS;
                __m512d stp = _mm512_set1_pd(step[m0 + m]);
                for (int r = 0; r < VROWS && g * VROWS + r < N; r += 16) {
                    size_t n = (size_t)g * VROWS + r, at = (size_t)(m0 + m) * N + n;
                    int left = N - (int)n < 16 ? N - (int)n : 16;
                    __mmask16 keep = (__mmask16)((1u << left) - 1);
                    __m512d v[2] = {_mm512_setzero_pd(), _mm512_setzero_pd()};
                    for (int t = DIGITS - 1; t >= 0; t--) { /* exact: |v| < 2^47 */
                        __m512i d = _mm512_sub_epi32(_mm512_load_si512((const void *)(o + t * VROWS + r)),
                                                     _mm512_set1_epi32(128 * sm[t]));
                        __m512d lo = _mm512_cvtepi32_pd(_mm512_castsi512_si256(d));
                        __m512d hi = _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(d, 1));
                        v[0] = _mm512_fmadd_pd(v[0], _mm512_set1_pd(256.0), lo);
                        v[1] = _mm512_fmadd_pd(v[1], _mm512_set1_pd(256.0), hi);
                    }
                    __m512 sc = ld16n(scale, n, 0, left);
                    __m256 f0 = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_mul_pd(v[0], stp), _mm512_cvtps_pd(_mm512_castps512_ps256(sc))));
                    __m256 f1 = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_mul_pd(v[1], stp), _mm512_cvtps_pd(_mm512_extractf32x8_ps(sc, 1))));
                    __m512 f = _mm512_insertf32x8(_mm512_castps256_ps512(f0), f1, 1);
                    __m256i out = bf16_of(f);
                    if (residual) {
                        __m512 back = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(out), 16));
                        out = bf16_of(_mm512_add_ps(ld16n(residual, at, 0, left), back));
                    }
                    _mm256_mask_storeu_epi16((uint16_t *)y + at, keep, out);
                }
            }
        }
    }
    free(dig); free(sums); free(step);
    return 0;
}

/* e^x for 16 lanes: x = n ln2 + r (ln2 in two parts, |r| <= ln2 / 2), e^r by its degree-6 Taylor polynomial
 * (relative error under 2e-7 on that range), times 2^n; below -87.3 (and -inf) gives 0 */
AVX512 static inline __m512 vexp(__m512 x) {
    const __m512 lo = _mm512_set1_ps(-87.33654f), hi = _mm512_set1_ps(88.72283f);
    __mmask16 small = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
    x = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_maskz_mov_ps(~small, _mm512_scalef_ps(p, n));
}

/* LlamaRMSNorm per row: out = weight * dtype(x * rsqrt(mean(x^2) + eps)), the mean's sum in 16 fp32 lanes
 * (n a multiple of 16). */
AVX512 void rms_norm(const void *x, const void *weight, void *out, int rows, int n, float eps, int f32) {
    for (int b = 0; b < rows; b++) {
        size_t o = (size_t)b * n;
        __m512 acc = _mm512_setzero_ps();
        for (int i = 0; i < n; i += 16) {
            __m512 v = ld16(x, o + i, f32);
            acc = _mm512_fmadd_ps(v, v, acc);
        }
        float inv = 1.0f / sqrtf(lanes_sum(acc) / (float)n + eps);
        for (int i = 0; i < n; i++) st(out, o + i, ld(weight, i, f32) * rnd(ld(x, o + i, f32) * inv, f32), f32);
    }
}

/* out = dtype(silu(g) * u) per element, gu = [rows, 2 * inter] (gate then up, one product's output);
 * inter a multiple of 16 */
AVX512 void silu_mul(const void *gu, void *out, int rows, int inter, int f32) {
    float tmp[16] __attribute__((aligned(64)));
    for (int b = 0; b < rows; b++)
        for (int i = 0; i < inter; i += 16) {
            __m512 g = ld16(gu, (size_t)b * 2 * inter + i, f32), u = ld16(gu, (size_t)b * 2 * inter + inter + i, f32);
            __m512 e = vexp(_mm512_sub_ps(_mm512_setzero_ps(), g));
            __m512 v = _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), u);
            _mm512_store_ps(tmp, v);
            for (int j = 0; j < 16; j++) st(out, (size_t)b * inter + i + j, tmp[j], f32);
        }
}

/* lanes_sum of each of 16 vectors at once, lane i for a[i]: the same tree (halves, quarters, pairs, then the
 * last two) pair by pair across vectors, so each sum is bitwise lanes_sum's, in ~46 instructions instead of
 * 16 horizontal reductions */
AVX512 static inline __m512 lanes_sum16(const __m512 a[16]) {
    __m512 c[8], f[4], r[2];
    for (int j = 0; j < 8; j++) /* lanes 0-7: a[2j]'s halves added, 8-15: a[2j+1]'s */
        c[j] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * j], a[2 * j + 1], 0x44),
                             _mm512_shuffle_f32x4(a[2 * j], a[2 * j + 1], 0xEE));
    for (int j = 0; j < 4; j++) /* 128-bit lane L: a[4j + L]'s quarters added */
        f[j] = _mm512_add_ps(_mm512_shuffle_f32x4(c[2 * j], c[2 * j + 1], 0x88),
                             _mm512_shuffle_f32x4(c[2 * j], c[2 * j + 1], 0xDD));
    for (int j = 0; j < 2; j++) /* lane L: [a[8j+L] pairs, a[8j+4+L] pairs] */
        r[j] = _mm512_add_ps(_mm512_shuffle_ps(f[2 * j], f[2 * j + 1], 0x44),
                             _mm512_shuffle_ps(f[2 * j], f[2 * j + 1], 0xEE));
    __m512 u = _mm512_add_ps(_mm512_shuffle_ps(r[0], r[1], 0x88), _mm512_shuffle_ps(r[0], r[1], 0xDD));
    /* u[4L + e] is a[L + 4e]'s sum */
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_ps(order, u);
}

/* one row's attention for one kv head and `hb` (<= 4) of its query heads (qr: their rotated queries, fp32, D
 * padded to `blocks` vectors with zeros): scores into sc[j * padded + c] (times `scale`; -inf where not valid),
 * then the softmax-weighted values into res[j * 256 ..]. Per head the sums of lanes_sum16, the column order and
 * the FMAs of one head alone; the keys and values are converted to fp32 once for the `hb` heads. */
AVX512 static inline __attribute__((always_inline)) void attend_heads(
        int hb, int blocks, const float *qr, const void *k_cache, const void *v_cache, size_t base, int D,
        const uint8_t *ok, int cols, int padded, float scale, int f32, float *sc, float *res) {
    float kf[16 * 256] __attribute__((aligned(64)));
    float mx[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    for (int c0 = 0; c0 < cols; c0 += 16) {
        int n = cols - c0 < 16 ? cols - c0 : 16;
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < blocks; j++)
                _mm512_store_ps(kf + i * blocks * 16 + j * 16,
                                i < n ? ld16n(k_cache, base + (size_t)(c0 + i) * D + j * 16, f32, D - j * 16)
                                      : _mm512_setzero_ps());
        __mmask16 valid = 0;
        for (int i = 0; i < n; i++) valid |= (__mmask16)(ok[c0 + i] ? 1u << i : 0);
        for (int h = 0; h < hb; h++) {
            __m512 acc[16];
            for (int i = 0; i < 16; i++) {
                acc[i] = _mm512_setzero_ps();
                for (int j = 0; j < blocks; j++)
                    acc[i] = _mm512_fmadd_ps(_mm512_load_ps(qr + h * 256 + j * 16), _mm512_load_ps(kf + i * blocks * 16 + j * 16), acc[i]);
            }
            __m512 s = _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), valid,
                                          _mm512_mul_ps(lanes_sum16(acc), _mm512_set1_ps(scale)));
            _mm512_store_ps(sc + h * padded + c0, s);
            float m = _mm512_reduce_max_ps(s);
            if (m > mx[h]) mx[h] = m;
        }
    }
    for (int h = 0; h < hb; h++) {
        float *row = sc + h * padded;
        for (int c = cols; c < padded; c++) row[c] = -INFINITY; /* e^-inf = 0 */
        for (int c = 0; c < padded; c += 16)
            _mm512_store_ps(row + c, vexp(_mm512_sub_ps(_mm512_load_ps(row + c), _mm512_set1_ps(mx[h]))));
    }
    __m512 o[4][16];
    float sum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int h = 0; h < hb; h++)
        for (int j = 0; j < blocks; j++) o[h][j] = _mm512_setzero_ps();
    for (int c = 0; c < cols; c++) {
        if (!ok[c]) continue;
        __m512 v[16];
        for (int j = 0; j < blocks; j++) v[j] = ld16n(v_cache, base + (size_t)c * D + j * 16, f32, D - j * 16);
        for (int h = 0; h < hb; h++) {
            float p = sc[h * padded + c];
            sum[h] += p;
            __m512 pv = _mm512_set1_ps(p);
            for (int j = 0; j < blocks; j++) o[h][j] = _mm512_fmadd_ps(pv, v[j], o[h][j]);
        }
    }
    for (int h = 0; h < hb; h++) {
        float inv = sum[h] > 0.0f ? 1.0f / sum[h] : 0.0f;
        for (int j = 0; j < blocks; j++) _mm512_store_ps(res + h * 256 + j * 16, _mm512_mul_ps(o[h][j], _mm512_set1_ps(inv)));
    }
}

/* One decode step's attention for one layer, every row on its own columns.
 * qkv: [rows, (H + 2 * KV) * D], this step's projections (q heads, k heads, v heads); cos, sin: [rows, D];
 * q and k rotated (rotate_half), the row's k and v written into cache column `col` of k_cache / v_cache
 * ([slots, KV, cap, D] each, contiguous, `cap` >= col + span); then each head of q attends over the row's
 * columns where valid[row, c] (valid: [rows, col + span] bytes), its kv head h / (H / KV), softmax in fp32 with
 * its sum in column order. out: [rows, H * D]. D at most 256. The work is split by (row, kv head): its query
 * heads share one conversion of the keys and values. 0 on success, -2: out of memory.
 * slot, offset (NULL: row b's own cache row, offset 0; span 1): row b's cache row is slot[b] and its column
 * col + offset[b], so several rows can be one answer's next tokens (a draft's verification: each attends over
 * the columns before it, by `valid`). A column outside `valid` adds nothing (its score is skipped, not summed
 * as 0), so a row's numbers are those it gets with only its valid columns present. */
AVX512 int attend(const void *qkv, const void *cos_, const void *sin_, void *k_cache, void *v_cache,
                   const uint8_t *valid, void *out, int rows, int H, int KV, int D, int cap, int col, float scale,
                   int f32, int threads, const int *slot, const int *offset, int span) {
    int width = (H + 2 * KV) * D, half = D / 2, group = H / KV, blocks = (D + 15) / 16;
    size_t esz = f32 ? 4 : 2;
    for (int b = 0; b < rows; b++) {  /* rotate k and write k, v into the cache */
        const char *row = (const char *)qkv + (size_t)b * width * esz;
        for (int g = 0; g < KV; g++) {
            const char *k = row + (size_t)(H + g) * D * esz, *v = row + (size_t)(H + KV + g) * D * esz;
            size_t at = (((size_t)(slot ? slot[b] : b) * KV + g) * cap + col + (offset ? offset[b] : 0)) * D;
            for (int d = 0; d < D; d++) {
                float c = ld(cos_, (size_t)b * D + d, f32), s = ld(sin_, (size_t)b * D + d, f32);
                float other = d < half ? -ld(k, d + half, f32) : ld(k, d - half, f32);
                st(k_cache, at + d, rnd(ld(k, d, f32) * c, f32) + rnd(other * s, f32), f32);
                st(v_cache, at + d, ld(v, d, f32), f32);
            }
        }
    }
    int cols = col + span, padded = (cols + 15) / 16 * 16, chunks = (group + 3) / 4;
    float *scores = aligned_alloc(64, sizeof(float) * (size_t)padded * rows * H);
    if (!scores) return -2;
    #pragma omp parallel for num_threads(threads) schedule(static) if ((long)rows * H * cols > 1000)
    for (int t = 0; t < rows * KV * chunks; t++) {
        int b = t / (KV * chunks), g = t / chunks % KV, h0 = g * group + t % chunks * 4;
        int hb = g * group + group - h0 < 4 ? g * group + group - h0 : 4;
        float qr[4 * 256] __attribute__((aligned(64)));
        float res[4 * 256] __attribute__((aligned(64)));
        for (int h = 0; h < hb; h++) {
            const char *q = (const char *)qkv + ((size_t)b * width + (size_t)(h0 + h) * D) * esz;
            for (int d = 0; d < blocks * 16; d++) {
                if (d >= D) { qr[h * 256 + d] = 0.0f; continue; }
                float c = ld(cos_, (size_t)b * D + d, f32), s = ld(sin_, (size_t)b * D + d, f32);
                float other = d < half ? -ld(q, d + half, f32) : ld(q, d - half, f32);
                qr[h * 256 + d] = rnd(rnd(ld(q, d, f32) * c, f32) + rnd(other * s, f32), f32);
            }
        }
        const uint8_t *ok = valid + (size_t)b * cols;
        size_t base = ((size_t)(slot ? slot[b] : b) * KV + g) * cap * D;
        float *sc = scores + ((size_t)b * H + h0) * padded;
        if (hb == 3 && blocks == 4) /* SmolLM2's heads, unrolled */
            attend_heads(3, 4, qr, k_cache, v_cache, base, D, ok, cols, padded, scale, f32, sc, res);
        else if (hb == 4 && blocks == 4)
            attend_heads(4, 4, qr, k_cache, v_cache, base, D, ok, cols, padded, scale, f32, sc, res);
        else if (hb == 1 && blocks == 4)
            attend_heads(1, 4, qr, k_cache, v_cache, base, D, ok, cols, padded, scale, f32, sc, res);
        else
            attend_heads(hb, blocks, qr, k_cache, v_cache, base, D, ok, cols, padded, scale, f32, sc, res);
        for (int h = 0; h < hb; h++)
            for (int d = 0; d < D; d++) st(out, (size_t)b * H * D + (size_t)(h0 + h) * D + d, res[h * 256 + d], f32);
    }
    free(scores);
    return 0;
}

#define LORA_SEGMENTS 3 /* projections per fused product at most (q, k, v) */

/* An adapter's LoRA factors (layers_step's parts, lora_product): per layer l and product j at at = l * 4 + j,
 * a[at] its projections' A stacked ([R, K] row-major: each projection's rank rows in turn; NULL: no LoRA on this
 * product); per projection i of the product at g = at * LORA_SEGMENTS + i, b[g] its B transposed ([r, n]
 * row-major; NULL: no LoRA on it), s[g] its scaling, r[g] its rank, n[g] its outputs and off[g] the first of them
 * in the product's (a multiple of 16, in order). f32: the factors are fp32, else the activations' dtype. */
typedef struct {
    const void **a, **b;
    const float *s;
    const int *r, *n, *off;
    int f32;
} lora_t;

/* 16 fp32 lanes -> bf16, rounded to nearest even as f32_to_bf16 (NaN stays NaN), back to fp32 lanes */
AVX512 static inline __m512 rnd16(__m512 v, int f32) {
    if (f32) return v;
    __m512i u = _mm512_castps_si512(v);
    __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff),
                                                     _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1))));
    __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    r = _mm512_mask_or_epi32(r, nan, u, _mm512_set1_epi32(0x400000));
    return _mm512_castsi512_ps(_mm512_and_si512(r, _mm512_set1_epi32((int)0xffff0000u)));
}

AVX512 static inline void st16(void *p, size_t i, __m512 v, int f32) { /* v already rounded to the dtype */
    if (f32) _mm512_storeu_ps((float *)p + i, v);
    else _mm256_storeu_si256((__m256i *)((uint16_t *)p + i),
                             _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_castps_si512(v), 16)));
}

/* lora_product's outputs lo .. hi - 1 (16 at a time, at most 64) of every row: projection g's LoRA delta (g < 0:
 * none) added to base, then the residual; rs: g's first row in t's stacked ranks */
AVX512 static void lora_run(const float *t, int R, int rs, int M, const lora_t *lt, int g, int lo,
                            int hi, int N, const void *base, void *out, const void *residual, int f32, int lf) {
    int vecs = (hi - lo) / 16;
    for (int m = 0; m < M; m++) {
        __m512 u[4];
        if (g >= 0) {
            const float *tm = t + (size_t)m * R + rs;
            size_t col = (size_t)(lo - lt->off[g]), n = (size_t)lt->n[g];
            for (int i = 0; i < vecs; i++) u[i] = _mm512_setzero_ps();
            for (int r = 0; r < lt->r[g]; r++) { /* each output over the rank in turn */
                __m512 tr = _mm512_set1_ps(tm[r]);
                for (int i = 0; i < vecs; i++)
                    u[i] = _mm512_fmadd_ps(tr, ld16(lt->b[g], r * n + col + 16 * i, lt->f32), u[i]);
            }
        }
        for (int i = 0; i < vecs; i++) {
            size_t e = (size_t)m * N + lo + 16 * i;
            __m512 v = ld16(base, e, f32);
            if (g >= 0) {
                __m512 d = rnd16(_mm512_mul_ps(rnd16(u[i], lf), _mm512_set1_ps(lt->s[g])), lf);
                v = rnd16(_mm512_add_ps(v, rnd16(d, f32)), f32);
            }
            if (residual) v = rnd16(_mm512_add_ps(ld16(residual, e, f32), v), f32);
            st16(out, e, v, f32);
        }
    }
}

/* One product's LoRA deltas for M rows, added as peft adds them for a batch's rows (LoraLayer's mixed-batch
 * forward): out = rnd(base + rnd(rnd(u * s))) for each projection's u = B (A x) in the factors' dtype (fp32, or
 * the activations' with each product rounded to it, as torch's F.linear does), the second rounding to the
 * activations' dtype; then, with `residual`, rnd(residual + out) for every output (those without LoRA too:
 * torch's `residual + result`). x: [M, K]; base, out, residual: [M, N] (base and out may be one buffer). Each
 * (row, output) sums in one fixed order (A: 16 fp32 lanes over k, then lanes_sum's tree; B: over the rank in
 * turn), whatever rows share the call. N and every projection's outputs multiples of 16. 0, or -2: no memory. */
AVX512 int lora_product(const void *x, int M, int K, const lora_t *lt, int at, const void *base, void *out,
                        const void *residual, int N, int f32, int threads) {
    int lf = lt->f32 || f32, R = 0;
    const int *rr = lt->r + at * LORA_SEGMENTS;
    for (int i = 0; i < LORA_SEGMENTS; i++) R += lt->b[at * LORA_SEGMENTS + i] ? rr[i] : 0;
    float *xf = malloc(sizeof(float) * ((size_t)M * K + (size_t)M * (R + 1)));
    if (!xf) return -2;
    float *t = xf + (size_t)M * K;
    for (size_t i = 0; i < (size_t)M * K; i++) xf[i] = ld(x, i, f32); /* peft's x.to(lora_A.weight.dtype) */
    const void *A = lt->a[at];
    int groups = (N + 63) / 64; /* 64 outputs (4 vectors) at a time, within one projection */
    #pragma omp parallel num_threads(threads)
    {
        #pragma omp for schedule(static)
        for (int r0 = 0; r0 < R; r0 += 4) /* 4 of A's rows at a time (independent sums, each in its own order) */
            for (int m = 0; m < M; m++) {
                int c = R - r0 < 4 ? R - r0 : 4;
                __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
                for (int k = 0; k < K; k += 16) {
                    __m512 xv = _mm512_loadu_ps(xf + (size_t)m * K + k);
                    for (int i = 0; i < c; i++)
                        acc[i] = _mm512_fmadd_ps(ld16(A, (size_t)(r0 + i) * K + k, lt->f32), xv, acc[i]);
                }
                for (int i = 0; i < c; i++) t[(size_t)m * R + r0 + i] = rnd(lanes_sum(acc[i]), lf);
            }
        #pragma omp for schedule(static)
        for (int q = 0; q < groups; q++) {
            int end = q * 64 + 64 < N ? q * 64 + 64 : N;
            for (int lo = q * 64, hi; lo < end; lo = hi) { /* runs of outputs within one projection (or none) */
                int g = -1, rs = 0, next = end;
                for (int i = 0, acc_r = 0; i < LORA_SEGMENTS; i++) {
                    int gi = at * LORA_SEGMENTS + i;
                    if (!lt->b[gi]) continue;
                    if (lo >= lt->off[gi] && lo < lt->off[gi] + lt->n[gi]) { g = gi; rs = acc_r; }
                    else if (lt->off[gi] > lo && lt->off[gi] < next) next = lt->off[gi];
                    acc_r += lt->r[gi];
                }
                hi = g >= 0 && lt->off[g] + lt->n[g] < end ? lt->off[g] + lt->n[g] : (g >= 0 ? end : next);
                lora_run(t, R, rs, M, lt, g, lo, hi, N, base, out, residual, f32, lf);
            }
        }
    }
    free(xf);
    return 0;
}

static int has_lora(const lora_t *lora, int at) { return lora && lora->a && lora->a[at]; }

/* Product j (0 q/k/v, 1 o, 2 gate/up, 3 down) of layer l for every part: parts that follow each other on the
 * same weights (side by side: the base's rows and an adapter's rows on the base's own weights plus its LoRA)
 * take one packed_mm call, so the weights are read once for all of them; each part's LoRA deltas are then added
 * to its own rows (lora_product), before the residual where there is one. in: [M, K]; out: [M, N]; residual:
 * out holds it (x); tmp: room for [M, N]. */
static int product(int l, int j, const void *in, void *out, void *tmp, int residual, int N, int K, int P,
                   const int *row0, const int *rows, const void ***w, const void ***scale, const int *mode,
                   const lora_t *lora, int f32, int threads) {
    size_t esz = f32 ? 4 : 2;
    int at = l * 4 + j, rc = 0;
#define ROWS_OF(buf, r, n) ((char *)(buf) + esz * (size_t)(r) * (n))
    for (int p = 0, q; p < P && !rc; p = q + 1) {
        int any = has_lora(lora ? &lora[p] : NULL, at);
        for (q = p; q + 1 < P && w[q + 1][at] == w[p][at] && mode[q + 1] == mode[p] && scale[q + 1][at] == scale[p][at]; q++)
            any |= has_lora(lora ? &lora[q + 1] : NULL, at);
        int r0 = row0[p], n = row0[q] + rows[q] - r0;
        if (!any) { /* as before: the residual added inside the product */
            rc = packed_mm(ROWS_OF(in, r0, K), w[p][at], scale[p][at], ROWS_OF(out, r0, N), n, N, K, f32, mode[p],
                           threads, residual ? ROWS_OF(out, r0, N) : NULL);
            continue;
        }
        void *base = residual ? tmp : out; /* the base product, rounded, before any LoRA or residual */
        rc = packed_mm(ROWS_OF(in, r0, K), w[p][at], scale[p][at], ROWS_OF(base, r0, N), n, N, K, f32, mode[p],
                       threads, NULL);
        for (int t = p; t <= q && !rc; t++) {
            char *o = ROWS_OF(out, row0[t], N), *b = ROWS_OF(base, row0[t], N);
            if (has_lora(&lora[t], at))
                rc = lora_product(ROWS_OF(in, row0[t], K), rows[t], K, &lora[t], at, b, o, residual ? o : NULL, N, f32,
                                  threads);
            else if (residual)
                for (size_t i = 0; i < (size_t)rows[t] * N; i++) st(o, i, rnd(ld(o, i, f32) + ld(b, i, f32), f32), f32);
        }
    }
#undef ROWS_OF
    return rc;
}

/* Every decoder layer of one decode step in one call, for rows in P parts, each part a run of rows on its own
 * set of weights (part p: rows row0[p] .. row0[p] + rows[p] - 1, weights w[p], scales scale[p], kind mode[p]
 * as packed_mm's int8_weights, and LoRA factors lora[p] where its weights are the base's own and the part's
 * adapter adds its LoRA product: lora NULL, or lora[p].a NULL, for none): per layer exactly the calls
 * core/lean_step.py's Int8Step._fused makes one by one (rms_norm, the q/k/v product, attend, the o product
 * with the residual, rms_norm, the gate/up product, silu_mul, the down product with the residual; each product
 * as `product` above), so the same numbers, without a Python call per operation. x: [M, hidden], updated in
 * place. Per layer l: ln1[l], ln2[l] norm weights; w[p][l * 4 + j], scale[p][l * 4 + j] the packed weights of
 * product j (q/k/v, o, gate/up, down; scale NULL for unquantised weights); k_cache[l], v_cache[l] with capacity
 * cap[l], this step's column `column` (every layer's; slot, offset, span: as `attend`'s). 0 on success, else the
 * first failing call's code. */
AVX512 int layers_step(int L, void *x, int M, int hidden, int inter, int H, int KV, int D, const void **ln1,
                       const void **ln2, float eps, int P, const int *row0, const int *rows, const void ***w,
                       const void ***scale, const int *mode, const lora_t *lora, void **k_cache, void **v_cache,
                       const int *cap, int column, const uint8_t *valid, const void *cos_, const void *sin_,
                       float attn_scale, int f32, int threads, const int *slot, const int *offset, int span) {
    size_t esz = f32 ? 4 : 2;
    int width = (H + 2 * KV) * D;
    char *h = malloc(esz * (size_t)M * hidden), *qkv = malloc(esz * (size_t)M * width);
    char *a = malloc(esz * (size_t)M * H * D), *gu = malloc(esz * (size_t)M * 2 * inter);
    char *act = malloc(esz * (size_t)M * inter), *tmp = malloc(esz * (size_t)M * hidden);
    int rc = (h && qkv && a && gu && act && tmp) ? 0 : -2;
#define PRODUCT(j, in, out, residual, N, K) \
    product(l, j, in, out, tmp, residual, N, K, P, row0, rows, w, scale, mode, lora, f32, threads)
    for (int l = 0; l < L && rc == 0; l++) {
        rms_norm(x, ln1[l], h, M, hidden, eps, f32);
        rc = PRODUCT(0, h, qkv, 0, width, hidden);
        if (!rc) rc = attend(qkv, cos_, sin_, k_cache[l], v_cache[l], valid, a, M, H, KV, D, cap[l], column,
                             attn_scale, f32, threads, slot, offset, span);
        if (!rc) rc = PRODUCT(1, a, x, 1, hidden, H * D);
        if (rc) break;
        rms_norm(x, ln2[l], h, M, hidden, eps, f32);
        rc = PRODUCT(2, h, gu, 0, 2 * inter, hidden);
        if (rc) break;
        silu_mul(gu, act, M, inter, f32);
        rc = PRODUCT(3, act, x, 1, hidden, inter);
    }
#undef PRODUCT
    free(h); free(qkv); free(a); free(gu); free(act); free(tmp);
    return rc;
}

/* A greedy step's choice per row, as core/generation.py's torch operations make it: each logit of a token the
 * row has seen (seen[r, v] != 0) penalised (x < 0: x * penalty, else x / penalty, in fp32) when `penalize`,
 * the `nban` tokens in ban[] at -inf for rows with young[r] != 0 (young may be NULL), then the first index of
 * the largest value (a NaN counts as largest, as in torch.argmax). out[r] gets the token, and seen[r, token] is
 * set. One pass over [rows, V] fp32 logits instead of six whole-vocabulary operations. */
static int is_banned(const int64_t *ban, int nban, int v) {
    for (int j = 0; j < nban; j++)
        if (ban[j] == v) return 1;
    return 0;
}

void greedy_pick(const float *logits, uint8_t *seen, int rows, int V, float penalty, int penalize,
                 const uint8_t *young, const int64_t *ban, int nban, int64_t *out) {
    for (int r = 0; r < rows; r++) {
        const float *x = logits + (size_t)r * V;
        const uint8_t *s = seen + (size_t)r * V;
        int banned = young && young[r];
        float best = -INFINITY;
        int64_t at = 0;
        for (int v = 0; v < V; v++) {
            float y = x[v];
            if (penalize && s[v]) y = y < 0.0f ? y * penalty : y / penalty;
            /* a banned token is -inf, which never becomes the best: skipped only where it would */
            if ((y != y || y > best) && banned && is_banned(ban, nban, v)) continue;
            if (y != y) { at = v; break; }
            if (y > best) { best = y; at = v; }
        }
        out[r] = at;
        seen[(size_t)r * V + at] = 1;
    }
}
