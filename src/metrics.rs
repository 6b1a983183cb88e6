//! CloudWatch Embedded Metric Format: metrics carried inside tollgate's own JSON log lines.
//!
//! A line with an `_aws` block makes CloudWatch Logs extract the named metrics, with the named
//! dimensions, from the line's top-level keys; no agent or API call is needed from Lambda.
//! Dimensions are low-cardinality only (decision, reason, shape, fetch result): never a user,
//! a route or a token.

use std::borrow::Cow;
use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::json;

/// The CloudWatch namespace of every tollgate metric.
pub const NAMESPACE: &str = "tollgate";

/// The `_aws` metadata block of one EMF line, written by [`Metadata::write_json`].
///
/// ```
/// use tollgate::metrics::Metadata;
/// let m = Metadata::new(&[&["decision"]], &[("decisions", "Count")]);
/// let mut out = Vec::new();
/// m.write_json(&mut out);
/// let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
/// assert_eq!(json["CloudWatchMetrics"][0]["Namespace"], "tollgate");
/// assert_eq!(json["CloudWatchMetrics"][0]["Dimensions"][0][0], "decision");
/// assert_eq!(json["CloudWatchMetrics"][0]["Metrics"][0]["Unit"], "Count");
/// ```
#[derive(Clone, Debug)]
pub struct Metadata {
    timestamp: u64,
    /// The `CloudWatchMetrics` array as JSON text, rendered once per kind of line.
    cloudwatch_metrics: Cow<'static, str>,
}

impl Metadata {
    /// Metadata declaring `metrics` (name, unit) with the dimension sets `dimensions`; the
    /// values are the line's top-level keys of the same names.
    pub fn new(
        dimensions: &'static [&'static [&'static str]],
        metrics: &'static [(&'static str, &'static str)],
    ) -> Self {
        Self::at_now(Cow::Owned(render(dimensions, metrics)))
    }

    fn at_now(cloudwatch_metrics: Cow<'static, str>) -> Self {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Metadata {
            timestamp,
            cloudwatch_metrics,
        }
    }

    /// For decision lines: `decisions` (count) and `latencyUs` by decision, by decision and
    /// reason, and by shape.
    pub fn decision() -> Self {
        static RENDERED: LazyLock<String> = LazyLock::new(|| {
            render(
                &[&["decision"], &["decision", "reason"], &["shape"]],
                &[("decisions", "Count"), ("latencyUs", "Microseconds")],
            )
        });
        Self::at_now(Cow::Borrowed(RENDERED.as_str()))
    }

    /// For JWKS fetch lines: `jwksFetches` (count) by result.
    pub fn jwks_fetch() -> Self {
        static RENDERED: LazyLock<String> =
            LazyLock::new(|| render(&[&["result"]], &[("jwksFetches", "Count")]));
        Self::at_now(Cow::Borrowed(RENDERED.as_str()))
    }

    /// For revocation table reads: `revocationRefreshes` (count) by result.
    pub fn revocation_refresh() -> Self {
        static RENDERED: LazyLock<String> =
            LazyLock::new(|| render(&[&["result"]], &[("revocationRefreshes", "Count")]));
        Self::at_now(Cow::Borrowed(RENDERED.as_str()))
    }

    /// Writes the block as JSON text: `{"Timestamp":...,"CloudWatchMetrics":[...]}`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let mut block = json::Object::open(out);
        block
            .number("Timestamp", self.timestamp)
            .raw("CloudWatchMetrics", &self.cloudwatch_metrics);
        block.close();
    }
}

/// The `CloudWatchMetrics` array for one directive, as JSON text:
/// `[{"Namespace":...,"Dimensions":[[...],...],"Metrics":[{"Name":...,"Unit":...},...]}]`.
fn render(
    dimensions: &'static [&'static [&'static str]],
    metrics: &'static [(&'static str, &'static str)],
) -> String {
    let mut out = Vec::new();
    let mut directives = json::Array::open(&mut out);
    let mut directive = json::Object::open(directives.item());
    directive.string("Namespace", NAMESPACE);
    let mut sets = json::Array::open(directive.key("Dimensions"));
    for set in dimensions {
        json::strings(sets.item(), set);
    }
    sets.close();
    let mut list = json::Array::open(directive.key("Metrics"));
    for &(name, unit) in metrics {
        json::Object::open(list.item())
            .string("Name", name)
            .string("Unit", unit)
            .close();
    }
    list.close();
    directive.close();
    directives.close();
    // JSON text written from `&str`s is UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decision_directive_is_cloudwatchs_array() {
        let mut out = Vec::new();
        Metadata::decision().write_json(&mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(r#"{"Timestamp":"#), "{text}");
        assert!(
            text.ends_with(r#","CloudWatchMetrics":[{"Namespace":"tollgate","Dimensions":[["decision"],["decision","reason"],["shape"]],"Metrics":[{"Name":"decisions","Unit":"Count"},{"Name":"latencyUs","Unit":"Microseconds"}]}]}"#),
            "{text}"
        );
    }
}
