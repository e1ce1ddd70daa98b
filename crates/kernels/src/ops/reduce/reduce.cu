// Reductions along one axis of a tensor viewed as [outer, len, inner], f32 in, f32 out.
//
// <op>_fwd_rows_f32 (inner == 1, each row contiguous): one block per output row, grid-stride
//   over rows; threads stride along the row (coalesced), then a warp-shuffle tree and one
//   shared-memory slot per warp finish the block. Needs blockDim.x a multiple of 32 (<= 1024).
// <op>_fwd_cols_f32 (inner > 1): one thread per output (o, i), grid-stride; neighbouring
//   threads read neighbouring i, so every step along the axis is a coalesced load.
// Sums accumulate in double (cheap on the H200 and memory-bound anyway), max_abs in float with
// NaN propagation, count_nonfinite in unsigned long long.
// Backward: sum_bwd_f32 writes dx[o,a,i] = scale * dy[o,i] (sum: scale 1, mean: 1/len);
// sum_sq_bwd_f32 writes dx = scale * x * dy (scale 2). Grid-stride over all of dx.

struct SumOp {
    typedef double acc;
    __device__ static double init() { return 0.0; }
    __device__ static double step(double a, float x) { return a + (double)x; }
    __device__ static double merge(double a, double b) { return a + b; }
    __device__ static float finish(double a, unsigned long long) { return (float)a; }
};

struct MeanOp {
    typedef double acc;
    __device__ static double init() { return 0.0; }
    __device__ static double step(double a, float x) { return a + (double)x; }
    __device__ static double merge(double a, double b) { return a + b; }
    __device__ static float finish(double a, unsigned long long len) {
        return (float)(a / (double)len);
    }
};

struct SumSqOp {
    typedef double acc;
    __device__ static double init() { return 0.0; }
    __device__ static double step(double a, float x) { return a + (double)x * (double)x; }
    __device__ static double merge(double a, double b) { return a + b; }
    __device__ static float finish(double a, unsigned long long) { return (float)a; }
};

struct MaxAbsOp {
    typedef float acc;
    __device__ static float init() { return 0.0f; }
    // NaN sticks: a NaN candidate replaces the accumulator, and nothing replaces a NaN.
    __device__ static float merge(float a, float b) { return (b > a || b != b) ? b : a; }
    __device__ static float step(float a, float x) { return merge(a, fabsf(x)); }
    __device__ static float finish(float a, unsigned long long) { return a; }
};

struct CountNonfiniteOp {
    typedef unsigned long long acc;
    __device__ static unsigned long long init() { return 0ull; }
    // |x| <= FLT_MAX is false exactly for NaN and +-inf.
    __device__ static unsigned long long step(unsigned long long a, float x) {
        return a + (fabsf(x) <= 3.402823466e38f ? 0ull : 1ull);
    }
    __device__ static unsigned long long merge(unsigned long long a, unsigned long long b) {
        return a + b;
    }
    __device__ static float finish(unsigned long long a, unsigned long long) { return (float)a; }
};

template <class Op>
__device__ typename Op::acc block_reduce(typename Op::acc v, typename Op::acc* warp_part) {
    for (int off = 16; off > 0; off >>= 1) v = Op::merge(v, __shfl_down_sync(0xffffffffu, v, off));
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) warp_part[warp] = v;
    __syncthreads();
    if (warp == 0) {
        const int nwarps = (blockDim.x + 31) >> 5;
        v = lane < nwarps ? warp_part[lane] : Op::init();
        for (int off = 16; off > 0; off >>= 1)
            v = Op::merge(v, __shfl_down_sync(0xffffffffu, v, off));
    }
    return v;  // the block's result, valid in thread 0
}

template <class Op>
__device__ void reduce_rows(float* __restrict__ out, const float* __restrict__ x,
                            unsigned long long rows, unsigned long long len) {
    __shared__ typename Op::acc warp_part[32];
    for (unsigned long long r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* row = x + r * len;
        typename Op::acc a = Op::init();
        for (unsigned long long j = threadIdx.x; j < len; j += blockDim.x) a = Op::step(a, row[j]);
        a = block_reduce<Op>(a, warp_part);
        if (threadIdx.x == 0) out[r] = Op::finish(a, len);
        __syncthreads();  // warp_part is reused by the next row
    }
}

template <class Op>
__device__ void reduce_cols(float* __restrict__ out, const float* __restrict__ x,
                            unsigned long long outer, unsigned long long len,
                            unsigned long long inner) {
    const unsigned long long n = outer * inner;
    for (unsigned long long idx = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
         idx < n; idx += (unsigned long long)gridDim.x * blockDim.x) {
        const unsigned long long o = idx / inner, i = idx % inner;
        const float* p = x + o * len * inner + i;
        typename Op::acc a = Op::init();
        for (unsigned long long j = 0; j < len; ++j) a = Op::step(a, p[j * inner]);
        out[idx] = Op::finish(a, len);
    }
}

#define REDUCE_ENTRIES(name, Op)                                                              \
    extern "C" __global__ void name##_fwd_rows_f32(float* __restrict__ out,                   \
                                                   const float* __restrict__ x,               \
                                                   unsigned long long rows,                   \
                                                   unsigned long long len) {                  \
        reduce_rows<Op>(out, x, rows, len);                                                   \
    }                                                                                         \
    extern "C" __global__ void name##_fwd_cols_f32(                                           \
        float* __restrict__ out, const float* __restrict__ x, unsigned long long outer,       \
        unsigned long long len, unsigned long long inner) {                                   \
        reduce_cols<Op>(out, x, outer, len, inner);                                           \
    }

REDUCE_ENTRIES(sum, SumOp)
REDUCE_ENTRIES(mean, MeanOp)
REDUCE_ENTRIES(sum_sq, SumSqOp)
REDUCE_ENTRIES(max_abs, MaxAbsOp)
REDUCE_ENTRIES(count_nonfinite, CountNonfiniteOp)

extern "C" __global__ void sum_bwd_f32(float* __restrict__ dx, const float* __restrict__ dy,
                                       unsigned long long outer, unsigned long long len,
                                       unsigned long long inner, float scale) {
    const unsigned long long n = outer * len * inner;
    for (unsigned long long idx = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
         idx < n; idx += (unsigned long long)gridDim.x * blockDim.x) {
        const unsigned long long i = idx % inner, o = idx / (inner * len);
        dx[idx] = scale * dy[o * inner + i];
    }
}

extern "C" __global__ void sum_sq_bwd_f32(float* __restrict__ dx, const float* __restrict__ x,
                                          const float* __restrict__ dy, unsigned long long outer,
                                          unsigned long long len, unsigned long long inner,
                                          float scale) {
    const unsigned long long n = outer * len * inner;
    for (unsigned long long idx = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
         idx < n; idx += (unsigned long long)gridDim.x * blockDim.x) {
        const unsigned long long i = idx % inner, o = idx / (inner * len);
        dx[idx] = scale * x[idx] * dy[o * inner + i];
    }
}
