//! Bad input to the core is a typed error.

use super::*;
use kernels::DType;

#[test]
fn bad_input_is_a_typed_error() {
    let d = DIMS;
    let [q, k, v] = inputs(d, 7, 1.0);
    let (qt, kt, vt) = (
        t64(&q, &[d.batch, d.n_q, d.s]),
        t64(&k, &[d.batch, d.n_k, d.s]),
        t64(&v, &[d.batch, d.n_k, d.e]),
    );
    let c = core(Normalization::Softmax, CoreKind::default(), d.s);
    let none = Mask::none();
    // Key width differs from the query width.
    let k_bad = t64(&k[..d.batch * d.n_k * 3], &[d.batch, d.n_k, 3]);
    assert!(matches!(
        c.forward(&qt, &k_bad, &vt, &none),
        Err(Error::ShapeMismatch { .. })
    ));
    // Values for another number of keys.
    let v_bad = t64(&v[..d.batch * 4 * d.e], &[d.batch, 4, d.e]);
    assert!(matches!(
        c.forward(&qt, &kt, &v_bad, &none),
        Err(Error::ShapeMismatch { .. })
    ));
    // Masks of the wrong length.
    for m in [
        Mask::none().with_lengths(&[3]),
        Mask::none().with_lengths(&[3, d.n_k + 1]),
        Mask::none().with_key_mask(vec![true; d.n_k]),
    ] {
        assert!(
            matches!(c.forward(&qt, &kt, &vt, &m), Err(Error::MaskLength { .. })),
            "{m:?}"
        );
    }
    // Mixed dtypes, rank-2 inputs, invalid normalisations and tiles.
    let q32 = qt.to_dtype(DType::F32).unwrap();
    assert!(matches!(
        c.forward(&q32, &kt, &vt, &none),
        Err(Error::Kernel(_))
    ));
    let q2 = t64(&q, &[d.batch * d.n_q, d.s]);
    assert!(matches!(
        c.forward(&q2, &kt, &vt, &none),
        Err(Error::Kernel(_))
    ));
    let bad_floor = AttentionCore {
        norm: Normalization::SoftmaxPlus { floor: 0 },
        ..c
    };
    assert!(matches!(
        bad_floor.forward(&qt, &kt, &vt, &none),
        Err(Error::InvalidConfig(_))
    ));
    let bad_nu = AttentionCore {
        norm: Normalization::Relu2Paper {
            denom: Relu2Denom::Fixed(0.0),
        },
        ..c
    };
    assert!(matches!(
        bad_nu.forward(&qt, &kt, &vt, &none),
        Err(Error::InvalidConfig(_))
    ));
    let bad_tiles = AttentionCore {
        kind: CoreKind::Fused(Tiles { rows: 0, keys: 4 }),
        ..c
    };
    assert!(matches!(
        bad_tiles.forward(&qt, &kt, &vt, &none),
        Err(Error::InvalidConfig(_))
    ));
    let bad_scale = AttentionCore {
        scale: f64::NAN,
        ..c
    };
    assert!(matches!(
        bad_scale.forward(&qt, &kt, &vt, &none),
        Err(Error::InvalidConfig(_))
    ));
    // A cache from the other implementation, and a dc of the wrong shape.
    let (_, cache) = c.forward(&qt, &kt, &vt, &none).unwrap();
    let mat = AttentionCore {
        kind: CoreKind::Materialized,
        ..c
    };
    let dc = t64(&vec![0.0; d.batch * d.n_q * d.e], &[d.batch, d.n_q, d.e]);
    assert!(matches!(
        mat.backward(&qt, &kt, &vt, &none, &cache, &dc),
        Err(Error::InvalidConfig(_))
    ));
    let dc_bad = t64(&vec![0.0; d.batch * d.n_q * 2], &[d.batch, d.n_q, 2]);
    assert!(matches!(
        c.backward(&qt, &kt, &vt, &none, &cache, &dc_bad),
        Err(Error::ShapeMismatch { .. })
    ));
}
