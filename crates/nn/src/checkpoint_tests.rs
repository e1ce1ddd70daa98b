use super::*;
use crate::{Param, ParamRole};
use std::path::PathBuf;

/// A fresh empty folder under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "nn-ckpt-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Two layers' worth of parameters: f32 `w` and `b` and an f64 `gain`, named `l.w`, `l.b`, `g`.
struct Toy {
    w: Param,
    b: Param,
    gain: Param,
}

impl Toy {
    fn new(seed: u64, w_shape: &[usize]) -> Toy {
        let w: Vec<f32> =
            kernels::testing::randn(&mut kernels::testing::rng(seed), w_shape.iter().product())
                .iter()
                .map(|&x| x as f32)
                .collect();
        // Awkward bit patterns: −0, a subnormal, infinities and the extremes survive bit-exactly.
        let b = vec![-0.0f32, f32::MIN_POSITIVE / 3.0, f32::INFINITY, f32::MAX];
        let g = vec![
            1.0f64 + 1e-15 * seed as f64,
            f64::MIN_POSITIVE / 7.0,
            -f64::MAX,
        ];
        Toy {
            w: Param::new(Tensor::from_vec(w, w_shape).unwrap(), ParamRole::Matrix),
            b: Param::new(Tensor::from_vec(b, &[4]).unwrap(), ParamRole::Bias),
            gain: Param::new(Tensor::from_vec(g, &[3]).unwrap(), ParamRole::Gain),
        }
    }
}

impl Module for Toy {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a crate::Param)) {
        let l = p.child("l");
        f(&l.join("w"), &self.w);
        f(&l.join("b"), &self.b);
        f(&p.join("g"), &self.gain);
    }
    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut crate::Param)) {
        let l = p.child("l");
        f(&l.join("w"), &mut self.w);
        f(&l.join("b"), &mut self.b);
        f(&p.join("g"), &mut self.gain);
    }
}

fn bits(m: &Toy) -> (Vec<u32>, Vec<u32>, Vec<u64>) {
    (
        m.w.value
            .to_vec::<f32>()
            .unwrap()
            .iter()
            .map(|x| x.to_bits())
            .collect(),
        m.b.value
            .to_vec::<f32>()
            .unwrap()
            .iter()
            .map(|x| x.to_bits())
            .collect(),
        m.gain
            .value
            .to_vec::<f64>()
            .unwrap()
            .iter()
            .map(|x| x.to_bits())
            .collect(),
    )
}

#[test]
fn round_trip_is_bit_exact_and_keeps_metadata() {
    let dir = TempDir::new("rt");
    let path = dir.0.join("model.safetensors");
    let a = Toy::new(1, &[3, 5]);
    let meta = Metadata::from([("step".to_string(), "1234".to_string())]);
    save(&path, &a, &meta).unwrap();
    assert_eq!(
        dir.entries(),
        vec!["model.safetensors"],
        "no temporary file remains"
    );
    let mut b = Toy::new(2, &[3, 5]);
    assert_ne!(bits(&a), bits(&b));
    let got = load(&path, &mut b).unwrap();
    assert_eq!(bits(&a), bits(&b));
    assert_eq!(got, meta);
    assert_eq!(b.gain.value.dtype(), DType::F64);
    // Overwriting an existing checkpoint is also atomic and leaves one file.
    save(&path, &Toy::new(3, &[3, 5]), &Metadata::new()).unwrap();
    assert_eq!(dir.entries(), vec!["model.safetensors"]);
}

#[test]
fn mismatch_lists_every_missing_extra_misshaped_and_mistyped_tensor() {
    let dir = TempDir::new("mm");
    let path = dir.0.join("m.safetensors");
    let a = Toy::new(1, &[3, 5]);
    // File: l.w with the wrong shape, l.b missing, g stored as f32, plus two extras.
    let w = a.w.value.try_clone().unwrap().reshape(&[5, 3]).unwrap();
    let g32 = a.gain.value.to_dtype(DType::F32).unwrap();
    let extra = Tensor::from_vec(vec![1.0f32], &[1]).unwrap();
    let named: Vec<(String, &Tensor)> = vec![
        ("l.w".into(), &w),
        ("g".into(), &g32),
        ("l.extra".into(), &extra),
        ("other".into(), &extra),
    ];
    save_tensors(&path, &named, &Metadata::new()).unwrap();
    let mut b = Toy::new(2, &[3, 5]);
    let before = bits(&b);
    let err = load(&path, &mut b).unwrap_err();
    let Error::CheckpointMismatch { problems, .. } = &err else {
        panic!("expected CheckpointMismatch, got {err}");
    };
    let text = problems.join("\n");
    assert_eq!(problems.len(), 5, "{text}");
    for needle in [
        "shape: l.w: model [3, 5], file [5, 3]",
        "missing: l.b",
        "dtype: g: model f64, file f32",
        "extra: l.extra",
        "extra: other",
    ] {
        assert!(text.contains(needle), "{needle:?} not in\n{text}");
    }
    assert_eq!(bits(&b), before, "a failed load leaves the model unchanged");
}

#[test]
fn optimizer_state_rides_along_under_a_prefix() {
    let dir = TempDir::new("opt");
    let path = dir.0.join("run.safetensors");
    let model = Toy::new(1, &[2, 3]);
    // What lion-tiger does: the model's tensors plus `optim.<name>.m`, counters in metadata.
    let moments: Vec<(String, Tensor)> = module_tensors(&model, "")
        .into_iter()
        .map(|(n, t)| (format!("optim.{n}.m"), t.to_dtype(DType::F64).unwrap()))
        .collect();
    let mut named = module_tensors(&model, "");
    named.extend(moments.iter().map(|(n, t)| (n.clone(), t)));
    let meta = Metadata::from([("optim.step".to_string(), "17".to_string())]);
    save_tensors(&path, &named, &meta).unwrap();

    let ckpt = Checkpoint::read(&path).unwrap();
    let mut restored = Toy::new(9, &[2, 3]);
    // Without `skip` the optimizer's tensors are extras of the model...
    let err = ckpt.restore_module(&mut restored, "", &[]).unwrap_err();
    assert!(matches!(err, Error::CheckpointMismatch { ref problems, .. } if problems.len() == 3));
    // ...with it, the model loads and the moments come back bit-exactly by name.
    ckpt.restore_module(&mut restored, "", &["optim."]).unwrap();
    assert_eq!(bits(&restored), bits(&model));
    for (n, t) in &moments {
        let back = ckpt.tensor(n).unwrap();
        assert_eq!(back.shape(), t.shape());
        let (x, y) = (back.to_vec::<f64>().unwrap(), t.to_vec::<f64>().unwrap());
        assert!(x.iter().zip(&y).all(|(a, b)| a.to_bits() == b.to_bits()));
    }
    assert_eq!(ckpt.metadata["optim.step"], "17");
    assert!(matches!(
        ckpt.tensor("optim.nope"),
        Err(Error::Checkpoint { .. })
    ));
}

#[test]
fn a_model_under_a_prefix() {
    let dir = TempDir::new("pre");
    let path = dir.0.join("p.safetensors");
    let m = Toy::new(4, &[2, 2]);
    let other = Tensor::from_vec(vec![0.0f32], &[1]).unwrap();
    let mut named = module_tensors(&m, "student");
    assert_eq!(named[0].0, "student.l.w");
    named.push(("teacher.x".into(), &other));
    save_tensors(&path, &named, &Metadata::new()).unwrap();
    let ckpt = Checkpoint::read(&path).unwrap();
    let mut r = Toy::new(5, &[2, 2]);
    // Tensors outside `student.` are not the model's business.
    ckpt.restore_module(&mut r, "student", &[]).unwrap();
    assert_eq!(bits(&r), bits(&m));
}

#[test]
fn corrupted_and_truncated_files_are_typed_errors() {
    let dir = TempDir::new("bad");
    let path = dir.0.join("good.safetensors");
    save(&path, &Toy::new(1, &[4, 4]), &Metadata::new()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("short", bytes[..5].to_vec()),
        ("truncated header", bytes[..20].to_vec()),
        ("truncated data", bytes[..bytes.len() - 3].to_vec()),
        ("one byte too many", [bytes.clone(), vec![0]].concat()),
        ("garbage", (0..200u8).collect()),
    ];
    let mut huge = bytes.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    cases.push(("huge header length", huge));
    let mut not_json = bytes.clone();
    not_json[8] = b'#';
    cases.push(("header not json", not_json));
    let i8_file = safetensors::serialize(
        [("x", TensorView::new(Dtype::I8, vec![2], &[1u8, 2]).unwrap())],
        None,
    )
    .unwrap();
    cases.push(("unsupported dtype", i8_file));
    for (what, data) in cases {
        let p = dir.0.join("bad.safetensors");
        std::fs::write(&p, &data).unwrap();
        match Checkpoint::read(&p) {
            Err(Error::Checkpoint { .. }) => {}
            Err(e) => panic!("{what}: wrong error kind: {e}"),
            Ok(_) => panic!("{what}: read a corrupted file"),
        }
    }
    let missing = Checkpoint::read(dir.0.join("nope.safetensors"));
    assert!(matches!(missing, Err(Error::Io { .. })));
}

#[test]
fn failed_saves_leave_no_file_behind() {
    let dir = TempDir::new("fail");
    let t = Tensor::from_vec(vec![1.0f32], &[1]).unwrap();
    // The target is a folder: the rename fails after the temporary file was written.
    std::fs::create_dir(dir.0.join("taken")).unwrap();
    let err = save_tensors(
        dir.0.join("taken"),
        &[("x".to_string(), &t)],
        &Metadata::new(),
    );
    assert!(err.is_err());
    assert_eq!(dir.entries(), vec!["taken"], "temporary file removed");
    // Bad names are refused before anything is written.
    for names in [vec!["x", "x"], vec![""], vec!["__metadata__"]] {
        let named: Vec<(String, &Tensor)> = names.iter().map(|n| (n.to_string(), &t)).collect();
        let r = save_tensors(dir.0.join("n.safetensors"), &named, &Metadata::new());
        assert!(matches!(r, Err(Error::Checkpoint { .. })), "{names:?}");
    }
    // A folder that does not exist.
    let r = save_tensors(
        dir.0.join("no/such/f.safetensors"),
        &[("x".to_string(), &t)],
        &Metadata::new(),
    );
    assert!(r.is_err());
    assert_eq!(dir.entries(), vec!["taken"]);
}

#[test]
fn owned_named_tensors_round_trip() {
    let dir = TempDir::new("own");
    let path = dir.0.join("t.safetensors");
    let named = vec![
        (
            "a".to_string(),
            Tensor::from_vec(vec![1.5f64, -2.0], &[2, 1]).unwrap(),
        ),
        (
            "b".to_string(),
            Tensor::from_vec(vec![3.0f32; 6], &[1, 2, 3]).unwrap(),
        ),
        (
            "scalar".to_string(),
            Tensor::from_vec(vec![7.0f32], &[]).unwrap(),
        ),
    ];
    save_tensors(&path, &named, &Metadata::new()).unwrap();
    let back = Checkpoint::read(&path).unwrap();
    assert_eq!(back.names().collect::<Vec<_>>(), vec!["a", "b", "scalar"]);
    let back = back.into_tensors();
    for ((n1, t1), (n2, t2)) in named.iter().zip(&back) {
        assert_eq!(n1, n2);
        assert_eq!(t1.shape(), t2.shape());
        assert_eq!(t1.dtype(), t2.dtype());
    }
    assert_eq!(back[0].1.to_vec::<f64>().unwrap(), vec![1.5, -2.0]);
}
