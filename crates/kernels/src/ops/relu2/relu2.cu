// Squared ReLU forward and backward, f32, grid-stride loops over n contiguous elements.
//   fwd: y = r * r,      r = max(x, 0)  (written x < 0 ? 0 : x so that NaN propagates)
//   bwd: dx = 2 * r * dy
// Memory-bound: 8 B/elem forward, 12 B/elem backward.

extern "C" __global__ void relu2_fwd_f32(float* __restrict__ y, const float* __restrict__ x,
                                         unsigned long long n) {
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x) {
        float v = x[i];
        float r = v < 0.0f ? 0.0f : v;
        y[i] = r * r;
    }
}

extern "C" __global__ void relu2_bwd_f32(float* __restrict__ dx, const float* __restrict__ x,
                                         const float* __restrict__ dy, unsigned long long n) {
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x) {
        float v = x[i];
        float r = v < 0.0f ? 0.0f : v;
        dx[i] = (r + r) * dy[i];
    }
}
