use super::*;
use crate::testing::*;

/// (shape, axis): contiguous rows, strided columns, size-1 axes, a row long enough for the
/// parallel split (> 4·CHUNK), awkward lengths around block and lane sizes.
const CASES: &[(&[usize], usize)] = &[
    (&[1], 0),
    (&[7], 0),
    (&[16411], 0),
    (&[70001], 0),
    (&[3, 1025], 1),
    (&[257, 31], 1),
    (&[4099, 3], 0),
    (&[2, 97, 5], 1),
    (&[7, 31, 257], 1),
    (&[5, 3, 4], 0),
    (&[5, 3, 4], 2),
    (&[4, 1, 6], 1),
    (&[2, 0, 3], 1),
];

/// Exact equality, with NaN equal to NaN and ∞ to ∞.
fn assert_same<T: Copy + Into<f64>>(what: &str, got: &[T], reference: &[f64]) {
    assert_eq!(got.len(), reference.len(), "{what}: lengths differ");
    for (k, (&g, &r)) in got.iter().zip(reference).enumerate() {
        let g: f64 = g.into();
        assert!(
            g == r || (g.is_nan() && r.is_nan()),
            "{what}: output {k}: got {g}, want {r}"
        );
    }
}

fn input(n: usize, seed: u64) -> Vec<f64> {
    // Mean 0.3 so that sums neither vanish nor are pure noise.
    randn(&mut rng(seed), n).iter().map(|v| v + 0.3).collect()
}

/// Per-output `Σ|terms|` (terms = x, or x² for `sum_sq`), the scale of the summation error.
fn abs_sums(x: &[f64], v: AxisView, square: bool) -> Vec<f64> {
    let a: Vec<f64> = x
        .iter()
        .map(|t| if square { t * t } else { t.abs() })
        .collect();
    sum_forward_ref(&a, v)
}

/// `|got − ref| ≤ (ε_out + (len + 8)·2⁻⁵²)·Σ|terms|`: one rounding to the output dtype plus
/// f64 accumulation error growing with the reduction length.
fn assert_sum_close<T: Copy + Into<f64>>(
    what: &str,
    got: &[T],
    reference: &[f64],
    abs: &[f64],
    len: usize,
    eps_out: f64,
) {
    let rtol = eps_out + (len as f64 + 8.0) * f64::EPSILON;
    for (k, ((&g, &r), &s)) in got.iter().zip(reference).zip(abs).enumerate() {
        let g: f64 = g.into();
        assert!(
            (g - r).abs() <= rtol * s,
            "{what}: output {k}: got {g:e}, reference {r:e}, Σ|terms| {s:e}, rtol {rtol:e}"
        );
    }
}

#[test]
fn sums_match_reference_f32_and_f64() {
    for (seed, &(shape, axis)) in CASES.iter().enumerate() {
        let n: usize = shape.iter().product();
        let v = AxisView::new("test", shape, axis).unwrap();
        let x = input(n, seed as u64);
        let x32 = to_f64(&to_f32(&x));
        let t32 = Tensor::from_vec(to_f32(&x), shape).unwrap();
        let t64 = Tensor::from_vec(x.clone(), shape).unwrap();
        let eps32 = f32::EPSILON as f64;
        let what = format!("{shape:?} axis {axis}");

        let (r32, r64) = (sum_forward_ref(&x32, v), sum_forward_ref(&x, v));
        let (a32, a64) = (abs_sums(&x32, v, false), abs_sums(&x, v, false));
        let got = sum_forward(&t32, axis).unwrap();
        assert_eq!(got.shape(), &reduced_shape(shape, axis)[..]);
        let got = got.to_vec::<f32>().unwrap();
        assert_sum_close(&format!("sum f32 {what}"), &got, &r32, &a32, v.len, eps32);
        let got = sum_forward(&t64, axis).unwrap().to_vec::<f64>().unwrap();
        assert_sum_close(&format!("sum f64 {what}"), &got, &r64, &a64, v.len, 0.0);

        let (q32, q64) = (sum_sq_forward_ref(&x32, v), sum_sq_forward_ref(&x, v));
        let (s32, s64) = (abs_sums(&x32, v, true), abs_sums(&x, v, true));
        let got = sum_sq_forward(&t32, axis).unwrap().to_vec::<f32>().unwrap();
        assert_sum_close(
            &format!("sum_sq f32 {what}"),
            &got,
            &q32,
            &s32,
            v.len,
            eps32,
        );
        let got = sum_sq_forward(&t64, axis).unwrap().to_vec::<f64>().unwrap();
        assert_sum_close(&format!("sum_sq f64 {what}"), &got, &q64, &s64, v.len, 0.0);

        if v.len > 0 {
            let inv = 1.0 / v.len as f64;
            let (m32, m64) = (mean_forward_ref(&x32, v), mean_forward_ref(&x, v));
            let b32: Vec<f64> = a32.iter().map(|s| s * inv).collect();
            let b64: Vec<f64> = a64.iter().map(|s| s * inv).collect();
            let got = mean_forward(&t32, axis).unwrap().to_vec::<f32>().unwrap();
            assert_sum_close(&format!("mean f32 {what}"), &got, &m32, &b32, v.len, eps32);
            let got = mean_forward(&t64, axis).unwrap().to_vec::<f64>().unwrap();
            assert_sum_close(&format!("mean f64 {what}"), &got, &m64, &b64, v.len, 0.0);
        }
    }
}

#[test]
fn max_abs_and_count_nonfinite_are_exact() {
    for (seed, &(shape, axis)) in CASES.iter().enumerate() {
        let n: usize = shape.iter().product();
        let v = AxisView::new("test", shape, axis).unwrap();
        let mut x = to_f64(&to_f32(&input(n, 100 + seed as u64)));
        // Sprinkle non-finite values (not in every output, so both paths are seen).
        for (k, xi) in x.iter_mut().enumerate() {
            match k % 37 {
                5 => *xi = f64::INFINITY,
                11 => *xi = f64::NEG_INFINITY,
                23 if k % 3 == 0 => *xi = f64::NAN,
                _ => {}
            }
        }
        let (m_ref, c_ref) = (max_abs_ref(&x, v), count_nonfinite_ref(&x, v));
        let t32 = Tensor::from_vec(to_f32(&x), shape).unwrap();
        let t64 = Tensor::from_vec(x.clone(), shape).unwrap();
        let what = format!("{shape:?} axis {axis}");
        let m32 = max_abs(&t32, axis).unwrap().to_vec::<f32>().unwrap();
        assert_same(&format!("max_abs f32 {what}"), &m32, &m_ref);
        let m64 = max_abs(&t64, axis).unwrap().to_vec::<f64>().unwrap();
        assert_same(&format!("max_abs f64 {what}"), &m64, &m_ref);
        let c32 = count_nonfinite(&t32, axis)
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        assert_same(&format!("count f32 {what}"), &c32, &c_ref);
        let c64 = count_nonfinite(&t64, axis)
            .unwrap()
            .to_vec::<f64>()
            .unwrap();
        assert_same(&format!("count f64 {what}"), &c64, &c_ref);
    }
    let x = Tensor::from_vec(vec![1.0f32, f32::NAN, -3.0, f32::INFINITY], &[4]).unwrap();
    assert!(max_abs(&x, 0).unwrap().to_vec::<f32>().unwrap()[0].is_nan());
    assert_eq!(
        count_nonfinite(&x, 0).unwrap().to_vec::<f32>().unwrap(),
        [2.0]
    );
}

#[test]
fn backward_matches_finite_differences() {
    for &(shape, axis) in &[
        (&[3usize, 5, 4][..], 1usize),
        (&[6, 7][..], 0),
        (&[6, 7][..], 1),
    ] {
        let n: usize = shape.iter().product();
        let v = AxisView::new("test", shape, axis).unwrap();
        let x = input(n, 9);
        let w = input(v.outer * v.inner, 10);
        let wt = Tensor::from_vec(w.clone(), &reduced_shape(shape, axis)).unwrap();
        let xt = Tensor::from_vec(x.clone(), shape).unwrap();

        let dx = sum_backward(&wt, shape, axis)
            .unwrap()
            .to_vec::<f64>()
            .unwrap();
        let mut f = |x: &[f64]| dot(&sum_forward_ref(x, v), &w);
        fd_check("sum", &mut f, &x, &dx, 1e-6, 1e-6).unwrap();

        let dx = mean_backward(&wt, shape, axis)
            .unwrap()
            .to_vec::<f64>()
            .unwrap();
        let mut f = |x: &[f64]| dot(&mean_forward_ref(x, v), &w);
        fd_check("mean", &mut f, &x, &dx, 1e-6, 1e-6).unwrap();

        let dx = sum_sq_backward(&xt, &wt, axis)
            .unwrap()
            .to_vec::<f64>()
            .unwrap();
        let mut f = |x: &[f64]| dot(&sum_sq_forward_ref(x, v), &w);
        fd_check("sum_sq", &mut f, &x, &dx, 1e-6, 1e-6).unwrap();

        // f32 backward: one or two roundings of exact products.
        let w32 = Tensor::from_vec(to_f32(&w), &reduced_shape(shape, axis)).unwrap();
        let x32 = Tensor::from_vec(to_f32(&x), shape).unwrap();
        let got = sum_sq_backward(&x32, &w32, axis)
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        let want = sum_sq_backward(
            &x32.to_dtype(crate::DType::F64).unwrap(),
            &w32.to_dtype(crate::DType::F64).unwrap(),
            axis,
        )
        .unwrap()
        .to_vec::<f64>()
        .unwrap();
        assert_close("sum_sq bwd f32", &got, &want, 0.0, 1.2e-7);
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let x = Tensor::from_vec(vec![1.0f32; 6], &[2, 3]).unwrap();
    assert!(matches!(
        sum_forward(&x, 2),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(max_abs(&x, 5), Err(Error::InvalidArgument { .. })));
    let empty = Tensor::from_vec(Vec::<f32>::new(), &[2, 0]).unwrap();
    assert!(matches!(
        mean_forward(&empty, 1),
        Err(Error::InvalidShape { .. })
    ));
    let dy = Tensor::from_vec(vec![1.0f32; 3], &[3]).unwrap();
    assert!(matches!(
        sum_backward(&dy, &[2, 3], 1),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        mean_backward(&dy, &[2, 3], 2),
        Err(Error::InvalidArgument { .. })
    ));
    let dy64 = Tensor::from_vec(vec![1.0f64; 2], &[2]).unwrap();
    assert!(matches!(
        sum_sq_backward(&x, &dy64, 1),
        Err(Error::DTypeMismatch { .. })
    ));
}

crate::gpu_test! {
    fn cuda_matches_cpu() {
        let dev = cuda_test_device();
        for (seed, &(shape, axis)) in CASES.iter().enumerate() {
            let n: usize = shape.iter().product();
            let v = AxisView::new("test", shape, axis).unwrap();
            let mut x = to_f64(&to_f32(&input(n, 200 + seed as u64)));
            let t32 = Tensor::from_vec(to_f32(&x), shape).unwrap();
            let g = t32.to_device(&dev).unwrap();
            let run = |f: fn(&Tensor, usize) -> Result<Tensor>, t: &Tensor| {
                f(t, axis).unwrap().to_vec::<f32>().unwrap()
            };
            assert_gpu_rule("sum", &run(sum_forward, &g), &run(sum_forward, &t32), &sum_forward_ref(&x, v));
            assert_gpu_rule("sum_sq", &run(sum_sq_forward, &g), &run(sum_sq_forward, &t32), &sum_sq_forward_ref(&x, v));
            if v.len > 0 {
                assert_gpu_rule("mean", &run(mean_forward, &g), &run(mean_forward, &t32), &mean_forward_ref(&x, v));
            }
            let w = input(v.outer * v.inner, 300 + seed as u64);
            let w32 = Tensor::from_vec(to_f32(&w), &reduced_shape(shape, axis)).unwrap();
            let gw = w32.to_device(&dev).unwrap();
            let cpu = sum_sq_backward(&t32, &w32, axis).unwrap().to_vec::<f32>().unwrap();
            let gpu = sum_sq_backward(&g, &gw, axis).unwrap().to_vec::<f32>().unwrap();
            let reference = sum_sq_backward(&Tensor::from_vec(x.clone(), shape).unwrap(),
                &Tensor::from_vec(to_f64(&to_f32(&w)), &reduced_shape(shape, axis)).unwrap(), axis)
                .unwrap().to_vec::<f64>().unwrap();
            assert_gpu_rule("sum_sq bwd", &gpu, &cpu, &reference);
            let cpu = mean_backward(&w32, shape, axis).map(|t| t.to_vec::<f32>().unwrap());
            let gpu = mean_backward(&gw, shape, axis).map(|t| t.to_vec::<f32>().unwrap());
            if let (Ok(c), Ok(gv)) = (cpu, gpu) {
                assert_close("mean bwd", &gv, &to_f64(&c), 0.0, 1.2e-7);
            }
            for (k, xi) in x.iter_mut().enumerate() {
                if k % 29 == 3 { *xi = f64::INFINITY; }
                if k % 41 == 7 { *xi = f64::NAN; }
            }
            let t32 = Tensor::from_vec(to_f32(&x), shape).unwrap();
            let g = t32.to_device(&dev).unwrap();
            assert_same("max_abs", &run(max_abs, &g), &max_abs_ref(&x, v));
            assert_same("count", &run(count_nonfinite, &g), &count_nonfinite_ref(&x, v));
        }
    }
}
