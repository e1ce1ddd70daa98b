use super::*;
use crate::ParamRole;

/// `y[r, j] = g[j] · tanh(x[r, j]) + b[j]`, with a switchable bug in its backward.
struct Toy {
    g: Param,
    b: Param,
    bug: Bug,
}

#[derive(Clone, Copy, PartialEq)]
enum Bug {
    None,
    ScaledDb,
    WrongDx,
    MissingDg,
    TwiceDb,
}

impl Toy {
    fn new(n: usize, bug: Bug) -> Toy {
        Toy {
            g: Param::new(randn_f64(&[n], 1).unwrap(), ParamRole::Gain),
            b: Param::new(randn_f64(&[n], 2).unwrap(), ParamRole::Bias),
            bug,
        }
    }
}

impl Module for Toy {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        f(&p.join("g"), &self.g);
        f(&p.join("b"), &self.b);
    }
    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        f(&p.join("g"), &mut self.g);
        f(&p.join("b"), &mut self.b);
    }
}

impl Checkable for Toy {
    type Input = Tensor;
    fn check_forward(&self, x: &Tensor) -> Result<Tensor> {
        let (g, b) = (
            self.g.value.as_slice::<f64>()?,
            self.b.value.as_slice::<f64>()?,
        );
        let n = g.len();
        let y: Vec<f64> = x
            .as_slice::<f64>()?
            .iter()
            .enumerate()
            .map(|(i, &v)| g[i % n] * v.tanh() + b[i % n])
            .collect();
        Ok(Tensor::from_vec(y, x.shape())?)
    }
    fn check_backward(
        &mut self,
        x: &Tensor,
        dy: &Tensor,
        sink: &mut dyn GradSink,
    ) -> Result<Option<Tensor>> {
        let g = self.g.value.to_vec::<f64>()?;
        let n = g.len();
        let (xs, dys) = (x.as_slice::<f64>()?, dy.as_slice::<f64>()?);
        let (mut dg, mut db) = (vec![0.0; n], vec![0.0; n]);
        let mut dx = vec![0.0; xs.len()];
        for i in 0..xs.len() {
            let t = xs[i].tanh();
            dx[i] = dys[i] * g[i % n] * (1.0 - t * t);
            dg[i % n] += dys[i] * t;
            db[i % n] += dys[i];
        }
        match self.bug {
            Bug::ScaledDb => db[0] *= 1.001,
            Bug::WrongDx => dx.iter_mut().for_each(|d| *d *= 1.0 + 1e-4),
            _ => {}
        }
        if self.bug != Bug::MissingDg {
            sink.accept("g", &mut self.g, Tensor::from_vec(dg, &[n])?)?;
        }
        if self.bug == Bug::TwiceDb {
            sink.accept("b", &mut self.b, Tensor::from_vec(db.clone(), &[n])?)?;
        }
        sink.accept("b", &mut self.b, Tensor::from_vec(db, &[n])?)?;
        Ok(Some(Tensor::from_vec(dx, x.shape())?))
    }
}

#[test]
fn a_correct_backward_passes_for_input_and_every_parameter() {
    let mut m = Toy::new(5, Bug::None);
    let x = randn_f64(&[3, 5], 3).unwrap();
    let rep = gradcheck(&mut m, &x, &GradCheckOptions::default()).unwrap();
    let names: Vec<&str> = rep.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["input", "g", "b"]);
    assert_eq!(rep.entry("input").unwrap().probes, 15, "coordinate-wise");
    assert!(rep.worst() < 1e-6, "{rep}");
    // The parameters are restored after probing.
    assert_eq!(
        m.g.value.to_vec::<f64>().unwrap(),
        randn_f64(&[5], 1).unwrap().to_vec::<f64>().unwrap()
    );
}

#[test]
fn large_tensors_are_probed_along_three_directions() {
    let mut m = Toy::new(300, Bug::None);
    let x = randn_f64(&[2, 300], 4).unwrap();
    let rep = gradcheck(&mut m, &x, &GradCheckOptions::default()).unwrap();
    assert!(rep.entries.iter().all(|e| e.probes == 3), "{rep}");
    assert!(rep.worst() < 1e-6, "{rep}");
}

#[test]
fn wrong_gradients_are_caught() {
    let x = randn_f64(&[3, 5], 3).unwrap();
    for (bug, needle) in [
        (Bug::ScaledDb, "b"),
        (Bug::WrongDx, "input"),
        (Bug::MissingDg, "g 0 gradients"),
        (Bug::TwiceDb, "b 2 gradients"),
    ] {
        let mut m = Toy::new(5, bug);
        match gradcheck(&mut m, &x, &GradCheckOptions::default()) {
            Err(Error::GradCheck(msg)) => assert!(msg.contains(needle), "{msg}"),
            other => panic!("bug not caught: {other:?}"),
        }
    }
}

#[test]
fn f32_models_and_inputs_are_refused() {
    let mut m = Toy::new(2, Bug::None);
    let x32 = Tensor::from_vec(vec![0.5f32, 0.25], &[1, 2]).unwrap();
    assert!(matches!(
        gradcheck(&mut m, &x32, &GradCheckOptions::default()),
        Err(Error::GradCheck(_))
    ));
    m.g.value = m.g.value.to_dtype(DType::F32).unwrap();
    let x = randn_f64(&[1, 2], 0).unwrap();
    assert!(matches!(
        gradcheck(&mut m, &x, &GradCheckOptions::default()),
        Err(Error::GradCheck(_))
    ));
}

#[test]
fn kinks_are_cleared_by_the_margin() {
    let mut v = vec![-1.0, -5e-4, 0.0, 2e-4, 0.5, 0.9999, 1.2];
    keep_away_from_kinks(&mut v, &[0.0, 1.0], 1e-3);
    assert_eq!(v, vec![-1.0, -1e-3, 1e-3, 1e-3, 0.5, 1.0 - 1e-3, 1.2]);
    assert!(v.iter().all(|x| x.abs() >= 1e-3 && (x - 1.0).abs() >= 1e-3));
}
