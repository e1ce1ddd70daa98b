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

/// The two tasks the demo trains on.
#[derive(Clone, Copy, Debug)]
pub enum Task {
    /// MQAR with this many pairs (module docs).
    Mqar { pairs: usize },
    /// Lagged copy: tokens uniform over the whole vocabulary, the target at position `i ≥ lag`
    /// is the input token at `i − lag` (positions before have the ignore index). A causal model
    /// must put its attention on one position at a fixed relative offset among all it sees.
    Copy { lag: usize },
}

impl Task {
    /// Answers (non-ignored targets) in one sequence of length `n`.
    pub fn answers(&self, n: usize) -> usize {
        match *self {
            Task::Mqar { pairs } => n.saturating_sub(2 * pairs),
            Task::Copy { lag } => n.saturating_sub(lag),
        }
    }

    /// `b` sequences of length `n` drawn from `seed`.
    pub fn batch(&self, v: &Vocab, b: usize, n: usize, seed: u64) -> Result<Batch, String> {
        match *self {
            Task::Mqar { pairs } => batch(v, b, n, pairs, seed),
            Task::Copy { lag } => copy_batch(v, b, n, lag, seed),
        }
    }
}

/// `b` lagged-copy sequences ([`Task::Copy`]) of length `n > lag ≥ 1`, drawn from `seed`.
pub fn copy_batch(v: &Vocab, b: usize, n: usize, lag: usize, seed: u64) -> Result<Batch, String> {
    if lag == 0 || lag >= n {
        return Err(format!("copy needs 1 ≤ lag < n; got lag = {lag}, n = {n}"));
    }
    let mut rng = SplitMix64::new(seed);
    let (mut ids, mut targets) = (Vec::with_capacity(b * n), Vec::with_capacity(b * n));
    for _ in 0..b {
        let row = ids.len();
        for i in 0..n {
            ids.push(rng.below(v.size()) as u32);
            targets.push(if i >= lag {
                ids[row + i - lag] as i64
            } else {
                IGNORE
            });
        }
    }
    Ok(Batch { ids, targets, b, n })
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
