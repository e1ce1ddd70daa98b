//! GPU checks of the layers (ignored without `--features cuda`; they need a CUDA device):
//! each layer's CUDA forward and backward against the CPU, by style.md's rule (GPU error ≤
//! 2 × CPU-f32 error + 1e-6, both against the f64 layer), and a checkpoint of device tensors.

use kernels::testing::{assert_gpu_rule, cuda_test_device, randn, rng, to_f32};
use kernels::{DType, Device, Tensor};
use nn::{Accumulate, LayerNorm, Linear, Module, RmsNorm, ScaleNorm};

fn to_gpu(m: &mut dyn Module, dev: &Device) {
    m.visit_mut(&nn::Prefix::root(), &mut |_, p| {
        p.value = p.value.to_device(dev).unwrap()
    });
}

fn host32(t: &Tensor) -> Vec<f32> {
    t.to_device(&Device::Cpu).unwrap().to_vec::<f32>().unwrap()
}

fn grads32(m: &dyn Module) -> Vec<Vec<f32>> {
    m.named_params()
        .iter()
        .map(|(_, p)| host32(p.grad.as_ref().unwrap()))
        .collect()
}

fn grads64(m: &dyn Module) -> Vec<Vec<f64>> {
    m.named_params()
        .iter()
        .map(|(_, p)| p.grad.as_ref().unwrap().to_vec::<f64>().unwrap())
        .collect()
}

/// Runs `make(dtype)` on f64-CPU, f32-CPU and f32-GPU at one input and compares y, dx and
/// every parameter gradient by the GPU rule.
macro_rules! compare_layer {
    ($what:expr, $make:expr, $shape:expr) => {{
        let dev = cuda_test_device();
        let shape: &[usize] = $shape;
        let n: usize = shape.iter().product();
        let xv = randn(&mut rng(1), n);
        let x64 = Tensor::from_vec(xv.clone(), shape).unwrap();
        let x32 = Tensor::from_vec(to_f32(&xv), shape).unwrap();
        let mut l64 = $make(DType::F64);
        let mut l32 = $make(DType::F32);
        let mut lg = $make(DType::F32);
        to_gpu(&mut lg, &dev);
        let (y64, c64) = l64.forward(&x64).unwrap();
        let (y32, c32) = l32.forward(&x32).unwrap();
        let (yg, cg) = lg.forward(&x32.to_device(&dev).unwrap()).unwrap();
        let dy_shape = y64.shape().to_vec();
        let dyv = &randn(&mut rng(2), y64.numel());
        let dy64 = Tensor::from_vec(dyv.to_vec(), &dy_shape).unwrap();
        let dy32 = Tensor::from_vec(to_f32(dyv), &dy_shape).unwrap();
        let dx64 = l64.backward(c64, &dy64, &mut Accumulate).unwrap();
        let dx32 = l32.backward(c32, &dy32, &mut Accumulate).unwrap();
        let dxg = lg
            .backward(cg, &dy32.to_device(&dev).unwrap(), &mut Accumulate)
            .unwrap();
        let r = y64.to_vec::<f64>().unwrap();
        assert_gpu_rule(&format!("{} y", $what), &host32(&yg), &host32(&y32), &r);
        let r = dx64.to_vec::<f64>().unwrap();
        assert_gpu_rule(&format!("{} dx", $what), &host32(&dxg), &host32(&dx32), &r);
        for ((g, c), r) in grads32(&lg).iter().zip(grads32(&l32)).zip(grads64(&l64)) {
            assert_gpu_rule(&format!("{} dparam", $what), g, &c, &r);
        }
    }};
}

kernels::gpu_test! {
    fn linear_on_gpu_matches_cpu() {
        compare_layer!("Linear", |d| Linear::new(33, 17, true, d, 3).unwrap(), &[2, 5, 33]);
    }
}

kernels::gpu_test! {
    fn norms_on_gpu_match_cpu() {
        compare_layer!("LayerNorm", |d| LayerNorm::new(97, 1e-5, d).unwrap(), &[7, 97]);
        compare_layer!("RmsNorm", |d| RmsNorm::new(97, 1e-6, d).unwrap(), &[7, 97]);
        compare_layer!("ScaleNorm", |d| ScaleNorm::new(97, 1e-5, d).unwrap(), &[7, 97]);
    }
}

kernels::gpu_test! {
    fn checkpoint_of_device_params_round_trips() {
        let dev = cuda_test_device();
        let mut a = Linear::new(5, 3, true, DType::F32, 1).unwrap();
        let host: Vec<Vec<f32>> = a.named_params().iter().map(|(_, p)| host32(&p.value)).collect();
        to_gpu(&mut a, &dev);
        let path = std::env::temp_dir().join(format!("nn-gpu-{}.safetensors", std::process::id()));
        nn::save(&path, &a, &nn::Metadata::new()).unwrap();
        let mut b = Linear::new(5, 3, true, DType::F32, 2).unwrap();
        to_gpu(&mut b, &dev);
        nn::load(&path, &mut b).unwrap();
        let back: Vec<Vec<f32>> = b.named_params().iter().map(|(_, p)| host32(&p.value)).collect();
        assert_eq!(back, host);
        assert!(b.w.value.device().same_as(&dev), "loaded onto the parameter's device");
        std::fs::remove_file(&path).unwrap();
    }
}
