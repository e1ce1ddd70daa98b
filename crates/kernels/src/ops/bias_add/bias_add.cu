// Bias add over the last axis, f32, row-major [rows, n].
//   fwd: y[i] = x[i] + b[i % n]                        grid-stride over all rows*n elements
//   bwd: db[j] = sum_r dy[r, j], in two deterministic passes (no atomics):
//     bias_add_bwd_f32        block (32, 8) per tile of 32 columns x one row slice p of P:
//                             thread (tx, ty) sums rows r = p*8 + ty, step 8*P, of column
//                             tile*32 + tx (a warp reads 32 adjacent floats: coalesced), then the
//                             8 row-threads are added in shared memory -> partial[p, j]
//     bias_add_bwd_finish_f32 one thread per column: db[j] = sum_p partial[p, j], p in order.

extern "C" __global__ void bias_add_fwd_f32(float* __restrict__ y, const float* __restrict__ x,
                                            const float* __restrict__ b, unsigned long long total,
                                            unsigned int n) {
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
         i < total; i += (unsigned long long)gridDim.x * blockDim.x) {
        y[i] = x[i] + b[i % n];
    }
}

extern "C" __global__ void bias_add_bwd_f32(float* __restrict__ partial,
                                            const float* __restrict__ dy, unsigned int rows,
                                            unsigned int n) {
    __shared__ float acc[8][33];
    unsigned int j = blockIdx.x * 32 + threadIdx.x;
    unsigned int P = gridDim.y;
    float s = 0.0f;
    if (j < n) {
        for (unsigned int r = blockIdx.y * 8 + threadIdx.y; r < rows; r += 8 * P) {
            s += dy[(unsigned long long)r * n + j];
        }
    }
    acc[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && j < n) {
        float t = 0.0f;
        for (int k = 0; k < 8; ++k) t += acc[k][threadIdx.x];
        partial[(unsigned long long)blockIdx.y * n + j] = t;
    }
}

extern "C" __global__ void bias_add_bwd_finish_f32(float* __restrict__ db,
                                                   const float* __restrict__ partial,
                                                   unsigned int P, unsigned int n) {
    for (unsigned int j = blockIdx.x * blockDim.x + threadIdx.x; j < n;
         j += gridDim.x * blockDim.x) {
        float t = 0.0f;
        for (unsigned int p = 0; p < P; ++p) t += partial[(unsigned long long)p * n + j];
        db[j] = t;
    }
}
