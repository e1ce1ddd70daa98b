//! The fused core against the materialising one and against a naive f64 reference written
//! straight from spec/gau.md §2.3–2.4; gradient checks of both backwards; bad input.

use super::*;
use crate::mask::KeyPadding;
use crate::norm::{Normalization, Relu2Denom};
use kernels::DType;
use kernels::testing::{randn, rng};
use nn::gradcheck::{Checkable, GradCheckOptions, gradcheck};
use nn::{GradSink, Module, Param, ParamRole, Prefix};

/// Masks every test sweeps, for batch 2 and `n_k` keys: none, lengths (one sequence padded,
/// one full), an explicit key mask that hides key 0 of the second sequence (so its first causal
/// row sees nothing: the empty-row case).
fn masks(n_k: usize) -> Vec<Mask> {
    let mut key_mask = vec![true; 2 * n_k];
    key_mask[n_k] = false;
    if n_k > 3 {
        key_mask[n_k + 2] = false;
    }
    let mut out = Vec::new();
    for causal in [false, true] {
        let base = Mask {
            causal,
            keys: KeyPadding::None,
        };
        out.push(base.clone());
        out.push(base.clone().with_lengths(&[n_k.div_ceil(2), n_k]));
        out.push(base.with_key_mask(key_mask.clone()));
    }
    out
}

/// Naive f64 forward from the definitions: visibility, `l_i`, `λ_i`, `ν`, each computed here.
fn naive(
    q: &[f64],
    k: &[f64],
    v: &[f64],
    d: Dims,
    mask: &Mask,
    norm: Normalization,
    c: f64,
) -> Vec<f64> {
    let Dims {
        batch,
        n_q,
        n_k,
        s,
        e,
    } = d;
    let mut out = vec![0.0; batch * n_q * e];
    for b in 0..batch {
        let real = |j: usize| match &mask.keys {
            KeyPadding::None => true,
            KeyPadding::Lengths(l) => j < l[b],
            KeyPadding::Mask(m) => m[b * n_k + j],
        };
        let valid = (0..n_k).filter(|&j| real(j)).count();
        for i in 0..n_q {
            let allowed: Vec<usize> = (0..n_k)
                .filter(|&j| real(j) && (!mask.causal || j + n_q <= i + n_k))
                .collect();
            let l = allowed.len();
            if l == 0 {
                continue;
            }
            let x: Vec<f64> = allowed
                .iter()
                .map(|&j| {
                    (0..s)
                        .map(|t| q[(b * n_q + i) * s + t] * k[(b * n_k + j) * s + t])
                        .sum()
                })
                .collect();
            let a: Vec<f64> = match norm {
                Normalization::Softmax | Normalization::SoftmaxPlus { .. } => {
                    let lam = match norm {
                        Normalization::SoftmaxPlus { floor } => {
                            (l.max(floor) as f64).ln() / 512f64.ln()
                        }
                        _ => 1.0,
                    };
                    let z: Vec<f64> = x.iter().map(|&x| lam * c * x).collect();
                    let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let sum: f64 = z.iter().map(|&z| (z - m).exp()).sum();
                    z.iter().map(|&z| (z - m).exp() / sum).collect()
                }
                Normalization::Relu2OverLen => x
                    .iter()
                    .map(|&x| (c * x).max(0.0).powi(2) / l as f64)
                    .collect(),
                Normalization::Relu2Paper { denom } => {
                    let nu = match denom {
                        Relu2Denom::PaddedLen => n_k as f64,
                        Relu2Denom::ValidLen => valid as f64,
                        Relu2Denom::Fixed(nu) => nu,
                    };
                    x.iter().map(|&x| (c * x / nu).max(0.0).powi(2)).collect()
                }
            };
            for (&j, &aj) in allowed.iter().zip(&a) {
                for t in 0..e {
                    out[(b * n_q + i) * e + t] += aj * v[(b * n_k + j) * e + t];
                }
            }
        }
    }
    out
}

fn inputs(d: Dims, seed: u64, mag: f64) -> [Vec<f64>; 3] {
    let mut r = rng(seed);
    let mut g = |n| {
        randn(&mut r, n)
            .into_iter()
            .map(|x| x * mag)
            .collect::<Vec<_>>()
    };
    [
        g(d.batch * d.n_q * d.s),
        g(d.batch * d.n_k * d.s),
        g(d.batch * d.n_k * d.e),
    ]
}

fn t64(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

fn core(norm: Normalization, kind: CoreKind, s: usize) -> AttentionCore {
    let scale = crate::ScoreScale::Auto.resolve(s, &norm).unwrap();
    AttentionCore { norm, scale, kind }
}

const DIMS: Dims = Dims {
    batch: 2,
    n_q: 11,
    n_k: 11,
    s: 6,
    e: 5,
};
const ODD_TILES: Tiles = Tiles { rows: 3, keys: 4 };

#[test]
fn fused_and_materialized_match_naive_f64_every_combination() {
    for (seed, d) in [
        (1, DIMS),
        (
            2,
            Dims {
                n_q: 4,
                n_k: 9,
                ..DIMS
            },
        ),
    ] {
        let [q, k, v] = inputs(d, seed, 1.0);
        let (qt, kt, vt) = (
            t64(&q, &[d.batch, d.n_q, d.s]),
            t64(&k, &[d.batch, d.n_k, d.s]),
            t64(&v, &[d.batch, d.n_k, d.e]),
        );
        for norm in Normalization::all() {
            for mask in masks(d.n_k) {
                let c = core(norm, CoreKind::Materialized, d.s);
                let want = naive(&q, &k, &v, d, &mask, norm, c.scale);
                for kind in [
                    CoreKind::Materialized,
                    CoreKind::Fused(ODD_TILES),
                    CoreKind::default(),
                ] {
                    let got = AttentionCore { kind, ..c }
                        .forward(&qt, &kt, &vt, &mask)
                        .unwrap()
                        .0;
                    let err = max_abs_diff(&got.to_vec::<f64>().unwrap(), &want);
                    assert!(err < 1e-12, "{norm:?} {mask:?} {kind:?}: {err:e}");
                }
            }
        }
    }
}

/// Backward of the fused core against the materialising one in f64, and f32 forward and
/// backward against f64.
#[test]
fn fused_backward_matches_materialized() {
    let d = DIMS;
    let [q, k, v] = inputs(d, 3, 1.0);
    let dc = randn(&mut rng(4), d.batch * d.n_q * d.e);
    let shapes = [
        [d.batch, d.n_q, d.s],
        [d.batch, d.n_k, d.s],
        [d.batch, d.n_k, d.e],
        [d.batch, d.n_q, d.e],
    ];
    let t = |x: &[f64], i: usize, dt: DType| t64(x, &shapes[i]).to_dtype(dt).unwrap();
    let mut worst32: f64 = 0.0;
    for norm in Normalization::all() {
        for mask in masks(d.n_k) {
            let run = |kind, dt| {
                let c = AttentionCore {
                    kind,
                    ..core(norm, kind, d.s)
                };
                let (qt, kt, vt) = (t(&q, 0, dt), t(&k, 1, dt), t(&v, 2, dt));
                let (out, cache) = c.forward(&qt, &kt, &vt, &mask).unwrap();
                let g = c
                    .backward(&qt, &kt, &vt, &mask, &cache, &t(&dc, 3, dt))
                    .unwrap();
                [out, g.dq, g.dk, g.dv]
                    .map(|x| x.to_dtype(DType::F64).unwrap().to_vec::<f64>().unwrap())
            };
            let want = run(CoreKind::Materialized, DType::F64);
            for kind in [CoreKind::Fused(ODD_TILES), CoreKind::default()] {
                let got = run(kind, DType::F64);
                for (name, (a, b)) in ["c", "dq", "dk", "dv"].iter().zip(got.iter().zip(&want)) {
                    let err = max_abs_diff(a, b);
                    assert!(err < 1e-12, "{norm:?} {mask:?} {kind:?} {name}: {err:e}");
                }
                let got32 = run(kind, DType::F32);
                for (a, b) in got32.iter().zip(&want) {
                    let scale = b.iter().fold(1.0f64, |m, x| m.max(x.abs()));
                    worst32 = worst32.max(max_abs_diff(a, b) / scale);
                }
            }
        }
    }
    // f32 inputs are the f64 ones rounded (relative 6e-8); 6-term dot products, ≤ 11-term sums
    // and exp amplify that by a few units: 1e-5 relative to each tensor's scale leaves margin.
    eprintln!("fused core f32 vs f64: worst relative error {worst32:.2e}");
    assert!(worst32 < 1e-5, "f32 vs f64: {worst32:e}");
}

/// Large logits (×100) stay finite and match: the running max handles them.
#[test]
fn large_magnitude_scores() {
    let d = DIMS;
    let [q, k, v] = inputs(d, 5, 10.0);
    let (qt, kt, vt) = (
        t64(&q, &[d.batch, d.n_q, d.s]),
        t64(&k, &[d.batch, d.n_k, d.s]),
        t64(&v, &[d.batch, d.n_k, d.e]),
    );
    for norm in [
        Normalization::Softmax,
        Normalization::SoftmaxPlus { floor: 1 },
    ] {
        for mask in masks(d.n_k) {
            let c = core(norm, CoreKind::Fused(ODD_TILES), d.s);
            let want = naive(&q, &k, &v, d, &mask, norm, c.scale);
            let got = c
                .forward(&qt, &kt, &vt, &mask)
                .unwrap()
                .0
                .to_vec::<f64>()
                .unwrap();
            assert!(got.iter().all(|x| x.is_finite()));
            let scale = want.iter().fold(1.0f64, |m, x| m.max(x.abs()));
            assert!(
                max_abs_diff(&got, &want) / scale < 1e-12,
                "{norm:?} {mask:?}"
            );
        }
    }
}

/// The core as a `Checkable`: input `q`, parameters `k` and `v`.
struct CoreCheck {
    core: AttentionCore,
    mask: Mask,
    k: Param,
    v: Param,
}

impl Module for CoreCheck {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        f(&p.join("k"), &self.k);
        f(&p.join("v"), &self.v);
    }
    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        f(&p.join("k"), &mut self.k);
        f(&p.join("v"), &mut self.v);
    }
}

impl Checkable for CoreCheck {
    type Input = Tensor;
    fn check_forward(&self, q: &Tensor) -> nn::Result<Tensor> {
        Ok(self
            .core
            .forward(q, &self.k.value, &self.v.value, &self.mask)?
            .0)
    }
    fn check_backward(
        &mut self,
        q: &Tensor,
        dy: &Tensor,
        sink: &mut dyn GradSink,
    ) -> nn::Result<Option<Tensor>> {
        let (_, cache) = self
            .core
            .forward(q, &self.k.value, &self.v.value, &self.mask)?;
        let g = self
            .core
            .backward(q, &self.k.value, &self.v.value, &self.mask, &cache, dy)?;
        sink.accept("k", &mut self.k, g.dk)?;
        sink.accept("v", &mut self.v, g.dv)?;
        Ok(Some(g.dq))
    }
}

/// Gradient-check options: ε = 1e-5 rather than 1e-6. The fused forward's online rescaling
/// rounds differently from a two-pass softmax, and central differences divide that roundoff
/// (about 1e-16·|L|) by 2ε; with `SoftmaxPlus`'s small λ (0.26 at l = 5) the gradients are
/// small enough that at ε = 1e-6 this noise reached 1.6e-6 relative. At ε = 1e-5 the noise is
/// 10× smaller and the truncation error (ε² times the third derivative, about 1e-10) stays far
/// below the 1e-6 tolerance.
pub(crate) fn check_opts() -> GradCheckOptions {
    GradCheckOptions {
        eps: 1e-5,
        ..Default::default()
    }
}

#[test]
fn gradcheck_core_every_combination() {
    let d = Dims {
        batch: 2,
        n_q: 5,
        n_k: 5,
        s: 4,
        e: 3,
    };
    let [q, k, v] = inputs(d, 6, 1.0);
    let mut worst: f64 = 0.0;
    for norm in Normalization::all() {
        for mask in masks(d.n_k) {
            for kind in [
                CoreKind::Materialized,
                CoreKind::Fused(Tiles { rows: 2, keys: 3 }),
            ] {
                let mut m = CoreCheck {
                    core: core(norm, kind, d.s),
                    mask: mask.clone(),
                    k: Param::new(t64(&k, &[d.batch, d.n_k, d.s]), ParamRole::Other),
                    v: Param::new(t64(&v, &[d.batch, d.n_k, d.e]), ParamRole::Other),
                };
                let x = t64(&q, &[d.batch, d.n_q, d.s]);
                let rep = gradcheck(&mut m, &x, &check_opts())
                    .unwrap_or_else(|e| panic!("{norm:?} {mask:?} {kind:?}: {e}"));
                assert_eq!(rep.entries.len(), 3);
                assert!(rep.worst() < 1e-6, "{norm:?} {mask:?} {kind:?}\n{rep}");
                worst = worst.max(rep.worst());
            }
        }
    }
    eprintln!("core gradcheck: worst relative error {worst:.2e}");
}

#[test]
fn bad_input_is_a_typed_error() {
    let d = DIMS;
    let [q, k, v] = inputs(d, 7, 1.0);
    let (qt, kt, vt) = (
        t64(&q, &[d.batch, d.n_q, d.s]),
        t64(&k, &[d.batch, d.n_k, d.s]),
        t64(&v, &[d.batch, d.n_k, d.e]),
    );
    let c = core(Normalization::Softmax, CoreKind::default(), d.s);
    let none = Mask::none();
    // Key width differs from the query width.
    let k_bad = t64(&k[..d.batch * d.n_k * 3], &[d.batch, d.n_k, 3]);
    assert!(matches!(
        c.forward(&qt, &k_bad, &vt, &none),
        Err(Error::ShapeMismatch { .. })
    ));
    // Values for another number of keys.
    let v_bad = t64(&v[..d.batch * 4 * d.e], &[d.batch, 4, d.e]);
    assert!(matches!(
        c.forward(&qt, &kt, &v_bad, &none),
        Err(Error::ShapeMismatch { .. })
    ));
    // Masks of the wrong length.
    for m in [
        Mask::none().with_lengths(&[3]),
        Mask::none().with_lengths(&[3, d.n_k + 1]),
        Mask::none().with_key_mask(vec![true; d.n_k]),
    ] {
        assert!(
            matches!(c.forward(&qt, &kt, &vt, &m), Err(Error::MaskLength { .. })),
            "{m:?}"
        );
    }
    // Mixed dtypes, rank-2 inputs, invalid normalisations and tiles.
    let q32 = qt.to_dtype(DType::F32).unwrap();
    assert!(matches!(
        c.forward(&q32, &kt, &vt, &none),
        Err(Error::Kernel(_))
    ));
    let q2 = t64(&q, &[d.batch * d.n_q, d.s]);
    assert!(matches!(
        c.forward(&q2, &kt, &vt, &none),
        Err(Error::Kernel(_))
    ));
    let bad_floor = AttentionCore {
        norm: Normalization::SoftmaxPlus { floor: 0 },
        ..c
    };
    assert!(matches!(
        bad_floor.forward(&qt, &kt, &vt, &none),
        Err(Error::InvalidConfig(_))
    ));
    let bad_nu = AttentionCore {
        norm: Normalization::Relu2Paper {
            denom: Relu2Denom::Fixed(0.0),
        },
        ..c
    };
    assert!(matches!(
        bad_nu.forward(&qt, &kt, &vt, &none),
        Err(Error::InvalidConfig(_))
    ));
    let bad_tiles = AttentionCore {
        kind: CoreKind::Fused(Tiles { rows: 0, keys: 4 }),
        ..c
    };
    assert!(matches!(
        bad_tiles.forward(&qt, &kt, &vt, &none),
        Err(Error::InvalidConfig(_))
    ));
    let bad_scale = AttentionCore {
        scale: f64::NAN,
        ..c
    };
    assert!(matches!(
        bad_scale.forward(&qt, &kt, &vt, &none),
        Err(Error::InvalidConfig(_))
    ));
    // A cache from the other implementation, and a dc of the wrong shape.
    let (_, cache) = c.forward(&qt, &kt, &vt, &none).unwrap();
    let mat = AttentionCore {
        kind: CoreKind::Materialized,
        ..c
    };
    let dc = t64(&vec![0.0; d.batch * d.n_q * d.e], &[d.batch, d.n_q, d.e]);
    assert!(matches!(
        mat.backward(&qt, &kt, &vt, &none, &cache, &dc),
        Err(Error::InvalidConfig(_))
    ));
    let dc_bad = t64(&vec![0.0; d.batch * d.n_q * 2], &[d.batch, d.n_q, 2]);
    assert!(matches!(
        c.backward(&qt, &kt, &vt, &none, &cache, &dc_bad),
        Err(Error::ShapeMismatch { .. })
    ));
}

/// Rows with no visible key output exactly 0 and get zero gradient; `n = 1`; `l_i = 1`.
#[test]
fn empty_rows_and_single_keys() {
    let d = Dims {
        batch: 2,
        n_q: 3,
        n_k: 3,
        s: 2,
        e: 2,
    };
    let [q, k, v] = inputs(d, 8, 1.0);
    let (qt, kt, vt) = (
        t64(&q, &[2, 3, 2]),
        t64(&k, &[2, 3, 2]),
        t64(&v, &[2, 3, 2]),
    );
    let mask = Mask::none().with_lengths(&[0, 1]);
    for norm in Normalization::all() {
        for kind in [CoreKind::Materialized, CoreKind::default()] {
            let c = core(norm, kind, d.s);
            let (out, cache) = c.forward(&qt, &kt, &vt, &mask).unwrap();
            let o = out.to_vec::<f64>().unwrap();
            assert!(o[..6].iter().all(|&x| x == 0.0), "{norm:?} {kind:?}");
            if norm.form() == crate::norm::Form::Softmax {
                // One visible key: every row copies v_0 of the second sequence.
                for i in 0..3 {
                    assert!(
                        (o[6 + 2 * i] - v[6]).abs() < 1e-15 && (o[7 + 2 * i] - v[7]).abs() < 1e-15
                    );
                }
            }
            let dc = t64(&randn(&mut rng(9), 12), &[2, 3, 2]);
            let g = c.backward(&qt, &kt, &vt, &mask, &cache, &dc).unwrap();
            let dq = g.dq.to_vec::<f64>().unwrap();
            assert!(dq[..6].iter().all(|&x| x == 0.0));
        }
    }
    // n = 1.
    let one = |x: &[f64]| t64(&x[..2], &[1, 1, 2]);
    let c = core(Normalization::Softmax, CoreKind::default(), 2);
    let out = c
        .forward(&one(&q), &one(&k), &one(&v), &Mask::causal())
        .unwrap()
        .0;
    assert_eq!(out.to_vec::<f64>().unwrap(), v[..2].to_vec());
}
