//! Prices and plans: what a call costs, in integer millionths of the currency unit.
//!
//! Money is never a float here: prices are read from decimal text (`"0.10"`) into
//! micros (`100000`) and printed back the same way. The caller's plan comes from a configured
//! claim or from a group named with a prefix (`plan-pro`), else the default plan.

use std::collections::HashMap;
use std::fmt;

use crate::verify::VerifiedClaims;

/// Parses a price in currency units (`"0.10"`, `"2"`, `0.05`) into micros.
///
/// ```
/// use tollgate::pricing::{parse_price, format_micros};
/// assert_eq!(parse_price("0.10").unwrap(), 100_000);
/// assert_eq!(parse_price("0.000001").unwrap(), 1);
/// assert!(parse_price("-0.10").is_err());
/// assert!(parse_price("0.0000001").is_err());
/// assert_eq!(format_micros(70_000), "0.07");
/// assert_eq!(format_micros(1_234), "0.001234");
/// ```
pub fn parse_price(text: &str) -> Result<u64, PriceError> {
    let text = text.trim();
    let bad = |kind| PriceError {
        text: text.to_string(),
        kind,
    };
    if text.starts_with('-') {
        return Err(bad(PriceProblem::Negative));
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return Err(bad(PriceProblem::NotDecimal));
    }
    if fraction.len() > 6 {
        return Err(bad(PriceProblem::TooManyDecimals));
    }
    // Six digits or fewer, all ASCII digits: the fraction in micros cannot fail or overflow.
    let fraction = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(6)
        .fold(0u64, |micros, digit| micros * 10 + u64::from(digit - b'0'));
    whole
        .parse::<u64>()
        .ok()
        .and_then(|w| w.checked_mul(1_000_000))
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(|| bad(PriceProblem::TooLarge))
}

/// A price that is not an amount tollgate can bill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceError {
    /// The price as written (trimmed).
    text: String,
    kind: PriceProblem,
}

/// What is wrong with a price.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PriceProblem {
    Negative,
    NotDecimal,
    TooManyDecimals,
    TooLarge,
}

impl fmt::Display for PriceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = &self.text;
        match self.kind {
            PriceProblem::Negative => write!(f, "{text} is negative"),
            PriceProblem::NotDecimal => write!(f, "{text:?} is not a decimal amount like \"0.10\""),
            PriceProblem::TooManyDecimals => {
                write!(
                    f,
                    "{text} has more than 6 decimals (the unit is a millionth)"
                )
            }
            PriceProblem::TooLarge => write!(f, "{text} is too large"),
        }
    }
}

impl std::error::Error for PriceError {}

/// Prints micros as a decimal amount with at least two decimals.
pub fn format_micros(micros: u64) -> String {
    let whole = micros / 1_000_000;
    let fraction = format!("{:06}", micros % 1_000_000);
    let trimmed = fraction.trim_end_matches('0');
    let shown = if trimmed.len() < 2 {
        &fraction[..2]
    } else {
        trimmed
    };
    format!("{whole}.{shown}")
}

/// The plans and how a caller's plan is found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plans {
    /// The known plans.
    pub names: Vec<String>,
    /// The plan of callers with no (known) plan.
    pub default: String,
    /// A claim holding the plan name, e.g. `custom:plan`.
    pub claim: Option<String>,
    /// A group prefix: membership in `<prefix><plan>` puts the caller on `<plan>`.
    pub group_prefix: Option<String>,
    /// `usageIdentifierKey` per plan, for REST API usage plans with key source AUTHORIZER.
    pub usage_keys: HashMap<String, String>,
}

impl Default for Plans {
    fn default() -> Self {
        Plans {
            names: vec!["default".to_string()],
            default: "default".to_string(),
            claim: None,
            group_prefix: None,
            usage_keys: HashMap::new(),
        }
    }
}

impl Plans {
    /// The caller's plan: the claim's value if it names a known plan, else the first known
    /// plan (in `names` order) whose prefixed group the caller is in, else the default.
    pub fn plan_for<'a>(&'a self, claims: &VerifiedClaims) -> &'a str {
        if let Some(claim) = &self.claim
            && let Some(value) = claims.extra(claim)
            && let Some(name) = self.names.iter().find(|n| *n == value)
        {
            return name;
        }
        if let Some(prefix) = &self.group_prefix {
            let member = |plan: &&String| {
                claims
                    .groups
                    .iter()
                    .any(|g| g.strip_prefix(prefix.as_str()) == Some(plan.as_str()))
            };
            if let Some(name) = self.names.iter().find(member) {
                return name;
            }
        }
        &self.default
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plans() -> Plans {
        Plans {
            names: vec!["free".into(), "pro".into()],
            default: "free".into(),
            claim: Some("custom:plan".into()),
            group_prefix: Some("plan-".into()),
            usage_keys: HashMap::new(),
        }
    }

    #[test]
    fn plan_comes_from_the_claim_first() {
        let claims = VerifiedClaims {
            extra: vec![("custom:plan".into(), "pro".into())],
            ..Default::default()
        };
        assert_eq!(plans().plan_for(&claims), "pro");
    }

    #[test]
    fn plan_comes_from_a_prefixed_group() {
        let claims = VerifiedClaims {
            groups: vec!["staff".into(), "plan-pro".into()],
            ..Default::default()
        };
        assert_eq!(plans().plan_for(&claims), "pro");
    }

    #[test]
    fn unknown_plan_falls_back_to_the_default() {
        let claims = VerifiedClaims {
            extra: vec![("custom:plan".into(), "gold".into())],
            ..Default::default()
        };
        assert_eq!(plans().plan_for(&claims), "free");
    }

    #[test]
    fn whole_and_fractional_prices_parse() {
        assert_eq!(parse_price("2").unwrap(), 2_000_000);
        assert_eq!(parse_price("0.05").unwrap(), 50_000);
        assert!(parse_price("1e3").is_err());
        assert!(parse_price(".5").is_err());
    }

    #[test]
    fn micros_print_with_two_or_more_decimals() {
        assert_eq!(format_micros(0), "0.00");
        assert_eq!(format_micros(100_000), "0.10");
        assert_eq!(format_micros(2_500_000), "2.50");
        assert_eq!(format_micros(1), "0.000001");
    }
}
