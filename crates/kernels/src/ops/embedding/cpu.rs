//! Rayon kernels, generic over f32/f64: the forward copies rows in parallel; the backward
//! runs over table rows, each summing its own `dy` rows in increasing position (no races, and
//! the same result for any thread count).

use super::IdGroups;
use crate::Float;
use crate::cpu_util::CHUNK;
use rayon::prelude::*;

pub fn embedding_forward<F: Float>(table: &[F], ids: &[u32], d: usize) -> Vec<F> {
    let mut y = vec![F::zero(); ids.len() * d];
    if d == 0 {
        return y;
    }
    y.par_chunks_mut(d)
        .zip(ids.par_iter())
        .with_min_len((CHUNK / d).max(1))
        .for_each(|(yr, &id)| {
            let v = id as usize;
            yr.copy_from_slice(&table[v * d..(v + 1) * d]);
        });
    y
}

pub fn embedding_backward<F: Float>(dy: &[F], groups: &IdGroups, d: usize) -> Vec<F> {
    let vocab = groups.offsets.len() - 1;
    let mut dt = vec![F::zero(); vocab * d];
    if d == 0 {
        return dt;
    }
    dt.par_chunks_mut(d)
        .enumerate()
        .with_min_len((CHUNK / d).max(1))
        .for_each(|(v, row)| {
            for &i in &groups.positions[groups.offsets[v]..groups.offsets[v + 1]] {
                for (o, &g) in row.iter_mut().zip(&dy[i * d..(i + 1) * d]) {
                    *o += g;
                }
            }
        });
    dt
}
