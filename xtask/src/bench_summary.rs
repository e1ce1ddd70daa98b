//! Reads criterion's result files and peers' numbers into one table: achieved rate, the ceiling
//! measured in the same run, and the percentage.
//!
//! Convention (every bench follows it): criterion group = op name; function id `ceiling` = the
//! ceiling for every other function of the same group and parameter. Throughput
//! `BytesDecimal`/`Bytes` gives GB/s, `Elements` (FLOPs, counted by hand) gives GFLOP/s.
//!
//! Benches that time a function and its ceiling call by call, interleaved, write the median of
//! the per-call ratios to the file named by [`PAIRED_ENV`] (one JSON object per line:
//! `group`, `function`, `param`, `ratio` = ceiling time / function time, `pairs`); the table's
//! percentage then comes from those pairs, which a drift of a shared machine between criterion's
//! separate measurements of the two functions cannot skew.

use crate::json::{self, Json};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

/// The environment variable through which `cargo xtask bench` asks benches for paired ratios.
pub const PAIRED_ENV: &str = "FRUGAL_BENCH_PAIRED";

/// One measured rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    pub group: String,
    pub function: String,
    pub param: String,
    /// GB/s or GFLOP/s.
    pub value: f64,
    pub unit: String,
    /// Median time per iteration (criterion only).
    pub median_ns: Option<f64>,
    /// Where it came from: `criterion` or `peer:<script>`.
    pub source: String,
    /// True for the ceiling of its (group, param).
    pub ceiling: bool,
    /// Its rate as a fraction of its ceiling's, from interleaved calls (median of the per-call
    /// ratios), when the bench recorded them.
    pub paired: Option<f64>,
}

/// Every criterion result under `criterion_dir` written at or after `since`: each
/// `…/new/benchmark.json` with its `estimates.json` beside it.
pub fn read_criterion(criterion_dir: &Path, since: SystemTime) -> Vec<Measurement> {
    let mut out: Vec<Measurement> = crate::util::files_under(criterion_dir, "json")
        .into_iter()
        .filter(|p| p.ends_with("new/benchmark.json"))
        .filter_map(|bench| {
            let estimates = bench.with_file_name("estimates.json");
            let fresh = std::fs::metadata(&estimates)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since);
            if fresh {
                read_one(&bench, &estimates)
            } else {
                None
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.group, &a.param, &a.function).cmp(&(&b.group, &b.param, &b.function)));
    out
}

fn read_one(bench: &Path, estimates: &Path) -> Option<Measurement> {
    let b = Json::parse(&std::fs::read_to_string(bench).ok()?).ok()?;
    let e = Json::parse(&std::fs::read_to_string(estimates).ok()?).ok()?;
    let median = e.get("median")?.get("point_estimate")?.as_f64()?;
    let text = |k: &str| b.get(k).and_then(Json::as_str).unwrap_or("").to_string();
    let (mut group, mut function, mut param) =
        (text("group_id"), text("function_id"), text("value_str"));
    if param.is_empty()
        && let Some((f, p)) = function.rsplit_once('/')
    {
        // An id like `laws/sgd/cpu_t2/n100000_b50` (no BenchmarkId): the last part is the size.
        (function, param) = (f.to_string(), p.to_string());
    }
    if function.is_empty() {
        // A bench without a function id: `group/param` → treat the param as the function.
        function = std::mem::take(&mut param);
    }
    if group.is_empty() {
        group = text("full_id");
    }
    let (count, unit) = match b.get("throughput") {
        Some(Json::Obj(m)) if !m.is_empty() => {
            let (kind, v) = &m[0];
            let n = v
                .as_f64()
                .or_else(|| v.get("elements").and_then(Json::as_f64))?;
            match kind.as_str() {
                "Bits" => (n / 8.0, "GB/s"),
                k if k.starts_with("Bytes") => (n, "GB/s"),
                _ => (n, "GFLOP/s"),
            }
        }
        _ => (0.0, ""),
    };
    let (value, unit) = if unit.is_empty() || median <= 0.0 {
        (f64::NAN, "ns".to_string())
    } else {
        (count / median, unit.to_string())
    };
    Some(Measurement {
        ceiling: function == "ceiling",
        group,
        function,
        param,
        value,
        unit,
        median_ns: Some(median),
        source: "criterion".into(),
        paired: None,
    })
}

/// Attaches the paired ratios recorded in `file` (see the module docs) to the measurements of
/// the same group, function and parameter; returns how many were attached. A missing file
/// attaches nothing; a malformed line is skipped.
pub fn attach_paired(all: &mut [Measurement], file: &Path) -> usize {
    let Ok(text) = std::fs::read_to_string(file) else {
        return 0;
    };
    let mut attached = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(j) = Json::parse(line) else { continue };
        let field = |k: &str| j.get(k).and_then(Json::as_str).map(str::to_string);
        let (Some(g), Some(f), Some(p), Some(r)) = (
            field("group"),
            field("function"),
            field("param"),
            j.get("ratio").and_then(Json::as_f64),
        ) else {
            continue;
        };
        for m in all
            .iter_mut()
            .filter(|m| m.source == "criterion" && m.group == g && m.function == f && m.param == p)
        {
            m.paired = Some(r);
            attached += 1;
        }
    }
    attached
}

/// One line of the summary.
#[derive(Debug)]
pub struct Row {
    pub m: Measurement,
    /// (ceiling's function name, value) when a ceiling with the same unit was measured.
    pub ceiling: Option<(String, f64)>,
    pub note: String,
}

impl Row {
    /// The share of the ceiling: from the paired calls where the bench recorded them, else the
    /// ratio of the two rates.
    pub fn percent(&self) -> Option<f64> {
        let ceiling = self.ceiling.as_ref()?;
        Some(match self.m.paired {
            Some(r) => 100.0 * r,
            None => 100.0 * self.m.value / ceiling.1,
        })
    }
}

/// Pairs every non-ceiling measurement with the ceiling of its (group, param). `unmeasured`
/// maps a group to why its ceiling is missing (e.g. a peer ceiling without `--peers`).
pub fn rows(all: &[Measurement], unmeasured: &BTreeMap<String, String>) -> Vec<Row> {
    let ceilings: BTreeMap<(&str, &str), &Measurement> = all
        .iter()
        .filter(|m| m.ceiling)
        .map(|m| ((m.group.as_str(), m.param.as_str()), m))
        .collect();
    all.iter()
        .filter(|m| !m.ceiling)
        .map(|m| {
            let c = ceilings.get(&(m.group.as_str(), m.param.as_str()));
            let gpu_fn = m.function.contains("cuda") || m.function.contains("gpu");
            let (ceiling, note) = match c {
                Some(c) if c.source != "criterion" && gpu_fn => {
                    (None, format!("{} is a CPU ceiling", display_fn(c)))
                }
                Some(c) if c.unit == m.unit => {
                    let note = if m.paired.is_some() {
                        "% from interleaved calls (median of per-call ratios)".to_string()
                    } else {
                        String::new()
                    };
                    (Some((display_fn(c), c.value)), note)
                }
                Some(c) => (None, format!("ceiling unit {} differs", c.unit)),
                None => (
                    None,
                    unmeasured
                        .get(&m.group)
                        .cloned()
                        .unwrap_or_else(|| "no ceiling in this bench".into()),
                ),
            };
            Row {
                m: m.clone(),
                ceiling,
                note,
            }
        })
        .collect()
}

fn display_fn(m: &Measurement) -> String {
    if m.source == "criterion" {
        m.function.clone()
    } else {
        format!("{} ({})", m.function, m.source)
    }
}

fn fmt_rate(v: f64) -> String {
    match v {
        v if !v.is_finite() => "-".into(),
        v if v.abs() >= 10.0 => format!("{v:.1}"),
        v if v.abs() >= 0.01 => format!("{v:.3}"),
        v => format!("{v:.2e}"),
    }
}

/// The table as Markdown (also printed to the terminal).
pub fn markdown(rows: &[Row], notes: &[String]) -> String {
    let mut s = String::from(
        "| op | impl | size | achieved | unit | ceiling | ceiling rate | % of ceiling | note |\n",
    );
    s.push_str("| --- | --- | --- | ---: | --- | --- | ---: | ---: | --- |\n");
    for r in rows {
        let (cname, cval) = match &r.ceiling {
            Some((n, v)) => (n.clone(), fmt_rate(*v)),
            None => ("-".into(), "-".into()),
        };
        let pct = r.percent().map_or("-".into(), |p| format!("{p:.0} %"));
        let implname = if r.m.source == "criterion" {
            r.m.function.clone()
        } else {
            display_fn(&r.m)
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.m.group,
            implname,
            r.m.param,
            fmt_rate(r.m.value),
            r.m.unit,
            cname,
            cval,
            pct,
            r.note
        ));
    }
    for n in notes {
        s.push_str(&format!("\n- {n}"));
    }
    s.push('\n');
    s
}

/// The table and every measurement as JSON.
pub fn to_json(rows: &[Row], all: &[Measurement], notes: &[String], flags: &str) -> String {
    let q = json::quote;
    let mut s = format!("{{\n  \"flags\": {},\n  \"rows\": [\n", q(flags));
    for (i, r) in rows.iter().enumerate() {
        let (cn, cv) = match &r.ceiling {
            Some((n, v)) => (q(n), json::number(*v)),
            None => ("null".into(), "null".into()),
        };
        s.push_str(&format!(
            "    {{\"op\": {}, \"impl\": {}, \"size\": {}, \"value\": {}, \"unit\": {}, \"median_ns\": {}, \"source\": {}, \"ceiling\": {cn}, \"ceiling_value\": {cv}, \"percent\": {}, \"note\": {}}}{}\n",
            q(&r.m.group), q(&r.m.function), q(&r.m.param), json::number(r.m.value), q(&r.m.unit),
            r.m.median_ns.map_or("null".into(), json::number), q(&r.m.source),
            r.percent().map_or("null".into(), json::number), q(&r.note),
            if i + 1 < rows.len() { "," } else { "" }
        ));
    }
    s.push_str("  ],\n  \"ceilings\": [\n");
    let ceilings: Vec<&Measurement> = all.iter().filter(|m| m.ceiling).collect();
    for (i, m) in ceilings.iter().enumerate() {
        s.push_str(&format!(
            "    {{\"op\": {}, \"impl\": {}, \"size\": {}, \"value\": {}, \"unit\": {}, \"source\": {}}}{}\n",
            q(&m.group), q(&m.function), q(&m.param), json::number(m.value), q(&m.unit), q(&m.source),
            if i + 1 < ceilings.len() { "," } else { "" }
        ));
    }
    s.push_str("  ],\n  \"notes\": [");
    s.push_str(&notes.iter().map(|n| q(n)).collect::<Vec<_>>().join(", "));
    s.push_str("]\n}\n");
    s
}

/// One measurement per (group, function, param, source) from several rounds of the same run:
/// the median value (and median time) over the rounds that measured it; a figure missing from
/// some rounds takes the median of the others. Order: as first seen.
pub fn median_over_rounds(rounds: Vec<Vec<Measurement>>) -> Vec<Measurement> {
    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            0.5 * (v[n / 2 - 1] + v[n / 2])
        }
    }
    type Key = (String, String, String, String);
    let key = |m: &Measurement| -> Key {
        (
            m.group.clone(),
            m.function.clone(),
            m.param.clone(),
            m.source.clone(),
        )
    };
    let mut order: Vec<Key> = Vec::new();
    let mut seen: BTreeMap<Key, Vec<Measurement>> = BTreeMap::new();
    for m in rounds.into_iter().flatten() {
        let k = key(&m);
        if !seen.contains_key(&k) {
            order.push(k.clone());
        }
        seen.entry(k).or_default().push(m);
    }
    order
        .into_iter()
        .map(|k| {
            let ms = seen.remove(&k).unwrap_or_default();
            let mut out = ms[0].clone();
            out.value = median(ms.iter().map(|m| m.value).collect());
            let paired: Vec<f64> = ms.iter().filter_map(|m| m.paired).collect();
            out.paired = (!paired.is_empty()).then(|| median(paired));
            let times: Vec<f64> = ms.iter().filter_map(|m| m.median_ns).collect();
            out.median_ns = (!times.is_empty()).then(|| median(times));
            out
        })
        .collect()
}

#[cfg(test)]
#[path = "bench_summary_tests.rs"]
mod tests;
