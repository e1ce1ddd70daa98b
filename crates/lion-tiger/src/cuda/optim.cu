// Fused optimizer steps over many tensors per launch (multi-tensor apply), f32.
//
// Layout: a launch covers a list of tensors. `ptrs` holds 4 device pointers per tensor
// (theta, grad, m, v-or-0), `lens` the element counts, `sc` 4 per-tensor f32 scalars, and
// `bs` the first block of each tensor (prefix sums of ceil(n / EPB), nt + 1 entries). A block
// finds its tensor by binary search and streams EPB elements of it: one pass reading θ, g, m
// and writing θ, m (Lion/Tiger 20 B/param, AdamW 28 B/param).
//
// Arithmetic uses __fmul_rn / __fadd_rn so that NVRTC does not contract into FMAs: the GPU then
// rounds exactly like the CPU kernels (spec §8 item 14).

#define EPB 4096

__device__ __forceinline__ unsigned find_tensor(const unsigned* bs, unsigned nt) {
    unsigned lo = 0, hi = nt;  // bs[lo] <= blockIdx.x < bs[hi]
    while (hi - lo > 1) {
        unsigned mid = (lo + hi) / 2;
        if (bs[mid] <= blockIdx.x) lo = mid; else hi = mid;
    }
    return lo;
}

// sign with sign(0) = 0 and sign(NaN) = NaN.
__device__ __forceinline__ float sgnf(float x) {
    return x > 0.f ? 1.f : (x < 0.f ? -1.f : (x != x ? x : 0.f));
}

// Lion: c = b1*m + (1-b1)*g*s; th = d*th - eta*sign(c); m = b2*m + (1-b2)*g*s.
// sc per tensor: eta, d, s, unused.
extern "C" __global__ void lion_step_f32(const unsigned long long* ptrs, const unsigned long long* lens,
                                         const float* sc, const unsigned* bs, unsigned nt, float b1,
                                         float omb1, float b2, float omb2) {
    unsigned ti = find_tensor(bs, nt);
    float* th = (float*)ptrs[4 * ti];
    const float* g = (const float*)ptrs[4 * ti + 1];
    float* m = (float*)ptrs[4 * ti + 2];
    unsigned long long n = lens[ti];
    float eta = sc[4 * ti], d = sc[4 * ti + 1], gs = sc[4 * ti + 2];
    unsigned long long start = (unsigned long long)(blockIdx.x - bs[ti]) * EPB;
    unsigned long long end = start + EPB < n ? start + EPB : n;
    for (unsigned long long i = start + threadIdx.x; i < end; i += blockDim.x) {
        float gi = __fmul_rn(g[i], gs);
        float mi = m[i];
        float c = __fadd_rn(__fmul_rn(mi, b1), __fmul_rn(gi, omb1));
        th[i] = __fsub_rn(__fmul_rn(th[i], d), __fmul_rn(eta, sgnf(c)));
        m[i] = __fadd_rn(__fmul_rn(mi, b2), __fmul_rn(gi, omb2));
    }
}

// Tiger (dense kinds): m = b1*m + inc*g; if update: th = d*th - eta*sign(m).
// sc per tensor: b1, inc, eta, d (eta < 0 marks a non-update micro-step: only m and g touched).
// partial[blockIdx.x] receives the block's sum of the new th^2 (double), for the next RMS.
extern "C" __global__ void tiger_step_f32(const unsigned long long* ptrs, const unsigned long long* lens,
                                          const float* sc, const unsigned* bs, unsigned nt,
                                          double* partial) {
    __shared__ double red[256];
    unsigned ti = find_tensor(bs, nt);
    float* th = (float*)ptrs[4 * ti];
    const float* g = (const float*)ptrs[4 * ti + 1];
    float* m = (float*)ptrs[4 * ti + 2];
    unsigned long long n = lens[ti];
    float b1 = sc[4 * ti], inc = sc[4 * ti + 1], eta = sc[4 * ti + 2], d = sc[4 * ti + 3];
    bool update = eta >= 0.f;
    unsigned long long start = (unsigned long long)(blockIdx.x - bs[ti]) * EPB;
    unsigned long long end = start + EPB < n ? start + EPB : n;
    double acc = 0.0;
    for (unsigned long long i = start + threadIdx.x; i < end; i += blockDim.x) {
        float mn = __fadd_rn(__fmul_rn(m[i], b1), __fmul_rn(g[i], inc));
        m[i] = mn;
        if (update) {
            float t = __fsub_rn(__fmul_rn(th[i], d), __fmul_rn(eta, sgnf(mn)));
            th[i] = t;
            acc += (double)t * (double)t;
        }
    }
    red[threadIdx.x] = acc;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) red[threadIdx.x] += red[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = red[0];
}

// Tiger embedding rows: one block per row of length dim. The row's RMS is taken before the
// update: eta_row = alpha * max(rms, floor); th = (1 - eta_row*lambda)*th - eta_row*sign(m).
extern "C" __global__ void tiger_rows_f32(float* th, const float* g, float* m, unsigned long long rows,
                                          unsigned long long dim, float b1, float inc, int update,
                                          double alpha, double lambda, double floor_) {
    __shared__ double red[256];
    for (unsigned long long r = blockIdx.x; r < rows; r += gridDim.x) {
        float* tr = th + r * dim;
        float* mr = m + r * dim;
        const float* gr = g + r * dim;
        double acc = 0.0;
        for (unsigned long long i = threadIdx.x; i < dim; i += blockDim.x) {
            mr[i] = __fadd_rn(__fmul_rn(mr[i], b1), __fmul_rn(gr[i], inc));
            acc += (double)tr[i] * (double)tr[i];
        }
        red[threadIdx.x] = acc;
        __syncthreads();
        for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
            if (threadIdx.x < s) red[threadIdx.x] += red[threadIdx.x + s];
            __syncthreads();
        }
        double rms = sqrt(red[0] / (double)dim);
        __syncthreads();
        if (update) {
            double eta = alpha * (rms > floor_ ? rms : floor_);
            float d = (float)(1.0 - eta * lambda), e = (float)eta;
            for (unsigned long long i = threadIdx.x; i < dim; i += blockDim.x)
                tr[i] = __fsub_rn(__fmul_rn(tr[i], d), __fmul_rn(e, sgnf(mr[i])));
        }
        __syncthreads();
    }
}

// AdamW (torch order). sc per tensor: d, step_size, sqrt(bc2), grad scale.
extern "C" __global__ void adamw_step_f32(const unsigned long long* ptrs, const unsigned long long* lens,
                                          const float* sc, const unsigned* bs, unsigned nt, float b1,
                                          float omb1, float b2, float omb2, float eps) {
    unsigned ti = find_tensor(bs, nt);
    float* th = (float*)ptrs[4 * ti];
    const float* g = (const float*)ptrs[4 * ti + 1];
    float* m = (float*)ptrs[4 * ti + 2];
    float* v = (float*)ptrs[4 * ti + 3];
    unsigned long long n = lens[ti];
    float d = sc[4 * ti], step = sc[4 * ti + 1], bc2s = sc[4 * ti + 2], gs = sc[4 * ti + 3];
    unsigned long long start = (unsigned long long)(blockIdx.x - bs[ti]) * EPB;
    unsigned long long end = start + EPB < n ? start + EPB : n;
    for (unsigned long long i = start + threadIdx.x; i < end; i += blockDim.x) {
        float gi = __fmul_rn(g[i], gs);
        float mn = __fadd_rn(__fmul_rn(m[i], b1), __fmul_rn(gi, omb1));
        float vn = __fadd_rn(__fmul_rn(v[i], b2), __fmul_rn(__fmul_rn(gi, gi), omb2));
        m[i] = mn;
        v[i] = vn;
        float den = __fadd_rn(__fdiv_rn(__fsqrt_rn(vn), bc2s), eps);
        th[i] = __fsub_rn(__fmul_rn(th[i], d), __fmul_rn(step, __fdiv_rn(mn, den)));
    }
}

// flag[0] |= 1 if x holds a NaN (nan_only) or any non-finite value.
extern "C" __global__ void nonfinite_f32(const float* x, unsigned long long n, int nan_only, int* flag) {
    int bad = 0;
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x) {
        float v = x[i];
        bad |= nan_only ? (v != v) : !(fabsf(v) <= 3.402823466e38f);
    }
    if (__syncthreads_or(bad) && threadIdx.x == 0) atomicOr(flag, 1);
}

// The guard's shrink: th = (th - c)*r + c.
extern "C" __global__ void shrink_f32(float* th, unsigned long long n, float c, float r) {
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x)
        th[i] = __fadd_rn(__fmul_rn(__fsub_rn(th[i], c), r), c);
}

// acc = g on the first micro-step of a group, else acc += g.
extern "C" __global__ void accumulate_f32(float* acc, const float* g, unsigned long long n, int first) {
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x)
        acc[i] = first ? g[i] : __fadd_rn(acc[i], g[i]);
}

// The same-traffic ceiling: th += g; m += g.
extern "C" __global__ void ceiling_f32(float* th, float* m, const float* g, unsigned long long n) {
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x) {
        float gi = g[i];
        th[i] += gi;
        m[i] += gi;
    }
}
