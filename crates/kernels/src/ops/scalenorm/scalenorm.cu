// ScaleNorm (Nguyen & Salazar 2019) over the last axis, f32, row-major [rows, n]; scalar gain g.
//   norm = max(||x||_2, eps)  (the clamp of the authors' code: x.norm(...).clamp(min=eps))
//   scalenorm_fwd_f32         one warp per row (8 rows per 256-thread block), shuffle reduction
//                             of sum(x^2); y = g * x / norm; writes norm[row].
//   scalenorm_bwd_f32         one warp per row: xd = x.dy; unclamped rows
//                             dx = (g/norm) * (dy - x * xd / norm^2), clamped rows (norm == eps)
//                             dx = g * dy / eps; row_dg[row] = xd / norm.
//   scalenorm_bwd_dg_f32      one block of 256 threads: dg = sum_r row_dg[r], strided partial
//                             sums then a shared-memory tree; deterministic (no atomics).

#include "row_reduce.cuh"  // warp_row, warp_sum

extern "C" __global__ void scalenorm_fwd_f32(float* __restrict__ y, float* __restrict__ norm,
                                             const float* __restrict__ x,
                                             const float* __restrict__ gain, unsigned int rows,
                                             unsigned int n, float eps) {
    unsigned int lane = threadIdx.x & 31u, row = warp_row();
    if (row >= rows) return;
    unsigned long long off = (unsigned long long)row * n;
    float s = 0.0f;
    for (unsigned int i = lane; i < n; i += 32) s += x[off + i] * x[off + i];
    float nr = fmaxf(sqrtf(warp_sum(s)), eps);
    float k = gain[0] / nr;
    for (unsigned int i = lane; i < n; i += 32) y[off + i] = k * x[off + i];
    if (lane == 0) norm[row] = nr;
}

extern "C" __global__ void scalenorm_bwd_f32(float* __restrict__ dx, float* __restrict__ row_dg,
                                             const float* __restrict__ x,
                                             const float* __restrict__ gain,
                                             const float* __restrict__ norm,
                                             const float* __restrict__ dy, unsigned int rows,
                                             unsigned int n, float eps) {
    unsigned int lane = threadIdx.x & 31u, row = warp_row();
    if (row >= rows) return;
    unsigned long long off = (unsigned long long)row * n;
    float nr = norm[row];
    float xd = 0.0f;
    for (unsigned int i = lane; i < n; i += 32) xd += x[off + i] * dy[off + i];
    xd = warp_sum(xd);
    float k = gain[0] / nr;
    float c = (nr <= eps) ? 0.0f : xd / (nr * nr);
    for (unsigned int i = lane; i < n; i += 32) dx[off + i] = k * (dy[off + i] - x[off + i] * c);
    if (lane == 0) row_dg[row] = xd / nr;
}

extern "C" __global__ void scalenorm_bwd_dg_f32(float* __restrict__ dg,
                                                const float* __restrict__ row_dg,
                                                unsigned int rows) {
    __shared__ float acc[256];
    float s = 0.0f;
    for (unsigned int r = threadIdx.x; r < rows; r += blockDim.x) s += row_dg[r];
    acc[threadIdx.x] = s;
    __syncthreads();
    for (unsigned int w = blockDim.x / 2; w > 0; w >>= 1) {
        if (threadIdx.x < w) acc[threadIdx.x] += acc[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0) dg[0] = acc[0];
}
