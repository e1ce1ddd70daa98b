// Inverted dropout with a counter-based mask, f32, grid-stride over n elements.
//   h_i  = mix64(mix64(seed + GAMMA) + i*GAMMA)          (splitmix64, 64-bit integer ops only)
//   y_i  = (h_i >> 32) >= threshold ? x_i * scale : 0     threshold = ceil(p*2^32), scale = 1/(1-p)
// threshold and scale are computed on the host exactly as the CPU path computes them, so the
// mask and the f32 values are bit-identical to the CPU's. The backward is the same kernel on dy.
// Memory-bound: 8 B/elem; the hash is 2 64-bit multiplies per element (the key is per thread).

#define GAMMA 0x9E3779B97F4A7C15ull

__device__ __forceinline__ unsigned long long mix64(unsigned long long z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

__device__ __forceinline__ unsigned long long dropout_key(unsigned long long seed) {
    return mix64(seed + GAMMA);
}

__device__ __forceinline__ unsigned long long dropout_hash(unsigned long long seed,
                                                           unsigned long long i) {
    return mix64(dropout_key(seed) + i * GAMMA);
}

extern "C" __global__ void dropout_f32(float* __restrict__ y, const float* __restrict__ x,
                                       unsigned long long seed, unsigned long long threshold,
                                       float scale, unsigned long long n) {
    unsigned long long key = dropout_key(seed);
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x) {
        unsigned long long h = mix64(key + i * GAMMA);
        y[i] = (h >> 32) >= threshold ? x[i] * scale : 0.0f;
    }
}

// Known values of dropout_hash(seed, i). tests.rs parses the rows between the markers and
// checks them against the Rust hash; dropout_hash_selftest checks them on the GPU.
// BEGIN HASH_CHECKS
__device__ const unsigned long long HASH_CHECKS[6][3] = {
    {0x0000000000000000ull, 0x0000000000000000ull, 0x48218226ff3cd4bfull},
    {0x0000000000000000ull, 0x0000000000000001ull, 0xa706dd2f4d197e6full},
    {0x000000000000002aull, 0x0000000000000000ull, 0xb29ed950786f5ae3ull},
    {0x000000000000002aull, 0x0000000000003039ull, 0x90daa4d0b70a2499ull},
    {0x00000000deadbeefull, 0x0000010000000007ull, 0x2cb3190cfa029bedull},
    {0xffffffffffffffffull, 0xffffffffffffffffull, 0x2dfe1aa565b7ff81ull},
};
// END HASH_CHECKS

// out[k] = dropout_hash(HASH_CHECKS[k][0], HASH_CHECKS[k][1]) and ok[k] = (it equals
// HASH_CHECKS[k][2]), for k < 6. Launch with one block of at least 6 threads.
extern "C" __global__ void dropout_hash_selftest(unsigned long long* __restrict__ out,
                                                 int* __restrict__ ok) {
    int k = threadIdx.x;
    if (k < 6) {
        unsigned long long h = dropout_hash(HASH_CHECKS[k][0], HASH_CHECKS[k][1]);
        out[k] = h;
        ok[k] = h == HASH_CHECKS[k][2];
    }
}
