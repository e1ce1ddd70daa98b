// Layer norm over the last axis, f32, row-major [rows, n]; llm.c's kernel shapes.
//   layernorm_fwd_f32         one warp per row (8 rows per 256-thread block): shifted sum for
//                             the mean (relative to x[row, 0], so a large row mean costs no
//                             digits), centred second pass for the variance, shuffle reductions;
//                             writes y, mean[row], rstd[row].
//   layernorm_bwd_f32         one warp per row: c1 = mean(dhat), c2 = mean(dhat * xhat),
//                             dx = rstd * (dhat - c1 - xhat * c2), dhat = dy * gain.
//   layernorm_bwd_params_f32  column partial sums of dy * xhat (dgain) and dy (dbias): block
//                             (32, 8) per 32-column tile and row slice, as bias_add_bwd_f32;
//                             the partials are summed by bias_add_bwd_finish_f32. No atomics.
// Absent gain/bias: the has_* flag is 0 and the pointer is any valid buffer (never read).

#include "row_reduce.cuh"  // warp_row, warp_sum

extern "C" __global__ void layernorm_fwd_f32(float* __restrict__ y, float* __restrict__ mean,
                                             float* __restrict__ rstd, const float* __restrict__ x,
                                             const float* __restrict__ gain,
                                             const float* __restrict__ bias, unsigned int rows,
                                             unsigned int n, float eps, int has_gain,
                                             int has_bias) {
    unsigned int lane = threadIdx.x & 31u, row = warp_row();
    if (row >= rows) return;  // the whole warp leaves together
    const float* xr = x + (unsigned long long)row * n;
    float* yr = y + (unsigned long long)row * n;
    float shift = xr[0];
    float s = 0.0f;
    for (unsigned int i = lane; i < n; i += 32) s += xr[i] - shift;
    float mu = shift + warp_sum(s) / (float)n;
    float v = 0.0f;
    for (unsigned int i = lane; i < n; i += 32) {
        float d = xr[i] - mu;
        v += d * d;
    }
    float rs = 1.0f / sqrtf(warp_sum(v) / (float)n + eps);
    for (unsigned int i = lane; i < n; i += 32) {
        float h = (xr[i] - mu) * rs;
        if (has_gain) h *= gain[i];
        if (has_bias) h += bias[i];
        yr[i] = h;
    }
    if (lane == 0) {
        mean[row] = mu;
        rstd[row] = rs;
    }
}

extern "C" __global__ void layernorm_bwd_f32(float* __restrict__ dx, const float* __restrict__ x,
                                             const float* __restrict__ gain,
                                             const float* __restrict__ mean,
                                             const float* __restrict__ rstd,
                                             const float* __restrict__ dy, unsigned int rows,
                                             unsigned int n, int has_gain) {
    unsigned int lane = threadIdx.x & 31u, row = warp_row();
    if (row >= rows) return;
    unsigned long long off = (unsigned long long)row * n;
    float mu = mean[row], rs = rstd[row];
    float c1 = 0.0f, c2 = 0.0f;
    for (unsigned int i = lane; i < n; i += 32) {
        float d = has_gain ? dy[off + i] * gain[i] : dy[off + i];
        c1 += d;
        c2 += d * (x[off + i] - mu) * rs;
    }
    c1 = warp_sum(c1) / (float)n;
    c2 = warp_sum(c2) / (float)n;
    for (unsigned int i = lane; i < n; i += 32) {
        float d = has_gain ? dy[off + i] * gain[i] : dy[off + i];
        dx[off + i] = rs * (d - c1 - (x[off + i] - mu) * rs * c2);
    }
}

extern "C" __global__ void layernorm_bwd_params_f32(float* __restrict__ pgain,
                                                    float* __restrict__ pbias,
                                                    const float* __restrict__ x,
                                                    const float* __restrict__ mean,
                                                    const float* __restrict__ rstd,
                                                    const float* __restrict__ dy,
                                                    unsigned int rows, unsigned int n) {
    __shared__ float ag[8][33];
    __shared__ float ab[8][33];
    unsigned int j = blockIdx.x * 32 + threadIdx.x;
    unsigned int P = gridDim.y;
    float sg = 0.0f, sb = 0.0f;
    if (j < n) {
        for (unsigned int r = blockIdx.y * 8 + threadIdx.y; r < rows; r += 8 * P) {
            unsigned long long i = (unsigned long long)r * n + j;
            float g = dy[i];
            sg += g * (x[i] - mean[r]) * rstd[r];
            sb += g;
        }
    }
    ag[threadIdx.y][threadIdx.x] = sg;
    ab[threadIdx.y][threadIdx.x] = sb;
    __syncthreads();
    if (threadIdx.y == 0 && j < n) {
        float tg = 0.0f, tb = 0.0f;
        for (int k = 0; k < 8; ++k) {
            tg += ag[k][threadIdx.x];
            tb += ab[k][threadIdx.x];
        }
        pgain[(unsigned long long)blockIdx.y * n + j] = tg;
        pbias[(unsigned long long)blockIdx.y * n + j] = tb;
    }
}
