//! The standard AWS credential and region chain, as far as a Lambda function and an operator's
//! shell need it: the environment first (Lambda sets it), then the shared `credentials` and
//! `config` files' profile with static keys. Profiles that need a process, SSO or a role are
//! refused with the command that turns them into environment variables.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

/// A checked AWS region name (`us-east-1`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region(String);

impl Region {
    /// Checks a region name: 1 to 32 lowercase letters, digits and dashes.
    pub fn new(name: &str) -> Result<Self, CredentialsError> {
        let name = name.trim();
        let ok = !name.is_empty()
            && name.len() <= 32
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Region(name.to_string()))
        } else {
            Err(CredentialsError::BadRegion)
        }
    }

    /// The name, as signed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The region's public DynamoDB endpoint.
    pub fn dynamodb_endpoint(&self) -> String {
        let suffix = if self.0.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!("https://dynamodb.{}.{suffix}", self.0)
    }
}

/// Static credentials; `Debug` shows the key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, for temporary credentials (Lambda's).
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Why no region or credentials were found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialsError {
    /// No region in the environment or the profile.
    NoRegion,
    /// The region is not a region name.
    BadRegion,
    /// No credentials in the environment or the profile.
    NoCredentials {
        /// The profile looked in.
        profile: String,
    },
    /// Only one of the key id and the secret is set.
    HalfCredentials,
    /// The profile gets its credentials another way (SSO, a role, a process).
    UnsupportedProfile {
        /// The profile.
        profile: String,
        /// The setting that names the other way.
        setting: String,
    },
    /// `AWS_PROFILE` names a profile the files do not have.
    NoSuchProfile {
        /// The profile.
        profile: String,
    },
    /// A shared file exists but cannot be read.
    UnreadableFile {
        /// The file.
        path: String,
        /// Why.
        cause: String,
    },
    /// The endpoint override is not an http(s) URL.
    Endpoint,
}

impl CredentialsError {
    /// The environment variable to look at first.
    pub fn setting(&self) -> &'static str {
        match self {
            CredentialsError::NoRegion | CredentialsError::BadRegion => "AWS_REGION",
            CredentialsError::NoCredentials { .. } | CredentialsError::HalfCredentials => {
                "AWS_ACCESS_KEY_ID"
            }
            CredentialsError::UnsupportedProfile { .. }
            | CredentialsError::NoSuchProfile { .. }
            | CredentialsError::UnreadableFile { .. } => "AWS_PROFILE",
            CredentialsError::Endpoint => "AWS_ENDPOINT_URL_DYNAMODB",
        }
    }
}

const EXPORT_HINT: &str = "run `eval \"$(aws configure export-credentials --format env)\"` first";

impl fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialsError::NoRegion => f.write_str(
                "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or region in the profile)",
            ),
            CredentialsError::BadRegion => {
                f.write_str("the AWS region is not a region name (e.g. us-east-1)")
            }
            CredentialsError::NoCredentials { profile } => write!(
                f,
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give \
                 profile {profile:?} static keys in ~/.aws/credentials ({EXPORT_HINT} for SSO)"
            ),
            CredentialsError::HalfCredentials => {
                f.write_str("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together")
            }
            CredentialsError::UnsupportedProfile { profile, setting } => write!(
                f,
                "profile {profile:?} gets its credentials by {setting}, which tollgate does not \
                 run: {EXPORT_HINT}"
            ),
            CredentialsError::NoSuchProfile { profile } => write!(
                f,
                "AWS_PROFILE names profile {profile:?}, which neither ~/.aws/credentials nor \
                 ~/.aws/config has"
            ),
            CredentialsError::UnreadableFile { path, cause } => {
                write!(f, "cannot read {path}: {cause}")
            }
            CredentialsError::Endpoint => {
                f.write_str("the DynamoDB endpoint override is not an http:// or https:// URL")
            }
        }
    }
}

impl std::error::Error for CredentialsError {}

/// One profile's settings, from both files (the credentials file wins).
type Profile = HashMap<String, String>;

/// The shared files' profile in use, when the files have it.
pub(super) struct SharedFiles {
    name: String,
    profile: Option<Profile>,
}

impl SharedFiles {
    /// Reads the profile `AWS_PROFILE` (else `default`) from `AWS_SHARED_CREDENTIALS_FILE`
    /// (else `~/.aws/credentials`) and `AWS_CONFIG_FILE` (else `~/.aws/config`). A missing
    /// file is no profile; an unreadable one is an error.
    pub(super) fn read(get: &impl Fn(&str) -> Option<String>) -> Result<Self, CredentialsError> {
        let explicit = get("AWS_PROFILE");
        let name = explicit.clone().unwrap_or_else(|| "default".to_string());
        let home = get("HOME").map(PathBuf::from);
        let path = |var: &str, file: &str| {
            get(var)
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".aws").join(file)))
        };
        let mut profile: Option<Profile> = None;
        // The config file names `[profile x]` (and `[default]`); the credentials file `[x]`.
        for (path, section) in [
            (
                path("AWS_CONFIG_FILE", "config"),
                if name == "default" {
                    "default".to_string()
                } else {
                    format!("profile {name}")
                },
            ),
            (
                path("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
                name.clone(),
            ),
        ] {
            let Some(path) = path else { continue };
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(CredentialsError::UnreadableFile {
                        path: path.display().to_string(),
                        cause: e.to_string(),
                    });
                }
            };
            if let Some(found) = ini_section(&text, &section) {
                profile.get_or_insert_with(HashMap::new).extend(found);
            }
        }
        if explicit.is_some() && profile.is_none() {
            return Err(CredentialsError::NoSuchProfile { profile: name });
        }
        Ok(SharedFiles { name, profile })
    }

    fn setting(&self, key: &str) -> Option<&str> {
        self.profile
            .as_ref()
            .and_then(|p| p.get(key))
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// The `key = value` lines of one `[section]` of an INI text, or `None` without the section.
fn ini_section(text: &str, section: &str) -> Option<Profile> {
    let mut found: Option<Profile> = None;
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.split_whitespace().collect::<Vec<_>>().join(" ") == section;
            if inside {
                found.get_or_insert_with(HashMap::new);
            }
            continue;
        }
        if inside && let Some((key, value)) = line.split_once('=') {
            found
                .get_or_insert_with(HashMap::new)
                .insert(key.trim().to_string(), value.trim().to_string());
        }
    }
    found
}

/// The region: `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile's `region`.
pub(super) fn standard_region(
    get: &impl Fn(&str) -> Option<String>,
    files: &SharedFiles,
) -> Result<Region, CredentialsError> {
    let name = get("AWS_REGION")
        .or_else(|| get("AWS_DEFAULT_REGION"))
        .or_else(|| files.setting("region").map(str::to_string))
        .ok_or(CredentialsError::NoRegion)?;
    Region::new(&name)
}

/// The credentials: the environment's keys, then the profile's static keys.
pub(super) fn standard_credentials(
    get: &impl Fn(&str) -> Option<String>,
    files: &SharedFiles,
) -> Result<Credentials, CredentialsError> {
    match (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
        (Some(access_key_id), Some(secret_access_key)) => {
            return Ok(Credentials {
                access_key_id,
                secret_access_key,
                session_token: get("AWS_SESSION_TOKEN"),
            });
        }
        (None, None) => {}
        _ => return Err(CredentialsError::HalfCredentials),
    }
    if let (Some(id), Some(secret)) = (
        files.setting("aws_access_key_id"),
        files.setting("aws_secret_access_key"),
    ) {
        return Ok(Credentials {
            access_key_id: id.to_string(),
            secret_access_key: secret.to_string(),
            session_token: files.setting("aws_session_token").map(str::to_string),
        });
    }
    for setting in [
        "sso_session",
        "sso_start_url",
        "role_arn",
        "credential_process",
        "web_identity_token_file",
    ] {
        if files.setting(setting).is_some() {
            return Err(CredentialsError::UnsupportedProfile {
                profile: files.name.clone(),
                setting: setting.to_string(),
            });
        }
    }
    Err(CredentialsError::NoCredentials {
        profile: files.name.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn files_in(dir: &std::path::Path, config: &str, credentials: &str) -> (String, String) {
        let c = dir.join("config");
        let k = dir.join("credentials");
        std::fs::write(&c, config).unwrap();
        std::fs::write(&k, credentials).unwrap();
        (c.display().to_string(), k.display().to_string())
    }

    #[test]
    fn the_environment_comes_before_the_profile() {
        let get = env(&[
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_SESSION_TOKEN", "t"),
            ("HOME", "/nonexistent"),
        ]);
        let files = SharedFiles::read(&get).unwrap();
        let c = standard_credentials(&get, &files).unwrap();
        assert_eq!(c.access_key_id, "AKIDENV");
        assert_eq!(c.session_token.as_deref(), Some("t"));
    }

    #[test]
    fn a_profile_gives_static_keys_and_its_region() {
        let dir = std::env::temp_dir().join(format!("tollgate-aws-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (c, k) = files_in(
            &dir,
            "[profile ops]\nregion = eu-west-1\n",
            "[default]\naws_access_key_id = A\naws_secret_access_key = B\n[ops]\naws_access_key_id = OPS\naws_secret_access_key = S\n",
        );
        let get = env(&[
            ("AWS_PROFILE", "ops"),
            ("AWS_CONFIG_FILE", &c),
            ("AWS_SHARED_CREDENTIALS_FILE", &k),
        ]);
        let files = SharedFiles::read(&get).unwrap();
        assert_eq!(
            standard_credentials(&get, &files).unwrap().access_key_id,
            "OPS"
        );
        assert_eq!(standard_region(&get, &files).unwrap().as_str(), "eu-west-1");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn an_sso_profile_is_refused_with_the_export_command() {
        let dir = std::env::temp_dir().join(format!("tollgate-aws-sso-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (c, k) = files_in(&dir, "[profile dev]\nsso_session = corp\n", "");
        let get = env(&[
            ("AWS_PROFILE", "dev"),
            ("AWS_CONFIG_FILE", &c),
            ("AWS_SHARED_CREDENTIALS_FILE", &k),
        ]);
        let files = SharedFiles::read(&get).unwrap();
        let e = standard_credentials(&get, &files).unwrap_err();
        assert!(e.to_string().contains("export-credentials"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_named_profile_that_no_file_has_is_an_error() {
        let get = env(&[("AWS_PROFILE", "ghost"), ("HOME", "/nonexistent")]);
        assert!(matches!(
            SharedFiles::read(&get),
            Err(CredentialsError::NoSuchProfile { .. })
        ));
    }

    #[test]
    fn half_a_key_pair_is_an_error() {
        let get = env(&[("AWS_ACCESS_KEY_ID", "A"), ("HOME", "/nonexistent")]);
        let files = SharedFiles::read(&get).unwrap();
        assert_eq!(
            standard_credentials(&get, &files),
            Err(CredentialsError::HalfCredentials)
        );
    }

    #[test]
    fn region_names_are_checked() {
        assert!(Region::new("us-east-1").is_ok());
        for bad in ["", "US-EAST-1", "us east", "a/b", &"x".repeat(33)] {
            assert_eq!(
                Region::new(bad),
                Err(CredentialsError::BadRegion),
                "{bad:?}"
            );
        }
        assert_eq!(
            Region::new("cn-north-1").unwrap().dynamodb_endpoint(),
            "https://dynamodb.cn-north-1.amazonaws.com.cn"
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let c = Credentials {
            access_key_id: "AKID".into(),
            secret_access_key: "very-secret".into(),
            session_token: Some("tok-secret".into()),
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("secret\"") && !shown.contains("very-secret"));
        assert!(!shown.contains("tok-secret"));
    }
}
