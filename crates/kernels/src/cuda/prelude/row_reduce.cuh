// Row reductions shared by the row kernels (softmax, cross_entropy, the norms). A .cu file
// includes it by name; the runtime pastes this file in from its embedded copy
// (kernels::cuda::prelude), `cargo xtask cuda-check` finds it with --include-path. It includes
// nothing itself (NVRTC has no system headers); the functions are not emitted where unused.
//   warp_row          the row of a one-warp-per-row launch (8 rows per 256-thread block).
//   warp_sum          sum over the 32 lanes of a warp (butterfly, every lane gets the sum).
//   push_ms           one value z into a running softmax state (max m, sum s of e^(x - m)).
//   merge_ms          merge of two running softmax states.
//   block_reduce_ms   (m, s) over a block of 32..1024 threads (a multiple of 32).
//   block_reduce_sum  sum over a block of 32..1024 threads (a multiple of 32).
// The block reductions begin with a __syncthreads(), so a grid-stride loop over rows may call
// them once per row; every thread of the block must call them.

#define FULL_MASK 0xffffffffu

__device__ __forceinline__ float neg_inf() { return __int_as_float(0xff800000); }

// This thread's row when each warp owns one row; the lane is threadIdx.x & 31.
__device__ __forceinline__ unsigned int warp_row() {
    return blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}

// (m, s) <- (m, s) with the value z: a new maximum rescales s; m = -inf is the empty state.
__device__ __forceinline__ void push_ms(float& m, float& s, float z) {
    if (z > m) {
        s = s * expf(m - z) + 1.0f;
        m = z;
    } else if (m != neg_inf()) {
        s += expf(z - m);
    }
}

// (m, s) <- merge of two running softmax states: s = s*e^(m-M) + s2*e^(m2-M), M = max(m, m2).
__device__ __forceinline__ void merge_ms(float& m, float& s, float m2, float s2) {
    float mx = fmaxf(m, m2);
    if (mx == neg_inf()) return;  // both empty
    s = s * expf(m - mx) + s2 * expf(m2 - mx);
    m = mx;
}

__device__ __forceinline__ void warp_reduce_ms(float& m, float& s) {
    for (int o = 16; o > 0; o >>= 1) {
        float m2 = __shfl_xor_sync(FULL_MASK, m, o);
        float s2 = __shfl_xor_sync(FULL_MASK, s, o);
        merge_ms(m, s, m2, s2);
    }
}

__device__ void block_reduce_ms(float& m, float& s) {
    __shared__ float sh_m[32];
    __shared__ float sh_s[32];
    warp_reduce_ms(m, s);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    __syncthreads();  // the previous row's readers are done with sh_*
    if (lane == 0) {
        sh_m[warp] = m;
        sh_s[warp] = s;
    }
    __syncthreads();
    if (warp == 0) {
        m = lane < nw ? sh_m[lane] : neg_inf();
        s = lane < nw ? sh_s[lane] : 0.0f;
        warp_reduce_ms(m, s);
        if (lane == 0) {
            sh_m[0] = m;
            sh_s[0] = s;
        }
    }
    __syncthreads();
    m = sh_m[0];
    s = sh_s[0];
}

__device__ float block_reduce_sum(float v) {
    __shared__ float sh[32];
    v = warp_sum(v);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    __syncthreads();
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = warp_sum(lane < nw ? sh[lane] : 0.0f);
        if (lane == 0) sh[0] = v;
    }
    __syncthreads();
    return sh[0];
}
