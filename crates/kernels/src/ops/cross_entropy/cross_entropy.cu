// Cross-entropy over rows of logits, f32. x: contiguous [rows, V]; tgt[i] in [0, V) or -1 for
// an ignored row (validated and mapped on the host).
//   fwd (one block per row, grid-stride over rows): lse_i = m + log(sum_j exp(x_ij - m)) with a
//        running (max, sum) per thread merged by warp shuffles; loss_i = lse_i - x[i, tgt_i]
//        (0 for ignored rows). The host sums loss_i in f64 and divides by the row count.
//   bwd (grid-stride over elements): dx_ij = g*exp(x_ij - lse_i) - (j == tgt_i ? g : 0),
//        0 for ignored rows; g = dloss / count. 12 B/elem plus a cached per-row read.

#define FULL_MASK 0xffffffffu

__device__ __forceinline__ float neg_inf() { return __int_as_float(0xff800000); }

__device__ __forceinline__ void merge_ms(float& m, float& s, float m2, float s2) {
    float mx = fmaxf(m, m2);
    if (mx == neg_inf()) return;  // both empty
    s = s * expf(m - mx) + s2 * expf(m2 - mx);
    m = mx;
}

__device__ void block_reduce_ms(float& m, float& s) {
    __shared__ float sh_m[32];
    __shared__ float sh_s[32];
    for (int o = 16; o > 0; o >>= 1) {
        float m2 = __shfl_xor_sync(FULL_MASK, m, o);
        float s2 = __shfl_xor_sync(FULL_MASK, s, o);
        merge_ms(m, s, m2, s2);
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    __syncthreads();  // the previous row's readers are done with sh_*
    if (lane == 0) {
        sh_m[warp] = m;
        sh_s[warp] = s;
    }
    __syncthreads();
    if (warp == 0) {
        m = lane < nw ? sh_m[lane] : neg_inf();
        s = lane < nw ? sh_s[lane] : 0.0f;
        for (int o = 16; o > 0; o >>= 1) {
            float m2 = __shfl_xor_sync(FULL_MASK, m, o);
            float s2 = __shfl_xor_sync(FULL_MASK, s, o);
            merge_ms(m, s, m2, s2);
        }
        if (lane == 0) {
            sh_m[0] = m;
            sh_s[0] = s;
        }
    }
    __syncthreads();
    m = sh_m[0];
    s = sh_s[0];
}

extern "C" __global__ void cross_entropy_fwd_f32(float* __restrict__ loss, float* __restrict__ lse,
                                                 const float* __restrict__ x,
                                                 const long long* __restrict__ tgt,
                                                 unsigned long long rows, unsigned long long vocab) {
    for (unsigned long long row = blockIdx.x; row < rows; row += gridDim.x) {
        const float* xr = x + row * vocab;
        float m = neg_inf(), s = 0.0f;
        for (unsigned long long j = threadIdx.x; j < vocab; j += blockDim.x) {
            float z = xr[j];
            if (z > m) {
                s = s * expf(m - z) + 1.0f;
                m = z;
            } else if (m != neg_inf()) {
                s += expf(z - m);
            }
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
