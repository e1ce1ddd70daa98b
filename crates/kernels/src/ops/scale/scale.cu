// Scaling by a constant, f32, grid-stride loops over n contiguous elements.
//   scale_fwd_f32:    y = alpha * x      (8 B/elem; also the backward, dx = alpha * dy)
//   scale_assign_f32: x = alpha * x      (8 B/elem, in place)

extern "C" __global__ void scale_fwd_f32(float* __restrict__ y, const float* __restrict__ x,
                                         float alpha, unsigned long long n) {
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x) {
        y[i] = alpha * x[i];
    }
}

extern "C" __global__ void scale_assign_f32(float* __restrict__ x, float alpha,
                                            unsigned long long n) {
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x) {
        x[i] = alpha * x[i];
    }
}
