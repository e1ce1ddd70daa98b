use super::*;
use crate::testing::*;
use crate::{Device, Tensor};

/// `(batch dims, m, k, n)`: sizes of 1, primes, sizes off every SIMD width, a batch of 3.
const CASES: &[(&[usize], usize, usize, usize)] = &[
    (&[], 1, 1, 1),
    (&[], 7, 1, 5),
    (&[], 17, 33, 65),
    (&[3], 17, 33, 65),
    (&[3], 1, 13, 2),
    (&[2, 3], 5, 7, 3),
    (&[3], 31, 64, 97),
];

fn stored(rows: usize, cols: usize, trans: bool) -> [usize; 2] {
    if trans { [cols, rows] } else { [rows, cols] }
}

/// Shapes of `a`, `b` and `y` for a case, with `b` 2-D when `broadcast`.
fn shapes(
    batch: &[usize],
    (m, k, n): (usize, usize, usize),
    ta: bool,
    tb: bool,
    broadcast: bool,
) -> (Vec<usize>, Vec<usize>, Vec<usize>, MatmulDims) {
    let cat = |pre: &[usize], last: [usize; 2]| [pre, &last[..]].concat();
    let sa = cat(batch, stored(m, k, ta));
    let sb = cat(if broadcast { &[] } else { batch }, stored(k, n, tb));
    let sy = cat(batch, [m, n]);
    let d = MatmulDims {
        batch: batch.iter().product(),
        m,
        k,
        n,
        trans_a: ta,
        trans_b: tb,
        broadcast_b: broadcast && !batch.is_empty(),
    };
    (sa, sb, sy, d)
}

/// Every case × transposes × (batched | broadcast `b`).
fn each_config(mut f: impl FnMut(&[usize], (usize, usize, usize), bool, bool, bool)) {
    for &(batch, m, k, n) in CASES {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            for broadcast in [false, true] {
                if broadcast && batch.is_empty() {
                    continue;
                }
                f(batch, (m, k, n), ta, tb, broadcast);
            }
        }
    }
}

/// The f32 forward and backward against the f64 reference on the f32-rounded inputs. f32 sums
/// of k (forward), n or batch·m (backward) products of O(1) values: allow a 1e-6·length absolute
/// error, well above the ~√length·6e-8 seen, below any real bug.
fn check_f32(
    what: &str,
    [a, b, dy]: [&[f64]; 3],
    [sa, sb, sy]: [&[usize]; 3],
    d: &MatmulDims,
    ta: bool,
    tb: bool,
    broadcast: bool,
) {
    let (k_fwd, k_da) = (d.k as f64, d.n as f64);
    let k_db = (d.m * if broadcast { d.batch } else { 1 }) as f64;
    let t32 = |v: &[f64], s: &[usize]| Tensor::from_vec(to_f32(v), s).unwrap();
    let ref32 = |v: &[f64]| to_f64(&to_f32(v));
    let (a32, b32, dy32) = (ref32(a), ref32(b), ref32(dy));
    let (ta32, tb32) = (t32(a, sa), t32(b, sb));
    let y = matmul(&ta32, &tb32, ta, tb).unwrap();
    assert_eq!(y.shape(), sy, "{what}");
    let y_ref = matmul_forward_ref(&a32, &b32, d);
    assert_close(
        what,
        &y.to_vec::<f32>().unwrap(),
        &y_ref,
        1e-6 * k_fwd,
        1e-5,
    );
    let (da, db) = matmul_backward(&ta32, &tb32, &t32(dy, sy), ta, tb).unwrap();
    assert_eq!((da.shape(), db.shape()), (sa, sb), "{what}");
    let (da_ref, db_ref) = matmul_backward_ref(&a32, &b32, &dy32, d);
    assert_close(
        what,
        &da.to_vec::<f32>().unwrap(),
        &da_ref,
        1e-6 * k_da,
        1e-5,
    );
    assert_close(
        what,
        &db.to_vec::<f32>().unwrap(),
        &db_ref,
        1e-6 * k_db,
        1e-5,
    );
}

#[test]
fn cpu_matches_reference_f32_and_f64() {
    each_config(|batch, mkn, ta, tb, bc| {
        let (sa, sb, sy, d) = shapes(batch, mkn, ta, tb, bc);
        let (la, lb, ly) = d.lens();
        let mut r = rng((la * 31 + lb * 7 + ly) as u64 + ta as u64 * 2 + tb as u64);
        let (a, b, dy) = (randn(&mut r, la), randn(&mut r, lb), randn(&mut r, ly));
        let what = format!("matmul {batch:?} {mkn:?} ta={ta} tb={tb} broadcast={bc}");
        check_f32(&what, [&a, &b, &dy], [&sa, &sb, &sy], &d, ta, tb, bc);

        let t = |v: &[f64], s: &[usize]| Tensor::from_vec(v.to_vec(), s).unwrap();
        let y = matmul(&t(&a, &sa), &t(&b, &sb), ta, tb).unwrap();
        assert_close(
            &what,
            &y.to_vec::<f64>().unwrap(),
            &matmul_forward_ref(&a, &b, &d),
            1e-13,
            1e-12,
        );
        let (da, db) = matmul_backward(&t(&a, &sa), &t(&b, &sb), &t(&dy, &sy), ta, tb).unwrap();
        let (da_ref, db_ref) = matmul_backward_ref(&a, &b, &dy, &d);
        assert_close(&what, &da.to_vec::<f64>().unwrap(), &da_ref, 1e-13, 1e-12);
        assert_close(&what, &db.to_vec::<f64>().unwrap(), &db_ref, 1e-13, 1e-12);
    });
}

#[test]
fn large_product_takes_the_parallel_path() {
    // 160·150·170 multiply-adds > PAR_INNER_MIN_MACS: faer's rayon GEMM, batch folded.
    let d = MatmulDims {
        batch: 2,
        m: 80,
        k: 150,
        n: 170,
        trans_a: false,
        trans_b: true,
        broadcast_b: true,
    };
    let (la, lb, _) = d.lens();
    let mut r = rng(11);
    let (a, b) = (randn(&mut r, la), randn(&mut r, lb));
    let y = matmul(
        &Tensor::from_vec(a.clone(), &[2, 80, 150]).unwrap(),
        &Tensor::from_vec(b.clone(), &[170, 150]).unwrap(),
        false,
        true,
    )
    .unwrap();
    assert_close(
        "big",
        &y.to_vec::<f64>().unwrap(),
        &matmul_forward_ref(&a, &b, &d),
        1e-12,
        1e-12,
    );
}

#[test]
fn large_products_match_the_reference_in_every_layout() {
    // ≥ PAR_INNER_MIN_MACS multiply-adds per product, so every GEMM of the forward and backward
    // pass runs in parallel; on AVX2-only hosts the `tx` ones (incl. the batch-summed
    // `Accum::Add` loop of `db` with both transposes) and the wide ones (`n ≥ 4m`: the forward of
    // the second shape) go through the `gemm` crate, the others through faer.
    for mkn in [(130, 120, 140), (40, 100, 600)] {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            for broadcast in [false, true] {
                large_product_case(mkn, ta, tb, broadcast);
            }
        }
    }
}

fn large_product_case(mkn: (usize, usize, usize), ta: bool, tb: bool, broadcast: bool) {
    let (sa, sb, sy, d) = shapes(&[2], mkn, ta, tb, broadcast);
    let (la, lb, ly) = d.lens();
    let mut r = rng(40 + ta as u64 * 2 + tb as u64);
    let (a, b, dy) = (randn(&mut r, la), randn(&mut r, lb), randn(&mut r, ly));
    let what = format!("large {mkn:?} ta={ta} tb={tb} broadcast={broadcast}");
    let y_ref = matmul_forward_ref(&a, &b, &d);
    let (da_ref, db_ref) = matmul_backward_ref(&a, &b, &dy, &d);
    let t = |v: &[f64], s: &[usize]| Tensor::from_vec(v.to_vec(), s).unwrap();
    let (a64, b64, dy64) = (t(&a, &sa), t(&b, &sb), t(&dy, &sy));
    let y = matmul(&a64, &b64, ta, tb).unwrap();
    assert_close(&what, &y.to_vec::<f64>().unwrap(), &y_ref, 1e-12, 1e-12);
    let (da, db) = matmul_backward(&a64, &b64, &dy64, ta, tb).unwrap();
    assert_close(&what, &da.to_vec::<f64>().unwrap(), &da_ref, 1e-12, 1e-12);
    assert_close(&what, &db.to_vec::<f64>().unwrap(), &db_ref, 1e-12, 1e-12);
    // f32 (a separate kernel in both libraries).
    check_f32(&what, [&a, &b, &dy], [&sa, &sb, &sy], &d, ta, tb, broadcast);
}

#[test]
fn backward_matches_finite_differences() {
    for (batch, mkn) in [
        (&[][..], (3, 4, 5)),
        (&[2][..], (3, 5, 4)),
        (&[2][..], (9, 6, 7)),
    ] {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            for bc in [false, true] {
                if bc && batch.is_empty() {
                    continue;
                }
                let (sa, sb, sy, d) = shapes(batch, mkn, ta, tb, bc);
                let (la, lb, ly) = d.lens();
                let mut r = rng(la as u64 * 3 + lb as u64);
                let (a, b, w) = (randn(&mut r, la), randn(&mut r, lb), randn(&mut r, ly));
                let t = |v: &[f64], s: &[usize]| Tensor::from_vec(v.to_vec(), s).unwrap();
                let (da, db) =
                    matmul_backward(&t(&a, &sa), &t(&b, &sb), &t(&w, &sy), ta, tb).unwrap();
                let (da, db) = (da.to_vec::<f64>().unwrap(), db.to_vec::<f64>().unwrap());
                let what = format!("matmul {batch:?} {mkn:?} ta={ta} tb={tb} broadcast={bc}");
                let y = |a: &[f64], b: &[f64]| {
                    matmul(&t(a, &sa), &t(b, &sb), ta, tb)
                        .unwrap()
                        .to_vec::<f64>()
                        .unwrap()
                };
                fd_check(
                    &format!("{what} da"),
                    &mut |x| dot(&y(x, &b), &w),
                    &a,
                    &da,
                    1e-6,
                    1e-6,
                )
                .unwrap();
                fd_check(
                    &format!("{what} db"),
                    &mut |x| dot(&y(&a, x), &w),
                    &b,
                    &db,
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
    let t = |s: &[usize]| Tensor::from_vec(vec![0.0f32; s.iter().product()], s).unwrap();
    let shape_err = |r: crate::Result<Tensor>| matches!(r, Err(crate::Error::ShapeMismatch { .. }));
    // k differs.
    assert!(shape_err(matmul(&t(&[2, 3]), &t(&[4, 5]), false, false)));
    assert!(shape_err(matmul(&t(&[2, 3]), &t(&[4, 5]), true, true)));
    // Batch dims differ, or b batched while a is not.
    assert!(shape_err(matmul(
        &t(&[2, 2, 3]),
        &t(&[3, 3, 5]),
        false,
        false
    )));
    assert!(shape_err(matmul(&t(&[2, 3]), &t(&[2, 3, 5]), false, false)));
    // Rank below 2.
    assert!(matches!(
        matmul(&t(&[3]), &t(&[3, 5]), false, false),
        Err(crate::Error::InvalidShape { .. })
    ));
    assert!(matches!(
        matmul(&t(&[2, 3]), &t(&[3]), false, false),
        Err(crate::Error::InvalidShape { .. })
    ));
    // dtype.
    let b64 = Tensor::from_vec(vec![0.0f64; 15], &[3, 5]).unwrap();
    assert!(matches!(
        matmul(&t(&[2, 3]), &b64, false, false),
        Err(crate::Error::DTypeMismatch { .. })
    ));
    // dy of the wrong shape.
    assert!(matches!(
        matmul_backward(&t(&[2, 3]), &t(&[3, 5]), &t(&[5, 2]), false, false),
        Err(crate::Error::ShapeMismatch { .. })
    ));
    // Empty sizes are valid: k = 0 gives zeros.
    let y = matmul(&t(&[2, 0]), &t(&[0, 3]), false, false).unwrap();
    assert_eq!(y.to_vec::<f32>().unwrap(), vec![0.0; 6]);
}

/// cuBLAS's documented column-major `C = op(A)·op(B) + beta·C`, element by element.
fn sgemm_column_major(cm: &plan::ColumnMajorGemm, a: &[f64], b: &[f64], c: &mut [f64], beta: f64) {
    for i in 0..cm.m {
        for j in 0..cm.n {
            let mut s = 0.0;
            for l in 0..cm.k {
                let av = if cm.trans_a {
                    a[l + i * cm.lda]
                } else {
                    a[i + l * cm.lda]
                };
                let bv = if cm.trans_b {
                    b[j + l * cm.ldb]
                } else {
                    b[l + j * cm.ldb]
                };
                s += av * bv;
            }
            c[i + j * cm.ldc] = s + beta * c[i + j * cm.ldc];
        }
    }
}

/// The calls `cuda::gemm` makes for a plan (strided batch, or a beta = 1 loop when summing),
/// run on the host through [`sgemm_column_major`].
fn emulate_cuda_gemm(p: &plan::GemmPlan, x: &[f64], y: &[f64]) -> Vec<f64> {
    let cm = p.column_major();
    let mut c = vec![0.0; p.out_len()];
    for i in 0..p.batch {
        let (a, b) = (&y[i * cm.stride_a..], &x[i * cm.stride_b..]);
        let beta = if p.sum_batches && i > 0 { 1.0 } else { 0.0 };
        sgemm_column_major(&cm, a, b, &mut c[i * cm.stride_c..], beta);
    }
    c
}

#[test]
fn cublas_arguments_compute_the_row_major_product() {
    // No GPU here: check the column-major arguments and strides the CUDA path hands cuBLAS,
    // for every plan the forward and backward build, against the f64 reference.
    each_config(|batch, mkn, ta, tb, bc| {
        let (_, _, _, d) = shapes(batch, mkn, ta, tb, bc);
        let (la, lb, ly) = d.lens();
        let mut r = rng(900 + la as u64);
        let (a, b, dy) = (randn(&mut r, la), randn(&mut r, lb), randn(&mut r, ly));
        let what = format!("cuBLAS args {batch:?} {mkn:?} ta={ta} tb={tb} broadcast={bc}");
        let y = emulate_cuda_gemm(&forward_plan(&d), &a, &b);
        assert_close(&what, &y, &matmul_forward_ref(&a, &b, &d), 1e-12, 1e-12);
        let pick = |o: Operands| match o {
            Operands::DyB => (&dy, &b),
            Operands::BDy => (&b, &dy),
            Operands::ADy => (&a, &dy),
            Operands::DyA => (&dy, &a),
        };
        let [(oa, pa), (ob, pb)] = backward_plans(&d);
        let (da_ref, db_ref) = matmul_backward_ref(&a, &b, &dy, &d);
        let (x, yy) = pick(oa);
        assert_close(&what, &emulate_cuda_gemm(&pa, x, yy), &da_ref, 1e-12, 1e-12);
        let (x, yy) = pick(ob);
        assert_close(&what, &emulate_cuda_gemm(&pb, x, yy), &db_ref, 1e-12, 1e-12);
    });
}

crate::gpu_test! {
    fn cuda_matches_cpu() {
        let dev = cuda_test_device();
        each_config(|batch, mkn, ta, tb, bc| {
            let (sa, sb, sy, d) = shapes(batch, mkn, ta, tb, bc);
            let (la, lb, ly) = d.lens();
            let mut r = rng(500 + (la + lb) as u64);
            let (a, b, dy) = (randn(&mut r, la), randn(&mut r, lb), randn(&mut r, ly));
            let what = format!("matmul {batch:?} {mkn:?} ta={ta} tb={tb} broadcast={bc}");
            let (a32, b32, dy32) = (to_f64(&to_f32(&a)), to_f64(&to_f32(&b)), to_f64(&to_f32(&dy)));
            let ca = Tensor::from_vec(to_f32(&a), &sa).unwrap();
            let cb = Tensor::from_vec(to_f32(&b), &sb).unwrap();
            let cdy = Tensor::from_vec(to_f32(&dy), &sy).unwrap();
            let (ga, gb, gdy) = (ca.to_device(&dev).unwrap(), cb.to_device(&dev).unwrap(), cdy.to_device(&dev).unwrap());
            let v = |t: Tensor| t.to_vec::<f32>().unwrap();
            let y_ref = matmul_forward_ref(&a32, &b32, &d);
            assert_gpu_rule(&what, &v(matmul(&ga, &gb, ta, tb).unwrap()), &v(matmul(&ca, &cb, ta, tb).unwrap()), &y_ref);
            let (da_ref, db_ref) = matmul_backward_ref(&a32, &b32, &dy32, &d);
            let (gda, gdb) = matmul_backward(&ga, &gb, &gdy, ta, tb).unwrap();
            let (cda, cdb) = matmul_backward(&ca, &cb, &cdy, ta, tb).unwrap();
            assert_gpu_rule(&what, &v(gda), &v(cda), &da_ref);
            assert_gpu_rule(&what, &v(gdb), &v(cdb), &db_ref);
        });
        let _ = Device::Cpu;
    }
}
