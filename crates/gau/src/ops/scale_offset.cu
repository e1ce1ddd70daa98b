// GAU's per-dimension scale (the gamma half of OffsetScale, spec/gau.md §2.1), f32:
//   y[r, j] = x[r, j] * g[j]      x, y [rows, s] row-major, g [s]; flat index i = r*s + j
// Grid-stride over the n = rows*s elements; memory-bound (8 B/elem; g stays in L1/L2).
// The offset beta and the backward's column sums reuse kernels' bias_add and mul kernels.

extern "C" __global__ void scale_cols_f32(float* __restrict__ y, const float* __restrict__ x,
                                          const float* __restrict__ g, unsigned long long n,
                                          unsigned long long s) {
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x) {
        y[i] = x[i] * g[i % s];
    }
}
