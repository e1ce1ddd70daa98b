use super::*;
use crate::ops::activation_tests::*;

const OP: Activation = Activation {
    name: "sigmoid",
    forward: sigmoid_forward,
    backward: sigmoid_backward,
    forward_ref: sigmoid_forward_ref,
    backward_ref: sigmoid_backward_ref,
};

activation_tests!(OP);

#[test]
fn backward_matches_finite_differences() {
    // ε = 1e-5: with 1e-6 the f64 rounding of the 97-term loss (~4e-16) divided by 2ε is
    // already 1e-6 of the smallest coordinates' derivative; truncation at 1e-5 is ~1e-8.
    check_backward_finite_differences(&OP, 1e-5, |v| v.clamp(-6.0, 6.0));
}
