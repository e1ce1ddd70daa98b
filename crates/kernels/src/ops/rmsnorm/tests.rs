use super::*;
use crate::ops::norm_tests::*;
use crate::testing::*;
use crate::{Device, Tensor};

const EPS: f64 = 1e-6;

/// Rows of mean `offset`, spread 1; gain around 1; a cotangent.
fn inputs(rows: usize, n: usize, offset: f64, seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut d = Draws::new(seed);
    let x = d.rows(rows * n, offset, 1.0);
    let g = d.gain(n);
    (x, g, d.normal(rows * n))
}

#[test]
fn cpu_f32_matches_reference() {
    for &(rows, n) in CASES {
        for offset in [0.0, 1e3] {
            let (x, g, dy) = inputs(rows, n, offset, (rows * 1000 + n) as u64);
            let (x, g, dy) = (round(&x), round(&g), round(&dy));
            let (xt, gt, dyt) = (f32s(&x, &[rows, n]), f32s(&g, &[n]), f32s(&dy, &[rows, n]));
            for ug in [false, true] {
                let what = format!("rmsnorm {rows}x{n} offset {offset} gain={ug}");
                let go = ug.then_some(&gt);
                let (y, st) = rmsnorm_forward(&xt, go, EPS).unwrap();
                let (y_ref, r_ref) = rmsnorm_forward_ref(&x, n, ug.then_some(&g[..]), EPS);
                // y = O(1) values from a length-n sum of squares: 1e-5 relative.
                close_f32(&what, &y, &y_ref, 1e-6, 1e-5);
                close_f32(&what, &st.rstd, &r_ref, 0.0, 1e-5);
                let gr = rmsnorm_backward(&xt, go, &st, &dyt).unwrap();
                let (dx_ref, dg_ref) = rmsnorm_backward_ref(&x, n, ug.then_some(&g[..]), &dy, EPS);
                // dx is a difference of two O(rstd) terms: 1e-5 of rstd·|d̂| absolute.
                let scale = r_ref.iter().fold(0.0f64, |m, v| m.max(*v));
                close_f32(&what, &gr.dx, &dx_ref, 1e-5 * scale, 1e-4);
                assert_eq!(gr.dgain.is_some(), ug);
                if let Some(dg) = gr.dgain {
                    close_f32(&what, &dg, &dg_ref, 1e-6 * rows as f64, 1e-5);
                }
            }
        }
    }
}

#[test]
fn cpu_f64_matches_reference() {
    for &(rows, n) in CASES {
        let (x, g, dy) = inputs(rows, n, 0.5, n as u64);
        let xt = f64s(&x, &[rows, n]);
        let gt = f64s(&g, &[n]);
        let (y, st) = rmsnorm_forward(&xt, Some(&gt), EPS).unwrap();
        let y_ref = rmsnorm_forward_ref(&x, n, Some(&g), EPS).0;
        close_f64("rms f64 y", &y, &y_ref, 1e-13, 1e-12);
        let gr = rmsnorm_backward(&xt, Some(&gt), &st, &f64s(&dy, &[rows, n])).unwrap();
        let (dx_ref, dg_ref) = rmsnorm_backward_ref(&x, n, Some(&g), &dy, EPS);
        close_f64("rms f64 dx", &gr.dx, &dx_ref, 1e-10, 1e-10);
        close_f64("rms f64 dg", &gr.dgain.unwrap(), &dg_ref, 1e-12, 1e-12);
    }
}

#[test]
fn backward_matches_finite_differences() {
    for &(rows, n, offset) in &[(3, 7, 0.0), (4, 33, 1e3), (2, 300, 0.0)] {
        let (x, g, w) = inputs(rows, n, offset, 77 + n as u64);
        let s = [rows, n];
        let what = format!("rmsnorm {rows}x{n} offset {offset}");
        // With offset 1e3 the gradient is ~1e-3 and the f64 rounding of x (~1e-13) against a
        // step of 1e-6 is ~1e-5 relative noise: step 1e-4 there (the curvature scale is ‖x‖,
        // so truncation is negligible) and tolerance 1e-5.
        let (step, tol) = fd_step_tol(offset);
        for ug in [false, true] {
            let loss = |x: &[f64], g: &[f64]| {
                let gt = f64s(g, &[n]);
                let (y, _) = rmsnorm_forward(&f64s(x, &s), ug.then_some(&gt), EPS).unwrap();
                dot(&y.to_vec::<f64>().unwrap(), &w)
            };
            let (xt, gt) = (f64s(&x, &s), f64s(&g, &[n]));
            let (_, st) = rmsnorm_forward(&xt, ug.then_some(&gt), EPS).unwrap();
            let gr = rmsnorm_backward(&xt, ug.then_some(&gt), &st, &f64s(&w, &s)).unwrap();
            fd_check(
                &format!("{what} gain={ug} dx"),
                &mut |x| loss(x, &g),
                &x,
                &gr.dx.to_vec::<f64>().unwrap(),
                step,
                tol,
            )
            .unwrap();
            if ug {
                fd_check(
                    &format!("{what} dgain"),
                    &mut |gg| loss(&x, gg),
                    &g,
                    &gr.dgain.unwrap().to_vec::<f64>().unwrap(),
                    1e-6,
                    1e-6,
                )
                .unwrap();
            }
        }
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let x = f32s(&[1.0; 6], &[2, 3]);
    let g2 = f32s(&[1.0; 2], &[2]);
    assert!(matches!(
        rmsnorm_forward(&x, Some(&g2), EPS),
        Err(crate::Error::ShapeMismatch { .. })
    ));
    let g64 = f64s(&[1.0; 3], &[3]);
    assert!(matches!(
        rmsnorm_forward(&x, Some(&g64), EPS),
        Err(crate::Error::DTypeMismatch { .. })
    ));
    assert!(matches!(
        rmsnorm_forward(&x, None, -1e-6),
        Err(crate::Error::InvalidArgument { .. })
    ));
    let scalar = f32s(&[1.0], &[]);
    assert!(matches!(
        rmsnorm_forward(&scalar, None, EPS),
        Err(crate::Error::InvalidShape { .. })
    ));
    let (_, st) = rmsnorm_forward(&x, None, EPS).unwrap();
    let dy = f32s(&[1.0; 6], &[6]);
    assert!(matches!(
        rmsnorm_backward(&x, None, &st, &dy),
        Err(crate::Error::ShapeMismatch { .. })
    ));
}

crate::gpu_test! {
    fn cuda_matches_cpu() {
        let dev = cuda_test_device();
        let gpu = |t: &Tensor| t.to_device(&dev).unwrap();
        let v = |t: &Tensor| t.to_vec::<f32>().unwrap();
        for &(rows, n, offset) in &[(1, 1, 0.0), (5, 7, 0.0), (33, 31, 0.0), (17, 97, 1e3), (3, 1025, 0.0), (300, 33, 0.0), (2, 4099, 0.0)] {
            let (x, g, dy) = inputs(rows, n, offset, 5 + n as u64);
            let (x, g, dy) = (round(&x), round(&g), round(&dy));
            let (xt, gt, dyt) = (f32s(&x, &[rows, n]), f32s(&g, &[n]), f32s(&dy, &[rows, n]));
            let ggt = gpu(&gt);
            for ug in [false, true] {
                let what = format!("rmsnorm {rows}x{n} gain={ug}");
                let (cy, cst) = rmsnorm_forward(&xt, ug.then_some(&gt), EPS).unwrap();
                let (gy, gst) = rmsnorm_forward(&gpu(&xt), ug.then_some(&ggt), EPS).unwrap();
                assert_gpu_rule(&what, &v(&gy), &v(&cy), &rmsnorm_forward_ref(&x, n, ug.then_some(&g[..]), EPS).0);
                let (dx_ref, dg_ref) = rmsnorm_backward_ref(&x, n, ug.then_some(&g[..]), &dy, EPS);
                let cg = rmsnorm_backward(&xt, ug.then_some(&gt), &cst, &dyt).unwrap();
                let gg = rmsnorm_backward(&gpu(&xt), ug.then_some(&ggt), &gst, &gpu(&dyt)).unwrap();
                assert_gpu_rule(&what, &v(&gg.dx), &v(&cg.dx), &dx_ref);
                if ug {
                    assert_gpu_rule(&what, &v(gg.dgain.as_ref().unwrap()), &v(cg.dgain.as_ref().unwrap()), &dg_ref);
                }
            }
        }
        let _ = Device::Cpu;
    }
}
