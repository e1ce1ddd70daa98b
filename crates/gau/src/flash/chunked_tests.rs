//! Finite-difference check of mixed chunk attention's five inputs (independent queries and
//! keys, unlike the layer, whose four share one `Z`).

use super::MixedChunkAttention;
use super::tests::DENOMS;
use crate::core::{AttentionCore, CoreKind, Tiles};
use crate::norm::Normalization;
use crate::test_support::masks;
use kernels::Tensor;
use kernels::testing::{randn, rng};

/// The attention part alone, each of its five inputs checked by central differences, for every
/// local normalisation × global denominator × mask (the layer check above shares one `Z`
/// between the four query/key inputs; here they are independent).
#[test]
fn fd_check_mixed_chunk_attention_inputs() {
    use kernels::testing::{dot, fd_check};
    let (b, n, s, e) = (2, 5, 2, 2);
    let inputs: Vec<Vec<f64>> = [s, s, s, s, e]
        .iter()
        .enumerate()
        .map(|(i, &w)| randn(&mut rng(50 + i as u64), b * n * w))
        .collect();
    let w = randn(&mut rng(60), b * n * e);
    let shape = |i: usize| [b, n, if i == 4 { e } else { s }];
    let tensor = |i: usize, v: &[f64]| Tensor::from_vec(v.to_vec(), &shape(i)).unwrap();
    let mut worst: f64 = 0.0;
    for norm in Normalization::all() {
        for global in DENOMS {
            for mask in masks(b, n) {
                let att = MixedChunkAttention {
                    chunk: 2,
                    local: AttentionCore {
                        norm,
                        scale: 1.3,
                        kind: CoreKind::Fused(Tiles { rows: 1, keys: 1 }),
                    },
                    global,
                };
                let ts: Vec<Tensor> = (0..5).map(|i| tensor(i, &inputs[i])).collect();
                let (_, cache) = att
                    .forward(&ts[0], &ts[1], &ts[2], &ts[3], &ts[4], &mask)
                    .unwrap();
                let dc = Tensor::from_vec(w.clone(), &[b, n, e]).unwrap();
                let g = att
                    .backward(&ts[0], &ts[1], &ts[2], &ts[3], &ts[4], &mask, &cache, &dc)
                    .unwrap();
                let grads = [g.dqq, g.dkq, g.dql, g.dkl, g.dv];
                for (i, name) in ["q_quad", "k_quad", "q_lin", "k_lin", "v"]
                    .iter()
                    .enumerate()
                {
                    let mut loss = |v: &[f64]| {
                        let mut t: Vec<Tensor> = (0..5).map(|j| tensor(j, &inputs[j])).collect();
                        t[i] = tensor(i, v);
                        let y = att
                            .forward(&t[0], &t[1], &t[2], &t[3], &t[4], &mask)
                            .unwrap()
                            .0;
                        dot(&y.to_vec::<f64>().unwrap(), &w)
                    };
                    let an = grads[i].to_vec::<f64>().unwrap();
                    let rep = fd_check(name, &mut loss, &inputs[i], &an, 1e-5, 1e-6)
                        .unwrap_or_else(|err| panic!("{att:?} {mask:?}: {err}"));
                    worst = worst.max(rep.max_rel);
                }
            }
        }
    }
    eprintln!("mixed chunk attention fd check: worst relative error {worst:.2e}");
}
