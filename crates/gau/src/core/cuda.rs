//! CUDA launchers for `attention.cu` (feature `cuda`): the fused core on device tensors.
//!
//! Per call the host uploads the resolved mask (`RowPlan`: four 32-bit words per query row,
//! `α_i`, `β_i` as f32 bits, `lim_i`, `l_i`, plus the key-validity flags when there is key
//! padding): `O(b·(n_q + n_k))` bytes, never `n²`. Forward: one launch. Backward: `D_i = dC_i·C_i`,
//! then `dV`, `dQ` and `dK` in three launches that each recompute their score tiles (no atomics,
//! so the results do not depend on scheduling).

use super::dropout::AttentionDropout;
use super::{CoreCache, CoreCall, CoreGrads, Dims};
use crate::mask::RowPlan;
use crate::norm::Form;
use crate::{Error, Result};
use cudarc::driver::{CudaSlice, DeviceRepr, LaunchArgs, LaunchConfig, PushKernelArg};
use kernels::cuda::Kernel;
use kernels::{CudaDevice, CudaStorage, Storage, Tensor};

const KERNEL: Kernel = Kernel {
    module: "gau_attention",
    src: include_str!("attention.cu"),
};
/// Rows of a tile and output columns per block, as `BR` and `BW` in `attention.cu`.
const ROWS: usize = 32;
const COLS: usize = 128;
const THREADS: u32 = 256;

/// Mirrors `struct Params` in `attention.cu`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct Params {
    batch: i32,
    n_q: i32,
    n_k: i32,
    s: i32,
    e: i32,
    form: i32,
    has_valid: i32,
    drop: i32,
    key: u64,
    threshold: u64,
    inv_keep: f32,
    pad: i32,
}

// SAFETY: plain-old-data with the same repr(C) layout as the kernel's `Params`.
unsafe impl DeviceRepr for Params {}

fn drv(op: &'static str) -> impl Fn(cudarc::driver::DriverError) -> Error {
    move |e| {
        Error::Kernel(kernels::Error::Driver {
            op,
            message: format!("{e:?}"),
        })
    }
}

fn storage<'a>(t: &'a Tensor, what: &'static str) -> Result<&'a CudaStorage> {
    match t.storage() {
        Storage::Cuda(c) => Ok(c),
        _ => Err(Error::Unsupported {
            what,
            reason: "every tensor of a CUDA attention core call must be on the device".into(),
        }),
    }
}

fn to_i32(x: usize, what: &str) -> Result<i32> {
    i32::try_from(x).map_err(|_| {
        Error::InvalidConfig(format!(
            "CUDA attention core: {what} = {x} exceeds the kernel's 32-bit indices"
        ))
    })
}

fn params(d: &Dims, form: Form, plan: &RowPlan, dropout: AttentionDropout) -> Result<Params> {
    if d.batch > 65_535 {
        return Err(Error::InvalidConfig(format!(
            "CUDA attention core: batch {} exceeds the grid's 65535 z-blocks",
            d.batch
        )));
    }
    let drop = dropout.resolve()?;
    Ok(Params {
        batch: to_i32(d.batch, "batch")?,
        n_q: to_i32(d.n_q, "n_q")?,
        n_k: to_i32(d.n_k, "n_k")?,
        s: to_i32(d.s, "s")?,
        e: to_i32(d.e, "e")?,
        form: match form {
            Form::Softmax => 0,
            Form::Relu2 => 1,
        },
        has_valid: plan.valid.is_some() as i32,
        drop: drop.is_some() as i32,
        key: drop.map_or(0, |k| k.key),
        threshold: drop.map_or(0, |k| k.threshold),
        inv_keep: drop.map_or(1.0, |k| k.inv_keep as f32),
        pad: 0,
    })
}

/// The row constants (`RowInfo` in the kernel) and key-validity flags, on the device.
struct DevicePlan {
    rows: CudaSlice<u32>,
    valid: CudaSlice<i32>,
}

fn upload_plan(dev: &CudaDevice, plan: &RowPlan) -> Result<DevicePlan> {
    let words: Vec<u32> = plan
        .rows
        .iter()
        .flat_map(|r| {
            [
                (r.alpha as f32).to_bits(),
                (r.beta as f32).to_bits(),
                r.lim as u32,
                r.l as u32,
            ]
        })
        .collect();
    let valid: Vec<i32> = match &plan.valid {
        Some(v) => v.iter().map(|&b| b as i32).collect(),
        None => vec![1],
    };
    let stream = dev.stream();
    Ok(DevicePlan {
        rows: stream.clone_htod(&words).map_err(drv("upload row plan"))?,
        valid: stream.clone_htod(&valid).map_err(drv("upload key mask"))?,
    })
}

/// Pushes the arguments every tiled attention kernel starts with: the parameters, the row plan,
/// the key mask, `q` and `k`.
fn push_plan_qk<'a>(
    b: &mut LaunchArgs<'a>,
    p: &'a Params,
    dp: &'a DevicePlan,
    q: &'a CudaStorage,
    k: &'a CudaStorage,
) {
    b.arg(p)
        .arg(&dp.rows)
        .arg(&dp.valid)
        .arg(&q.slice)
        .arg(&k.slice);
}

fn tiles(rows: usize, cols: usize, batch: usize) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (
            rows.div_ceil(ROWS) as u32,
            cols.div_ceil(COLS) as u32,
            batch as u32,
        ),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    }
}

pub(super) fn forward(call: &CoreCall) -> Result<(Tensor, CoreCache)> {
    let (q, k, v, plan, d, form, dropout) = call.parts();
    const WHAT: &str = "CUDA attention core";
    let (qs, ks, vs) = (storage(q, WHAT)?, storage(k, WHAT)?, storage(v, WHAT)?);
    let dev = &qs.device;
    let p = params(d, form, plan, dropout)?;
    let dp = upload_plan(dev, plan)?;
    let mut out = dev.zeros(d.batch * d.n_q * d.e)?;
    let mut lse = dev.zeros(d.batch * d.n_q)?;
    let f = KERNEL.function(dev, "attention_fwd_f32")?;
    let mut b = dev.stream().launch_builder(&f);
    push_plan_qk(&mut b, &p, &dp, qs, ks);
    b.arg(&vs.slice).arg(&mut out.slice).arg(&mut lse.slice);
    // SAFETY: q, k, v, out, lse hold the element counts of `d` (checked by the caller's shape
    // checks and the allocations above); the row plan holds b·n_q rows and the key mask b·n_k
    // flags when has_valid; the kernel reads and writes only inside those bounds.
    unsafe { b.launch(tiles(d.n_q, d.e, d.batch)) }.map_err(drv("attention_fwd_f32"))?;
    let out = Tensor::from_cuda(out, &[d.batch, d.n_q, d.e])?;
    let lse = Tensor::from_cuda(lse, &[d.batch, d.n_q])?;
    Ok((out.try_clone()?, CoreCache::Fused { out, lse, dropout }))
}

pub(super) fn backward(
    call: &CoreCall,
    out: &Tensor,
    lse: &Tensor,
    dc: &Tensor,
) -> Result<CoreGrads> {
    let (q, k, v, plan, d, form, dropout) = call.parts();
    const WHAT: &str = "CUDA attention core backward";
    let (qs, ks, vs) = (storage(q, WHAT)?, storage(k, WHAT)?, storage(v, WHAT)?);
    let (cs, ls, dcs) = (storage(out, WHAT)?, storage(lse, WHAT)?, storage(dc, WHAT)?);
    let dev = &qs.device;
    let stream = dev.stream();
    let p = params(d, form, plan, dropout)?;
    let dp = upload_plan(dev, plan)?;
    let rows = d.batch * d.n_q;

    // D_i = dC_i · C_i (read by the softmax forms only; cheap, so always computed).
    let mut dsum = dev.zeros(rows)?;
    let f = KERNEL.function(dev, "attention_rowdot_f32")?;
    let (n_rows, e) = (rows as u64, p.e);
    let mut b = stream.launch_builder(&f);
    b.arg(&dcs.slice)
        .arg(&cs.slice)
        .arg(&mut dsum.slice)
        .arg(&n_rows)
        .arg(&e);
    let warps_per_block = (THREADS / 32) as usize;
    let blocks = rows
        .div_ceil(warps_per_block)
        .clamp(1, 8 * dev.sm_count() as usize) as u32;
    let cfg = LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: dc and out hold `rows · e` values, dsum `rows`.
    unsafe { b.launch(cfg) }.map_err(drv("attention_rowdot_f32"))?;

    let mut dv = dev.zeros(d.batch * d.n_k * d.e)?;
    let f = KERNEL.function(dev, "attention_bwd_dv_f32")?;
    let mut b = stream.launch_builder(&f);
    push_plan_qk(&mut b, &p, &dp, qs, ks);
    b.arg(&ls.slice).arg(&dcs.slice).arg(&mut dv.slice);
    // SAFETY: every buffer holds the element count of `d` its role implies (see forward).
    unsafe { b.launch(tiles(d.n_k, d.e, d.batch)) }.map_err(drv("attention_bwd_dv_f32"))?;

    // dQ and dK read the same inputs and differ only in the kernel and the rows they own.
    let grad = |name: &'static str, n: usize| -> Result<_> {
        let mut g = dev.zeros(d.batch * n * d.s)?;
        let f = KERNEL.function(dev, name)?;
        let mut b = stream.launch_builder(&f);
        push_plan_qk(&mut b, &p, &dp, qs, ks);
        b.arg(&vs.slice)
            .arg(&ls.slice)
            .arg(&dsum.slice)
            .arg(&dcs.slice)
            .arg(&mut g.slice);
        // SAFETY: as above; `g` holds `batch · n · s` values for the `n` rows it owns.
        unsafe { b.launch(tiles(n, d.s, d.batch)) }.map_err(drv(name))?;
        Ok(g)
    };
    let dq = grad("attention_bwd_dq_f32", d.n_q)?;
    let dk = grad("attention_bwd_dk_f32", d.n_k)?;

    Ok(CoreGrads {
        dq: Tensor::from_cuda(dq, &[d.batch, d.n_q, d.s])?,
        dk: Tensor::from_cuda(dk, &[d.batch, d.n_k, d.s])?,
        dv: Tensor::from_cuda(dv, &[d.batch, d.n_k, d.e])?,
    })
}
