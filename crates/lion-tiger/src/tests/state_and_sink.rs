//! Checkpoint round trips (bit-exact resume) and the gradient-release sink.

use super::*;
use crate::*;
use kernels::testing::{randn, rng};
use nn::GradSink;

fn grads_for(b: &Bag, seed: u64) -> Vec<Vec<f64>> {
    let mut r = rng(seed);
    vals_of(b).iter().map(|v| randn(&mut r, v.len())).collect()
}

fn algos() -> Vec<Algorithm> {
    vec![
        Algorithm::Lion(LionConfig {
            weight_decay: 0.1,
            grad_accum_steps: 2,
            ..Default::default()
        }),
        Algorithm::Lion(LionConfig {
            bf16_momentum: true,
            ..Default::default()
        }),
        Algorithm::Tiger(TigerConfig {
            grad_accum_steps: 3,
            lazy_embedding_rows: true,
            ..Default::default()
        }),
        Algorithm::Tiger(TigerConfig::default()),
        Algorithm::AdamW(AdamWConfig::default()),
    ]
}

fn drive(o: &mut Optimizer, b: &mut Bag, from: u64, to: u64) {
    for s in from..to {
        let mut g = grads_for(b, s);
        if s == 4 {
            g[0][0] = f64::NAN; // a guard event mid-run (Tiger); Lion/AdamW skip this step below
        }
        set_grads(b, &g);
        if s == 4 && !matches!(o.algorithm(), Algorithm::Tiger(_)) {
            continue;
        }
        o.step(b).unwrap();
    }
}

#[test]
fn resume_from_checkpoint_is_bit_exact() {
    let dir = std::env::temp_dir().join(format!("lion-tiger-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, algo) in algos().into_iter().enumerate() {
        let v0 = values(SPECS, 40);
        let mut a = bag32(SPECS, &v0);
        let mut oa = Optimizer::new(algo.clone(), &a, &[]).unwrap();
        drive(&mut oa, &mut a, 0, 7); // stops mid accumulation group for k = 2, 3
        let path = dir.join(format!("run{i}.safetensors"));
        save_checkpoint(&path, &a, &oa).unwrap();
        drive(&mut oa, &mut a, 7, 15);
        // A fresh model and optimizer resumed from the file follow the same trajectory.
        let mut b = bag32(SPECS, &values(SPECS, 99));
        let mut ob = Optimizer::new(algo, &b, &[]).unwrap();
        load_checkpoint(&path, &mut b, &mut ob).unwrap();
        drive(&mut ob, &mut b, 7, 15);
        assert_eq!(vals_of(&a), vals_of(&b), "algorithm {i}: θ");
        for s in SPECS {
            assert_eq!(
                oa.momentum(s.0).unwrap(),
                ob.momentum(s.0).unwrap(),
                "algorithm {i}: m"
            );
            assert_eq!(oa.micro_steps(s.0), ob.micro_steps(s.0));
        }
        assert_eq!(oa.guard_events(), ob.guard_events());
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn checkpoint_from_another_optimizer_or_model_changes_nothing() {
    let dir = std::env::temp_dir().join(format!("lion-tiger-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let v0 = values(SPECS, 41);
    let mut a = bag32(SPECS, &v0);
    let mut lion = Optimizer::lion(LionConfig::default(), &a).unwrap();
    drive(&mut lion, &mut a, 0, 3);
    let path = dir.join("lion.safetensors");
    save_checkpoint(&path, &a, &lion).unwrap();
    // Another optimizer.
    let mut b = bag32(SPECS, &v0);
    let mut tiger = Optimizer::tiger(TigerConfig::default(), &b).unwrap();
    assert!(matches!(
        load_checkpoint(&path, &mut b, &mut tiger),
        Err(Error::Checkpoint { .. })
    ));
    assert_eq!(
        vals_of(&b),
        v0.iter()
            .map(|v| v.iter().map(|&x| x as f32 as f64).collect::<Vec<f64>>())
            .collect::<Vec<_>>()
    );
    // Same optimizer, different k.
    let mut lion2 = Optimizer::lion(
        LionConfig {
            grad_accum_steps: 2,
            ..Default::default()
        },
        &b,
    )
    .unwrap();
    assert!(load_checkpoint(&path, &mut b, &mut lion2).is_err());
    // Another model (one tensor renamed).
    let other: Vec<Spec> = SPECS
        .iter()
        .map(|s| (if s.0 == "gain" { "g2" } else { s.0 }, s.1, s.2))
        .collect();
    let mut c = bag32(&other, &values(&other, 42));
    let before = vals_of(&c);
    let mut lion3 = Optimizer::lion(LionConfig::default(), &c).unwrap();
    assert!(load_checkpoint(&path, &mut c, &mut lion3).is_err());
    assert_eq!(vals_of(&c), before);
    assert_eq!(lion3.micro_steps("w"), Some(0));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn gradient_release_sink_equals_step_for_every_algorithm() {
    for algo in algos() {
        let v0 = values(SPECS, 43);
        let (mut a, mut b) = (bag32(SPECS, &v0), bag32(SPECS, &v0));
        let mut oa = Optimizer::new(algo.clone(), &a, &[]).unwrap();
        let mut ob = Optimizer::new(algo, &b, &[]).unwrap();
        for s in 0..9 {
            let g = grads_for(&a, s);
            set_grads(&mut a, &g);
            oa.step(&mut a).unwrap();
            // Through the sink: each gradient is handed over and dropped, nothing persists.
            set_grads(&mut b, &g);
            for (name, p) in b.iter_mut() {
                let grad = p.grad.take().unwrap();
                ob.accept(name, p, grad).unwrap();
            }
            assert!(b.iter().all(|(_, p)| p.grad.is_none()));
        }
        assert_eq!(vals_of(&a), vals_of(&b));
    }
}
