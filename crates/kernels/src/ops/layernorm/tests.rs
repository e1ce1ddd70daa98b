use super::*;
use crate::ops::norm_tests::*;
use crate::testing::*;
use crate::{Device, Tensor};

const EPS: f64 = 1e-5;

struct Inputs {
    x: Vec<f64>,
    g: Vec<f64>,
    b: Vec<f64>,
    dy: Vec<f64>,
}

/// Rows of mean `offset` and spread `scale`; gain around 1.
fn inputs(rows: usize, n: usize, offset: f64, scale: f64, seed: u64) -> Inputs {
    let mut d = Draws::new(seed);
    Inputs {
        x: d.rows(rows * n, offset, scale),
        g: d.gain(n),
        b: d.normal(n),
        dy: d.normal(rows * n),
    }
}

/// f32 CPU vs the f64 reference at the rounded inputs, for every gain/bias combination.
fn check_f32(rows: usize, n: usize, offset: f64, atol: f64) {
    let i = inputs(rows, n, offset, 1.0, (rows * 1000 + n) as u64);
    let (x, g, b, dy) = (round(&i.x), round(&i.g), round(&i.b), round(&i.dy));
    let xt = f32s(&x, &[rows, n]);
    let (gt, bt, dyt) = (f32s(&g, &[n]), f32s(&b, &[n]), f32s(&dy, &[rows, n]));
    for (ug, ub) in [(false, false), (true, false), (false, true), (true, true)] {
        let what = format!("layernorm {rows}x{n} offset {offset} gain={ug} bias={ub}");
        let (go, bo) = (ug.then_some(&gt), ub.then_some(&bt));
        let (y, st) = layernorm_forward(&xt, go, bo, EPS).unwrap();
        let (y_ref, m_ref, r_ref) =
            layernorm_forward_ref(&x, n, ug.then_some(&g[..]), ub.then_some(&b[..]), EPS);
        close_f32(&what, &y, &y_ref, atol, 1e-5);
        close_f32(&what, &st.mean, &m_ref, atol, 1e-6);
        // n = 1 gives rstd = 1/√eps ≈ 316: relative tolerance only.
        close_f32(&what, &st.rstd, &r_ref, atol, 1e-5);
        let gr = layernorm_backward(&xt, go, bo, &st, &dyt).unwrap();
        let (dx_ref, dg_ref, db_ref) =
            layernorm_backward_ref(&x, n, ug.then_some(&g[..]), &dy, EPS);
        // dx scales with rstd (316 for n = 1, where dx_ref is exactly 0).
        close_f32(&what, &gr.dx, &dx_ref, atol * 4.0, 1e-4);
        assert_eq!(gr.dgain.is_some(), ug);
        assert_eq!(gr.dbias.is_some(), ub);
        if let Some(dg) = gr.dgain {
            close_f32(&what, &dg, &dg_ref, atol * rows as f64, 1e-5);
        }
        if let Some(db) = gr.dbias {
            close_f32(&what, &db, &db_ref, 1e-6 * rows as f64, 1e-5);
        }
    }
}

#[test]
fn cpu_f32_matches_reference() {
    for &(rows, n) in CASES {
        check_f32(rows, n, 0.0, 1e-5);
    }
}

#[test]
fn cpu_f32_keeps_digits_for_rows_with_a_large_mean() {
    // Mean 1e3, spread 1: f32 holds μ to half an ulp of 1e3 (3e-5), so x̂ is off by up to
    // ~3e-5·rstd; allow 1e-4. A plain (unshifted) f32 sum of the row loses ~1e-3 here.
    for &(rows, n) in &[(4, 97), (3, 1025), (2, 4099)] {
        check_f32(rows, n, 1e3, 1e-4);
    }
}

#[test]
fn cpu_f64_matches_reference() {
    for &(rows, n) in CASES {
        let i = inputs(rows, n, 3.0, 2.0, n as u64);
        let xt = f64s(&i.x, &[rows, n]);
        let (gt, bt) = (f64s(&i.g, &[n]), f64s(&i.b, &[n]));
        let (y, st) = layernorm_forward(&xt, Some(&gt), Some(&bt), EPS).unwrap();
        let (y_ref, _, _) = layernorm_forward_ref(&i.x, n, Some(&i.g), Some(&i.b), EPS);
        close_f64("ln f64 y", &y, &y_ref, 1e-12, 1e-12);
        let gr =
            layernorm_backward(&xt, Some(&gt), Some(&bt), &st, &f64s(&i.dy, &[rows, n])).unwrap();
        let (dx_ref, dg_ref, db_ref) = layernorm_backward_ref(&i.x, n, Some(&i.g), &i.dy, EPS);
        close_f64("ln f64 dx", &gr.dx, &dx_ref, 1e-10, 1e-10);
        close_f64("ln f64 dg", &gr.dgain.unwrap(), &dg_ref, 1e-12, 1e-12);
        close_f64("ln f64 db", &gr.dbias.unwrap(), &db_ref, 1e-12, 1e-12);
    }
}

#[test]
fn backward_matches_finite_differences() {
    for &(rows, n, offset) in &[(3, 7, 0.0), (4, 33, 1e3), (2, 300, 0.0)] {
        let i = inputs(rows, n, offset, 1.0, 99 + n as u64);
        let s = [rows, n];
        let loss = |x: &[f64], g: &[f64], b: &[f64]| {
            let (y, _) = layernorm_forward(
                &f64s(x, &s),
                Some(&f64s(g, &[n])),
                Some(&f64s(b, &[n])),
                EPS,
            )
            .unwrap();
            dot(&y.to_vec::<f64>().unwrap(), &i.dy)
        };
        let xt = f64s(&i.x, &s);
        let (gt, bt) = (f64s(&i.g, &[n]), f64s(&i.b, &[n]));
        let (_, st) = layernorm_forward(&xt, Some(&gt), Some(&bt), EPS).unwrap();
        let gr = layernorm_backward(&xt, Some(&gt), Some(&bt), &st, &f64s(&i.dy, &s)).unwrap();
        let what = format!("layernorm {rows}x{n} offset {offset}");
        // With offset 1e3 every x−μ carries ~1e-13 of f64 rounding, which a step of 1e-6 turns
        // into ~3e-5 relative noise: a step of 1e-4 there (truncation error ~1e-8 for a
        // spread of 1) and a tolerance of 1e-5.
        let (step, tol) = fd_step_tol(offset);
        fd_check(
            &format!("{what} dx"),
            &mut |x| loss(x, &i.g, &i.b),
            &i.x,
            &gr.dx.to_vec::<f64>().unwrap(),
            step,
            tol,
        )
        .unwrap();
        fd_check(
            &format!("{what} dgain"),
            &mut |g| loss(&i.x, g, &i.b),
            &i.g,
            &gr.dgain.unwrap().to_vec::<f64>().unwrap(),
            1e-6,
            1e-6,
        )
        .unwrap();
        fd_check(
            &format!("{what} dbias"),
            &mut |b| loss(&i.x, &i.g, b),
            &i.b,
            &gr.dbias.unwrap().to_vec::<f64>().unwrap(),
            1e-6,
            1e-6,
        )
        .unwrap();
    }
}

#[test]
fn stats_keep_the_leading_shape() {
    let i = inputs(6, 5, 0.0, 1.0, 1);
    let (y, st) = layernorm_forward(&f64s(&i.x, &[2, 3, 5]), None, None, EPS).unwrap();
    assert_eq!(
        (y.shape(), st.mean.shape(), st.rstd.shape()),
        (&[2, 3, 5][..], &[2, 3][..], &[2, 3][..])
    );
}

#[test]
fn bad_input_is_a_typed_error() {
    let x = f32s(&[1.0; 6], &[2, 3]);
    let g2 = f32s(&[1.0; 2], &[2]);
    assert!(matches!(
        layernorm_forward(&x, Some(&g2), None, EPS),
        Err(crate::Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        layernorm_forward(&x, None, Some(&g2), EPS),
        Err(crate::Error::ShapeMismatch { .. })
    ));
    let g64 = f64s(&[1.0; 3], &[3]);
    assert!(matches!(
        layernorm_forward(&x, Some(&g64), None, EPS),
        Err(crate::Error::DTypeMismatch { .. })
    ));
    assert!(matches!(
        layernorm_forward(&x, None, None, -1.0),
        Err(crate::Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        layernorm_forward(&x, None, None, f64::NAN),
        Err(crate::Error::InvalidArgument { .. })
    ));
    let empty = f32s(&[], &[2, 0]);
    assert!(matches!(
        layernorm_forward(&empty, None, None, EPS),
        Err(crate::Error::InvalidShape { .. })
    ));
    let (_, st) = layernorm_forward(&x, None, None, EPS).unwrap();
    let dy = f32s(&[1.0; 6], &[3, 2]);
    assert!(matches!(
        layernorm_backward(&x, None, None, &st, &dy),
        Err(crate::Error::ShapeMismatch { .. })
    ));
    let (_, st_other) = layernorm_forward(&f32s(&[1.0; 3], &[1, 3]), None, None, EPS).unwrap();
    assert!(matches!(
        layernorm_backward(&x, None, None, &st_other, &x),
        Err(crate::Error::ShapeMismatch { .. })
    ));
}

crate::gpu_test! {
    fn cuda_matches_cpu() {
        let dev = cuda_test_device();
        let gpu = |t: &Tensor| t.to_device(&dev).unwrap();
        let v = |t: &Tensor| t.to_vec::<f32>().unwrap();
        for &(rows, n, offset) in &[(1, 1, 0.0), (5, 7, 0.0), (33, 31, 0.0), (17, 97, 1e3), (3, 1025, 0.0), (300, 33, 0.0), (2, 4099, 1e3)] {
            let i = inputs(rows, n, offset, 1.0, 7 + n as u64);
            let (x, g, b, dy) = (round(&i.x), round(&i.g), round(&i.b), round(&i.dy));
            let (xt, gt, bt, dyt) = (f32s(&x, &[rows, n]), f32s(&g, &[n]), f32s(&b, &[n]), f32s(&dy, &[rows, n]));
            for (ug, ub) in [(false, false), (true, true), (true, false)] {
                let what = format!("layernorm {rows}x{n} offset {offset} gain={ug} bias={ub}");
                let (go, bo) = (ug.then_some(&gt), ub.then_some(&bt));
                let (ggt, gbt) = (gpu(&gt), gpu(&bt));
                let (ggo, gbo) = (ug.then_some(&ggt), ub.then_some(&gbt));
                let (y_ref, _, _) = layernorm_forward_ref(&x, n, ug.then_some(&g[..]), ub.then_some(&b[..]), EPS);
                let (cy, cst) = layernorm_forward(&xt, go, bo, EPS).unwrap();
                let (gy, gst) = layernorm_forward(&gpu(&xt), ggo, gbo, EPS).unwrap();
                assert_gpu_rule(&what, &v(&gy), &v(&cy), &y_ref);
                let (dx_ref, dg_ref, db_ref) = layernorm_backward_ref(&x, n, ug.then_some(&g[..]), &dy, EPS);
                let cg = layernorm_backward(&xt, go, bo, &cst, &dyt).unwrap();
                let gg = layernorm_backward(&gpu(&xt), ggo, gbo, &gst, &gpu(&dyt)).unwrap();
                assert_gpu_rule(&what, &v(&gg.dx), &v(&cg.dx), &dx_ref);
                if ug {
                    assert_gpu_rule(&what, &v(gg.dgain.as_ref().unwrap()), &v(cg.dgain.as_ref().unwrap()), &dg_ref);
                }
                if ub {
                    assert_gpu_rule(&what, &v(gg.dbias.as_ref().unwrap()), &v(cg.dbias.as_ref().unwrap()), &db_ref);
                }
            }
        }
        let _ = Device::Cpu;
    }
}
