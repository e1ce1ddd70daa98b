// Column-range copy for splitting / concatenating along the last axis (gau/src/ops/columns.rs):
//   dst[r, dst_off + c] = src[r, src_off + c]      r < rows, c < width
// with dst [rows, dst_w] and src [rows, src_w] row-major. A split is one launch per part (src
// the whole tensor), a concatenation one launch per part (dst the whole tensor). Pure data
// movement, grid-stride over rows*width; consecutive threads copy consecutive columns of a row,
// so reads and writes coalesce within each row.

extern "C" __global__ void copy_columns_f32(float* __restrict__ dst, unsigned long long dst_w,
                                            unsigned long long dst_off,
                                            const float* __restrict__ src,
                                            unsigned long long src_w, unsigned long long src_off,
                                            unsigned long long width, unsigned long long rows) {
    const unsigned long long n = rows * width;
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x) {
        const unsigned long long r = i / width, c = i % width;
        dst[r * dst_w + dst_off + c] = src[r * src_w + src_off + c];
    }
}
