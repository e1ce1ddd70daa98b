//! Spec §8 item 14: the CUDA step agrees with the CPU step (f32, same inputs).

use super::*;
use crate::*;
use kernels::testing::{cuda_test_device, randn, rng};

fn to_device(b: &Bag, dev: &kernels::Device) -> Bag {
    b.iter()
        .map(|(n, p)| {
            (
                n.clone(),
                nn::Param::new(p.value.to_device(dev).unwrap(), p.role),
            )
        })
        .collect()
}

kernels::gpu_test! {
    fn cuda_step_matches_cpu() {
        let dev = cuda_test_device();
        let algos = [
            Algorithm::Lion(LionConfig { weight_decay: 0.1, ..Default::default() }),
            Algorithm::Lion(LionConfig { grad_accum_steps: 2, ..Default::default() }),
            Algorithm::Tiger(TigerConfig { grad_accum_steps: 2, ..Default::default() }),
            Algorithm::AdamW(AdamWConfig::default()),
        ];
        for algo in algos {
            let v0 = values(SPECS, 50);
            let mut cpu = bag32(SPECS, &v0);
            let mut gpu = to_device(&cpu, &dev);
            let mut oc = Optimizer::new(algo.clone(), &cpu, &[]).unwrap();
            let mut og = Optimizer::new(algo.clone(), &gpu, &[]).unwrap();
            for s in 0..12 {
                let mut r = rng(60 + s);
                let mut g: Vec<Vec<f64>> = vals_of(&cpu).iter().map(|v| randn(&mut r, v.len())).collect();
                if s == 5 {
                    g[0][1] = f64::NAN;
                }
                set_grads(&mut cpu, &g);
                for ((_, pg), (_, pc)) in gpu.iter_mut().zip(&cpu) {
                    pg.grad = Some(pc.grad.as_ref().unwrap().to_device(&dev).unwrap());
                }
                if s == 5 && !matches!(algo, Algorithm::Tiger(_)) {
                    continue;
                }
                oc.step(&mut cpu).unwrap();
                og.step(&mut gpu).unwrap();
            }
            let (tc, tg) = (vals_of(&cpu), vals_of(&gpu));
            for (i, s) in SPECS.iter().enumerate() {
                let (mc, mg) = (oc.momentum(s.0).unwrap(), og.momentum(s.0).unwrap());
                let scale = mc.iter().fold(0.0f64, |a, x| a.max(x.abs()));
                for (a, b) in mc.iter().zip(&mg) {
                    assert!((a - b).abs() <= 1e-6 * scale, "{}: m {a} vs {b}", s.0);
                }
                for (a, b) in tc[i].iter().zip(&tg[i]) {
                    // Identical up to rounding, or a ±2η sign flip where |c| ≈ 0.
                    assert!((a - b).abs() <= 1e-6 * (a.abs() + 1e-3) || (a - b).abs() <= 2.1e-3, "{}: θ {a} vs {b}", s.0);
                }
            }
            assert_eq!(oc.guard_events(), og.guard_events());
        }
    }
}
