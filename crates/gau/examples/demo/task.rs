//! Multi-query associative recall (MQAR; Arora et al., "Zoology", 2023), generated from a seed.
//!
//! A sequence of length `n` with `P` pairs is
//!
//! ```text
//! k₁ v₁ k₂ v₂ … k_P v_P | q q q … q          (n − 2P queries)
//! ```
//!
//! keys `k_i` distinct, drawn from the key tokens; values `v_i` drawn (with repetition) from the
//! value tokens; every position after the pairs is a query, one of the `P` keys drawn uniformly.
//! At a query the target is the value paired with that key; the pair positions have the ignore
//! index −100, so the loss and the accuracy count answers only. A causal model sees the query
//! key and must find it among the pairs and copy the token after it: a lookup by content that
//! needs attention, two layers of it (one to tie each value to the key before it, one to match
//! the query), and that chance answers at 1/values. (Zoology fills the positions between the
//! queries with a pad token; answering at every position gives more signal per step.) Targets
//! are never inputs, so an earlier query of the same key does not give the answer away.

/// The token vocabulary: key tokens `0 … keys−1`, then value tokens `keys … keys+values−1`.
#[derive(Clone, Copy, Debug)]
pub struct Vocab {
    pub keys: usize,
    pub values: usize,
}

impl Vocab {
    pub fn size(&self) -> usize {
        self.keys + self.values
    }
}
/// The target of a position that is not a query.
pub const IGNORE: i64 = -100;

/// SplitMix64 (Steele, Lea and Flood 2014): a tiny seeded generator, so the data do not depend on
/// any crate's version.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0 … n−1` (multiply-shift; the bias is below 2⁻⁵⁰ for these n).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// The first `k` entries of a uniformly random permutation of `0 … n−1` (partial
    /// Fisher–Yates).
    pub fn sample(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = i + self.below(n - i);
            all.swap(i, j);
        }
        all.truncate(k);
        all
    }
}

/// `b` sequences of length `n`, row-major, with their targets.
pub struct Batch {
    pub ids: Vec<u32>,
    pub targets: Vec<i64>,
    pub b: usize,
    pub n: usize,
}

/// Checks that `pairs` pairs and their queries fit in `n` positions and the key vocabulary.
pub fn check(v: &Vocab, n: usize, pairs: usize) -> Result<(), String> {
    if pairs == 0 || pairs > v.keys || 2 * pairs >= n || v.values == 0 {
        return Err(format!(
            "MQAR needs 1 ≤ pairs ≤ {} keys, 2·pairs < n and values; got pairs = {pairs}, n = {n}, {v:?}",
            v.keys
        ));
    }
    Ok(())
}

/// One sequence (module docs), appended to `ids` and `targets`.
fn sequence(
    v: &Vocab,
    n: usize,
    pairs: usize,
    rng: &mut SplitMix64,
    ids: &mut Vec<u32>,
    t: &mut Vec<i64>,
) {
    let keys = rng.sample(v.keys, pairs);
    let values: Vec<usize> = (0..pairs).map(|_| v.keys + rng.below(v.values)).collect();
    for (k, v) in keys.iter().zip(&values) {
        ids.extend([*k as u32, *v as u32]);
        t.extend([IGNORE, IGNORE]);
    }
    for _ in 2 * pairs..n {
        let pair = rng.below(pairs);
        ids.push(keys[pair] as u32);
        t.push(values[pair] as i64);
    }
}

/// `b` sequences of length `n` with `pairs` pairs each, drawn from `seed`.
pub fn batch(v: &Vocab, b: usize, n: usize, pairs: usize, seed: u64) -> Result<Batch, String> {
    check(v, n, pairs)?;
    let mut rng = SplitMix64::new(seed);
    let (mut ids, mut targets) = (Vec::with_capacity(b * n), Vec::with_capacity(b * n));
    for _ in 0..b {
        sequence(v, n, pairs, &mut rng, &mut ids, &mut targets);
    }
    Ok(Batch { ids, targets, b, n })
}
