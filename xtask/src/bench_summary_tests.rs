//! Tests of the bench summary: reading criterion files, pairing ceilings, paired ratios, medians.

use super::*;

fn m(group: &str, function: &str, param: &str, value: f64, unit: &str) -> Measurement {
    Measurement {
        paired: None,
        group: group.into(),
        function: function.into(),
        param: param.into(),
        value,
        unit: unit.into(),
        median_ns: None,
        source: "criterion".into(),
        ceiling: function == "ceiling",
    }
}

#[test]
fn pairs_each_function_with_its_groups_ceiling() {
    let all = vec![
        m("silu", "ceiling", "n10000000", 60.0, "GB/s"),
        m("silu", "cpu_t2", "n10000000", 54.0, "GB/s"),
        m("silu", "cpu_t2", "n1000", 20.0, "GB/s"),
        m("matmul", "cpu", "m64k64n64", 100.0, "GFLOP/s"),
    ];
    let mut unmeasured = BTreeMap::new();
    unmeasured.insert("matmul".to_string(), "run with --peers".to_string());
    let r = rows(&all, &unmeasured);
    assert_eq!(r.len(), 3);
    let pct = r
        .iter()
        .find(|r| r.m.param == "n10000000")
        .unwrap()
        .percent()
        .unwrap();
    assert!((pct - 90.0).abs() < 1e-9);
    assert!(
        r.iter()
            .find(|r| r.m.param == "n1000")
            .unwrap()
            .ceiling
            .is_none()
    );
    assert_eq!(
        r.iter().find(|r| r.m.group == "matmul").unwrap().note,
        "run with --peers"
    );
    let md = markdown(&r, &["a note".into()]);
    assert!(md.contains("| silu | cpu_t2 | n10000000 | 54.0 | GB/s | ceiling | 60.0 | 90 % |"));
    let js = to_json(&r, &all, &[], "--quick");
    assert!(Json::parse(&js).is_ok(), "{js}");
}

#[test]
fn reads_criterion_files() {
    let dir = std::env::temp_dir().join(format!("xtask-crit-{}", std::process::id()));
    let new = dir.join("silu/cpu_t2/n100/new");
    std::fs::create_dir_all(&new).unwrap();
    std::fs::write(new.join("benchmark.json"), r#"{"group_id":"silu","function_id":"cpu_t2","value_str":"n100","throughput":{"BytesDecimal":800},"full_id":"silu/cpu_t2/n100","directory_name":"silu/cpu_t2/n100","title":"silu/cpu_t2/n100"}"#).unwrap();
    std::fs::write(new.join("estimates.json"), r#"{"mean":{"point_estimate":110.0},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":99.0,"upper_bound":101.0},"point_estimate":100.0,"standard_error":1.0}}"#).unwrap();
    let laws = dir.join("laws/sgd_cpu_t2_n100_b50/new");
    std::fs::create_dir_all(&laws).unwrap();
    std::fs::write(laws.join("benchmark.json"), r#"{"group_id":"laws","function_id":"sgd/cpu_t2/n100_b50","value_str":null,"throughput":{"Elements":5000}}"#).unwrap();
    std::fs::write(
        laws.join("estimates.json"),
        r#"{"median":{"point_estimate":1000000.0}}"#,
    )
    .unwrap();
    let mut got = read_criterion(&dir, SystemTime::UNIX_EPOCH);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(got.len(), 2);
    let law = got.remove(0);
    assert_eq!(
        (law.function.as_str(), law.param.as_str()),
        ("sgd/cpu_t2", "n100_b50")
    );
    assert_eq!((law.value, law.unit.as_str()), (0.005, "GFLOP/s"));
    assert_eq!(fmt_rate(law.value), "5.00e-3");
    assert_eq!((got[0].value, got[0].unit.as_str()), (8.0, "GB/s"));
    assert_eq!(got[0].median_ns, Some(100.0));
}

#[test]
fn medians_over_rounds_per_key() {
    let m = |function: &str, value: f64, ns: Option<f64>| Measurement {
        paired: None,
        group: "matmul".into(),
        function: function.into(),
        param: "n2048".into(),
        value,
        unit: "GFLOP/s".into(),
        median_ns: ns,
        source: "criterion".into(),
        ceiling: false,
    };
    let rounds = vec![
        vec![m("cpu", 100.0, Some(3.0)), m("ceiling", 10.0, None)],
        vec![m("cpu", 120.0, Some(1.0))],
        vec![m("cpu", 90.0, Some(2.0)), m("ceiling", 14.0, None)],
    ];
    let got = median_over_rounds(rounds);
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].function.as_str(), got[0].value), ("cpu", 100.0));
    assert_eq!(got[0].median_ns, Some(2.0));
    assert_eq!((got[1].function.as_str(), got[1].value), ("ceiling", 12.0));
    assert_eq!(got[1].median_ns, None);
}

#[test]
fn paired_ratios_set_the_percentage_and_take_medians_over_rounds() {
    let file = std::env::temp_dir().join(format!("xtask-paired-{}.jsonl", std::process::id()));
    std::fs::write(
        &file,
        concat!(
            "{\"group\": \"gelu\", \"function\": \"cpu\", \"param\": \"n100\", \"ratio\": 0.875, \"pairs\": 40}\n",
            "not json\n",
            "{\"group\": \"gelu\", \"function\": \"cpu\", \"param\": \"n7\", \"ratio\": 0.5}\n"
        ),
    )
    .unwrap();
    let mut round = vec![
        m("gelu", "cpu", "n100", 40.0, "GB/s"),
        m("gelu", "ceiling", "n100", 60.0, "GB/s"),
    ];
    assert_eq!(attach_paired(&mut round, &file), 1);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(
        attach_paired(&mut round, &file),
        0,
        "a missing file attaches nothing"
    );
    assert_eq!(round[0].paired, Some(0.875));
    let r = rows(&round, &BTreeMap::new());
    assert_eq!(r[0].percent(), Some(87.5), "the pairs, not 40/60");
    assert!(markdown(&r, &[]).contains("| 88 % | % from interleaved calls"));
    let mut other = round.clone();
    other[0].paired = Some(0.8);
    let mut third = round.clone();
    third[0].paired = None;
    let got = median_over_rounds(vec![round, other, third]);
    assert_eq!(
        got[0].paired,
        Some(0.8375),
        "median of the rounds that recorded it"
    );
}
