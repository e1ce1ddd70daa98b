use super::*;
use crate::ops::norm_tests::*;
use crate::testing::*;
use crate::{Device, Tensor};

const EPS: f64 = 1e-5;
const G: f64 = 1.7;

/// Rows of mean `offset`, spread 1, the first row scaled below ε (clamped) when `tiny_row`.
fn inputs(rows: usize, n: usize, offset: f64, tiny_row: bool, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut d = Draws::new(seed);
    let mut x = d.rows(rows * n, offset, 1.0);
    if tiny_row {
        // ‖row‖ ≈ 1e-7·√n < ε = 1e-5 for every n tested: the clamp is active on this row.
        x[..n].iter_mut().for_each(|v| *v *= 1e-7 / (1.0 + offset));
    }
    (x, d.normal(rows * n))
}

/// `got` row by row against `want`, with row `r`'s absolute tolerance `atol(r)`.
fn close_rows<T: Copy + Into<f64>>(
    what: &str,
    got: &[T],
    want: &[f64],
    n: usize,
    atol: impl Fn(usize) -> f64,
    rtol: f64,
) {
    for (r, (got, want)) in got.chunks(n).zip(want.chunks(n)).enumerate() {
        assert_close(what, got, want, atol(r), rtol);
    }
}

#[test]
fn cpu_matches_reference_f32_and_f64() {
    for &(rows, n) in CASES {
        for (offset, tiny) in [(0.0, false), (0.0, true), (1e3, false)] {
            let what = format!("scalenorm {rows}x{n} offset {offset} tiny={tiny}");
            let (x, dy) = inputs(rows, n, offset, tiny, (rows * 1000 + n) as u64);
            let (x, dy) = (round(&x), round(&dy));
            let g = (G as f32) as f64;
            let (xt, gt, dyt) = (
                f32s(&x, &[rows, n]),
                f32s(&[g], &[1]),
                f32s(&dy, &[rows, n]),
            );
            let (y, st) = scalenorm_forward(&xt, &gt, EPS).unwrap();
            let (y_ref, n_ref) = scalenorm_forward_ref(&x, n, g, EPS);
            // One length-n sum of squares and a division per element: 1e-5 relative.
            close_f32(&what, &y, &y_ref, 1e-6, 1e-5);
            close_f32(&what, &st.norm, &n_ref, 0.0, 1e-5);
            let gr = scalenorm_backward(&xt, &gt, &st, &dyt).unwrap();
            let (dx_ref, dg_ref) = scalenorm_backward_ref(&x, n, g, &dy, EPS);
            // dx is O(g·|dy|/norm): clamped rows reach 1.7e5. Compare relative to each row's
            // scale g/norm, and allow rtol 1e-4 for the difference of two O(1) terms.
            let dx = gr.dx.to_vec::<f32>().unwrap();
            close_rows(&what, &dx, &dx_ref, n, |r| 1e-5 * g / n_ref[r], 1e-4);
            let sum_abs: f64 = x
                .chunks(n)
                .zip(dy.chunks(n))
                .zip(&n_ref)
                .map(|((a, b), nr)| a.iter().zip(b).map(|(p, q)| (p * q).abs()).sum::<f64>() / nr)
                .sum();
            // dg sums rows·n products: 1e-6 of the sum of their magnitudes.
            close_f32(&what, &gr.dgain, &[dg_ref], 1e-6 * sum_abs, 0.0);

            let (xt, gt, dyt) = (
                f64s(&x, &[rows, n]),
                f64s(&[g], &[1]),
                f64s(&dy, &[rows, n]),
            );
            let (y, st) = scalenorm_forward(&xt, &gt, EPS).unwrap();
            close_f64(&what, &y, &y_ref, 1e-13, 1e-12);
            let gr = scalenorm_backward(&xt, &gt, &st, &dyt).unwrap();
            let dx = gr.dx.to_vec::<f64>().unwrap();
            close_rows(&what, &dx, &dx_ref, n, |r| 1e-12 * g / n_ref[r], 1e-10);
            close_f64(&what, &gr.dgain, &[dg_ref], 1e-12 * sum_abs, 1e-12);
        }
    }
}

#[test]
fn backward_matches_finite_differences() {
    for &(rows, n, offset, tiny) in &[
        (3, 7, 0.0, false),
        (3, 7, 0.0, true),
        (4, 33, 1e3, false),
        (2, 300, 0.0, false),
    ] {
        let (x, w) = inputs(rows, n, offset, tiny, 55 + n as u64);
        let s = [rows, n];
        let loss = |x: &[f64], g: f64| {
            let (y, _) = scalenorm_forward(&f64s(x, &s), &f64s(&[g], &[1]), EPS).unwrap();
            dot(&y.to_vec::<f64>().unwrap(), &w)
        };
        let xt = f64s(&x, &s);
        let gt = f64s(&[G], &[1]);
        let (_, st) = scalenorm_forward(&xt, &gt, EPS).unwrap();
        let gr = scalenorm_backward(&xt, &gt, &st, &f64s(&w, &s)).unwrap();
        let what = format!("scalenorm {rows}x{n} offset {offset} tiny={tiny}");
        // With a clamped row (norm 1e-7·√n), a step of 1e-6 would cross the clamp: use 1e-10
        // there; the clamped row is linear in x, so that step loses nothing. With offset 1e3
        // the gradient is ~1e-5 and the f64 rounding of x (~1e-13) swamps a 1e-6 step: use
        // 1e-3 (the curvature scale is ‖x‖ ≈ 6e3) and tolerance 1e-5.
        let (step, tol) = match (tiny, offset > 0.0) {
            (true, _) => (1e-10, 1e-6),
            (false, true) => (1e-3, 1e-5),
            (false, false) => (1e-6, 1e-6),
        };
        fd_check(
            &format!("{what} dx"),
            &mut |x| loss(x, G),
            &x,
            &gr.dx.to_vec::<f64>().unwrap(),
            step,
            tol,
        )
        .unwrap();
        fd_check(
            &format!("{what} dgain"),
            &mut |g| loss(&x, g[0]),
            &[G],
            &gr.dgain.to_vec::<f64>().unwrap(),
            1e-6,
            1e-6,
        )
        .unwrap();
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let x = f32s(&[1.0; 6], &[2, 3]);
    let g = f32s(&[1.0], &[1]);
    let g3 = f32s(&[1.0; 3], &[3]);
    assert!(matches!(
        scalenorm_forward(&x, &g3, EPS),
        Err(crate::Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        scalenorm_forward(&x, &f64s(&[1.0], &[1]), EPS),
        Err(crate::Error::DTypeMismatch { .. })
    ));
    assert!(matches!(
        scalenorm_forward(&x, &g, 0.0),
        Err(crate::Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        scalenorm_forward(&f32s(&[], &[0]), &g, EPS),
        Err(crate::Error::InvalidShape { .. })
    ));
    let (_, st) = scalenorm_forward(&x, &g, EPS).unwrap();
    assert!(matches!(
        scalenorm_backward(&x, &g, &st, &f32s(&[1.0; 6], &[3, 2])),
        Err(crate::Error::ShapeMismatch { .. })
    ));
}

crate::gpu_test! {
    fn cuda_matches_cpu() {
        let dev = cuda_test_device();
        let gpu = |t: &Tensor| t.to_device(&dev).unwrap();
        let v = |t: &Tensor| t.to_vec::<f32>().unwrap();
        for &(rows, n, offset, tiny) in &[(1, 1, 0.0, false), (5, 7, 0.0, true), (33, 31, 0.0, false), (17, 97, 1e3, false), (3, 1025, 0.0, true), (300, 33, 0.0, false), (2, 4099, 0.0, false)] {
            let what = format!("scalenorm {rows}x{n} offset {offset} tiny={tiny}");
            let (x, dy) = inputs(rows, n, offset, tiny, 3 + n as u64);
            let (x, dy) = (round(&x), round(&dy));
            let g = (G as f32) as f64;
            let (xt, gt, dyt) = (f32s(&x, &[rows, n]), f32s(&[g], &[1]), f32s(&dy, &[rows, n]));
            let (cy, cst) = scalenorm_forward(&xt, &gt, EPS).unwrap();
            let (gy, gst) = scalenorm_forward(&gpu(&xt), &gpu(&gt), EPS).unwrap();
            assert_gpu_rule(&what, &v(&gy), &v(&cy), &scalenorm_forward_ref(&x, n, g, EPS).0);
            let (dx_ref, dg_ref) = scalenorm_backward_ref(&x, n, g, &dy, EPS);
            let cg = scalenorm_backward(&xt, &gt, &cst, &dyt).unwrap();
            let gg = scalenorm_backward(&gpu(&xt), &gpu(&gt), &gst, &gpu(&dyt)).unwrap();
            assert_gpu_rule(&what, &v(&gg.dx), &v(&cg.dx), &dx_ref);
            assert_gpu_rule(&what, &v(&gg.dgain), &v(&cg.dgain), &[dg_ref]);
        }
        let _ = Device::Cpu;
    }
}
