use super::*;
use crate::ops::activation_tests::*;

const OP: Activation = Activation {
    name: "relu2",
    forward: relu2_forward,
    backward: relu2_backward,
    forward_ref: relu2_forward_ref,
    backward_ref: relu2_backward_ref,
};

activation_tests!(OP);

#[test]
fn backward_matches_finite_differences() {
    // relu2 is C¹ but not C² at 0: keep probes ε away from the kink.
    let probe = |v: f64| {
        if v.abs() < 1e-3 {
            0.5
        } else {
            v.clamp(-6.0, 6.0)
        }
    };
    check_backward_finite_differences(&OP, 1e-6, probe);
}
