use super::*;
use kernels::testing::{randn, rng};
use nn::gradcheck::{Checkable, GradCheckOptions, gradcheck};
use nn::{Accumulate, ParamRole};

fn tiny(norm: Normalization) -> GauAlphaConfig {
    GauAlphaConfig {
        vocab: 11,
        segments: 2,
        d: 6,
        e: 10,
        s: 4,
        layers: 2,
        norm,
        max_len: 16,
        dropout: 0.2,
        eps: 1e-12,
    }
}

struct Check {
    model: GauAlpha,
    segments: Vec<u32>,
    shape: [usize; 2],
    mask: Mask,
    train: Train,
}

impl Module for Check {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        self.model.visit(p, f)
    }
    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        self.model.visit_mut(p, f)
    }
}

impl Checkable for Check {
    type Input = Vec<u32>;
    fn check_forward(&self, ids: &Vec<u32>) -> nn::Result<Tensor> {
        let r = self
            .model
            .forward(ids, &self.segments, self.shape, &self.mask, self.train);
        Ok(r?.0)
    }
    fn check_backward(
        &mut self,
        ids: &Vec<u32>,
        dy: &Tensor,
        sink: &mut dyn GradSink,
    ) -> nn::Result<Option<Tensor>> {
        let (_, c) = self
            .model
            .forward(ids, &self.segments, self.shape, &self.mask, self.train)?;
        self.model.backward(c, dy, sink)?;
        Ok(None)
    }
}

/// Every parameter random at O(1) scale, so no gradient is trivially small.
fn randomise(m: &mut GauAlpha, seed: u64) {
    let mut k = 0;
    m.visit_mut(&Prefix::root(), &mut |_, p| {
        k += 1;
        let scale = if p.role == ParamRole::Matrix {
            0.7
        } else {
            0.5
        };
        let v: Vec<f64> = randn(&mut rng(seed * 100 + k), p.numel())
            .into_iter()
            .map(|x| x * scale)
            .collect();
        p.value = Tensor::from_vec(v, p.value.shape()).unwrap();
    });
}

#[test]
fn names_are_stable() {
    let m = GauAlpha::new(tiny(Normalization::Softmax), DType::F32, 0).unwrap();
    let names: Vec<String> = m.named_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "embed.token",
            "embed.segment",
            "layers.0.w_in",
            "layers.0.gamma_q",
            "layers.0.gamma_k",
            "layers.0.w_o",
            "layers.1.w_in",
            "layers.1.gamma_q",
            "layers.1.gamma_k",
            "layers.1.w_o",
        ]
    );
    // GAU-α's per-layer count at base size (spec §2.5: 3,637,504 = 768·3200 + 2·128 + 1536·768).
    let base = GauAlphaConfig::base();
    let per_layer = base.d * (2 * base.e + base.s) + 2 * base.s + base.e * base.d;
    assert_eq!(per_layer, 3_637_504);
}

#[test]
fn gradcheck_all_parameters_with_dropout_and_padding() {
    for norm in [
        Normalization::SoftmaxPlus { floor: 1 },
        Normalization::Softmax,
    ] {
        for causal in [false, true] {
            let mut model = GauAlpha::new(tiny(norm), DType::F64, 1).unwrap();
            randomise(&mut model, 3);
            let mask = Mask {
                causal,
                ..Mask::none()
            }
            .with_lengths(&[5, 3]);
            let mut c = Check {
                model,
                segments: vec![0, 0, 1, 1, 1, 0, 1, 1, 0, 0],
                shape: [2, 5],
                mask,
                train: Train::Train { seed: 9 },
            };
            let ids = vec![1u32, 4, 7, 10, 2, 3, 3, 0, 9, 5];
            let rep = gradcheck(&mut c, &ids, &GradCheckOptions::default()).unwrap();
            assert_eq!(rep.entries.len(), 10);
            println!("{norm:?} causal {causal}: worst {:.2e}", rep.worst());
            assert!(rep.worst() < 1e-6, "{norm:?} causal {causal}\n{rep}");
        }
    }
}

#[test]
fn init_follows_gau_alpha() {
    // std of w_in is L^(−1/3)/√d (the truncation constant undoes the ±2σ cut).
    let cfg = GauAlphaConfig {
        vocab: 40,
        d: 64,
        e: 32,
        s: 16,
        layers: 8,
        ..tiny(Normalization::Softmax)
    };
    let m = GauAlpha::new(cfg, DType::F64, 5).unwrap();
    let std = |name: &str| {
        let p = m
            .named_params()
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1;
        let v = p.value.to_vec::<f64>().unwrap();
        (v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64).sqrt()
    };
    let want = 8f64.powf(-1.0 / 3.0) / 64f64.sqrt();
    let got = std("layers.3.w_in");
    assert!((got / want - 1.0).abs() < 0.05, "{got} vs {want}");
    // Token table with 40 rows: fan_in = 40; segment table (2 rows < 10): fan_in = d.
    let tok = std("embed.token");
    assert!((tok / (0.5 / 40f64.sqrt()) - 1.0).abs() < 0.1, "{tok}");
}

#[test]
fn eval_is_deterministic_and_dropout_changes_training_output() {
    let m = GauAlpha::new(tiny(Normalization::default()), DType::F32, 2).unwrap();
    let (ids, seg) = (vec![1u32, 2, 3, 4], vec![0u32, 0, 1, 1]);
    let run = |t| {
        m.forward(&ids, &seg, [1, 4], &Mask::none(), t)
            .unwrap()
            .0
            .to_vec::<f32>()
            .unwrap()
    };
    assert_eq!(run(Train::Eval), run(Train::Eval));
    assert_ne!(run(Train::Eval), run(Train::Train { seed: 1 }));
    assert_eq!(run(Train::Train { seed: 1 }), run(Train::Train { seed: 1 }));
}

#[test]
fn checkpoint_round_trip_and_mismatch() {
    let dir = std::env::temp_dir().join(format!("gau-alpha-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.safetensors");
    let a = GauAlpha::new(tiny(Normalization::Softmax), DType::F32, 7).unwrap();
    a.save(&path).unwrap();
    let mut b = GauAlpha::new(tiny(Normalization::Softmax), DType::F32, 8).unwrap();
    b.load(&path).unwrap();
    let (ids, seg) = (vec![1u32, 2, 3], vec![0u32, 1, 1]);
    let ya = a
        .forward(&ids, &seg, [1, 3], &Mask::none(), Train::Eval)
        .unwrap()
        .0;
    let yb = b
        .forward(&ids, &seg, [1, 3], &Mask::none(), Train::Eval)
        .unwrap()
        .0;
    assert_eq!(ya.to_vec::<f32>().unwrap(), yb.to_vec::<f32>().unwrap());
    // A model with d = 8 cannot take the d = 6 file: every tensor is mis-shaped.
    let mut c = GauAlpha::new(
        GauAlphaConfig {
            d: 8,
            ..tiny(Normalization::Softmax)
        },
        DType::F32,
        0,
    )
    .unwrap();
    match c.load(&path) {
        Err(Error::Nn(nn::Error::CheckpointMismatch { problems, .. })) => {
            assert!(
                problems.iter().any(|p| p.contains("embed.token")),
                "{problems:?}"
            );
        }
        other => panic!("expected a checkpoint mismatch, got {:?}", other.err()),
    }
    // A model with 3 layers: layers.2.* are missing.
    let mut d3 = GauAlpha::new(
        GauAlphaConfig {
            layers: 3,
            ..tiny(Normalization::Softmax)
        },
        DType::F32,
        0,
    )
    .unwrap();
    match d3.load(&path) {
        Err(Error::Nn(nn::Error::CheckpointMismatch { problems, .. })) => {
            assert!(
                problems
                    .iter()
                    .any(|p| p.contains("missing: layers.2.w_in")),
                "{problems:?}"
            );
        }
        other => panic!("expected a checkpoint mismatch, got {:?}", other.err()),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_inputs_are_typed_errors() {
    let mut m = GauAlpha::new(tiny(Normalization::Softmax), DType::F32, 0).unwrap();
    let none = Mask::none();
    assert!(matches!(
        m.forward(&[1, 2], &[0, 0, 0], [1, 2], &none, Train::Eval),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        m.forward(&[1; 17], &[0; 17], [1, 17], &none, Train::Eval),
        Err(Error::TooLong { n: 17, max: 16 })
    ));
    assert!(
        m.forward(&[11, 0], &[0, 0], [1, 2], &none, Train::Eval)
            .is_err()
    );
    assert!(
        m.forward(&[1, 0], &[2, 0], [1, 2], &none, Train::Eval)
            .is_err()
    );
    assert!(matches!(
        m.forward(
            &[1, 0],
            &[0, 0],
            [1, 2],
            &Mask::none().with_lengths(&[1, 1]),
            Train::Eval
        ),
        Err(Error::MaskLength { .. })
    ));
    let (_, c) = m
        .forward(&[1, 0], &[0, 0], [1, 2], &none, Train::Eval)
        .unwrap();
    let bad = Tensor::from_vec(vec![0f32; 2 * 10], &[1, 2, 10]).unwrap();
    assert!(matches!(
        m.backward(c, &bad, &mut Accumulate),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(
        GauAlpha::new(
            GauAlphaConfig {
                dropout: 1.0,
                ..tiny(Normalization::Softmax)
            },
            DType::F32,
            0
        )
        .is_err()
    );
    assert!(
        GauAlpha::new(
            GauAlphaConfig {
                layers: 0,
                ..tiny(Normalization::Softmax)
            },
            DType::F32,
            0
        )
        .is_err()
    );
}
