use super::*;
use crate::ops::activation_tests::*;

const OP: Activation = Activation {
    name: "silu",
    forward: silu_forward,
    backward: silu_backward,
    forward_ref: silu_forward_ref,
    backward_ref: silu_backward_ref,
};

activation_tests!(OP);

#[test]
fn backward_matches_finite_differences() {
    check_backward_finite_differences(&OP, 1e-6, |v| v.clamp(-6.0, 6.0));
}
