//! `--message-format json`: one JSON object per finished test on stdout, the report's
//! entry with `"type": "test"`.

use leakcheck::report::TestReport;

/// A finished test's line.
pub fn test_line(entry: &TestReport) -> String {
    let mut value = serde_json::to_value(entry).unwrap_or_default();
    value["type"] = "test".into();
    value.to_string()
}
