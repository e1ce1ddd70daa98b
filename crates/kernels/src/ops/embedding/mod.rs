//! Embedding lookup: gathers rows of a table.
//!
//! ```text
//! forward:  y[i, :] = table[ids[i], :]                 table: [V, d], ids: N host u32 → y: [N, d]
//! backward: dtable[v, :] = Σ_{i : ids[i] = v} dy[i, :]  (a scatter-add; rows never looked up get 0)
//! ```
//!
//! The ids are integers and have **no gradient**; only the table does. An id `≥ V` is an
//! [`Error::InvalidArgument`]. The ids live on the host (they come from a tokenizer) and are
//! copied to the GPU for a CUDA table; `y` is always `[N, d]` — reshape it for batched ids.
//!
//! The backward is deterministic on both devices: the positions of each id are grouped on the
//! host (a stable counting sort, O(N + V)), and each `dtable` row sums its `dy` rows in
//! increasing `i`. The CPU runs over table rows in parallel; the CUDA kernel gives each
//! `dtable` element one thread that walks its row's position list — no atomics, so the result
//! does not depend on scheduling, and the CUDA sum is in the same order as the CPU's.

mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
mod reference;
#[cfg(test)]
mod tests;

pub use reference::{embedding_backward_ref, embedding_forward_ref};

use crate::{Error, Result, Tensor};

fn check_ids(op: &'static str, ids: &[u32], vocab: usize) -> Result<()> {
    if let Some((i, &id)) = ids
        .iter()
        .enumerate()
        .find(|&(_, &id)| id as usize >= vocab)
    {
        return Err(Error::invalid(
            op,
            format!("ids[{i}] = {id} is outside the table of {vocab} rows"),
        ));
    }
    Ok(())
}

/// The positions of every id, grouped by id: positions of id `v` are
/// `positions[offsets[v]..offsets[v + 1]]`, in increasing order (a stable counting sort).
pub(crate) struct IdGroups {
    pub offsets: Vec<usize>,
    pub positions: Vec<usize>,
}

pub(crate) fn group_ids(ids: &[u32], vocab: usize) -> IdGroups {
    let mut offsets = vec![0usize; vocab + 1];
    for &id in ids {
        offsets[id as usize + 1] += 1;
    }
    for v in 0..vocab {
        offsets[v + 1] += offsets[v];
    }
    let mut next = offsets.clone();
    let mut positions = vec![0usize; ids.len()];
    for (i, &id) in ids.iter().enumerate() {
        positions[next[id as usize]] = i;
        next[id as usize] += 1;
    }
    IdGroups { offsets, positions }
}

/// `y[i, :] = table[ids[i], :]`; `table` is `[V, d]`, `y` is `[ids.len(), d]` on the table's
/// device and dtype.
pub fn embedding_forward(table: &Tensor, ids: &[u32]) -> Result<Tensor> {
    let op = "embedding_forward";
    let [vocab, d] = *table.shape() else {
        return Err(Error::invalid_shape(
            op,
            table.shape(),
            "the table must be [V, d]",
        ));
    };
    check_ids(op, ids, vocab)?;
    let shape = [ids.len(), d];
    dispatch!(
        table,
        |v| Tensor::from_vec(cpu::embedding_forward(v, ids, d), &shape),
        |c| cuda::embedding_forward(c, ids, d).and_then(|s| Tensor::from_cuda(s, &shape))
    )
}

/// `dtable[v, :] = Σ_{i: ids[i] = v} dy[i, :]`, a `[vocab, d]` tensor on `dy`'s device and
/// dtype; `dy` is `[ids.len(), d]`. The ids get no gradient (they are integers).
///
/// Derivation: `y[i, k] = Σ_v [ids[i] = v]·table[v, k]`, so
/// `∂L/∂table[v, k] = Σ_i [ids[i] = v]·dy[i, k]`.
pub fn embedding_backward(dy: &Tensor, ids: &[u32], vocab: usize) -> Result<Tensor> {
    let op = "embedding_backward";
    let [rows, d] = *dy.shape() else {
        return Err(Error::invalid_shape(op, dy.shape(), "dy must be [N, d]"));
    };
    if rows != ids.len() {
        return Err(Error::shape(op, &[ids.len(), d], dy.shape()));
    }
    check_ids(op, ids, vocab)?;
    let groups = group_ids(ids, vocab);
    let shape = [vocab, d];
    dispatch!(
        dy,
        |v| Tensor::from_vec(cpu::embedding_backward(v, &groups, d), &shape),
        |c| cuda::embedding_backward(c, &groups, d).and_then(|s| Tensor::from_cuda(s, &shape))
    )
}
