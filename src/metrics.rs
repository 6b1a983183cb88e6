//! CloudWatch Embedded Metric Format: metrics carried inside tollgate's own JSON log lines.
//!
//! A line with an `_aws` block makes CloudWatch Logs extract the named metrics, with the named
//! dimensions, from the line's top-level keys; no agent or API call is needed from Lambda.
//! Dimensions are low-cardinality only (decision, reason, shape, fetch result): never a user,
//! a route or a token.

use std::borrow::Cow;
use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::value::RawValue;

use crate::json;

/// The CloudWatch namespace of every tollgate metric.
pub const NAMESPACE: &str = "tollgate";

/// The `_aws` metadata block of one EMF line.
///
/// ```
/// use tollgate::metrics::Metadata;
/// let m = Metadata::new(&[&["decision"]], &[("decisions", "Count")]);
/// let json = serde_json::to_value(&m).unwrap();
/// assert_eq!(json["CloudWatchMetrics"][0]["Namespace"], "tollgate");
/// assert_eq!(json["CloudWatchMetrics"][0]["Dimensions"][0][0], "decision");
/// assert_eq!(json["CloudWatchMetrics"][0]["Metrics"][0]["Unit"], "Count");
/// ```
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Metadata {
    timestamp: u64,
    /// The `CloudWatchMetrics` array, rendered once per kind of line.
    #[serde(rename = "CloudWatchMetrics")]
    cloudwatch_metrics: Cow<'static, RawValue>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive {
    namespace: &'static str,
    dimensions: &'static [&'static [&'static str]],
    #[serde(serialize_with = "metric_list")]
    metrics: &'static [(&'static str, &'static str)],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metric {
    name: &'static str,
    unit: &'static str,
}

/// `[{"Name": ..., "Unit": ...}, ...]`, from a static list: nothing is built per line.
fn metric_list<S: serde::Serializer>(
    metrics: &&'static [(&'static str, &'static str)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(metrics.iter().map(|&(name, unit)| Metric { name, unit }))
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

    fn at_now(cloudwatch_metrics: Cow<'static, RawValue>) -> Self {
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
        static RENDERED: LazyLock<Box<RawValue>> = LazyLock::new(|| {
            render(
                &[&["decision"], &["decision", "reason"], &["shape"]],
                &[("decisions", "Count"), ("latencyUs", "Microseconds")],
            )
        });
        Self::at_now(Cow::Borrowed(&RENDERED))
    }

    /// For JWKS fetch lines: `jwksFetches` (count) by result.
    pub fn jwks_fetch() -> Self {
        static RENDERED: LazyLock<Box<RawValue>> =
            LazyLock::new(|| render(&[&["result"]], &[("jwksFetches", "Count")]));
        Self::at_now(Cow::Borrowed(&RENDERED))
    }

    /// Writes the block as JSON text (what its `Serialize` gives, without serde).
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) {
        let mut block = json::Object::open(out);
        block
            .number("Timestamp", self.timestamp)
            .raw("CloudWatchMetrics", &self.cloudwatch_metrics);
        block.close();
    }
}

/// The `CloudWatchMetrics` array for one directive, as JSON text.
fn render(
    dimensions: &'static [&'static [&'static str]],
    metrics: &'static [(&'static str, &'static str)],
) -> Box<RawValue> {
    let directive = [Directive {
        namespace: NAMESPACE,
        dimensions,
        metrics,
    }];
    // Static strings always serialise; were they not to, the block would say `null`.
    serde_json::value::to_raw_value(&directive).unwrap_or_default()
}
