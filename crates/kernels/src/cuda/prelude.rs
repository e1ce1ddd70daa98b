//! Shared CUDA source ("preludes") for the `.cu` kernels: device functions that several modules
//! need, kept once in `cuda/prelude/*.cuh`.
//!
//! A `.cu` file asks for one with a plain `#include "row_reduce.cuh"` line. NVRTC has no
//! file system to search at run time, so before compiling, [`expand`] replaces each such line
//! by the header's text embedded here with `include_str!` (and `#line` directives so NVRTC's
//! log still names the right file and line). `cargo xtask cuda-check` compiles the `.cu` files
//! from disk with `--include-path=crates/kernels/src/cuda/prelude`, so both read the same
//! header files and the `#include` line is the only declaration of what a kernel uses.

use crate::{Error, Result};

/// Every header a `.cu` may include: `(name, text)`.
pub const PRELUDES: &[(&str, &str)] = &[("row_reduce.cuh", include_str!("prelude/row_reduce.cuh"))];

/// `src` with every `#include "name"` line replaced by the prelude `name` (one level: preludes
/// include nothing); the source itself when it includes nothing. An include of an unknown header is an [`Error::Compile`] naming it.
pub fn expand(module: &'static str, src: &str) -> Result<String> {
    if !src.contains("#include") {
        return Ok(src.to_string());
    }
    let mut out = String::with_capacity(src.len() + 4096);
    for (i, line) in src.lines().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("#include") else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let name = rest.trim().trim_start_matches('"').split('"').next();
        let header = PRELUDES.iter().find(|(n, _)| Some(*n) == name);
        let Some((name, text)) = header else {
            return Err(Error::Compile {
                module,
                message: format!("line {}: `{}` is not a prelude", i + 1, line.trim()),
                log: format!(
                    "known preludes: {:?}",
                    PRELUDES.iter().map(|(n, _)| n).collect::<Vec<_>>()
                ),
            });
        };
        out.push_str(&format!("#line 1 \"{name}\"\n{text}\n"));
        out.push_str(&format!("#line {} \"{module}.cu\"\n", i + 2));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pastes_the_header_and_keeps_line_numbers() {
        let src = "// a\n#include \"row_reduce.cuh\"  // why\nint x;\n";
        let out = expand("demo", src).unwrap();
        assert!(out.starts_with("// a\n#line 1 \"row_reduce.cuh\"\n"));
        assert!(out.contains("__device__ float block_reduce_sum(float v)"));
        assert!(out.ends_with("\n#line 3 \"demo.cu\"\nint x;\n"));
        assert!(!out.contains("#include"));
    }

    #[test]
    fn source_without_includes_is_unchanged() {
        let src = "extern \"C\" __global__ void k() {}\n";
        assert_eq!(expand("demo", src).unwrap(), src);
    }

    #[test]
    fn unknown_header_is_a_typed_error() {
        let err = expand("demo", "#include \"nope.cuh\"\n").unwrap_err();
        assert!(
            matches!(err, Error::Compile { module: "demo", .. }),
            "{err:?}"
        );
    }

    #[test]
    fn every_include_of_every_kernels_cu_is_a_prelude() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut stack = vec![std::path::PathBuf::from(root)];
        let mut checked = 0;
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "cu") {
                    let src = std::fs::read_to_string(&p).unwrap();
                    let out = expand("check", &src).unwrap_or_else(|e| panic!("{p:?}: {e}"));
                    assert!(!out.contains("#include"), "{p:?}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 10, "only {checked} .cu files found");
    }
}
