//! Seeded initialisers.
//!
//! Every initialiser draws f64 values from `StdRng::seed_from_u64(seed)` (rand 0.9, ChaCha12:
//! the same seed gives the same stream on every platform), so the same seed gives the same f64
//! values, and an f32 tensor holds exactly those values rounded to f32. A model that needs
//! several parameters from one seed derives one stream per parameter with [`sub_seed`].
//!
//! Fans follow the `(in, out)` storage of weight matrices (`y = x·W`): for a shape
//! `[…, fan_in, fan_out]` the last two dimensions are the fans (leading dimensions are
//! independent copies); a vector `[n]` has `fan_in = fan_out = n`; a scalar has fans 1.

use crate::{Error, Result};
use kernels::{DType, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How to fill a new parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// All zeros.
    Zeros,
    /// All ones.
    Ones,
    /// Every element `c`.
    Constant(f64),
    /// `N(0, std²)`.
    Normal { std: f64 },
    /// `U(−a, a)`.
    Uniform { a: f64 },
    /// Glorot & Bengio, *Understanding the difficulty of training deep feedforward neural
    /// networks*, AISTATS 2010: `U(−a, a)` with `a = gain · √(6 / (fan_in + fan_out))`.
    XavierUniform { gain: f64 },
    /// Glorot & Bengio 2010, normal form: `N(0, σ²)` with `σ = gain · √(2 / (fan_in + fan_out))`.
    XavierNormal { gain: f64 },
    /// `N(0, std²)` truncated at `±2·std` by redrawing (Keras' `TruncatedNormal`, as GAU-α uses):
    /// `std` is the σ of the normal *before* truncation, so the values' own standard deviation
    /// is `0.87962566 · std` (GAU-α multiplies σ by 1.13684723 to undo that).
    TruncatedNormal { std: f64 },
}

impl Init {
    /// The values for a tensor of `shape`, in row-major order, from `seed`.
    ///
    /// Errors: [`Error::InvalidConfig`] for a negative or non-finite scale.
    pub fn values(&self, shape: &[usize], seed: u64) -> Result<Vec<f64>> {
        let n: usize = shape.iter().product();
        let (fan_in, fan_out) = fans(shape);
        let check = |name: &str, v: f64| -> Result<f64> {
            if v.is_finite() && v >= 0.0 {
                Ok(v)
            } else {
                Err(Error::InvalidConfig {
                    what: "Init",
                    reason: format!("{name} must be finite and ≥ 0, got {v}"),
                })
            }
        };
        let mut rng = StdRng::seed_from_u64(seed);
        let fan_sum = (fan_in + fan_out).max(1) as f64;
        Ok(match *self {
            Init::Zeros => vec![0.0; n],
            Init::Ones => vec![1.0; n],
            Init::Constant(c) => {
                if !c.is_finite() {
                    return Err(Error::InvalidConfig {
                        what: "Init",
                        reason: format!("constant must be finite, got {c}"),
                    });
                }
                vec![c; n]
            }
            Init::Normal { std } => {
                let std = check("std", std)?;
                (0..n).map(|_| std * standard_normal(&mut rng)).collect()
            }
            Init::Uniform { a } => {
                let a = check("a", a)?;
                (0..n).map(|_| a * symmetric_unit(&mut rng)).collect()
            }
            Init::XavierUniform { gain } => {
                let a = check("gain", gain)? * (6.0 / fan_sum).sqrt();
                (0..n).map(|_| a * symmetric_unit(&mut rng)).collect()
            }
            Init::XavierNormal { gain } => {
                let std = check("gain", gain)? * (2.0 / fan_sum).sqrt();
                (0..n).map(|_| std * standard_normal(&mut rng)).collect()
            }
            Init::TruncatedNormal { std } => {
                let std = check("std", std)?;
                (0..n)
                    .map(|_| {
                        loop {
                            let z = standard_normal(&mut rng);
                            if z.abs() <= 2.0 {
                                break std * z;
                            }
                        }
                    })
                    .collect()
            }
        })
    }

    /// A host tensor of `shape` and `dtype` from `seed`: f64 holds [`Init::values`], f32 holds
    /// those values rounded. Move it to a GPU with `Tensor::to_device`.
    pub fn tensor(&self, shape: &[usize], dtype: DType, seed: u64) -> Result<Tensor> {
        let v = self.values(shape, seed)?;
        Ok(match dtype {
            DType::F64 => Tensor::from_vec(v, shape)?,
            DType::F32 => Tensor::from_vec(v.into_iter().map(|x| x as f32).collect(), shape)?,
        })
    }
}

/// `(fan_in, fan_out)` of a shape: the last two dimensions, `(n, n)` for a vector, `(1, 1)` for
/// a scalar.
pub fn fans(shape: &[usize]) -> (usize, usize) {
    match shape {
        [] => (1, 1),
        [n] => (*n, *n),
        [.., i, o] => (*i, *o),
    }
}

/// A seed for the parameter `name` of a model seeded with `seed`: SplitMix64 of `seed` mixed
/// with the FNV-1a hash of the name, so every parameter gets its own stream and renaming one
/// parameter does not change the others.
pub fn sub_seed(seed: u64, name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = seed ^ h;
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A standard normal draw (Box–Muller, one value per pair of uniforms; `1 − u` keeps `ln` finite).
fn standard_normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A draw uniform in `[−1, 1)`.
fn symmetric_unit(rng: &mut StdRng) -> f64 {
    2.0 * rng.random::<f64>() - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_std(v: &[f64]) -> (f64, f64) {
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
        (m, var.sqrt())
    }

    #[test]
    fn same_seed_same_values_and_f32_is_rounded_f64() {
        let inits = [
            Init::Normal { std: 0.5 },
            Init::Uniform { a: 0.1 },
            Init::XavierUniform { gain: 1.0 },
            Init::XavierNormal { gain: 1.0 },
            Init::TruncatedNormal { std: 0.02 },
        ];
        for init in inits {
            let a = init.values(&[7, 5], 42).unwrap();
            let b = init.values(&[7, 5], 42).unwrap();
            let c = init.values(&[7, 5], 43).unwrap();
            assert_eq!(a, b, "{init:?}");
            assert_ne!(a, c, "{init:?}");
            let t64 = init.tensor(&[7, 5], DType::F64, 42).unwrap();
            let t32 = init.tensor(&[7, 5], DType::F32, 42).unwrap();
            assert_eq!(t64.to_vec::<f64>().unwrap(), a);
            let rounded: Vec<f32> = a.iter().map(|&x| x as f32).collect();
            assert_eq!(t32.to_vec::<f32>().unwrap(), rounded);
            assert_eq!(t32.shape(), &[7, 5]);
        }
    }

    #[test]
    fn constants() {
        assert_eq!(Init::Zeros.values(&[2, 2], 0).unwrap(), vec![0.0; 4]);
        assert_eq!(Init::Ones.values(&[3], 0).unwrap(), vec![1.0; 3]);
        assert_eq!(Init::Constant(2.5).values(&[2], 0).unwrap(), vec![2.5; 2]);
        assert!(Init::Ones.values(&[0, 4], 0).unwrap().is_empty());
    }

    #[test]
    fn statistics_match_the_formulas() {
        // 40 000 draws: the sample std is within ~0.5 % (4 standard errors ≈ 1.4 %) of σ.
        let shape = [200, 200];
        let (fi, fo) = fans(&shape);
        let n = Init::Normal { std: 0.5 }.values(&shape, 1).unwrap();
        let (m, s) = mean_std(&n);
        assert!(m.abs() < 0.01 && (s / 0.5 - 1.0).abs() < 0.015, "{m} {s}");

        let u = Init::Uniform { a: 0.3 }.values(&shape, 2).unwrap();
        assert!(u.iter().all(|x| x.abs() <= 0.3));
        let (_, s) = mean_std(&u);
        assert!((s / (0.3 / 3f64.sqrt()) - 1.0).abs() < 0.015, "{s}");

        let a = (6.0 / (fi + fo) as f64).sqrt();
        let xu = Init::XavierUniform { gain: 1.0 }.values(&shape, 3).unwrap();
        assert!(xu.iter().all(|x| x.abs() <= a));
        let (_, s) = mean_std(&xu);
        assert!((s / (a / 3f64.sqrt()) - 1.0).abs() < 0.015, "{s}");

        let xn = Init::XavierNormal { gain: 2.0 }.values(&shape, 4).unwrap();
        let (_, s) = mean_std(&xn);
        assert!((s / (2.0 * (2.0 / (fi + fo) as f64).sqrt()) - 1.0).abs() < 0.015);

        let t = Init::TruncatedNormal { std: 0.02 }
            .values(&shape, 5)
            .unwrap();
        assert!(t.iter().all(|x| x.abs() <= 0.04));
        let (_, s) = mean_std(&t);
        assert!((s / (0.02 * 0.879_625_66) - 1.0).abs() < 0.015, "{s}");
    }

    #[test]
    fn fans_and_sub_seeds() {
        assert_eq!(fans(&[]), (1, 1));
        assert_eq!(fans(&[5]), (5, 5));
        assert_eq!(fans(&[3, 4]), (3, 4));
        assert_eq!(fans(&[2, 3, 4]), (3, 4));
        assert_eq!(sub_seed(7, "w"), sub_seed(7, "w"));
        assert_ne!(sub_seed(7, "w"), sub_seed(7, "b"));
        assert_ne!(sub_seed(7, "w"), sub_seed(8, "w"));
    }

    #[test]
    fn bad_scales_are_typed_errors() {
        for init in [
            Init::Normal { std: -1.0 },
            Init::Uniform { a: f64::NAN },
            Init::XavierUniform {
                gain: f64::INFINITY,
            },
            Init::TruncatedNormal { std: -0.1 },
            Init::Constant(f64::NAN),
        ] {
            assert!(matches!(
                init.values(&[3], 0),
                Err(Error::InvalidConfig { .. })
            ));
        }
    }
}
