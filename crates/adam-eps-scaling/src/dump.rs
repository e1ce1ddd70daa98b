//! Reading statistics or gradient dumps: JSON (`{"g": [...], "sigma2": [...], "h_diag": [...]}` or
//! `{"per_example": [[...], ...]}`) and safetensors (1-D tensors `g`, `sigma2`, optional `h_diag`,
//! or a 2-D `per_example` [n, N]; F32 or F64). Malformed input → [`DumpError`].

use crate::error::DumpError;
use crate::estimators::stats_from_per_example;
use crate::stats::{DiagH, GradStats};
use safetensors::{Dtype, SafeTensors};
use serde::Deserialize;

/// Statistics plus an optional diagonal curvature (identity when absent).
#[derive(Debug, Clone, PartialEq)]
pub struct Dump {
    pub stats: GradStats,
    pub h: DiagH,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonDump {
    g: Option<Vec<f64>>,
    sigma2: Option<Vec<f64>>,
    h_diag: Option<Vec<f64>>,
    per_example: Option<Vec<Vec<f64>>>,
}

fn assemble(
    g: Option<Vec<f64>>,
    s2: Option<Vec<f64>>,
    h: Option<Vec<f64>>,
    rows: Option<Vec<Vec<f64>>>,
) -> Result<Dump, DumpError> {
    let stats = match (g, s2, rows) {
        (Some(g), Some(s2), None) => GradStats::new(g, s2)?,
        (None, None, Some(rows)) => stats_from_per_example(&rows)?,
        _ => {
            return Err(DumpError::Malformed(
                "need either `g` and `sigma2`, or `per_example`".into(),
            ));
        }
    };
    let h = match h {
        Some(d) => {
            if d.len() != stats.len() {
                return Err(DumpError::Malformed(format!(
                    "h_diag has {} entries, statistics have {}",
                    d.len(),
                    stats.len()
                )));
            }
            DiagH::new(d)?
        }
        None => DiagH::scaled_identity(stats.len(), 1.0),
    };
    Ok(Dump { stats, h })
}

/// Parses the JSON form.
pub fn from_json(text: &str) -> Result<Dump, DumpError> {
    let j: JsonDump = serde_json::from_str(text)?;
    assemble(j.g, j.sigma2, j.h_diag, j.per_example)
}

/// A tensor's shape and values as f64.
type Shaped = (Vec<usize>, Vec<f64>);

fn tensor_f64(st: &SafeTensors, name: &str) -> Result<Option<Shaped>, DumpError> {
    let t = match st.tensor(name) {
        Ok(t) => t,
        Err(safetensors::SafeTensorError::TensorNotFound(_)) => return Ok(None),
        Err(e) => return Err(DumpError::Safetensors(e.to_string())),
    };
    let data = t.data();
    let v: Vec<f64> = match t.dtype() {
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect(),
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap_or([0; 4])) as f64)
            .collect(),
        d => {
            return Err(DumpError::Malformed(format!(
                "tensor `{name}` has dtype {d:?}; need F32 or F64"
            )));
        }
    };
    Ok(Some((t.shape().to_vec(), v)))
}

/// Parses a safetensors buffer.
pub fn from_safetensors(bytes: &[u8]) -> Result<Dump, DumpError> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| DumpError::Safetensors(e.to_string()))?;
    let one_d = |name: &str| -> Result<Option<Vec<f64>>, DumpError> {
        match tensor_f64(&st, name)? {
            None => Ok(None),
            Some((shape, v)) if shape.len() == 1 => Ok(Some(v)),
            Some((shape, _)) => Err(DumpError::Malformed(format!(
                "`{name}` must be 1-D, has shape {shape:?}"
            ))),
        }
    };
    let rows = match tensor_f64(&st, "per_example")? {
        None => None,
        Some((shape, v)) if shape.len() == 2 => {
            Some(v.chunks(shape[1].max(1)).map(|c| c.to_vec()).collect())
        }
        Some((shape, _)) => {
            return Err(DumpError::Malformed(format!(
                "`per_example` must be 2-D, has shape {shape:?}"
            )));
        }
    };
    assemble(one_d("g")?, one_d("sigma2")?, one_d("h_diag")?, rows)
}

/// Reads a file: `.json` as JSON, anything else as safetensors.
pub fn read(path: &std::path::Path) -> Result<Dump, DumpError> {
    let bytes = std::fs::read(path).map_err(|source| DumpError::Io {
        path: path.display().to_string(),
        source,
    })?;
    if path.extension().is_some_and(|e| e == "json") {
        from_json(std::str::from_utf8(&bytes).map_err(|e| DumpError::Malformed(e.to_string()))?)
    } else {
        from_safetensors(&bytes)
    }
}
