use super::*;
use crate::testing::*;

#[test]
fn fills_every_element() {
    for &n in AWKWARD_SIZES {
        let mut t = Tensor::from_vec(vec![1.5f32; n], &[n]).unwrap();
        fill(&mut t, -2.25).unwrap();
        assert!(t.to_vec::<f32>().unwrap().iter().all(|&v| v == -2.25));
        let mut t = Tensor::from_vec(vec![1.5f64; n], &[n]).unwrap();
        fill(&mut t, 0.1).unwrap();
        assert!(t.to_vec::<f64>().unwrap().iter().all(|&v| v == 0.1));
    }
}

crate::gpu_test! {
    fn cuda_fill_matches_cpu() {
        let dev = cuda_test_device();
        for &n in AWKWARD_SIZES {
            let mut t = Tensor::from_vec(vec![1.5f32; n], &[n]).unwrap().to_device(&dev).unwrap();
            fill(&mut t, -2.25).unwrap();
            assert!(t.to_vec::<f32>().unwrap().iter().all(|&v| v == -2.25));
        }
    }
}
