//! Plain f64 loops: the definition the CPU and CUDA kernels are tested against.

/// `y[i, :] = table[ids[i], :]` with rows of width `d`.
pub fn embedding_forward_ref(table: &[f64], ids: &[u32], d: usize) -> Vec<f64> {
    let mut y = Vec::with_capacity(ids.len() * d);
    for &id in ids {
        let v = id as usize;
        y.extend_from_slice(&table[v * d..(v + 1) * d]);
    }
    y
}

/// `dtable[ids[i], :] += dy[i, :]` for `i = 0, 1, …` in order, into a zeroed `[vocab, d]`.
pub fn embedding_backward_ref(dy: &[f64], ids: &[u32], vocab: usize, d: usize) -> Vec<f64> {
    let mut dt = vec![0.0; vocab * d];
    for (i, &id) in ids.iter().enumerate() {
        let v = id as usize;
        for k in 0..d {
            dt[v * d + k] += dy[i * d + k];
        }
    }
    dt
}
