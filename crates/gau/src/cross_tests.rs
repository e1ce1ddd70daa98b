//! Cross-attention GAU: gradient checks of the input, the memory and every parameter over every
//! normalisation × memory padding (with and without RoPE and biases, both cores, n_q ≠ n_m),
//! equality with the self-attention layer when the memory is the input, padded memory keys
//! having no influence, f32 vs f64, names, and typed errors.

use super::*;
use crate::core::{Tiles, tests::check_opts};
use crate::layer::{Gau, GauConfig};
use crate::mask::KeyPadding;
use crate::test_support::{SPREAD, materialized_if, max_abs_diff, randomise};
use kernels::testing::{randn, rng};
use nn::gradcheck::{Checkable, gradcheck, randn_f64};
use nn::{Accumulate, ParamRole};

const B: usize = 2;
const NQ: usize = 4;
const NM: usize = 6;

/// The cross layer as one function of `[x | memory]` flattened into one tensor, so that the
/// checker probes every coordinate of both (92 entries here, all probed one by one).
struct CrossCheck {
    layer: GauCross,
    mask: Mask,
}

impl CrossCheck {
    fn split(&self, xm: &Tensor) -> (Tensor, Tensor) {
        let c = self.layer.config();
        let v = xm.to_vec::<f64>().unwrap();
        let nx = B * NQ * c.d;
        let x = Tensor::from_vec(v[..nx].to_vec(), &[B, NQ, c.d]).unwrap();
        let m = Tensor::from_vec(v[nx..].to_vec(), &[B, NM, c.d_mem]).unwrap();
        (x, m)
    }

    fn joined(&self, seed: u64) -> Tensor {
        let c = self.layer.config();
        randn_f64(&[B * NQ * c.d + B * NM * c.d_mem], seed).unwrap()
    }
}

impl Module for CrossCheck {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        self.layer.visit(p, f)
    }
    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        self.layer.visit_mut(p, f)
    }
}

impl Checkable for CrossCheck {
    type Input = Tensor;
    fn check_forward(&self, xm: &Tensor) -> nn::Result<Tensor> {
        let (x, m) = self.split(xm);
        Ok(self.layer.forward(&x, &m, &self.mask)?.0)
    }
    fn check_backward(
        &mut self,
        xm: &Tensor,
        dy: &Tensor,
        sink: &mut dyn GradSink,
    ) -> nn::Result<Option<Tensor>> {
        let (x, m) = self.split(xm);
        let (_, cache) = self.layer.forward(&x, &m, &self.mask)?;
        let (dx, dm) = self.layer.backward(cache, dy, sink)?;
        let mut both = dx.to_vec::<f64>()?;
        both.extend(dm.to_vec::<f64>()?);
        Ok(Some(Tensor::from_vec(both, xm.shape())?))
    }
}

/// Memory masks: none, lengths `[NM − 2, NM]`, an explicit key mask with holes, and one
/// sequence with no real memory key at all (its rows output `b_o`; the other sees all its
/// memory, so that `w_k`'s gradient, which then comes from one sequence only, stays well above
/// the roundoff of the loss).
fn memory_masks() -> Vec<Mask> {
    let mut holes = vec![true; B * NM];
    holes[1] = false;
    holes[NM + 3] = false;
    vec![
        Mask::none(),
        Mask::none().with_lengths(&[NM - 2, NM]),
        Mask::none().with_key_mask(holes),
        Mask::none().with_lengths(&[0, NM]),
    ]
}

fn tiny(norm: Normalization) -> GauCrossConfig {
    GauCrossConfig {
        norm,
        d_mem: 5,
        core: CoreKind::Fused(Tiles { rows: 3, keys: 4 }),
        ..GauCrossConfig::new(4, 3, 4)
    }
}

fn random_layer(cfg: GauCrossConfig, seed: u64) -> GauCross {
    let mut layer = GauCross::new(cfg, DType::F64, seed).unwrap();
    randomise(&mut layer, seed, SPREAD);
    layer
}

#[test]
fn gradcheck_input_memory_and_every_parameter() {
    let mut worst: f64 = 0.0;
    let mut count = 0;
    for (i, norm) in Normalization::all().into_iter().enumerate() {
        for (j, mask) in memory_masks().into_iter().enumerate() {
            let rope = [
                None,
                Some(RopeLayout::Interleaved),
                Some(RopeLayout::HalfSplit),
            ][(i + j) % 3];
            let cfg = GauCrossConfig {
                bias: (i + j) % 2 == 0,
                rope,
                core: materialized_if(j % 2 == 0, tiny(norm).core),
                ..tiny(norm)
            };
            let mut m = CrossCheck {
                layer: random_layer(cfg, 5 + i as u64),
                mask: mask.clone(),
            };
            let xm = m.joined(60 + j as u64);
            let rep = gradcheck(&mut m, &xm, &check_opts())
                .unwrap_or_else(|e| panic!("{cfg:?} {mask:?}: {e}"));
            // [x | memory] + w_in, w_k, w_v, w_o (+ four biases).
            assert_eq!(rep.entries.len(), 5 + 4 * cfg.bias as usize, "{rep}");
            let input = rep.entry("input").unwrap();
            assert_eq!(
                input.probes, input.numel,
                "every coordinate of x and memory"
            );
            assert!(rep.worst() < 1e-6, "{cfg:?} {mask:?}\n{rep}");
            worst = worst.max(rep.worst());
            count += 1;
        }
    }
    eprintln!("cross gradcheck: {count} configurations, worst relative error {worst:.2e}");
}

/// With the memory equal to the input, `W_k` = the Z columns of the self-attention layer's
/// `W_in`, `W_v` = its V columns and γ = 1, the cross layer is the self-attention layer (the
/// forms differ only in where Q, K, V come from).
#[test]
fn equals_self_attention_when_memory_is_the_input() {
    let (d, e, s, n) = (6, 5, 4, 7);
    let x = randn_f64(&[B, n, d], 70).unwrap();
    for norm in Normalization::all() {
        for mask in [Mask::none(), Mask::none().with_lengths(&[4, 7])] {
            let gcfg = GauConfig {
                norm,
                bias: true,
                ..GauConfig::new(d, e, s)
            };
            let mut gau = Gau::new(gcfg, DType::F64, 0).unwrap();
            randomise(&mut gau, 71, SPREAD);
            gau.visit_mut(&Prefix::root(), &mut |_, p| {
                if p.role == ParamRole::Gain {
                    p.value = Tensor::from_vec(vec![1.0f64; s], &[s]).unwrap();
                }
            });
            let ccfg = GauCrossConfig {
                norm,
                bias: true,
                rope: gcfg.rope,
                ..GauCrossConfig::new(d, e, s)
            };
            let mut cross = GauCross::new(ccfg, DType::F64, 0).unwrap();
            let cols = |t: &Tensor, from: usize, w: usize| -> Tensor {
                let width = *t.shape().last().unwrap();
                let rows = t.numel() / width;
                let v = t.to_vec::<f64>().unwrap();
                let out: Vec<f64> = (0..rows)
                    .flat_map(|r| v[r * width + from..r * width + from + w].to_vec())
                    .collect();
                let mut shape = t.shape().to_vec();
                *shape.last_mut().unwrap() = w;
                Tensor::from_vec(out, &shape).unwrap()
            };
            let (w_in, b_in) = (&gau.proj_in.w.value, gau.proj_in.b.as_ref().unwrap());
            let u_z = |t: &Tensor| {
                let (u, z) = (cols(t, 0, e), cols(t, 2 * e, s));
                crate::ops::columns::concat_last(&[&u, &z]).unwrap()
            };
            cross.proj_in.w.value = u_z(w_in);
            cross.proj_in.b.as_mut().unwrap().value = u_z(&b_in.value);
            cross.proj_k.w.value = cols(w_in, 2 * e, s);
            cross.proj_k.b.as_mut().unwrap().value = cols(&b_in.value, 2 * e, s);
            cross.proj_v.w.value = cols(w_in, e, e);
            cross.proj_v.b.as_mut().unwrap().value = cols(&b_in.value, e, e);
            cross.proj_out.w.value = gau.proj_out.w.value.try_clone().unwrap();
            cross.proj_out.b = gau.proj_out.b.as_ref().map(|b| Param {
                value: b.value.try_clone().unwrap(),
                grad: None,
                role: b.role,
            });
            let want = gau.forward(&x, &mask).unwrap().0;
            let got = cross.forward(&x, &x, &mask).unwrap().0;
            let err = max_abs_diff(&got, &want);
            assert!(err < 1e-12, "{norm:?} {mask:?}: {err:e}");
        }
    }
}

#[test]
fn fused_equals_materialized_and_padding_has_no_influence() {
    let x = randn_f64(&[B, NQ, 4], 80).unwrap();
    let mem = randn_f64(&[B, NM, 5], 81).unwrap();
    let dy = randn_f64(&[B, NQ, 4], 82).unwrap();
    for norm in Normalization::all() {
        for mask in memory_masks() {
            let cfg = GauCrossConfig {
                bias: true,
                rope: Some(RopeLayout::Interleaved),
                ..tiny(norm)
            };
            let run = |core| {
                let mut l = random_layer(GauCrossConfig { core, ..cfg }, 83);
                let (y, cache) = l.forward(&x, &mem, &mask).unwrap();
                let (dx, dm) = l.backward(cache, &dy, &mut Accumulate).unwrap();
                [y, dx, dm]
            };
            let (fused, mat) = (run(cfg.core), run(CoreKind::Materialized));
            for (a, b) in fused.iter().zip(&mat) {
                assert!(max_abs_diff(a, b) < 1e-12, "{norm:?} {mask:?}");
            }
            // Changing the padded memory rows changes nothing, exactly; their gradient is 0.
            let layer = random_layer(cfg, 83);
            let real = |bi: usize, j: usize| match &mask.keys {
                KeyPadding::None => true,
                KeyPadding::Lengths(l) => j < l[bi],
                KeyPadding::Mask(m) => m[bi * NM + j],
            };
            let mut mv = mem.to_vec::<f64>().unwrap();
            let dm = fused[2].to_vec::<f64>().unwrap();
            for bi in 0..B {
                for j in (0..NM).filter(|&j| !real(bi, j)) {
                    for c in 0..5 {
                        mv[(bi * NM + j) * 5 + c] += 3.0;
                        assert_eq!(dm[(bi * NM + j) * 5 + c], 0.0);
                    }
                }
            }
            let mem2 = Tensor::from_vec(mv, &[B, NM, 5]).unwrap();
            let y2 = layer.forward(&x, &mem2, &mask).unwrap().0;
            assert_eq!(max_abs_diff(&y2, &fused[0]), 0.0, "{norm:?} {mask:?}");
        }
    }
}

#[test]
fn empty_memory_rows_output_the_bias_and_f32_tracks_f64() {
    let cfg = GauCrossConfig {
        bias: true,
        ..tiny(Normalization::SoftmaxPlus { floor: 1 })
    };
    let l64 = random_layer(cfg, 90);
    let x = randn_f64(&[B, NQ, 4], 91).unwrap();
    let mem = randn_f64(&[B, NM, 5], 92).unwrap();
    let mask = Mask::none().with_lengths(&[0, NM]);
    let y = l64
        .forward(&x, &mem, &mask)
        .unwrap()
        .0
        .to_vec::<f64>()
        .unwrap();
    let b_o = l64
        .proj_out
        .b
        .as_ref()
        .unwrap()
        .value
        .to_vec::<f64>()
        .unwrap();
    for row in y[..NQ * 4].chunks(4) {
        assert_eq!(row, b_o.as_slice());
    }
    let mut l32 = random_layer(cfg, 90);
    l32.visit_mut(&Prefix::root(), &mut |_, p| {
        p.value = p.value.to_dtype(DType::F32).unwrap();
    });
    let f32 = |t: &Tensor| t.to_dtype(DType::F32).unwrap();
    let y32 = l32.forward(&f32(&x), &f32(&mem), &mask).unwrap().0;
    let y32 = y32.to_dtype(DType::F64).unwrap();
    let y = Tensor::from_vec(y, &[B, NQ, 4]).unwrap();
    let scale = y
        .to_vec::<f64>()
        .unwrap()
        .iter()
        .fold(1.0f64, |m, v| m.max(v.abs()));
    // f32 rounding (6e-8) through three GEMMs, SiLU and the core: 1e-5 of the output's scale
    // leaves an order of magnitude of margin (as the self-attention layer's test).
    assert!(max_abs_diff(&y32, &y) / scale < 1e-5);
}

#[test]
fn parameter_names_and_counts() {
    let cfg = GauCrossConfig {
        bias: true,
        d_mem: 7,
        ..GauCrossConfig::new(6, 10, 4)
    };
    let l = GauCross::new(cfg, DType::F32, 0).unwrap();
    let names: Vec<String> = l.named_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["w_in", "b_in", "w_k", "b_k", "w_v", "b_v", "w_o", "b_o"]
    );
    let (d, m, e, s) = (6, 7, 10, 4);
    assert_eq!(
        l.num_params(),
        d * (e + s) + m * s + m * e + e * d + (e + s) + s + e + d
    );
    let plain = GauCross::new(GauCrossConfig::new(6, 10, 4), DType::F32, 0).unwrap();
    let names: Vec<String> = plain.named_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["w_in", "w_k", "w_v", "w_o"]);
    // The four projections draw different weights.
    let firsts: Vec<f32> = plain
        .named_params()
        .iter()
        .map(|(_, p)| p.value.to_vec::<f32>().unwrap()[0])
        .collect();
    assert!(firsts.windows(2).all(|w| w[0] != w[1]), "{firsts:?}");
}

#[test]
fn bad_input_is_a_typed_error() {
    let cfg = GauCrossConfig {
        max_len: 6,
        ..tiny(Normalization::Softmax)
    };
    let mut l = random_layer(cfg, 1);
    let none = Mask::none();
    let x = randn_f64(&[B, NQ, 4], 0).unwrap();
    let mem = randn_f64(&[B, NM, 5], 0).unwrap();
    let t = |shape: &[usize]| Tensor::from_vec(randn(&mut rng(0), shape.iter().product()), shape);
    assert!(matches!(
        l.forward(&x, &mem, &Mask::causal()),
        Err(Error::InvalidConfig(_))
    ));
    assert!(matches!(
        l.forward(&t(&[B, NQ, 5]).unwrap(), &mem, &none),
        Err(Error::WidthMismatch {
            expected: 4,
            got: 5,
            ..
        })
    ));
    assert!(matches!(
        l.forward(&x, &t(&[B, NM, 4]).unwrap(), &none),
        Err(Error::WidthMismatch {
            expected: 5,
            got: 4,
            ..
        })
    ));
    assert!(matches!(
        l.forward(&x, &t(&[3, NM, 5]).unwrap(), &none),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        l.forward(&x, &t(&[B, 7, 5]).unwrap(), &none),
        Err(Error::TooLong { n: 7, max: 6 })
    ));
    assert!(matches!(
        l.forward(&x, &t(&[5]).unwrap(), &none),
        Err(Error::Kernel(_))
    ));
    for m in [
        Mask::none().with_lengths(&[NM]),
        Mask::none().with_lengths(&[NM, NM + 1]),
        Mask::none().with_key_mask(vec![true; B * NQ]),
    ] {
        assert!(
            matches!(l.forward(&x, &mem, &m), Err(Error::MaskLength { .. })),
            "{m:?}"
        );
    }
    assert!(
        l.forward(&x.to_dtype(DType::F32).unwrap(), &mem, &none)
            .is_err()
    );
    assert!(matches!(
        GauCross::new(
            GauCrossConfig {
                rope: Some(RopeLayout::Interleaved),
                ..GauCrossConfig::new(4, 3, 5)
            },
            DType::F64,
            0
        ),
        Err(Error::OddRopeWidth { s: 5 })
    ));
    assert!(GauCross::new(GauCrossConfig::new(4, 3, 5), DType::F64, 0).is_ok());
    assert!(matches!(
        GauCross::new(
            GauCrossConfig {
                d_mem: 0,
                ..GauCrossConfig::new(4, 3, 4)
            },
            DType::F64,
            0
        ),
        Err(Error::InvalidConfig(_))
    ));
    let (_, cache) = l.forward(&x, &mem, &none).unwrap();
    assert!(matches!(
        l.backward(cache, &t(&[B, NQ + 1, 4]).unwrap(), &mut Accumulate),
        Err(Error::ShapeMismatch { .. })
    ));
    // 2-D input and memory are one sequence each; the memory may be longer than the input.
    let x2 = t(&[3, 4]).unwrap();
    let m2 = t(&[5, 5]).unwrap();
    let (y, cache) = l.forward(&x2, &m2, &none).unwrap();
    assert_eq!(y.shape(), &[3, 4]);
    let (dx, dm) = l
        .backward(cache, &t(&[3, 4]).unwrap(), &mut Accumulate)
        .unwrap();
    assert_eq!((dx.shape(), dm.shape()), (&[3, 4][..], &[5, 5][..]));
}
