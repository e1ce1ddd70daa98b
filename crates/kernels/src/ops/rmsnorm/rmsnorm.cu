// RMS norm over the last axis, f32, row-major [rows, n].
//   rmsnorm_fwd_f32         one warp per row (8 rows per 256-thread block), shuffle reduction of
//                           sum(x^2); rstd = 1/sqrt(sum/n + eps); y = x * rstd (* gain).
//   rmsnorm_bwd_f32         one warp per row: c = mean(dhat * xhat), dx = rstd * (dhat - xhat*c),
//                           dhat = dy * gain, xhat = x * rstd.
//   rmsnorm_bwd_dgain_f32   column partial sums of dy * xhat, block (32, 8) per 32-column tile and
//                           row slice; summed by bias_add_bwd_finish_f32. No atomics.
// Absent gain: has_gain is 0 and the pointer is any valid buffer (never read).

#include "row_reduce.cuh"  // warp_row, warp_sum

extern "C" __global__ void rmsnorm_fwd_f32(float* __restrict__ y, float* __restrict__ rstd,
                                           const float* __restrict__ x,
                                           const float* __restrict__ gain, unsigned int rows,
                                           unsigned int n, float eps, int has_gain) {
    unsigned int lane = threadIdx.x & 31u, row = warp_row();
    if (row >= rows) return;
    unsigned long long off = (unsigned long long)row * n;
    float s = 0.0f;
    for (unsigned int i = lane; i < n; i += 32) s += x[off + i] * x[off + i];
    float rs = 1.0f / sqrtf(warp_sum(s) / (float)n + eps);
    for (unsigned int i = lane; i < n; i += 32) {
        float h = x[off + i] * rs;
        y[off + i] = has_gain ? h * gain[i] : h;
    }
    if (lane == 0) rstd[row] = rs;
}

extern "C" __global__ void rmsnorm_bwd_f32(float* __restrict__ dx, const float* __restrict__ x,
                                           const float* __restrict__ gain,
                                           const float* __restrict__ rstd,
                                           const float* __restrict__ dy, unsigned int rows,
                                           unsigned int n, int has_gain) {
    unsigned int lane = threadIdx.x & 31u, row = warp_row();
    if (row >= rows) return;
    unsigned long long off = (unsigned long long)row * n;
    float rs = rstd[row];
    float c = 0.0f;
    for (unsigned int i = lane; i < n; i += 32) {
        float d = has_gain ? dy[off + i] * gain[i] : dy[off + i];
        c += d * x[off + i] * rs;
    }
    c = warp_sum(c) / (float)n;
    for (unsigned int i = lane; i < n; i += 32) {
        float d = has_gain ? dy[off + i] * gain[i] : dy[off + i];
        dx[off + i] = rs * (d - x[off + i] * rs * c);
    }
}

extern "C" __global__ void rmsnorm_bwd_dgain_f32(float* __restrict__ pgain,
                                                 const float* __restrict__ x,
                                                 const float* __restrict__ rstd,
                                                 const float* __restrict__ dy, unsigned int rows,
                                                 unsigned int n) {
    __shared__ float ag[8][33];
    unsigned int j = blockIdx.x * 32 + threadIdx.x;
    unsigned int P = gridDim.y;
    float sg = 0.0f;
    if (j < n) {
        for (unsigned int r = blockIdx.y * 8 + threadIdx.y; r < rows; r += 8 * P) {
            unsigned long long i = (unsigned long long)r * n + j;
            sg += dy[i] * x[i] * rstd[r];
        }
    }
    ag[threadIdx.y][threadIdx.x] = sg;
    __syncthreads();
    if (threadIdx.y == 0 && j < n) {
        float t = 0.0f;
        for (int k = 0; k < 8; ++k) t += ag[k][threadIdx.x];
        pgain[(unsigned long long)blockIdx.y * n + j] = t;
    }
}
