//! Cross-origin calls from browsers: which origins may call the API, and the CORS headers
//! that say so.
//!
//! Single-page apps call the API from another origin, and a browser shows a script an answer
//! (a 401 that means "sign in again", a 403 that means "not allowed") only when it carries
//! `Access-Control-Allow-Origin` for the page's origin. The SAM template configures this on
//! the deployed APIs (the `CorsAllowOrigin` parameter); `tollgate serve` emulates it from the
//! same settings, owned here and built by `config` (`TOLLGATE_CORS_ALLOW_ORIGINS`, the file's
//! `[cors] allow_origins`, `serve --cors-allow-origin`). The constants are the template's
//! values, which a test holds equal. The Lambda function itself never reads them: API Gateway
//! answers preflights and adds the headers, never the authorizer.

use std::fmt;

/// The template's default `CorsAllowOrigin`: a page served on port 8080 of this machine
/// (`python3 -m http.server 8080`, then `http://localhost:8080/examples/browser/`).
pub const DEFAULT_ALLOW_ORIGIN: &str = "http://localhost:8080";
/// The request headers a script may send (`Access-Control-Allow-Headers`).
pub const ALLOW_HEADERS: [&str; 2] = ["Authorization", "Content-Type"];
/// The response headers a script may read besides the safelisted ones
/// (`Access-Control-Expose-Headers`).
pub const EXPOSE_HEADERS: [&str; 1] = ["WWW-Authenticate"];
/// The methods an HTTP API allows cross-origin (its `CorsConfiguration.AllowMethods`); a REST
/// API's preflight names each resource's own methods, as SAM writes them.
pub const HTTP_ALLOW_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
/// How long a browser may reuse a preflight's answer, in seconds (`Access-Control-Max-Age`).
pub const MAX_AGE_SECONDS: u64 = 600;
/// The challenge on a REST API's 401 (RFC 6750 §3: no `error` attribute, since the same
/// gateway response answers a request without a token).
pub const WWW_AUTHENTICATE: &str = "Bearer realm=\"tollgate\"";

/// Which origins may call the API cross-origin.
///
/// ```
/// use tollgate::cors::CorsSettings;
/// let cors = CorsSettings::default();
/// assert_eq!(cors.allow(Some("http://localhost:8080")), Some("http://localhost:8080"));
/// assert_eq!(cors.allow(Some("https://evil.example")), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorsSettings {
    /// Each an origin (`scheme://host[:port]`), or `*` for any. Never empty.
    origins: Vec<String>,
}

impl Default for CorsSettings {
    fn default() -> Self {
        CorsSettings {
            origins: vec![DEFAULT_ALLOW_ORIGIN.to_string()],
        }
    }
}

/// An allowed origin that is not one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OriginError {
    /// No origins at all.
    Empty,
    /// Not `http://` or `https://` followed by a host and an optional port, with nothing after.
    NotAnOrigin(String),
}

impl fmt::Display for OriginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OriginError::Empty => f.write_str("names no origin (give at least one, or `*`)"),
            OriginError::NotAnOrigin(text) => write!(
                f,
                "{text:?} is not an origin: write scheme://host[:port] as the browser sends it \
                 (http://localhost:8080, no path or trailing slash), or `*`"
            ),
        }
    }
}

impl std::error::Error for OriginError {}

impl CorsSettings {
    /// The settings for these origins, each checked (`*` allows any).
    ///
    /// ```
    /// use tollgate::cors::CorsSettings;
    /// assert!(CorsSettings::new(["https://app.example.com"]).is_ok());
    /// assert!(CorsSettings::new(["https://app.example.com/"]).is_err());
    /// ```
    pub fn new<S: AsRef<str>>(origins: impl IntoIterator<Item = S>) -> Result<Self, OriginError> {
        let origins: Vec<String> = origins
            .into_iter()
            .map(|o| parse_origin(o.as_ref()))
            .collect::<Result<_, _>>()?;
        if origins.is_empty() {
            return Err(OriginError::Empty);
        }
        Ok(CorsSettings { origins })
    }

    /// The allowed origins, as configured (lower case).
    pub fn origins(&self) -> &[String] {
        &self.origins
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`: `*` when any
    /// origin is allowed, the origin itself when it is listed, `None` otherwise (no `Origin`
    /// header included).
    pub fn allow<'a>(&'a self, origin: Option<&'a str>) -> Option<&'a str> {
        let origin = origin?;
        self.origins.iter().find_map(|allowed| {
            if allowed == "*" {
                Some("*")
            } else if allowed.eq_ignore_ascii_case(origin) {
                Some(origin)
            } else {
                None
            }
        })
    }
}

/// Checks one origin as a browser serialises it: `http://` or `https://`, a host of letters,
/// digits, `-` and `.` (or a bracketed IPv6 address), an optional port, nothing after. `*`
/// stands for any origin.
pub fn parse_origin(text: &str) -> Result<String, OriginError> {
    let text = text.trim();
    if text == "*" {
        return Ok(text.to_string());
    }
    let bad = || OriginError::NotAnOrigin(text.to_string());
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let (host_ok, port) = match rest.strip_prefix('[') {
        Some(v6) => {
            let (address, after) = v6.split_once(']').ok_or_else(bad)?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or_else(bad)?),
            };
            let address_ok =
                !address.is_empty() && address.chars().all(|c| c.is_ascii_hexdigit() || c == ':');
            (address_ok, port)
        }
        None => {
            let (host, port) = match rest.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            };
            let host_ok = !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            (host_ok, port)
        }
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()));
    if !(host_ok && port_ok) {
        return Err(bad());
    }
    Ok(text.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_origin_is_echoed_whatever_its_case() {
        let cors = CorsSettings::new(["https://App.example.com"]).unwrap();
        assert_eq!(
            cors.allow(Some("https://app.example.com")),
            Some("https://app.example.com")
        );
    }

    #[test]
    fn an_origin_not_listed_and_a_missing_origin_are_not_allowed() {
        let cors = CorsSettings::new(["https://app.example.com"]).unwrap();
        assert_eq!(cors.allow(Some("https://app.example.com:8443")), None);
        assert_eq!(cors.allow(Some("http://app.example.com")), None);
        assert_eq!(cors.allow(None), None);
    }

    #[test]
    fn a_star_allows_any_origin_with_a_star() {
        let cors = CorsSettings::new(["*"]).unwrap();
        assert_eq!(cors.allow(Some("https://anyone.example")), Some("*"));
    }

    #[test]
    fn origins_with_a_path_a_slash_or_another_scheme_are_refused() {
        for text in [
            "localhost:8080",
            "http://",
            "http://localhost:8080/",
            "http://localhost:8080/app",
            "ftp://localhost",
            "http://local host",
            "http://localhost:",
            "http://localhost:123456",
            "http://[::1",
            "http://[::1]x",
        ] {
            assert!(parse_origin(text).is_err(), "{text}");
        }
        assert!(matches!(
            CorsSettings::new(Vec::<String>::new()),
            Err(OriginError::Empty)
        ));
    }

    #[test]
    fn origins_as_browsers_send_them_are_accepted() {
        for text in [
            "http://localhost:8080",
            "https://app.example.com",
            "http://127.0.0.1:5173",
            "http://[::1]:8080",
        ] {
            assert!(parse_origin(text).is_ok(), "{text}");
        }
    }
}
