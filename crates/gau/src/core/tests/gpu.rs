//! The CUDA fused core against the CPU fused core (style.md §2 rule: the GPU's error against the
//! f64 reference is at most 2 × the CPU-f32 error + 1e-6), for every normalisation × causal ×
//! key padding × dropout, at shapes that leave partial tiles everywhere (n not a multiple of 32,
//! e > 128 so the value width takes two column tiles, s > 32 so the dot products take two
//! chunks); plus the GAU shape (s = 128, e = 1536) with a TFLOP/s print. These need
//! `--features cuda` and a GPU; elsewhere they are ignored.

use super::*;
use kernels::testing::{assert_gpu_rule, cuda_test_device, to_f32, to_f64};
use kernels::{DType, Device};

fn refs(x: &[Tensor]) -> [&Tensor; 4] {
    [&x[0], &x[1], &x[2], &x[3]]
}

/// `[out, dq, dk, dv]` of the fused core on `dev`, as f32 host vectors (f64 for the reference).
fn run_on(
    c: AttentionCore,
    x: [&Tensor; 4],
    mask: &Mask,
    drop: AttentionDropout,
    dev: &Device,
) -> [Tensor; 4] {
    let [q, k, v, dc] = x.map(|t| t.to_device(dev).unwrap());
    let (out, cache) = c.forward_with_dropout(&q, &k, &v, mask, drop).unwrap();
    let g = c.backward(&q, &k, &v, mask, &cache, &dc).unwrap();
    [out, g.dq, g.dk, g.dv].map(|t| t.to_device(&Device::Cpu).unwrap())
}

fn check_shape(dev: &Device, d: Dims, seed: u64, mag: f64) {
    let [q, k, v] = inputs(d, seed, mag);
    let dc = randn(&mut rng(seed + 1), d.batch * d.n_q * d.e);
    // Every path sees the f32-rounded inputs; the reference is the CPU core in f64 on them.
    let r32 = |x: &[f64]| to_f64(&to_f32(x));
    let shapes = [
        [d.batch, d.n_q, d.s],
        [d.batch, d.n_k, d.s],
        [d.batch, d.n_k, d.e],
        [d.batch, d.n_q, d.e],
    ];
    let x64: Vec<Tensor> = [&q, &k, &v, &dc]
        .iter()
        .zip(&shapes)
        .map(|(x, s)| t64(&r32(x), s))
        .collect();
    let x32: Vec<Tensor> = x64
        .iter()
        .map(|t| t.to_dtype(DType::F32).unwrap())
        .collect();
    for norm in Normalization::all() {
        for mask in masks(d.n_k) {
            for drop in [AttentionDropout::NONE, AttentionDropout::new(0.1, seed)] {
                let c = core(norm, CoreKind::default(), d.s);
                let want = run_on(c, refs(&x64), &mask, drop, &Device::Cpu);
                let cpu = run_on(c, refs(&x32), &mask, drop, &Device::Cpu);
                let gpu = run_on(c, refs(&x32), &mask, drop, dev);
                for (i, name) in ["c", "dq", "dk", "dv"].iter().enumerate() {
                    assert_gpu_rule(
                        &format!("{d:?} {norm:?} {mask:?} {drop:?} {name}"),
                        &gpu[i].to_vec::<f32>().unwrap(),
                        &cpu[i].to_vec::<f32>().unwrap(),
                        &want[i].to_vec::<f64>().unwrap(),
                    );
                }
            }
        }
    }
}

kernels::gpu_test! {
    fn cuda_core_matches_cpu_every_combination() {
        let dev = cuda_test_device();
        let shapes = [
            // Partial row, key and column tiles; two s chunks; two e tiles.
            Dims { batch: 2, n_q: 37, n_k: 37, s: 40, e: 150 },
            // Fewer queries than keys (decoding: the causal mask is offset by n_k − n_q).
            Dims { batch: 2, n_q: 5, n_k: 70, s: 8, e: 33 },
            // Tiny: one key, widths of 1.
            Dims { batch: 2, n_q: 3, n_k: 1, s: 1, e: 1 },
        ];
        for (t, d) in shapes.into_iter().enumerate() {
            check_shape(&dev, d, 40 + t as u64, 1.0);
        }
        // Large logits (×100 in the scores): the running max keeps the softmax finite.
        check_shape(&dev, Dims { batch: 2, n_q: 33, n_k: 33, s: 16, e: 20 }, 50, 10.0);
    }
}

kernels::gpu_test! {
    fn cuda_core_rejects_what_it_cannot_run() {
        let dev = cuda_test_device();
        let d = Dims { batch: 1, n_q: 4, n_k: 4, s: 2, e: 3 };
        let [q, k, v] = inputs(d, 60, 1.0);
        let on = |x: &[f64], s: &[usize]| {
            t64(x, s).to_dtype(DType::F32).unwrap().to_device(&dev).unwrap()
        };
        let (qd, kd, vd) = (on(&q, &[1, 4, 2]), on(&k, &[1, 4, 2]), on(&v, &[1, 4, 3]));
        let mat = core(Normalization::Softmax, CoreKind::Materialized, 2);
        assert!(matches!(
            mat.forward(&qd, &kd, &vd, &Mask::none()),
            Err(Error::Unsupported { .. })
        ));
        // Mixed host and device inputs.
        let fused = core(Normalization::Softmax, CoreKind::default(), 2);
        let kh = t64(&k, &[1, 4, 2]).to_dtype(DType::F32).unwrap();
        assert!(fused.forward(&qd, &kh, &vd, &Mask::none()).is_err());
    }
}

kernels::gpu_test! {
    /// The GAU-α shape (s = 128, e = 1536, n = 1024, SoftmaxPlus, dropout 0.1): CUDA against the
    /// CPU on one batch element, then TFLOP/s over a batch of 8. Model FLOPs: forward
    /// 2·b·n²·(s + e) (QKᵀ, A·V); backward 2·b·n²·(3s + 2e) (QKᵀ again, dC·Vᵀ, Aᵀ·dC, dX·K,
    /// dXᵀ·Q). The kernel recomputes more than that (scores once per 128-wide column tile):
    /// the figure is useful work per second.
    fn cuda_core_gau_shape_throughput() {
        let dev = cuda_test_device();
        let norm = Normalization::SoftmaxPlus { floor: 16 };
        let drop = AttentionDropout::new(0.1, 5);
        let d = Dims { batch: 1, n_q: 1024, n_k: 1024, s: 128, e: 1536 };
        let c = core(norm, CoreKind::default(), d.s);
        let [q, k, v] = inputs(d, 70, 1.0);
        let dc = randn(&mut rng(71), d.n_q * d.e);
        let x64 = [
            t64(&to_f64(&to_f32(&q)), &[1, 1024, 128]),
            t64(&to_f64(&to_f32(&k)), &[1, 1024, 128]),
            t64(&to_f64(&to_f32(&v)), &[1, 1024, 1536]),
            t64(&to_f64(&to_f32(&dc)), &[1, 1024, 1536]),
        ];
        let x32 = x64.each_ref().map(|t| t.to_dtype(DType::F32).unwrap());
        let mask = Mask::none().with_lengths(&[1000]);
        let want = run_on(c, x64.each_ref(), &mask, drop, &Device::Cpu);
        let cpu = run_on(c, x32.each_ref(), &mask, drop, &Device::Cpu);
        let gpu = run_on(c, x32.each_ref(), &mask, drop, &dev);
        for (i, name) in ["c", "dq", "dk", "dv"].iter().enumerate() {
            assert_gpu_rule(
                &format!("GAU shape {name}"),
                &gpu[i].to_vec::<f32>().unwrap(),
                &cpu[i].to_vec::<f32>().unwrap(),
                &want[i].to_vec::<f64>().unwrap(),
            );
        }

        let b = 8usize;
        let n = d.n_q;
        let mk = |w: usize, seed: u64| {
            Tensor::from_vec(to_f32(&randn(&mut rng(seed), b * n * w)), &[b, n, w])
                .unwrap()
                .to_device(&dev)
                .unwrap()
        };
        let (qd, kd, vd, dcd) = (mk(128, 80), mk(128, 81), mk(1536, 82), mk(1536, 83));
        let mask = Mask::none();
        let Device::Cuda(cd) = &dev else { panic!("not a CUDA device") };
        let time = |f: &mut dyn FnMut()| {
            f();
            cd.synchronize().unwrap();
            let reps = 5;
            let t0 = std::time::Instant::now();
            for _ in 0..reps {
                f();
            }
            cd.synchronize().unwrap();
            t0.elapsed().as_secs_f64() / reps as f64
        };
        let (_, cache) = c.forward_with_dropout(&qd, &kd, &vd, &mask, drop).unwrap();
        let t_fwd = time(&mut || {
            c.forward_with_dropout(&qd, &kd, &vd, &mask, drop).unwrap();
        });
        let t_bwd = time(&mut || {
            c.backward(&qd, &kd, &vd, &mask, &cache, &dcd).unwrap();
        });
        let nn2 = (b * n * n) as f64;
        let (s, e) = (128.0, 1536.0);
        let f_fwd = 2.0 * nn2 * (s + e);
        let f_bwd = 2.0 * nn2 * (3.0 * s + 2.0 * e);
        eprintln!(
            "CUDA attention core b={b} n={n} s=128 e=1536 SoftmaxPlus dropout 0.1: \
             forward {:.3} ms = {:.2} TFLOP/s, backward {:.3} ms = {:.2} TFLOP/s",
            t_fwd * 1e3,
            f_fwd / t_fwd / 1e12,
            t_bwd * 1e3,
            f_bwd / t_bwd / 1e12
        );
    }
}
