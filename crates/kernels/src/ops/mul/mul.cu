// Elementwise product, f32, grid-stride loops over n contiguous elements.
//   fwd: y = a * b                     (12 B/elem)
//   bwd: da = dy * b, db = dy * a      (one pass, 20 B/elem)

extern "C" __global__ void mul_fwd_f32(float* __restrict__ y, const float* __restrict__ a,
                                       const float* __restrict__ b, unsigned long long n) {
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x) {
        y[i] = a[i] * b[i];
    }
}

extern "C" __global__ void mul_bwd_f32(float* __restrict__ da, float* __restrict__ db,
                                       const float* __restrict__ a, const float* __restrict__ b,
                                       const float* __restrict__ dy, unsigned long long n) {
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x) {
        float g = dy[i];
        da[i] = g * b[i];
        db[i] = g * a[i];
    }
}
