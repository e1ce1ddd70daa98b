// Row softmax over the last axis, f32, with a logit scale and a visible-prefix mask per row.
//   fwd: y_j = exp(c*x_j - m) / sum_{k<L} exp(c*x_k - m) for j < L, y_j = 0 for j >= L,
//        L = min(n, len[row / rows_per_batch] (padding), row % n_q + 1 + n - n_q (causal)).
//        A row with L = 0 (or whose visible logits are all -inf) is written as zeros.
//   bwd: dx_j = c * y_j * (dy_j - sum_k y_k dy_k).
// Layout: contiguous [rows, n]. One block per row (grid-stride over rows), blockDim a multiple
// of 32 (<= 1024). The forward keeps a running (max, sum) per thread, one pass over the row,
// merges the pairs with warp shuffles and a 32-entry shared array, then writes y in a second
// pass: 2 reads + 1 write of the row (12 B/elem); the backward reads y and dy twice and writes
// dx (20 B/elem, the second reads mostly hit L1/L2).

struct SoftmaxParams {
    unsigned long long rows;
    unsigned long long n;
    unsigned long long n_q;
    unsigned long long rows_per_batch;
    float scale;
    int causal;
    int has_lengths;
    int pad_;
};

#include "row_reduce.cuh"  // push_ms, block_reduce_ms, block_reduce_sum, neg_inf

__device__ __forceinline__ unsigned long long visible_len(const SoftmaxParams& p,
                                                          const unsigned long long* lengths,
                                                          unsigned long long row) {
    unsigned long long l = p.n;
    if (p.has_lengths) {
        unsigned long long b = lengths[row / p.rows_per_batch];
        l = b < l ? b : l;
    }
    if (p.causal) {
        unsigned long long lim = row % p.n_q + 1 + p.n;
        lim = lim > p.n_q ? lim - p.n_q : 0;
        l = lim < l ? lim : l;
    }
    return l;
}

extern "C" __global__ void softmax_fwd_f32(float* __restrict__ y, const float* __restrict__ x,
                                           const unsigned long long* __restrict__ lengths,
                                           SoftmaxParams p) {
    for (unsigned long long row = blockIdx.x; row < p.rows; row += gridDim.x) {
        const float* xr = x + row * p.n;
        float* yr = y + row * p.n;
        unsigned long long l = visible_len(p, lengths, row);
        float m = neg_inf(), s = 0.0f;
        for (unsigned long long j = threadIdx.x; j < l; j += blockDim.x) {
            push_ms(m, s, p.scale * xr[j]);
        }
        block_reduce_ms(m, s);
        bool empty = (m == neg_inf());
        float inv = empty ? 0.0f : 1.0f / s;
        for (unsigned long long j = threadIdx.x; j < p.n; j += blockDim.x) {
            yr[j] = (j < l && !empty) ? expf(p.scale * xr[j] - m) * inv : 0.0f;
        }
    }
}

extern "C" __global__ void softmax_bwd_f32(float* __restrict__ dx, const float* __restrict__ y,
                                           const float* __restrict__ dy, SoftmaxParams p) {
    for (unsigned long long row = blockIdx.x; row < p.rows; row += gridDim.x) {
        const float* yr = y + row * p.n;
        const float* dyr = dy + row * p.n;
        float part = 0.0f;
        for (unsigned long long j = threadIdx.x; j < p.n; j += blockDim.x) part += yr[j] * dyr[j];
        float dot = block_reduce_sum(part);
        for (unsigned long long j = threadIdx.x; j < p.n; j += blockDim.x) {
            dx[row * p.n + j] = p.scale * yr[j] * (dyr[j] - dot);
        }
    }
}
