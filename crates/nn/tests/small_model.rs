//! A small model made of nn's layers: Embedding → [Linear → RmsNorm] × 2 → Linear head.
//! Checks dotted names, forward/backward through `Scoped` sinks, zero_grad, gradient
//! accumulation, a whole-model gradient check and a checkpoint round trip.

use kernels::{DType, Tensor};
use nn::gradcheck::{GradCheckOptions, gradcheck};
use nn::{
    Accumulate, Checkable, Embedding, EmbeddingCache, GradSink, Linear, LinearCache, Metadata,
    Module, Param, Prefix, RmsNorm, RmsNormCache, Scoped,
};

struct Block {
    proj: Linear,
    norm: RmsNorm,
}

struct Model {
    embed: Embedding,
    blocks: Vec<Block>,
    head: Linear,
}

struct Cache {
    embed: EmbeddingCache,
    blocks: Vec<(LinearCache, RmsNormCache)>,
    head: LinearCache,
}

const V: usize = 11;
const D: usize = 6;
const OUT: usize = 3;

impl Model {
    fn new(dtype: DType, seed: u64) -> Model {
        let blocks = (0..2)
            .map(|i| Block {
                proj: Linear::new(D, D, true, dtype, seed + 10 * i).unwrap(),
                norm: RmsNorm::new(D, 1e-6, dtype).unwrap(),
            })
            .collect();
        Model {
            embed: Embedding::new(V, D, dtype, seed).unwrap(),
            blocks,
            head: Linear::new(D, OUT, false, dtype, seed + 100).unwrap(),
        }
    }

    fn forward(&self, ids: &[u32]) -> nn::Result<(Tensor, Cache)> {
        let (mut h, embed) = self.embed.forward(ids)?;
        let mut blocks = Vec::new();
        for b in &self.blocks {
            let (p, pc) = b.proj.forward(&h)?;
            let (n, nc) = b.norm.forward(&p)?;
            blocks.push((pc, nc));
            h = n;
        }
        let (y, head) = self.head.forward(&h)?;
        Ok((
            y,
            Cache {
                embed,
                blocks,
                head,
            },
        ))
    }

    fn backward(&mut self, cache: Cache, dy: &Tensor, sink: &mut dyn GradSink) -> nn::Result<()> {
        let root = Prefix::root();
        let mut dh =
            self.head
                .backward(cache.head, dy, &mut Scoped::new(sink, root.child("head")))?;
        let blocks = root.child("blocks");
        for (i, (b, (pc, nc))) in self.blocks.iter_mut().zip(cache.blocks).enumerate().rev() {
            let at = blocks.child(i);
            dh = b
                .norm
                .backward(nc, &dh, &mut Scoped::new(sink, at.child("norm")))?;
            dh = b
                .proj
                .backward(pc, &dh, &mut Scoped::new(sink, at.child("proj")))?;
        }
        self.embed.backward(
            cache.embed,
            &dh,
            &mut Scoped::new(sink, root.child("embed")),
        )
    }
}

impl Module for Model {
    fn visit<'a>(&'a self, p: &Prefix, f: &mut dyn FnMut(&str, &'a Param)) {
        self.embed.visit(&p.child("embed"), f);
        let blocks = p.child("blocks");
        for (i, b) in self.blocks.iter().enumerate() {
            b.proj.visit(&blocks.child(i).child("proj"), f);
            b.norm.visit(&blocks.child(i).child("norm"), f);
        }
        self.head.visit(&p.child("head"), f);
    }
    fn visit_mut(&mut self, p: &Prefix, f: &mut dyn FnMut(&str, &mut Param)) {
        self.embed.visit_mut(&p.child("embed"), f);
        let blocks = p.child("blocks");
        for (i, b) in self.blocks.iter_mut().enumerate() {
            b.proj.visit_mut(&blocks.child(i).child("proj"), f);
            b.norm.visit_mut(&blocks.child(i).child("norm"), f);
        }
        self.head.visit_mut(&p.child("head"), f);
    }
}

impl Checkable for Model {
    type Input = Vec<u32>;
    fn check_forward(&self, ids: &Vec<u32>) -> nn::Result<Tensor> {
        Ok(self.forward(ids)?.0)
    }
    fn check_backward(
        &mut self,
        ids: &Vec<u32>,
        dy: &Tensor,
        sink: &mut dyn GradSink,
    ) -> nn::Result<Option<Tensor>> {
        let (_, cache) = self.forward(ids)?;
        self.backward(cache, dy, sink)?;
        Ok(None)
    }
}

const IDS: [u32; 7] = [3, 1, 4, 1, 5, 9, 2];

fn grads(m: &Model) -> Vec<(String, Vec<f32>)> {
    m.named_params()
        .into_iter()
        .map(|(n, p)| (n, p.grad.as_ref().unwrap().to_vec::<f32>().unwrap()))
        .collect()
}

fn step(m: &mut Model, sink: &mut dyn GradSink) {
    let (y, cache) = m.forward(&IDS).unwrap();
    assert_eq!(y.shape(), &[IDS.len(), OUT]);
    let dy = Tensor::from_vec(
        kernels::testing::to_f32(&kernels::testing::randn(
            &mut kernels::testing::rng(5),
            y.numel(),
        )),
        y.shape(),
    )
    .unwrap();
    m.backward(cache, &dy, sink).unwrap();
}

#[test]
fn params_form_a_dotted_tree() {
    let m = Model::new(DType::F32, 1);
    let names: Vec<String> = m.named_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "embed.table",
            "blocks.0.proj.w",
            "blocks.0.proj.b",
            "blocks.0.norm.gain",
            "blocks.1.proj.w",
            "blocks.1.proj.b",
            "blocks.1.norm.gain",
            "head.w",
        ]
    );
    assert_eq!(m.num_params(), V * D + 2 * (D * D + D + D) + D * OUT);
}

/// A sink that checks backward hands every gradient under its full dotted name, once.
struct Names(Vec<String>);
impl GradSink for Names {
    fn accept(&mut self, name: &str, _: &mut Param, _: Tensor) -> nn::Result<()> {
        self.0.push(name.to_string());
        Ok(())
    }
}

#[test]
fn backward_reaches_every_param_by_name_and_accumulates() {
    let mut m = Model::new(DType::F32, 1);
    let mut seen = Names(Vec::new());
    step(&mut m, &mut seen);
    let mut expected: Vec<String> = m.named_params().into_iter().map(|(n, _)| n).collect();
    seen.0.sort();
    expected.sort();
    assert_eq!(seen.0, expected);

    step(&mut m, &mut Accumulate);
    let once = grads(&m);
    assert!(once.iter().all(|(_, g)| g.iter().any(|&x| x != 0.0)));
    // A second identical backward doubles every gradient (x + x is exact in floating point).
    step(&mut m, &mut Accumulate);
    for ((n, g1), (_, g2)) in once.iter().zip(grads(&m)) {
        let doubled: Vec<f32> = g1.iter().map(|x| 2.0 * x).collect();
        assert_eq!(doubled, g2, "{n}");
    }
    // zero_grad keeps the buffers and zeroes them; the next backward equals the first.
    m.zero_grad().unwrap();
    assert!(grads(&m).iter().all(|(_, g)| g.iter().all(|&x| x == 0.0)));
    step(&mut m, &mut Accumulate);
    assert_eq!(grads(&m), once);
}

#[test]
fn whole_model_gradcheck_in_f64() {
    let mut m = Model::new(DType::F64, 3);
    let rep = gradcheck(&mut m, &IDS.to_vec(), &GradCheckOptions::default()).unwrap();
    assert_eq!(rep.entries.len(), 8);
    println!("{rep}");
    assert!(rep.worst() < 1e-6, "{rep}");
}

#[test]
fn checkpoint_round_trip_restores_the_function() {
    let dir = std::env::temp_dir().join(format!("nn-small-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    let a = Model::new(DType::F32, 1);
    let meta = Metadata::from([("arch".to_string(), "embed-2xblock-head".to_string())]);
    nn::save(&path, &a, &meta).unwrap();
    let mut b = Model::new(DType::F32, 2);
    let ya = a.forward(&IDS).unwrap().0.to_vec::<f32>().unwrap();
    assert_ne!(ya, b.forward(&IDS).unwrap().0.to_vec::<f32>().unwrap());
    assert_eq!(nn::load(&path, &mut b).unwrap(), meta);
    assert_eq!(ya, b.forward(&IDS).unwrap().0.to_vec::<f32>().unwrap());
    // A model of another shape is refused with every problem named.
    let mut wide = Model::new(DType::F32, 1);
    wide.head = Linear::new(D, OUT + 1, true, DType::F32, 0).unwrap();
    match nn::load(&path, &mut wide) {
        Err(nn::Error::CheckpointMismatch { problems, .. }) => {
            assert_eq!(problems.len(), 2, "{problems:?}"); // head.w shape, head.b missing
        }
        other => panic!("expected a mismatch, got {:?}", other.err()),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
