// Rotary position embedding, f32 data, f64 angles. x is contiguous [rows, s], s even; row r
// sits at position p = offset + r % n. For pair m (0 <= m < s/2), theta_m = base^(-2m/s):
//   y_a = x_a cos(sign*p*theta_m) - x_b sin(sign*p*theta_m)
//   y_b = x_b cos(sign*p*theta_m) + x_a sin(sign*p*theta_m)
// with (a, b) = (2m, 2m+1) when interleaved, (m, m + s/2) when half-split; sign = +1 forward,
// -1 backward (the transpose rotation). Grid-stride over rows*s/2 pairs.
// The angle and its sincos are computed in double, as the CPU path does, then rounded to f32:
// an f32 angle would lose ~1e-5 rad at p ~ 500. Memory-bound (8 B/elem); the double pow and
// sincos per pair are cheap next to that on sm_90's FP64 units.

struct RopeParams {
    unsigned long long pairs;   // rows * s / 2
    unsigned long long n;       // rows per sequence
    unsigned long long s;       // row width
    unsigned long long offset;  // position of each sequence's first row
    double base;
    double sign;
    int interleaved;
    int pad_;
};

extern "C" __global__ void rope_f32(float* __restrict__ y, const float* __restrict__ x,
                                    RopeParams p) {
    unsigned long long half = p.s / 2;
    for (unsigned long long q = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
         q < p.pairs; q += (unsigned long long)gridDim.x * blockDim.x) {
        unsigned long long row = q / half, m = q % half;
        double pos = (double)(p.offset + row % p.n);
        double theta = pow(p.base, -2.0 * (double)m / (double)p.s);
        double sn, cs;
        sincos(p.sign * pos * theta, &sn, &cs);
        float c = (float)cs, s = (float)sn;
        unsigned long long a = row * p.s + (p.interleaved ? 2 * m : m);
        unsigned long long b = a + (p.interleaved ? 1 : half);
        float xa = x[a], xb = x[b];
        y[a] = xa * c - xb * s;
        y[b] = xb * c + xa * s;
    }
}
