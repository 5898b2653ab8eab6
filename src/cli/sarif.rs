//! Policy decisions as SARIF 2.1.0 (`--output sarif`).

/// Policy decisions as SARIF 2.1.0: one result per failed check, `error` in enforce mode,
/// `warning` in warn mode, `note` in audit mode, located at the image.
pub(crate) fn sarif(decisions: &[imgseal::policy::Decision]) -> serde_json::Value {
    let items: Vec<_> = decisions
        .iter()
        .map(|d| {
            (
                d,
                d.image.clone(),
                serde_json::json!([{"logicalLocations": [{"name": d.image, "kind": "resource"}]}]),
            )
        })
        .collect();
    sarif_with(&items)
}

/// SARIF for decisions, each with the subject named in messages and its SARIF `locations`.
pub(crate) fn sarif_with(
    items: &[(&imgseal::policy::Decision, String, serde_json::Value)],
) -> serde_json::Value {
    use imgseal::policy::Mode;
    let mut rules = std::collections::BTreeSet::new();
    let mut results = Vec::new();
    for (d, subject, locations) in items {
        for c in d.checks.iter().filter(|c| !c.passed) {
            rules.insert(c.name.clone());
            let level = match d.mode {
                Mode::Enforce => "error",
                Mode::Warn => "warning",
                Mode::Audit => "note",
            };
            results.push(serde_json::json!({
                "ruleId": c.name,
                "level": level,
                "message": {"text": format!("{subject}: {}", c.reason)},
                "locations": locations,
                "properties": {"rule": d.rule, "digest": d.digest, "allowed": d.allowed},
            }));
        }
    }
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "imgseal",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules.iter().map(|r| serde_json::json!({"id": r, "shortDescription": {"text": format!("imgseal policy check: {r}")}})).collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    })
}
