// Cross-entropy over rows of logits, f32. x: contiguous [rows, V]; tgt[i] in [0, V) or -1 for
// an ignored row (validated and mapped on the host).
//   fwd (one block per row, grid-stride over rows): lse_i = m + log(sum_j exp(x_ij - m)) with a
//        running (max, sum) per thread merged by warp shuffles; loss_i = lse_i - x[i, tgt_i]
//        (0 for ignored rows). The host sums loss_i in f64 and divides by the row count.
//   bwd (grid-stride over elements): dx_ij = g*exp(x_ij - lse_i) - (j == tgt_i ? g : 0),
//        0 for ignored rows; g = dloss / count. 12 B/elem plus a cached per-row read.

#include "row_reduce.cuh"  // push_ms, block_reduce_ms, neg_inf

extern "C" __global__ void cross_entropy_fwd_f32(float* __restrict__ loss, float* __restrict__ lse,
                                                 const float* __restrict__ x,
                                                 const long long* __restrict__ tgt,
                                                 unsigned long long rows, unsigned long long vocab) {
    for (unsigned long long row = blockIdx.x; row < rows; row += gridDim.x) {
        const float* xr = x + row * vocab;
        float m = neg_inf(), s = 0.0f;
        for (unsigned long long j = threadIdx.x; j < vocab; j += blockDim.x) {
            push_ms(m, s, xr[j]);
        }
        block_reduce_ms(m, s);
        if (threadIdx.x == 0) {
            float l = m + logf(s);
            long long t = tgt[row];
            lse[row] = l;
            loss[row] = t >= 0 ? l - xr[t] : 0.0f;
        }
    }
}

extern "C" __global__ void cross_entropy_bwd_f32(float* __restrict__ dx, const float* __restrict__ x,
                                                 const float* __restrict__ lse,
                                                 const long long* __restrict__ tgt, float g,
                                                 unsigned long long rows, unsigned long long vocab) {
    unsigned long long total = rows * vocab;
    for (unsigned long long e = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; e < total;
         e += (unsigned long long)gridDim.x * blockDim.x) {
        unsigned long long row = e / vocab, j = e % vocab;
        long long t = tgt[row];
        float v = 0.0f;
        if (t >= 0) {
            v = g * expf(x[e] - lse[row]);
            if ((long long)j == t) v -= g;
        }
        dx[e] = v;
    }
}
