use super::*;
use crate::testing::*;

const LAYOUTS: [RopeLayout; 2] = [RopeLayout::Interleaved, RopeLayout::HalfSplit];

fn inputs(len: usize, seed: u64) -> Vec<f64> {
    randn(&mut rng(seed), len)
}

/// Shapes [batch, n, s]: even widths from 2 up to odd-half widths and long sequences.
const SHAPES: &[[usize; 3]] = &[
    [1, 1, 2],
    [2, 3, 6],
    [3, 7, 8],
    [2, 97, 14],
    [1, 513, 64],
    [2, 33, 128],
];

#[test]
fn cpu_matches_reference_f32_and_f64() {
    for (k, shape) in SHAPES.iter().enumerate() {
        let [_, n, s] = *shape;
        let x = inputs(shape.iter().product(), k as u64);
        let x32 = to_f64(&to_f32(&x));
        for layout in LAYOUTS {
            for offset in [0, 5, 4000] {
                let o = RopeOpts {
                    layout,
                    offset,
                    ..Default::default()
                };
                for sign in [1.0, -1.0] {
                    let run = |t: &Tensor| {
                        if sign > 0.0 {
                            rope_forward(t, &o)
                        } else {
                            rope_backward(t, &o)
                        }
                    };
                    let y = run(&Tensor::from_vec(x.clone(), shape).unwrap()).unwrap();
                    let y_ref = rope_ref(&x, n, s, &o, sign);
                    assert_close(
                        "rope f64",
                        &y.to_vec::<f64>().unwrap(),
                        &y_ref,
                        1e-15,
                        1e-14,
                    );
                    let y = run(&Tensor::from_vec(to_f32(&x), shape).unwrap()).unwrap();
                    let y_ref = rope_ref(&x32, n, s, &o, sign);
                    // Each output is two products of f32-rounded factors and one add.
                    assert_close("rope f32", &y.to_vec::<f32>().unwrap(), &y_ref, 1e-6, 1e-6);
                }
            }
        }
    }
}

#[test]
fn known_values_and_inverse() {
    // s = 2: θ_0 = 1, so position p rotates (x0, x1) by p radians.
    let x = Tensor::from_vec(vec![1.0f64, 0.0, 1.0, 0.0, 0.0, 2.0], &[3, 2]).unwrap();
    let y = rope_forward(&x, &RopeOpts::default())
        .unwrap()
        .to_vec::<f64>()
        .unwrap();
    let want = [
        1.0,
        0.0,
        1f64.cos(),
        1f64.sin(),
        -2.0 * 2f64.sin(),
        2.0 * 2f64.cos(),
    ];
    assert_close("rope s=2", &y, &want, 1e-15, 0.0);
    // backward ∘ forward = identity (orthogonality), both layouts.
    let x = inputs(3 * 5 * 8, 9);
    for layout in LAYOUTS {
        let o = RopeOpts {
            layout,
            offset: 3,
            base: 500.0,
        };
        let t = Tensor::from_vec(x.clone(), &[3, 5, 8]).unwrap();
        let back = rope_backward(&rope_forward(&t, &o).unwrap(), &o).unwrap();
        assert_close(
            "rope inverse",
            &back.to_vec::<f64>().unwrap(),
            &x,
            1e-14,
            0.0,
        );
    }
}

#[test]
fn scores_depend_only_on_relative_position() {
    // ⟨RoPE(q) at p, RoPE(k) at p'⟩ depends on p − p' only: shift both by 7 via the offset.
    let (q, k) = (inputs(16, 1), inputs(16, 2));
    let pos = |v: &[f64], p: usize, layout| {
        let o = RopeOpts {
            layout,
            offset: p,
            ..Default::default()
        };
        rope_forward(&Tensor::from_vec(v.to_vec(), &[1, 16]).unwrap(), &o)
            .unwrap()
            .to_vec::<f64>()
            .unwrap()
    };
    for layout in LAYOUTS {
        let a = dot(&pos(&q, 10, layout), &pos(&k, 3, layout));
        let b = dot(&pos(&q, 17, layout), &pos(&k, 10, layout));
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
}

#[test]
fn layouts_agree_after_the_channel_permutation() {
    // spec/gau.md §2.2: interleaved RoPE on x equals half-split RoPE on x with its channels
    // permuted (even channels first, then odd), permuted back.
    let (n, s) = (6, 10);
    let x = inputs(n * s, 4);
    let perm: Vec<usize> = (0..s).step_by(2).chain((1..s).step_by(2)).collect();
    let xp: Vec<f64> = x
        .chunks(s)
        .flat_map(|r| perm.iter().map(|&c| r[c]))
        .collect();
    let inter = rope_forward(&Tensor::from_vec(x, &[n, s]).unwrap(), &RopeOpts::default())
        .unwrap()
        .to_vec::<f64>()
        .unwrap();
    let half = RopeOpts {
        layout: RopeLayout::HalfSplit,
        ..Default::default()
    };
    let hs = rope_forward(&Tensor::from_vec(xp, &[n, s]).unwrap(), &half)
        .unwrap()
        .to_vec::<f64>()
        .unwrap();
    let mut back = vec![0.0; n * s];
    for (r, row) in hs.chunks(s).enumerate() {
        for (k, &c) in perm.iter().enumerate() {
            back[r * s + c] = row[k];
        }
    }
    assert_close("layout permutation", &back, &inter, 1e-15, 0.0);
}

#[test]
fn backward_matches_finite_differences() {
    for layout in LAYOUTS {
        let o = RopeOpts {
            layout,
            offset: 2,
            base: 100.0,
        };
        let shape = [2, 5, 6];
        let (x, w) = (inputs(60, 21), inputs(60, 22));
        let dx = rope_backward(&Tensor::from_vec(w.clone(), &shape).unwrap(), &o)
            .unwrap()
            .to_vec::<f64>()
            .unwrap();
        let mut f = |x: &[f64]| {
            let t = Tensor::from_vec(x.to_vec(), &shape).unwrap();
            dot(&rope_forward(&t, &o).unwrap().to_vec::<f64>().unwrap(), &w)
        };
        fd_check("rope", &mut f, &x, &dx, 1e-6, 1e-7).unwrap();
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let odd = Tensor::from_vec(vec![0.0f32; 15], &[3, 5]).unwrap();
    assert!(matches!(
        rope_forward(&odd, &RopeOpts::default()),
        Err(Error::InvalidShape { .. })
    ));
    let flat = Tensor::from_vec(vec![0.0f32; 4], &[4]).unwrap();
    assert!(matches!(
        rope_backward(&flat, &RopeOpts::default()),
        Err(Error::InvalidShape { .. })
    ));
    let x = Tensor::from_vec(vec![0.0f32; 4], &[2, 2]).unwrap();
    for base in [0.0, -1.0, f64::INFINITY, f64::NAN] {
        let o = RopeOpts {
            base,
            ..Default::default()
        };
        assert!(matches!(
            rope_forward(&x, &o),
            Err(Error::InvalidArgument { .. })
        ));
    }
}

crate::gpu_test! {
    fn cuda_matches_cpu() {
        let dev = cuda_test_device();
        for (k, shape) in SHAPES.iter().enumerate() {
            let [_, n, s] = *shape;
            let x = inputs(shape.iter().product(), 300 + k as u64);
            let x32 = to_f64(&to_f32(&x));
            let xt = Tensor::from_vec(to_f32(&x), shape).unwrap();
            let gx = xt.to_device(&dev).unwrap();
            for layout in LAYOUTS {
                for offset in [0, 4000] {
                    let o = RopeOpts { layout, offset, ..Default::default() };
                    let cy = rope_forward(&xt, &o).unwrap().to_vec::<f32>().unwrap();
                    let gy = rope_forward(&gx, &o).unwrap().to_vec::<f32>().unwrap();
                    assert_gpu_rule("rope fwd", &gy, &cy, &rope_ref(&x32, n, s, &o, 1.0));
                    let cdx = rope_backward(&xt, &o).unwrap().to_vec::<f32>().unwrap();
                    let gdx = rope_backward(&gx, &o).unwrap().to_vec::<f32>().unwrap();
                    assert_gpu_rule("rope bwd", &gdx, &cdx, &rope_ref(&x32, n, s, &o, -1.0));
                }
            }
        }
    }
}
