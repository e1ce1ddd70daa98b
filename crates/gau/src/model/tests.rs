use super::*;
use crate::core::tests::check_opts;
use crate::test_support::{SPREAD, Spread, masks, randomise};
use nn::Accumulate;
use nn::gradcheck::{Checkable, GradCheckOptions, gradcheck};

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
        attention_dropout: 0.15,
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

/// Every parameter against f64 central differences (all coordinates: every tensor has ≤ 256
/// entries), for every normalisation (softmax, SoftmaxPlus at floors 1 and 16, relu²/l, the
/// paper's relu² with each ν) × bidirectional / causal × no padding / padding (lengths or an
/// explicit key mask, alternating); dropout on in half of the cases.
///
/// Test point: matrices N(0, 0.7²), gains γ = 2 + N(0, 0.5²). The relu² branches scale like γ⁴;
/// with γ = O(0.5) their GAU output is far below the residual, post-norm then shrinks their
/// parameter gradients towards the loss's roundoff, and the check measures roundoff.
///
/// Step and tolerance: ε = 1e-5 (as the layer checks) and agreement 1e-5 instead of the
/// layers' 1e-6. Reason, measured: the model's loss sums 110 logits through two post-normed
/// layers and a tied head, and its roundoff divided by ε is ~1e-9, i.e. up to a few 1e-6
/// relative on entries near the checker's floor (1e-3·‖g‖∞). An ε sweep of such an entry
/// (1e-2 … 1e-6) shows the error growing as ε shrinks and falling to 2e-13 at ε = 1e-2, so
/// roundoff and not the backward. Each layer the model composes is checked at 1e-6 on its own
/// (`layer::tests`), and a wiring error in the model would be O(1), far above 1e-5.
#[test]
fn gradcheck_every_parameter_every_combination() {
    let spread = Spread {
        gain_shift: 2.0,
        ..SPREAD
    };
    let opts = GradCheckOptions {
        tol: 1e-5,
        ..check_opts()
    };
    let mut worst: f64 = 0.0;
    let mut count = 0;
    for (i, norm) in Normalization::all().into_iter().enumerate() {
        // Unpadded, and one of the two paddings (alternating over the normalisations), each
        // bidirectional and causal: 28 checks keep the sweep near 10 s under load.
        let padded = 1 + i % 2;
        let some = masks(2, 5).into_iter().enumerate();
        for (j, mask) in some.filter(|(j, _)| j % 3 == 0 || j % 3 == padded) {
            let mut model = GauAlpha::new(tiny(norm), DType::F64, 1).unwrap();
            randomise(&mut model, 3 + i as u64, spread);
            let train = if (i + j) % 2 == 0 {
                Train::Train { seed: 9 }
            } else {
                Train::Eval
            };
            let mut c = Check {
                model,
                segments: vec![0, 0, 1, 1, 1, 0, 1, 1, 0, 0],
                shape: [2, 5],
                mask: mask.clone(),
                train,
            };
            let ids = vec![1u32, 4, 7, 10, 2, 3, 3, 0, 9, 5];
            let rep = gradcheck(&mut c, &ids, &opts)
                .unwrap_or_else(|e| panic!("{norm:?} {mask:?} {train:?}: {e}"));
            assert_eq!(rep.entries.len(), 10);
            assert!(rep.entries.iter().all(|e| e.probes == e.numel), "{rep}");
            worst = worst.max(rep.worst());
            count += 1;
        }
    }
    eprintln!("GAU-α gradcheck: {count} configurations, worst relative error {worst:.2e}");
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
fn attention_dropout_alone_changes_training_output() {
    let (ids, seg) = (vec![1u32, 2, 3, 4, 5, 6], vec![0u32; 6]);
    let run = |attention_dropout, t| {
        let cfg = GauAlphaConfig {
            dropout: 0.0,
            attention_dropout,
            ..tiny(Normalization::default())
        };
        let m = GauAlpha::new(cfg, DType::F64, 2).unwrap();
        m.forward(&ids, &seg, [1, 6], &Mask::causal(), t)
            .unwrap()
            .0
            .to_vec::<f64>()
            .unwrap()
    };
    let train = Train::Train { seed: 3 };
    // Without any dropout, training and evaluation are the same function.
    assert_eq!(run(0.0, train), run(0.0, Train::Eval));
    // Attention dropout alone changes the training output, never the evaluation one.
    assert_ne!(run(0.5, train), run(0.5, Train::Eval));
    assert_eq!(run(0.5, Train::Eval), run(0.0, Train::Eval));
    assert_eq!(run(0.5, train), run(0.5, train));
}

/// `r` is a checkpoint mismatch one of whose problems mentions `needle`.
fn expect_mismatch(r: Result<()>, needle: &str) {
    match r {
        Err(Error::Nn(nn::Error::CheckpointMismatch { problems, .. })) => {
            assert!(problems.iter().any(|p| p.contains(needle)), "{problems:?}");
        }
        other => panic!("expected a checkpoint mismatch, got {:?}", other.err()),
    }
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
    expect_mismatch(c.load(&path), "embed.token");
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
    expect_mismatch(d3.load(&path), "missing: layers.2.w_in");
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
    for attention_dropout in [1.0, -0.1, f64::NAN] {
        assert!(matches!(
            GauAlpha::new(
                GauAlphaConfig {
                    attention_dropout,
                    ..tiny(Normalization::Softmax)
                },
                DType::F32,
                0
            ),
            Err(Error::InvalidConfig(_))
        ));
    }
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
