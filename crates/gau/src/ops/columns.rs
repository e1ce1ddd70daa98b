//! Splitting and concatenating along the last axis: `x [.., w₁+…+w_k]` ↔ `[.., w_i]` parts.
//! Pure data movement (the backward of a split is the concatenation of the part gradients),
//! parallel over blocks of rows; on CUDA one `columns.cu` column-range copy per part.

use crate::{Error, Result};
use kernels::{Float, Storage, Tensor};
use rayon::prelude::*;

/// Rows per rayon task: big enough that a task moves ≥ ~64 KiB.
fn rows_per_task(width: usize) -> usize {
    (16384 / width.max(1)).max(1)
}

fn split_cpu<F: Float>(x: &[F], widths: &[usize]) -> Vec<Vec<F>> {
    let w: usize = widths.iter().sum();
    let rows = x.len() / w.max(1);
    let step = rows_per_task(w);
    let mut offset = 0;
    widths
        .iter()
        .map(|&wi| {
            let o = offset;
            offset += wi;
            let mut p = vec![F::zero(); rows * wi];
            p.par_chunks_mut(step * wi)
                .zip(x.par_chunks(step * w))
                .for_each(|(dst, src)| {
                    for (d, s) in dst.chunks_exact_mut(wi).zip(src.chunks_exact(w)) {
                        d.copy_from_slice(&s[o..o + wi]);
                    }
                });
            p
        })
        .collect()
}

fn concat_cpu<F: Float>(parts: &[&[F]], widths: &[usize], rows: usize) -> Vec<F> {
    let w: usize = widths.iter().sum();
    let step = rows_per_task(w);
    let mut out = vec![F::zero(); rows * w];
    out.par_chunks_mut(step * w)
        .enumerate()
        .for_each(|(t, dst)| {
            let r0 = t * step;
            for (i, row) in dst.chunks_exact_mut(w).enumerate() {
                let mut o = 0;
                for (p, &wi) in parts.iter().zip(widths) {
                    row[o..o + wi].copy_from_slice(&p[(r0 + i) * wi..(r0 + i + 1) * wi]);
                    o += wi;
                }
            }
        });
    out
}

/// Splits `x [.., W]` into parts `[.., widths[i]]`; the widths must sum to `W`.
pub fn split_last(x: &Tensor, widths: &[usize]) -> Result<Vec<Tensor>> {
    let w = *x.shape().last().ok_or_else(|| {
        kernels::Error::invalid_shape("split_last", x.shape(), "needs at least one axis")
    })?;
    let total: usize = widths.iter().sum();
    if total != w || widths.contains(&0) {
        return Err(Error::WidthMismatch {
            what: "split_last (sum of positive part widths)",
            expected: w,
            got: total,
        });
    }
    let shape_of = |wi: usize| {
        let mut s = x.shape().to_vec();
        *s.last_mut().expect("rank ≥ 1") = wi;
        s
    };
    let wrap = |parts: Vec<Storage>| -> Result<Vec<Tensor>> {
        parts
            .into_iter()
            .zip(widths)
            .map(|(p, &wi)| Ok(Tensor::from_storage(p, &shape_of(wi))?))
            .collect()
    };
    match x.storage() {
        Storage::F32(v) => wrap(split_cpu(v, widths).into_iter().map(Storage::F32).collect()),
        Storage::F64(v) => wrap(split_cpu(v, widths).into_iter().map(Storage::F64).collect()),
        Storage::Cuda(c) => kernels::on_cuda!(
            c,
            wrap(
                super::cuda::split(c, widths)?
                    .into_iter()
                    .map(Storage::Cuda)
                    .collect()
            )
        ),
    }
}

/// Concatenates parts `[.., w_i]` (same leading dims, dtype, device) into `[.., Σ w_i]`.
pub fn concat_last(parts: &[&Tensor]) -> Result<Tensor> {
    let first = parts
        .first()
        .ok_or_else(|| kernels::Error::invalid("concat_last", "needs at least one part"))?;
    let rank = first.shape().len();
    if rank == 0 {
        return Err(
            kernels::Error::invalid_shape("concat_last", first.shape(), "needs rank ≥ 1").into(),
        );
    }
    let lead = &first.shape()[..rank - 1];
    let mut widths = Vec::with_capacity(parts.len());
    for p in parts {
        first.expect_same_kind("concat_last", p)?;
        if p.shape().len() != rank || &p.shape()[..rank - 1] != lead {
            let mut want = lead.to_vec();
            want.push(*p.shape().last().unwrap_or(&0));
            return Err(Error::ShapeMismatch {
                what: "concat_last (leading dims)",
                expected: want,
                got: p.shape().to_vec(),
            });
        }
        widths.push(p.shape()[rank - 1]);
    }
    let rows: usize = lead.iter().product();
    let mut shape = lead.to_vec();
    shape.push(widths.iter().sum());
    macro_rules! cat {
        ($t:ty) => {{
            let slices = parts
                .iter()
                .map(|p| p.as_slice::<$t>())
                .collect::<kernels::Result<Vec<_>>>()?;
            Ok(Tensor::from_vec(
                concat_cpu(&slices, &widths, rows),
                &shape,
            )?)
        }};
    }
    match first.storage() {
        Storage::F32(_) => cat!(f32),
        Storage::F64(_) => cat!(f64),
        Storage::Cuda(_c) => kernels::on_cuda!(_c, {
            // Same device for every part: checked by expect_same_kind above.
            let slices = parts
                .iter()
                .filter_map(|p| match p.storage() {
                    Storage::Cuda(s) => Some(s),
                    _ => None,
                })
                .collect::<Vec<_>>();
            Ok(Tensor::from_cuda(
                super::cuda::concat(&slices, &widths, rows)?,
                &shape,
            )?)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_then_concat_round_trips_and_bad_widths_are_errors() {
        let x =
            Tensor::from_vec((0..24).map(|i| i as f64).collect::<Vec<_>>(), &[2, 2, 6]).unwrap();
        let parts = split_last(&x, &[1, 3, 2]).unwrap();
        assert_eq!(parts[1].shape(), &[2, 2, 3]);
        assert_eq!(parts[1].to_vec::<f64>().unwrap()[..3], [1.0, 2.0, 3.0]);
        let refs: Vec<&Tensor> = parts.iter().collect();
        let back = concat_last(&refs).unwrap();
        assert_eq!(back.to_vec::<f64>().unwrap(), x.to_vec::<f64>().unwrap());
        assert!(matches!(
            split_last(&x, &[1, 2]),
            Err(Error::WidthMismatch { .. })
        ));
        assert!(matches!(
            split_last(&x, &[0, 6]),
            Err(Error::WidthMismatch { .. })
        ));
        let other = Tensor::from_vec(vec![0.0f64; 3], &[3, 1]).unwrap();
        assert!(matches!(
            concat_last(&[&parts[0], &other]),
            Err(Error::ShapeMismatch { .. })
        ));
        assert!(concat_last(&[]).is_err());
    }
}
