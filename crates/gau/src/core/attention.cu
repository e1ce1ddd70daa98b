// The GAU attention core, fused, f32: C = (Normalise(alpha_i * q_i.k_j) (.) M / (1-p)) V and its
// backward, never storing an n_q x n_k matrix (spec/gau.md §2.3, §2.4, §5, §6; the CPU twin is
// core/fused.rs + core/fused_backward.rs, which this file follows formula for formula).
//
// Layouts (row-major, one batch element after another): q [b, n_q, s], k [b, n_k, s],
// v [b, n_k, e], out/dc [b, n_q, e], lse/D [b, n_q]. rows[b*n_q + i] holds row i's constants
// (alpha_i, beta_i, lim_i, l_i: key j is visible iff j < lim_i and valid[b*n_k + j]);
// valid is read only when has_valid.
//
//   softmax form: A_ij = exp(alpha_i x_ij - lse_i) over visible j (online: running max m_i,
//                 running sum l_i, rescaled accumulator), lse_i = m_i + ln l_i
//   relu2 form:   A_ij = beta_i relu(alpha_i x_ij)^2
//   dropout:      A'_ij = A_ij * keep_ij / (1-p), keep_ij = mix64(key + idx*GAMMA) >> 32 >= threshold,
//                 idx = (b*n_q + i)*n_k + j (kernels' dropout hash on the [b, n_q, n_k] index)
//   backward:     dA'_ij = dc_i.v_j, dA_ij = dA'_ij keep_ij/(1-p), dV_j = sum_i A'_ij dc_i,
//                 softmax dx_ij = alpha_i A_ij (dA_ij - D_i), D_i = dc_i.c_i;
//                 relu2   dx_ij = 2 beta_i alpha_i relu(alpha_i x_ij) dA_ij;
//                 dQ_i = sum_j dx_ij k_j, dK_j = sum_i dx_ij q_i
//
// Tiling (every kernel, 256 threads = 8 warps): a block owns BR = 32 "rows" (queries in the
// forward and dQ, keys in dV and dK) and BW = 128 output columns (an e tile for out/dV, an s tile
// for dQ/dK, so the GAU value width e = 1536 becomes 12 column tiles; each recomputes its scores,
// which costs s/BW of the A.V work). Warp w owns rows 4w..4w+3, lane t owns score column t of
// each 32 x 32 score tile and output columns t, t+32, t+64, t+96, so a row's softmax statistics
// live in one warp (shuffle reductions, no shared-memory round trip) and each thread keeps a
// 4 x 4 accumulator. Dot products (over s, or over e for dA) are staged through shared memory
// KC = 32 columns at a time (padded rows: no bank conflicts); the weights reach the A.V-style
// product by warp shuffles and the right-hand matrix by a 32 x 128 shared tile. Shared memory is
// static (24.8 KB), independent of s and e. __launch_bounds__(256, 2) caps registers at 128 so two
// blocks share an SM (without the minimum, ptxas picked 80 registers and spilled in the forward).
// Plain FMA f32 (no tensor cores): this is the simple correct kernel, not a tuned one.

#define GAMMA 0x9E3779B97F4A7C15ull
#define BR 32
#define BC 32
#define BW 128
#define KC 32
#define THREADS 256
#define FULL 0xffffffffu
#define NEG_INF __int_as_float(0xff800000)
typedef unsigned long long u64;

// Mirrors `Params` in cuda.rs (repr(C)).
struct Params {
    int batch, n_q, n_k, s, e;
    int form;       // 0 softmax, 1 relu2
    int has_valid;  // key padding mask present
    int drop;       // dropout active
    u64 key;        // dropout_key(seed)
    u64 threshold;  // ceil(p * 2^32)
    float inv_keep;                // 1/(1-p), rounded to f32 once on the host
    int pad;
};

// Mirrors the 4 u32 words per row that cuda.rs uploads.
struct RowInfo {
    float alpha, beta;
    int lim, l;
};

__device__ __forceinline__ u64 mix64(u64 z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// w (.) keep/(1-p) for element idx of the [b, n_q, n_k] attention.
__device__ __forceinline__ float dropped(const Params& p, u64 idx, float w) {
    if (!p.drop) return w;
    return (mix64(p.key + idx * GAMMA) >> 32) >= p.threshold ? w * p.inv_keep : 0.0f;
}

__device__ __forceinline__ bool key_real(const Params& p, const int* valid, int b, int j) {
    return j < p.n_k && (!p.has_valid || valid[(u64)b * p.n_k + j] != 0);
}

__device__ __forceinline__ RowInfo row_info(const Params& p, const RowInfo* rows, int b, int i) {
    RowInfo none = {0.0f, 0.0f, 0, 0};
    return i < p.n_q ? rows[(u64)b * p.n_q + i] : none;
}

__device__ __forceinline__ float warp_max(float x) {
    for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(FULL, x, o));
    return x;
}

__device__ __forceinline__ float warp_sum(float x) {
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(FULL, x, o);
    return x;
}

// out[r] = A[a0 + 4*warp + r, :] . B[b0 + lane, :] over width w (rows past na / nb read as 0).
// Called by the whole block (it synchronises).
__device__ void tile_dot(const float* __restrict__ A, int a0, int na, const float* __restrict__ B,
                         int b0, int nb, int w, float (*As)[KC + 1], float (*Bs)[KC + 1],
                         float out[4]) {
    const int t = threadIdx.x, lane = t & 31, warp = t >> 5;
#pragma unroll
    for (int r = 0; r < 4; ++r) out[r] = 0.0f;
    for (int k0 = 0; k0 < w; k0 += KC) {
        for (int x = t; x < BR * KC; x += THREADS) {
            const int row = x / KC, col = x % KC, gk = k0 + col;
            const int ga = a0 + row, gb = b0 + row;
            As[row][col] = (ga < na && gk < w) ? A[(u64)ga * w + gk] : 0.0f;
            Bs[row][col] = (gb < nb && gk < w) ? B[(u64)gb * w + gk] : 0.0f;
        }
        __syncthreads();
#pragma unroll 8
        for (int k = 0; k < KC; ++k) {
            const float bv = Bs[lane][k];
#pragma unroll
            for (int r = 0; r < 4; ++r) out[r] += As[warp * 4 + r][k] * bv;
        }
        __syncthreads();
    }
}

// acc[r][c] += sum_j coef_j[r] * M[m0 + j, c0 + lane + 32c] for j < 32, where coef_j is lane j's
// coef (rows past nm and columns past w read as 0). Called by the whole block.
__device__ void tile_axpy(const float* __restrict__ M, int m0, int nm, int w, int c0,
                          float (*Ms)[BW], const float coef[4], float acc[4][4]) {
    const int t = threadIdx.x, lane = t & 31;
    for (int x = t; x < BC * BW; x += THREADS) {
        const int row = x / BW, col = x % BW, gm = m0 + row, gc = c0 + col;
        Ms[row][col] = (gm < nm && gc < w) ? M[(u64)gm * w + gc] : 0.0f;
    }
    __syncthreads();
#pragma unroll 4
    for (int j = 0; j < BC; ++j) {
        float cj[4];
#pragma unroll
        for (int r = 0; r < 4; ++r) cj[r] = __shfl_sync(FULL, coef[r], j);
#pragma unroll
        for (int c = 0; c < 4; ++c) {
            const float mv = Ms[j][lane + 32 * c];
#pragma unroll
            for (int r = 0; r < 4; ++r) acc[r][c] += cj[r] * mv;
        }
    }
    __syncthreads();
}

// The largest lim_i over rows i0..i0+31 with a visible key: key blocks past it are skipped.
__device__ int tile_key_limit(const Params& p, const RowInfo* rows, int b, int i0) {
    int kmax = 0;
    for (int r = 0; r < BR; ++r) {
        const RowInfo ri = row_info(p, rows, b, i0 + r);
        if (ri.l > 0) kmax = max(kmax, ri.lim);
    }
    return kmax;
}

// Writes acc (rows 4*warp + r of a tile starting at row a0, columns c0 + lane + 32c) to
// dst [*, w], skipping rows past na and columns past w.
__device__ void store_tile(float* __restrict__ dst, int a0, int na, int w, int c0,
                           const float acc[4][4], const float scale[4]) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
    for (int r = 0; r < 4; ++r) {
        const int row = a0 + warp * 4 + r;
        if (row >= na) continue;
#pragma unroll
        for (int c = 0; c < 4; ++c) {
            const int col = c0 + lane + 32 * c;
            if (col < w) dst[(u64)row * w + col] = acc[r][c] * scale[r];
        }
    }
}

// Forward. Grid (ceil(n_q/32), ceil(e/128), batch). lse is written by the blockIdx.y == 0 tile.
extern "C" __global__ void __launch_bounds__(THREADS, 2)
attention_fwd_f32(const Params p, const RowInfo* __restrict__ rows, const int* __restrict__ valid,
                  const float* __restrict__ q, const float* __restrict__ k,
                  const float* __restrict__ v, float* __restrict__ out, float* __restrict__ lse) {
    __shared__ float As[BR][KC + 1], Bs[BC][KC + 1], Ms[BC][BW];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int b = blockIdx.z, i0 = blockIdx.x * BR, e0 = blockIdx.y * BW;
    const float* qb = q + (u64)b * p.n_q * p.s;
    const float* kb = k + (u64)b * p.n_k * p.s;
    const float* vb = v + (u64)b * p.n_k * p.e;
    RowInfo ri[4];
    float m[4], l[4], acc[4][4];
#pragma unroll
    for (int r = 0; r < 4; ++r) {
        ri[r] = row_info(p, rows, b, i0 + warp * 4 + r);
        m[r] = NEG_INF;
        l[r] = 0.0f;
#pragma unroll
        for (int c = 0; c < 4; ++c) acc[r][c] = 0.0f;
    }
    const int kmax = tile_key_limit(p, rows, b, i0);
    for (int j0 = 0; j0 < kmax; j0 += BC) {
        float x[4], w[4];
        tile_dot(qb, i0, p.n_q, kb, j0, p.n_k, p.s, As, Bs, x);
        const int j = j0 + lane;
        const bool real = key_real(p, valid, b, j);
#pragma unroll
        for (int r = 0; r < 4; ++r) {
            const bool vis = real && j < ri[r].lim;
            if (p.form == 0) {
                const float y = vis ? ri[r].alpha * x[r] : NEG_INF;
                const float bmax = warp_max(y);
                // Nothing visible in this block (warp-uniform): the statistics stay as they are.
                const float m_new = bmax == NEG_INF ? m[r] : fmaxf(m[r], bmax);
                const float corr = bmax == NEG_INF ? 1.0f : expf(m[r] - m_new);  // 0 at first
                const float pe = vis ? expf(y - m_new) : 0.0f;
                l[r] = l[r] * corr + warp_sum(pe);
                m[r] = m_new;
#pragma unroll
                for (int c = 0; c < 4; ++c) acc[r][c] *= corr;
                w[r] = pe;
            } else {
                const float t = fmaxf(ri[r].alpha * x[r], 0.0f);
                w[r] = vis ? ri[r].beta * t * t : 0.0f;
            }
            const u64 row = (u64)b * p.n_q + i0 + warp * 4 + r;
            w[r] = dropped(p, row * p.n_k + j, w[r]);
        }
        tile_axpy(vb, j0, p.n_k, p.e, e0, Ms, w, acc);
    }
    float scale[4];
#pragma unroll
    for (int r = 0; r < 4; ++r) {
        float row_lse;
        if (ri[r].l == 0) {
            scale[r] = 0.0f;
            row_lse = NEG_INF;
        } else if (p.form == 0) {
            scale[r] = 1.0f / l[r];
            row_lse = m[r] + logf(l[r]);
        } else {
            scale[r] = 1.0f;
            row_lse = 0.0f;
        }
        const int i = i0 + warp * 4 + r;
        if (blockIdx.y == 0 && lane == 0 && i < p.n_q) lse[(u64)b * p.n_q + i] = row_lse;
    }
    store_tile(out + (u64)b * p.n_q * p.e, i0, p.n_q, p.e, e0, acc, scale);
}

// D_i = dc_i . c_i (softmax backward's row term), one warp per row, grid-stride.
extern "C" __global__ void __launch_bounds__(THREADS, 2)
attention_rowdot_f32(const float* __restrict__ dc, const float* __restrict__ c,
                     float* __restrict__ d, u64 rows, int e) {
    const int lane = threadIdx.x & 31;
    const u64 warps = (u64)gridDim.x * (THREADS / 32);
    for (u64 r = blockIdx.x * (THREADS / 32ull) + (threadIdx.x >> 5); r < rows;
         r += warps) {
        float s = 0.0f;
        for (int t = lane; t < e; t += 32) s += dc[r * e + t] * c[r * e + t];
        s = warp_sum(s);
        if (lane == 0) d[r] = s;
    }
}

// The backward weights of one score entry: A' (dropout applied) and dx.
__device__ __forceinline__ void entry_grads(const Params& p, const RowInfo& ri, bool vis,
                                            float x, float da, float row_lse, float row_d,
                                            u64 idx, float* a_out,
                                            float* dx_out) {
    if (!vis) {
        *a_out = 0.0f;
        *dx_out = 0.0f;
        return;
    }
    const float dA = dropped(p, idx, da);
    if (p.form == 0) {
        const float a = expf(ri.alpha * x - row_lse);
        *dx_out = ri.alpha * a * (dA - row_d);
        *a_out = dropped(p, idx, a);
    } else {
        const float t = fmaxf(ri.alpha * x, 0.0f);
        *dx_out = 2.0f * ri.beta * ri.alpha * t * dA;
        *a_out = dropped(p, idx, ri.beta * t * t);
    }
}

// Whether any query row i0..i0+31 sees a key at or after j0 (warp-uniform, and the same in
// every warp, so block-uniform).
__device__ __forceinline__ bool query_tile_live(const Params& p, const RowInfo* rows, int b,
                                                int i0, int j0) {
    const RowInfo ri = row_info(p, rows, b, i0 + (threadIdx.x & 31));
    return __any_sync(FULL, ri.l > 0 && ri.lim > j0);
}

// The backward kernels' shared pieces. Batch element b's slices of q, k, dc.
struct BatchPtrs {
    const float *q, *k, *dc;
};

__device__ __forceinline__ BatchPtrs batch_ptrs(const Params& p, int b, const float* q,
                                                const float* k, const float* dc) {
    return {q + (u64)b * p.n_q * p.s, k + (u64)b * p.n_k * p.s, dc + (u64)b * p.n_q * p.e};
}

__device__ __forceinline__ void zero_acc(float acc[4][4]) {
#pragma unroll
    for (int r = 0; r < 4; ++r) {
#pragma unroll
        for (int c = 0; c < 4; ++c) acc[r][c] = 0.0f;
    }
}

// Key-owned kernels (dV, dK): whether each of this warp's keys j0 + 4*warp + r is real.
__device__ __forceinline__ void warp_keys_real(const Params& p, const int* valid, int b, int j0,
                                               bool real[4]) {
    const int warp = threadIdx.x >> 5;
#pragma unroll
    for (int r = 0; r < 4; ++r) real[r] = key_real(p, valid, b, j0 + warp * 4 + r);
}

// Key-owned kernels (dV, dK): entry_grads of one score tile, query i0 + lane against this warp's
// keys j0 + 4*warp + r, with scores x and dA' da; D from dsum (dV passes null: D unused, 0).
// A' lands in a, dx in dx.
__device__ __forceinline__ void key_tile_grads(const Params& p, const RowInfo* rows, int b,
                                               int i0, int j0, const bool real[4],
                                               const float x[4], const float da[4],
                                               const float* lse, const float* dsum, float a[4],
                                               float dx[4]) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int i = i0 + lane;
    const RowInfo ri = row_info(p, rows, b, i);
    const float row_lse = i < p.n_q ? lse[(u64)b * p.n_q + i] : 0.0f;
    const float row_d = dsum != nullptr && i < p.n_q ? dsum[(u64)b * p.n_q + i] : 0.0f;
    const u64 row = (u64)b * p.n_q + i;
#pragma unroll
    for (int r = 0; r < 4; ++r) {
        const int j = j0 + warp * 4 + r;
        entry_grads(p, ri, real[r] && j < ri.lim, x[r], da[r], row_lse, row_d, row * p.n_k + j,
                    &a[r], &dx[r]);
    }
}

// store_tile at scale 1 (every backward output).
__device__ __forceinline__ void store_tile_unscaled(float* __restrict__ dst, int a0, int na,
                                                    int w, int c0, const float acc[4][4]) {
    const float one[4] = {1.0f, 1.0f, 1.0f, 1.0f};
    store_tile(dst, a0, na, w, c0, acc, one);
}

// dV. Grid (ceil(n_k/32), ceil(e/128), batch); warps own keys, lanes own queries.
extern "C" __global__ void __launch_bounds__(THREADS, 2)
attention_bwd_dv_f32(const Params p, const RowInfo* __restrict__ rows,
                     const int* __restrict__ valid, const float* __restrict__ q,
                     const float* __restrict__ k, const float* __restrict__ lse,
                     const float* __restrict__ dc, float* __restrict__ dv) {
    __shared__ float As[BR][KC + 1], Bs[BC][KC + 1], Ms[BC][BW];
    const int b = blockIdx.z, j0 = blockIdx.x * BR, e0 = blockIdx.y * BW;
    const BatchPtrs bp = batch_ptrs(p, b, q, k, dc);
    bool real[4];
    float acc[4][4];
    warp_keys_real(p, valid, b, j0, real);
    zero_acc(acc);
    const float no_da[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int i0 = 0; i0 < p.n_q; i0 += BC) {
        if (!query_tile_live(p, rows, b, i0, j0)) continue;
        float x[4], w[4], unused[4];
        tile_dot(bp.k, j0, p.n_k, bp.q, i0, p.n_q, p.s, As, Bs, x);
        key_tile_grads(p, rows, b, i0, j0, real, x, no_da, lse, nullptr, w, unused);
        tile_axpy(bp.dc, i0, p.n_q, p.e, e0, Ms, w, acc);
    }
    store_tile_unscaled(dv + (u64)b * p.n_k * p.e, j0, p.n_k, p.e, e0, acc);
}

// dQ. Grid (ceil(n_q/32), ceil(s/128), batch); warps own queries, lanes own keys.
extern "C" __global__ void __launch_bounds__(THREADS, 2)
attention_bwd_dq_f32(const Params p, const RowInfo* __restrict__ rows,
                     const int* __restrict__ valid, const float* __restrict__ q,
                     const float* __restrict__ k, const float* __restrict__ v,
                     const float* __restrict__ lse, const float* __restrict__ dsum,
                     const float* __restrict__ dc, float* __restrict__ dq) {
    __shared__ float As[BR][KC + 1], Bs[BC][KC + 1], Ms[BC][BW];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int b = blockIdx.z, i0 = blockIdx.x * BR, s0 = blockIdx.y * BW;
    const BatchPtrs bp = batch_ptrs(p, b, q, k, dc);
    const float* vb = v + (u64)b * p.n_k * p.e;
    RowInfo ri[4];
    float row_lse[4], row_d[4], acc[4][4];
#pragma unroll
    for (int r = 0; r < 4; ++r) {
        const int i = i0 + warp * 4 + r;
        ri[r] = row_info(p, rows, b, i);
        row_lse[r] = i < p.n_q ? lse[(u64)b * p.n_q + i] : 0.0f;
        row_d[r] = i < p.n_q ? dsum[(u64)b * p.n_q + i] : 0.0f;
    }
    zero_acc(acc);
    const int kmax = tile_key_limit(p, rows, b, i0);
    for (int j0 = 0; j0 < kmax; j0 += BC) {
        float x[4], da[4], g[4];
        tile_dot(bp.q, i0, p.n_q, bp.k, j0, p.n_k, p.s, As, Bs, x);
        tile_dot(bp.dc, i0, p.n_q, vb, j0, p.n_k, p.e, As, Bs, da);
        const int j = j0 + lane;
        const bool real = key_real(p, valid, b, j);
#pragma unroll
        for (int r = 0; r < 4; ++r) {
            const u64 row = (u64)b * p.n_q + i0 + warp * 4 + r;
            float unused;
            entry_grads(p, ri[r], real && j < ri[r].lim, x[r], da[r], row_lse[r], row_d[r],
                        row * p.n_k + j, &unused, &g[r]);
        }
        tile_axpy(bp.k, j0, p.n_k, p.s, s0, Ms, g, acc);
    }
    store_tile_unscaled(dq + (u64)b * p.n_q * p.s, i0, p.n_q, p.s, s0, acc);
}

// dK. Grid (ceil(n_k/32), ceil(s/128), batch); warps own keys, lanes own queries.
extern "C" __global__ void __launch_bounds__(THREADS, 2)
attention_bwd_dk_f32(const Params p, const RowInfo* __restrict__ rows,
                     const int* __restrict__ valid, const float* __restrict__ q,
                     const float* __restrict__ k, const float* __restrict__ v,
                     const float* __restrict__ lse, const float* __restrict__ dsum,
                     const float* __restrict__ dc, float* __restrict__ dk) {
    __shared__ float As[BR][KC + 1], Bs[BC][KC + 1], Ms[BC][BW];
    const int b = blockIdx.z, j0 = blockIdx.x * BR, s0 = blockIdx.y * BW;
    const BatchPtrs bp = batch_ptrs(p, b, q, k, dc);
    const float* vb = v + (u64)b * p.n_k * p.e;
    bool real[4];
    float acc[4][4];
    warp_keys_real(p, valid, b, j0, real);
    zero_acc(acc);
    for (int i0 = 0; i0 < p.n_q; i0 += BC) {
        if (!query_tile_live(p, rows, b, i0, j0)) continue;
        float x[4], da[4], g[4], unused[4];
        tile_dot(bp.k, j0, p.n_k, bp.q, i0, p.n_q, p.s, As, Bs, x);
        tile_dot(vb, j0, p.n_k, bp.dc, i0, p.n_q, p.e, As, Bs, da);
        key_tile_grads(p, rows, b, i0, j0, real, x, da, lse, dsum, unused, g);
        tile_axpy(bp.q, i0, p.n_q, p.s, s0, Ms, g, acc);
    }
    store_tile_unscaled(dk + (u64)b * p.n_k * p.s, j0, p.n_k, p.s, s0, acc);
}
