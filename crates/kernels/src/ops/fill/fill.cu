// fill: y[i] = value for i < n. Grid-stride, 4 B/elem written.
extern "C" __global__ void fill_f32(float* __restrict__ y, float value, unsigned long long n) {
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x) {
        y[i] = value;
    }
}
