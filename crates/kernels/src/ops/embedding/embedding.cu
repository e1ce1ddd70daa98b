// Embedding gather and its deterministic scatter-add backward, f32, grid-stride.
//   fwd: y[i*d + k] = table[ids[i]*d + k]              (ids checked < V on the host)
//   bwd: dtable[v*d + k] = sum_{t = off[v]}^{off[v+1]-1} dy[pos[t]*d + k]
// The backward gets the positions of each id grouped on the host (off: V+1 offsets, pos:
// positions in increasing order), so each dtable element is one thread summing in a fixed
// order: no atomics, deterministic, and in the CPU's order. Neighbouring threads share v and
// read neighbouring k, so the dy reads are coalesced. Cost: V*d threads (a dense dtable is
// written anyway); an id that occurs very often serialises its row's sum over its count.

extern "C" __global__ void embedding_fwd_f32(float* __restrict__ y, const float* __restrict__ table,
                                             const unsigned int* __restrict__ ids,
                                             unsigned long long n_ids, unsigned long long d) {
    unsigned long long total = n_ids * d;
    for (unsigned long long e = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; e < total;
         e += (unsigned long long)gridDim.x * blockDim.x) {
        unsigned long long i = e / d, k = e % d;
        y[e] = table[(unsigned long long)ids[i] * d + k];
    }
}

extern "C" __global__ void embedding_bwd_f32(float* __restrict__ dtable, const float* __restrict__ dy,
                                             const unsigned long long* __restrict__ off,
                                             const unsigned long long* __restrict__ pos,
                                             unsigned long long vocab, unsigned long long d) {
    unsigned long long total = vocab * d;
    for (unsigned long long e = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; e < total;
         e += (unsigned long long)gridDim.x * blockDim.x) {
        unsigned long long v = e / d, k = e % d;
        float acc = 0.0f;
        for (unsigned long long t = off[v]; t < off[v + 1]; ++t) acc += dy[pos[t] * d + k];
        dtable[e] = acc;
    }
}
