use super::*;
use crate::test_support::{LayerCheck, Spread, randomise};
use nn::gradcheck::{GradCheckOptions, gradcheck, randn_f64};

#[test]
fn gradcheck_input_and_every_parameter() {
    for causal in [false, true] {
        let mut block = MhaFfn::new(8, 2, 12, DType::F64, 3).unwrap();
        // O(1) weights so attention is far from uniform and every gradient is sizeable.
        let spread = Spread {
            matrix: 0.6,
            other: 0.6,
            gain_shift: 0.0,
        };
        randomise(&mut block, 0, spread);
        let mask = Mask {
            causal,
            ..Mask::none()
        }
        .with_lengths(&[5, 3]);
        let mut c = LayerCheck { layer: block, mask };
        let x = randn_f64(&[2, 5, 8], 7).unwrap();
        let rep = gradcheck(&mut c, &x, &GradCheckOptions::default()).unwrap();
        println!("causal {causal}: worst {:.2e}", rep.worst());
        assert_eq!(rep.entries.len(), 5);
        assert!(rep.worst() < 1e-6, "{rep}");
    }
}

#[test]
fn parameters_match_two_gau_layers_and_bad_input_errors() {
    let (d, e, s) = (64, 128, 16);
    let block = MhaFfn::new(d, 4, 4 * d, DType::F32, 0).unwrap();
    let names: Vec<String> = block.named_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["w_qkv", "w_o", "w_1", "w_2"]);
    assert_eq!(block.num_params(), 12 * d * d);
    let two_gau = 2 * (d * (2 * e + s) + 2 * s + e * d);
    let ratio = two_gau as f64 / block.num_params() as f64;
    assert!((ratio - 1.0).abs() < 0.05, "{ratio}");
    let x = Tensor::from_vec(vec![0f32; 2 * 3 * 7], &[2, 3, 7]).unwrap();
    assert!(matches!(
        block.forward(&x, &Mask::none()),
        Err(Error::WidthMismatch { .. })
    ));
    let x = Tensor::from_vec(vec![0f32; 2 * 3 * d], &[2, 3, d]).unwrap();
    assert!(matches!(
        block.forward(&x, &Mask::none().with_lengths(&[3])),
        Err(Error::MaskLength { .. })
    ));
    assert_eq!(
        block.forward(&x, &Mask::causal()).unwrap().0.shape(),
        &[2, 3, d]
    );
    assert!(MhaFfn::new(10, 3, 4, DType::F32, 0).is_err());
    assert!(matches!(
        MhaFfn::new(6, 2, 4, DType::F32, 0),
        Err(Error::OddRopeWidth { s: 3 })
    ));
}
