//! GPU checks of `gau` beyond the attention core (whose CUDA tests live in `src/core/tests/gpu.rs`):
//! the scale/offset and column ops on CUDA, and a whole GAU layer (forward and backward, every
//! parameter gradient) on CUDA against the CPU, by the style.md rule (GPU error against the f64
//! reference ≤ 2 × CPU-f32 error + 1e-6). Ignored without `--features cuda`; need a GPU.

use gau::ops::columns::{concat_last, split_last};
use gau::ops::scale_offset::{scale_offset_backward, scale_offset_forward};
use gau::{Gau, GauConfig, Mask, Normalization};
use kernels::testing::{assert_gpu_rule, cuda_test_device, randn, rng, to_f32, to_f64};
use kernels::{DType, Device, Tensor};
use nn::{Accumulate, Module, Prefix};

fn host(t: &Tensor) -> Vec<f32> {
    t.to_device(&Device::Cpu).unwrap().to_vec::<f32>().unwrap()
}

fn f64s(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64).unwrap().to_vec::<f64>().unwrap()
}

kernels::gpu_test! {
    fn scale_offset_and_columns_match_cpu() {
        let dev = cuda_test_device();
        for (rows, s) in [(1usize, 1usize), (37, 40), (1025, 128)] {
            let mut r = rng(rows as u64);
            let [x, g, b, dy] = [rows * s, s, s, rows * s].map(|n| to_f64(&to_f32(&randn(&mut r, n))));
            let t = |v: &[f64], sh: &[usize], dt| Tensor::from_vec(v.to_vec(), sh).unwrap().to_dtype(dt).unwrap();
            let run = |dt, dev: &Device| {
                let on = |v: &[f64], sh: &[usize]| t(v, sh, dt).to_device(dev).unwrap();
                let (xt, gt, bt, dyt) = (on(&x, &[rows, s]), on(&g, &[s]), on(&b, &[s]), on(&dy, &[rows, s]));
                let y = scale_offset_forward(&xt, &gt, Some(&bt)).unwrap();
                let (dx, dg, db) = scale_offset_backward(&xt, &gt, &dyt, true).unwrap();
                [y, dx, dg, db.unwrap()].map(|t| t.to_device(&Device::Cpu).unwrap())
            };
            let want = run(DType::F64, &Device::Cpu);
            let cpu = run(DType::F32, &Device::Cpu);
            let gpu = run(DType::F32, &dev);
            for (i, name) in ["y", "dx", "dgamma", "dbeta"].iter().enumerate() {
                assert_gpu_rule(
                    &format!("scale_offset rows={rows} s={s} {name}"),
                    &host(&gpu[i]),
                    &host(&cpu[i]),
                    &f64s(&want[i]),
                );
            }
            // Columns: split into three parts and back, exactly.
            if s >= 3 {
                let xt = t(&x, &[rows, s], DType::F32);
                let widths = [1, s - 3, 2];
                let cpu_parts = split_last(&xt, &widths).unwrap();
                let gpu_parts = split_last(&xt.to_device(&dev).unwrap(), &widths).unwrap();
                for (c, g) in cpu_parts.iter().zip(&gpu_parts) {
                    assert_eq!(c.shape(), g.shape());
                    assert_eq!(host(c), host(g));
                }
                let refs: Vec<&Tensor> = gpu_parts.iter().collect();
                assert_eq!(host(&concat_last(&refs).unwrap()), host(&xt));
            }
        }
    }
}

/// A GAU layer with the parameters of `like` (converted to `dtype`), on `dev`.
fn layer(cfg: GauConfig, like: &Gau, dtype: DType, dev: &Device) -> Gau {
    let mut values = Vec::new();
    like.visit(&Prefix::root(), &mut |_, p| {
        values.push(p.value.to_dtype(dtype).unwrap())
    });
    let mut out = Gau::new(cfg, dtype, 0).unwrap();
    let mut it = values.into_iter();
    out.visit_mut(&Prefix::root(), &mut |_, p| {
        p.value = it.next().unwrap().to_device(dev).unwrap();
    });
    out
}

kernels::gpu_test! {
    fn gau_layer_runs_on_cuda_and_matches_cpu() {
        let dev = cuda_test_device();
        let (b, n, d, e, s) = (2usize, 37usize, 16usize, 150usize, 40usize);
        for norm in [Normalization::SoftmaxPlus { floor: 1 }, Normalization::Relu2OverLen] {
            let cfg = GauConfig { norm, ..GauConfig::new(d, e, s) };
            let base = Gau::new(cfg, DType::F32, 3).unwrap();
            let x = to_f64(&to_f32(&randn(&mut rng(4), b * n * d)));
            let dy = to_f64(&to_f32(&randn(&mut rng(5), b * n * d)));
            let mask = Mask::causal().with_lengths(&[n, n - 7]);
            let run = |dtype, dev: &Device| {
                let mut l = layer(cfg, &base, dtype, dev);
                let on = |v: &[f64]| {
                    Tensor::from_vec(v.to_vec(), &[b, n, d]).unwrap().to_dtype(dtype).unwrap().to_device(dev).unwrap()
                };
                let (y, cache) = l.forward(&on(&x), &mask).unwrap();
                let dx = l.backward(cache, &on(&dy), &mut Accumulate).unwrap();
                let mut out = vec![("y".to_string(), f64s(&y.to_device(&Device::Cpu).unwrap())),
                                   ("dx".to_string(), f64s(&dx.to_device(&Device::Cpu).unwrap()))];
                l.visit(&Prefix::root(), &mut |name, p| {
                    let g = p.grad.as_ref().expect("every parameter gets a gradient");
                    out.push((format!("d{name}"), f64s(&g.to_device(&Device::Cpu).unwrap())));
                });
                out
            };
            let want = run(DType::F64, &Device::Cpu);
            let cpu = run(DType::F32, &Device::Cpu);
            let gpu = run(DType::F32, &dev);
            for ((name, w), ((_, c), (_, g))) in want.iter().zip(cpu.iter().zip(&gpu)) {
                assert_gpu_rule(&format!("GAU layer {norm:?} {name}"), &to_f32(g), &to_f32(c), w);
            }
        }
    }
}
