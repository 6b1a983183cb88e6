//! DynamoDB's JSON 1.0 protocol over tollgate's reqwest client: one signed `POST` per
//! operation, answers read up to a bound, and errors that say which kind of failure it was.

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

use super::AwsSettings;
use crate::http::{self, BodyError, error_chain};

/// The largest answer read: a `Query` page is at most 1 MB of items, in JSON about 4.
pub const MAX_RESPONSE_BYTES: usize = 4 << 20;

/// The service name requests are signed for.
const SERVICE: &str = "dynamodb";

/// Why a DynamoDB call gave no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DynamoError {
    /// The request could not be signed (the signer's reason).
    Signing(String),
    /// The endpoint could not be reached or did not answer in time (the cause chain).
    Unreachable(String),
    /// DynamoDB answered with an error.
    Service {
        /// The HTTP status.
        status: u16,
        /// The error's type, e.g. `ResourceNotFoundException`.
        code: String,
        /// Its message.
        message: String,
    },
    /// The answer was too large or could not be read.
    Unreadable(String),
}

impl fmt::Display for DynamoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DynamoError::Signing(cause) => write!(f, "cannot sign the DynamoDB request: {cause}"),
            DynamoError::Unreachable(cause) => write!(f, "cannot reach DynamoDB: {cause}"),
            DynamoError::Service {
                status,
                code,
                message,
            } => write!(f, "DynamoDB answered HTTP {status} {code}: {message}"),
            DynamoError::Unreadable(cause) => {
                write!(f, "cannot read DynamoDB's answer: {cause}")
            }
        }
    }
}

impl std::error::Error for DynamoError {}

/// A DynamoDB client: the shared HTTP client, the endpoint and the signing identity.
#[derive(Clone, Debug)]
pub struct DynamoDb {
    http: reqwest::Client,
    settings: AwsSettings,
    timeout: Duration,
}

impl DynamoDb {
    /// A client over `http` for `settings`, each call bounded by `timeout`.
    pub fn new(http: reqwest::Client, settings: AwsSettings, timeout: Duration) -> Self {
        DynamoDb {
            http,
            settings,
            timeout,
        }
    }

    /// The endpoint requests go to.
    pub fn endpoint(&self) -> &str {
        &self.settings.endpoint
    }

    /// Calls `operation` (e.g. `Query`) with its JSON request body; returns the answer's body.
    pub async fn call(&self, operation: &str, body: Vec<u8>) -> Result<Vec<u8>, DynamoError> {
        let url = format!("{}/", self.settings.endpoint);
        let target = format!("DynamoDB_20120810.{operation}");
        let headers = [
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", target.as_str()),
        ];
        let signed = self.sign(&url, &headers, &body)?;
        let mut request = self.http.post(&url).timeout(self.timeout);
        for (name, value) in headers
            .iter()
            .copied()
            .chain(signed.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        {
            request = request.header(name, value);
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| DynamoError::Unreachable(error_chain(e)))?;
        let status = response.status().as_u16();
        let answer = http::read_body(response, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge => {
                    DynamoError::Unreadable(format!("larger than {MAX_RESPONSE_BYTES} bytes"))
                }
                BodyError::Unreadable(cause) => DynamoError::Unreadable(cause),
            })?;
        if (200..300).contains(&status) {
            return Ok(answer);
        }
        Err(service_error(status, &answer))
    }

    /// The SigV4 headers (`authorization`, `x-amz-date`, and `x-amz-security-token` with
    /// temporary credentials) for one request.
    fn sign(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>, DynamoError> {
        let c = &self.settings.credentials;
        let identity = aws_credential_types::Credentials::new(
            c.access_key_id.clone(),
            c.secret_access_key.clone(),
            c.session_token.clone(),
            None,
            "tollgate",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(self.settings.region.as_str())
            .name(SERVICE)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| DynamoError::Signing(e.to_string()))?
            .into();
        let request = SignableRequest::new(
            "POST",
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| DynamoError::Signing(e.to_string()))?;
        let (instructions, _) = sign(request, &params)
            .map_err(|e| DynamoError::Signing(e.to_string()))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect())
    }
}

/// DynamoDB's error body: `{"__type": "...#Code", "message": "..."}` (or `Message`).
fn service_error(status: u16, body: &[u8]) -> DynamoError {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        #[serde(rename = "__type", default)]
        kind: String,
        #[serde(alias = "Message", default)]
        message: String,
    }
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or(ErrorBody {
        kind: String::new(),
        message: String::new(),
    });
    let code = parsed
        .kind
        .rsplit('#')
        .next()
        .filter(|c| !c.is_empty())
        .unwrap_or("UnknownError");
    // A message is DynamoDB's own text; kept short for a log line.
    let message: String = parsed.message.chars().take(300).collect();
    DynamoError::Service {
        status,
        code: code.to_string(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_error_names_its_code_without_the_namespace() {
        let e = service_error(
            400,
            br#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#,
        );
        assert_eq!(
            e,
            DynamoError::Service {
                status: 400,
                code: "ResourceNotFoundException".into(),
                message: "Requested resource not found".into(),
            }
        );
    }

    #[test]
    fn an_unreadable_error_body_is_still_an_error() {
        let e = service_error(500, b"<html>");
        assert!(
            matches!(e, DynamoError::Service { status: 500, ref code, .. } if code == "UnknownError")
        );
    }
}
