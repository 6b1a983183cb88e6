//! AWS, without the SDK: the standard credential and region chain, and a DynamoDB client that
//! signs its JSON requests with `aws-sigv4` over tollgate's one reqwest client.
//!
//! BENCHMARKS.md has the measurement behind the choice: the SDK (`aws-config`,
//! `aws-sdk-dynamodb`) grew the arm64 bootstrap by 62% and the init by a second CA store load;
//! two requests (`Query`, `PutItem`) do not need it.

mod credentials;
mod dynamodb;

pub use credentials::{Credentials, CredentialsError, Region};
pub use dynamodb::{DynamoDb, DynamoError};

/// Where and as whom tollgate talks to AWS: built once, from the environment (and, for the
/// command line, the shared config files).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsSettings {
    /// The region requests are signed for.
    pub region: Region,
    /// The DynamoDB endpoint: `AWS_ENDPOINT_URL_DYNAMODB`, else `AWS_ENDPOINT_URL`, else the
    /// region's public endpoint.
    pub endpoint: String,
    /// The signing credentials.
    pub credentials: Credentials,
}

impl AwsSettings {
    /// The standard chain: region from `AWS_REGION`, `AWS_DEFAULT_REGION` or the profile;
    /// credentials from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN` (what
    /// Lambda sets), else the shared files' profile (`AWS_PROFILE`, else `default`).
    pub fn from_lookup(var: &impl Fn(&str) -> Option<String>) -> Result<Self, CredentialsError> {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let files = credentials::SharedFiles::read(&get)?;
        let region = credentials::standard_region(&get, &files)?;
        let credentials = credentials::standard_credentials(&get, &files)?;
        let endpoint = match get("AWS_ENDPOINT_URL_DYNAMODB").or_else(|| get("AWS_ENDPOINT_URL")) {
            Some(url) => {
                let url = url.trim().trim_end_matches('/').to_string();
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(CredentialsError::Endpoint);
                }
                url
            }
            None => region.dynamodb_endpoint(),
        };
        Ok(AwsSettings {
            region,
            endpoint,
            credentials,
        })
    }
}
