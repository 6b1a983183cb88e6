//! Verifies a compact JWS and its claims, with secure defaults.
//!
//! Split the way aws-jwt-verify splits it: parse (size, segments, header, payload), key lookup
//! (`kid` in the JWKS, algorithm fitted to the key), signature (against keys parsed once, by
//! [`crate::signature`]), then claims (`exp`, `nbf`, `iat`, `iss`, `aud`/`client_id`, `token_use`, `sub`).
//! Every failure is a [`Rejection`] with its own reason code.

use std::borrow::Cow;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, AlgorithmFamily};
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};

use crate::errors::{Reason, Rejection};
use crate::jwks::KeySet;
use crate::signature::{MAX_SIGNATURE_BYTES, SignatureKey};

pub use crate::signature::{DEFAULT_ALGORITHMS, HMAC_ALGORITHMS};

/// Whether `b` may appear in a compact JWS: the base64url alphabet and `.`, tested without a
/// branch so that a fold over a token's bytes can be vectorised.
fn is_compact_jws_byte(b: u8) -> bool {
    ((b | 0x20).wrapping_sub(b'a') < 26)
        | (b.wrapping_sub(b'0') < 10)
        | (b == b'-')
        | (b == b'_')
        | (b == b'.')
}

/// Whether every byte of `text` is in the base64url alphabet or a `.`, checked without a
/// branch per byte so that the compiler can vectorise it.
///
/// ```
/// use tollgate::verify::is_compact_jws_text;
/// assert!(is_compact_jws_text("eyJ0.e30.a-b_C9"));
/// assert!(!is_compact_jws_text("a.b,c"));
/// assert!(!is_compact_jws_text("a.b c"));
/// ```
pub fn is_compact_jws_text(text: &str) -> bool {
    text.bytes().fold(true, |ok, b| ok & is_compact_jws_byte(b))
}

/// Latest `exp`/`nbf`/`iat` accepted: 9999-12-31T23:59:59Z.
const MAX_NUMERIC_DATE: f64 = 253_402_300_799.0;

/// The claims of a verified token that tollgate uses downstream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifiedClaims {
    /// `sub`: the principal.
    pub sub: String,
    /// `iss`: the issuer that signed the token.
    pub iss: String,
    /// The app client: Cognito's `client_id`, else `azp`, else a single-valued `aud`.
    pub client_id: Option<String>,
    /// `cognito:username`, else `username`.
    pub username: Option<String>,
    /// Scopes from `scope` and `scp` (string or list), split on spaces only (see
    /// [`scope_tokens`]).
    pub scopes: Vec<String>,
    /// Groups from `cognito:groups`.
    pub groups: Vec<String>,
    /// Cognito's `token_use`, when present.
    pub token_use: Option<String>,
    /// The configured extra claims (plan, tenant, usage key) that the token carries, as
    /// strings (numbers and booleans are written out; other values are left out).
    pub extra: Vec<(String, String)>,
    /// When the token is valid: checked again on every use of a remembered token.
    pub validity: Validity,
    /// `jti`: the token's own id (RFC 7519 §4.1.7), which a revocation can name.
    pub jti: Option<String>,
    /// Cognito's `origin_jti`: the id shared by every token issued from one refresh token,
    /// which a revocation can name to end them all.
    pub origin_jti: Option<String>,
}

/// A token's validity window: its `exp`, and its `nbf` and `iat` when it has them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Validity {
    /// `exp`, in seconds since the epoch.
    pub exp: f64,
    /// `nbf`, in seconds since the epoch.
    pub nbf: Option<f64>,
    /// `iat`, in seconds since the epoch.
    pub iat: Option<f64>,
}

// NumericDates are checked finite and in range when read, so equality is total.
impl Eq for Validity {}

impl Validity {
    /// Whether the token is valid at `now` with `leeway` seconds of clock skew: `exp` not
    /// passed, `nbf` and `iat` not in the future.
    pub fn check(&self, now: f64, leeway: f64) -> Result<(), Rejection> {
        let exp = self.exp;
        if now >= exp + leeway {
            return Err(reject(
                Reason::Expired,
                format!("exp {exp} is not after now {now} (leeway {leeway} s)"),
            ));
        }
        if let Some(nbf) = self.nbf
            && nbf > now + leeway
        {
            return Err(reject(
                Reason::NotYetValid,
                format!("nbf {nbf} is after now {now}"),
            ));
        }
        if let Some(iat) = self.iat
            && iat > now + leeway
        {
            return Err(reject(
                Reason::IssuedInFuture,
                format!("iat {iat} is after now {now}"),
            ));
        }
        Ok(())
    }
}

impl VerifiedClaims {
    /// The value of a configured extra claim.
    pub fn extra(&self, name: &str) -> Option<&str> {
        self.extra
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Which Cognito token type is accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenUse {
    /// Cognito ID tokens (`token_use: id`, audience in `aud`).
    Id,
    /// Cognito access tokens (`token_use: access`, audience in `client_id`).
    Access,
}

impl TokenUse {
    /// The claim value this token use stands for.
    pub fn as_claim(self) -> &'static str {
        match self {
            TokenUse::Id => "id",
            TokenUse::Access => "access",
        }
    }
}

impl std::str::FromStr for TokenUse {
    type Err = UnknownTokenUse;

    /// `id` or `access` (surrounding whitespace ignored); anything else says what it is not.
    fn from_str(value: &str) -> Result<Self, UnknownTokenUse> {
        match value.trim() {
            "id" => Ok(TokenUse::Id),
            "access" => Ok(TokenUse::Access),
            other => Err(UnknownTokenUse(other.to_string())),
        }
    }
}

/// A configured `token_use` that is neither `id` nor `access` (the value, trimmed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownTokenUse(pub String);

impl fmt::Display for UnknownTokenUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not `id` or `access`", self.0)
    }
}

impl std::error::Error for UnknownTokenUse {}

/// A secret that never shows up in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps the secret's bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }

    /// The secret's bytes, for building the verification key.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// What a [`Verifier`] checks beyond one issuer's own rules: the algorithm allow-list, the
/// clock-skew leeway, the token size cap and the extra claims to read. (A shared secret belongs
/// to one issuer: see [`IssuerPolicy::hmac_secret`].)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierSettings {
    /// Algorithms accepted in the header.
    pub algorithms: Vec<Algorithm>,
    /// Clock-skew allowance for `exp`, `nbf` and `iat`, in seconds.
    pub leeway_seconds: u64,
    /// Longest token accepted, in bytes.
    pub max_token_bytes: usize,
    /// Claims besides the registered ones to copy into [`VerifiedClaims::extra`].
    pub extra_claims: Vec<String>,
}

/// The rules for one trusted issuer: its exact `iss`, audiences, Cognito `token_use` and
/// shared secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerPolicy {
    /// The exact `iss` value.
    pub issuer: String,
    /// Accepted audiences (`aud`, or `client_id` when there is no `aud`).
    pub audiences: Vec<String>,
    /// Required `token_use`, if any.
    pub token_use: Option<TokenUse>,
    /// This issuer's secret for HS256/384/512; its HS* tokens are refused without one, and no
    /// other issuer's tokens are ever checked against it.
    pub hmac_secret: Option<Secret>,
}

/// A trusted issuer ready for verification: its rules, and its shared secret parsed once into
/// HMAC keys.
pub struct TrustedIssuer {
    policy: IssuerPolicy,
    hmac_key: Option<SignatureKey>,
}

impl TrustedIssuer {
    /// Prepares an issuer's rules for verification.
    pub fn new(policy: IssuerPolicy) -> Self {
        let hmac_key = policy
            .hmac_secret
            .as_ref()
            .map(|s| SignatureKey::secret(s.expose()));
        TrustedIssuer { policy, hmac_key }
    }

    /// The issuer's rules.
    pub fn policy(&self) -> &IssuerPolicy {
        &self.policy
    }
}

/// A token verifier built once from the configuration.
///
/// Verification runs in four steps, so that the caller can route the token to its issuer and
/// fetch keys in between: [`Verifier::parse`], [`Verifier::select_key`],
/// [`Verifier::check_signature`] and [`Verifier::check_claims`]. [`Verifier::verify`] runs
/// them all against a key set in hand.
///
/// ```
/// use tollgate::{config::Config, errors::Reason, jwks::KeySet, verify::{TrustedIssuer, Verifier}};
/// let config = Config::from_lookup(|k| match k {
///     "JWT_ISSUER" => Some("https://issuer.example".into()),
///     "JWT_AUDIENCE" => Some("app".into()),
///     _ => None,
/// }).unwrap();
/// let verifier = Verifier::new(&config.verifier_settings());
/// let issuer = TrustedIssuer::new(config.issuers[0].policy());
/// // alg "none": {"alg":"none"} . {} . (no signature)
/// let err = verifier.verify("eyJhbGciOiJub25lIn0.e30.", &issuer, &KeySet::default(), 0).unwrap_err();
/// assert_eq!(err.reason, Reason::AlgNotAllowed);
/// ```
pub struct Verifier {
    extra_claims: Vec<String>,
    leeway: f64,
    max_token_bytes: usize,
    algorithms: Vec<Algorithm>,
}

/// A token that parsed, whose signature and claims are not yet checked.
pub struct Unverified<'a> {
    alg: Algorithm,
    kid: Option<String>,
    payload: Payload,
    payload_json: Vec<u8>,
    signing_input: &'a [u8],
    signature: &'a str,
}

impl Unverified<'_> {
    /// The header's algorithm (already on the allow-list).
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// Whether the token uses a shared secret rather than a JWKS key.
    pub fn is_hmac(&self) -> bool {
        is_hmac(self.alg)
    }

    /// The header's `kid`, required for every JWKS key.
    pub fn kid(&self) -> Result<&str, Rejection> {
        self.kid
            .as_deref()
            .ok_or_else(|| reject(Reason::MissingKid, "header has no `kid`"))
    }

    /// The unverified `iss`, used only to pick the issuer whose keys and rules apply.
    pub fn issuer(&self) -> Result<&str, Rejection> {
        self.payload
            .iss
            .as_deref()
            .ok_or_else(|| reject(Reason::MissingClaim, "no `iss` claim"))
    }
}

#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow, default)]
    alg: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    cty: Option<Cow<'a, str>>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
    #[serde(default)]
    jku: Option<IgnoredAny>,
    #[serde(default)]
    x5u: Option<IgnoredAny>,
    #[serde(default)]
    jwk: Option<IgnoredAny>,
    #[serde(default)]
    x5c: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Payload {
    #[serde(default, deserialize_with = "numeric_date")]
    exp: Option<f64>,
    #[serde(default, deserialize_with = "numeric_date")]
    nbf: Option<f64>,
    #[serde(default, deserialize_with = "numeric_date")]
    iat: Option<f64>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    aud: Option<OneOrMany>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    token_use: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    scp: Option<OneOrMany>,
    #[serde(rename = "cognito:groups", default)]
    groups: Option<Vec<String>>,
    #[serde(rename = "cognito:username", default)]
    cognito_username: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    origin_jti: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn as_slice(&self) -> &[String] {
        match self {
            OneOrMany::One(one) => std::slice::from_ref(one),
            OneOrMany::Many(many) => many,
        }
    }
}

/// A NumericDate (RFC 7519 §2): a JSON number of seconds, finite and within year 9999.
fn numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let value = f64::deserialize(d)?;
    if !(0.0..=MAX_NUMERIC_DATE).contains(&value) {
        return Err(serde::de::Error::custom(format!(
            "NumericDate {value} is out of range"
        )));
    }
    Ok(Some(value))
}

fn reject(reason: Reason, detail: impl Into<String>) -> Rejection {
    Rejection::new(reason, detail)
}

fn decode_segment(segment: &str, what: &str) -> Result<Vec<u8>, Rejection> {
    URL_SAFE_NO_PAD.decode(segment).map_err(|e| {
        reject(
            Reason::MalformedToken,
            format!("{what} is not base64url: {e}"),
        )
    })
}

/// Why a header or payload segment is not the JSON object it must be. It never quotes the
/// JSON (serde's messages quote the offending value, which the caller wrote): only the kind of
/// problem and where it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ObjectError {
    /// Not an object at all (an array, a string, nothing).
    NotAnObject,
    /// An object serde could not read: what kind of problem, and at which column.
    Unreadable {
        kind: serde_json::error::Category,
        column: usize,
    },
}

impl fmt::Display for ObjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use serde_json::error::Category;
        match *self {
            ObjectError::NotAnObject => f.write_str("not a JSON object"),
            ObjectError::Unreadable { kind, column } => {
                let kind = match kind {
                    Category::Data => "a member has the wrong type, range or count",
                    Category::Syntax => "not valid JSON",
                    Category::Eof => "JSON cut short",
                    Category::Io => "unreadable",
                };
                write!(f, "{kind} (at column {column})")
            }
        }
    }
}

/// Parses a JSON object. serde would also read a JSON array into a struct, field by field,
/// which a JOSE header or claims set must never be.
fn parse_object<'a, T: Deserialize<'a>>(json: &'a [u8]) -> Result<T, ObjectError> {
    match json.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => serde_json::from_slice(json).map_err(|e| ObjectError::Unreadable {
            kind: e.classify(),
            column: e.column(),
        }),
        _ => Err(ObjectError::NotAnObject),
    }
}

/// The scope tokens of a `scope` value (RFC 6749 section 3.3): separated by a space (%x20)
/// and by nothing else, so `"profile\u{a0}admin"` is one token, not `admin`. A token with a
/// character outside the grammar (`%x21 / %x23-5B / %x5D-7E`: any other whitespace, a control
/// or non-ASCII character, `"` or `\`) is left out: it can match no configured scope, and is
/// not handed on in the context, where a backend might split it differently.
///
/// ```
/// use tollgate::verify::scope_tokens;
/// let tokens: Vec<&str> = scope_tokens("read  write profile\u{a0}admin").collect();
/// assert_eq!(tokens, ["read", "write"]);
/// ```
pub fn scope_tokens(scope: &str) -> impl Iterator<Item = &str> {
    scope.split(' ').filter(|token| {
        !token.is_empty()
            && token
                .bytes()
                .all(|b| matches!(b, 0x21 | 0x23..=0x5b | 0x5d..=0x7e))
    })
}

/// Why a header `alg` is refused, as a detail may show it: a known algorithm by its name,
/// `none` (in whatever case it came), else a placeholder. Never the caller's text itself.
fn alg_not_allowed(name: &str, known: Option<Algorithm>) -> Rejection {
    let detail = match known {
        Some(alg) => format!("alg {alg:?} is not allowed"),
        None if name.eq_ignore_ascii_case("none") => "alg none is not allowed".to_string(),
        None => "alg (unknown) is not allowed".to_string(),
    };
    reject(Reason::AlgNotAllowed, detail)
}

fn is_hmac(alg: Algorithm) -> bool {
    alg.family() == AlgorithmFamily::Hmac
}

impl Verifier {
    /// Builds a verifier from validated settings.
    pub fn new(settings: &VerifierSettings) -> Self {
        Verifier {
            extra_claims: settings.extra_claims.clone(),
            leeway: settings.leeway_seconds as f64,
            max_token_bytes: settings.max_token_bytes,
            algorithms: settings.algorithms.clone(),
        }
    }

    /// Verifies `token` against one issuer's rules, secret and key set at `now` (Unix seconds).
    pub fn verify(
        &self,
        token: &str,
        issuer: &TrustedIssuer,
        keys: &KeySet,
        now: u64,
    ) -> Result<VerifiedClaims, Rejection> {
        let unverified = self.parse(token)?;
        let key = self.select_key(&unverified, issuer, Some(keys))?;
        self.check_signature(&unverified, key)?;
        self.check_claims(unverified, issuer.policy(), now)
    }

    /// Step 1: size, segments, header rules and the algorithm allow-list, and the payload's
    /// structure. Nothing here is trusted yet.
    pub fn parse<'a>(&self, token: &'a str) -> Result<Unverified<'a>, Rejection> {
        if token.len() > self.max_token_bytes {
            return Err(reject(
                Reason::TokenTooLarge,
                format!(
                    "token is {} bytes, the cap is {}",
                    token.len(),
                    self.max_token_bytes
                ),
            ));
        }
        if !is_compact_jws_text(token)
            && let Some(bad) = token.bytes().find(|b| !is_compact_jws_byte(*b))
        {
            return Err(reject(
                Reason::MalformedToken,
                format!("token has a character outside base64url: byte 0x{bad:02x}"),
            ));
        }
        let mut segments = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            let detail = match token.split('.').count() {
                5 => "token has 5 segments: encrypted tokens (JWE) are not accepted".to_string(),
                n => format!("token has {n} segments, a JWS has 3"),
            };
            return Err(reject(Reason::MalformedToken, detail));
        };
        let header_json = decode_segment(header_b64, "header")?;
        let header: Header = parse_object(&header_json).map_err(|e| {
            reject(
                Reason::MalformedHeader,
                format!("header is not a valid JOSE header: {e}"),
            )
        })?;
        if header.crit.is_some() {
            return Err(reject(
                Reason::CritHeader,
                "header has `crit`; no extensions are supported",
            ));
        }
        for (name, present) in [
            ("jku", header.jku.is_some()),
            ("x5u", header.x5u.is_some()),
            ("jwk", header.jwk.is_some()),
            ("x5c", header.x5c.is_some()),
        ] {
            if present {
                return Err(reject(
                    Reason::UntrustedKeyHeader,
                    format!("header names its own key (`{name}`); keys come only from the JWKS"),
                ));
            }
        }
        if header
            .cty
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case("JWT"))
        {
            return Err(reject(
                Reason::NestedJwt,
                "header has `cty: JWT`; nested tokens are not accepted",
            ));
        }
        let alg_name = header
            .alg
            .as_deref()
            .ok_or_else(|| reject(Reason::MalformedHeader, "header has no `alg`"))?;
        // jsonwebtoken's names: exact and case-sensitive, and never `none`.
        let known = alg_name.parse::<Algorithm>().ok();
        let alg = known
            .filter(|alg| self.algorithms.contains(alg))
            .ok_or_else(|| alg_not_allowed(alg_name, known))?;
        let payload_json = decode_segment(payload_b64, "payload")?;
        let payload: Payload = parse_object(&payload_json).map_err(|e| {
            reject(
                Reason::MalformedClaims,
                format!("payload is not a valid claims set: {e}"),
            )
        })?;
        Ok(Unverified {
            alg,
            kid: header.kid.map(Cow::into_owned),
            payload,
            payload_json,
            signing_input: &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()],
            signature,
        })
    }

    /// Step 2: the key that must have signed the token: for HS*, the shared secret of the
    /// issuer the token was routed to (by its `iss`) and of no other; else the key set's key for
    /// the `kid`, whose type and own `alg` must fit the header's `alg`.
    pub fn select_key<'k>(
        &self,
        token: &Unverified<'_>,
        issuer: &'k TrustedIssuer,
        keys: Option<&'k KeySet>,
    ) -> Result<&'k SignatureKey, Rejection> {
        let alg = token.alg;
        if is_hmac(alg) {
            return issuer.hmac_key.as_ref().ok_or_else(|| {
                reject(
                    Reason::AlgNotAllowed,
                    format!("{alg:?} needs a secret, and the token's issuer has none"),
                )
            });
        }
        let kid = token.kid()?;
        let key = keys.and_then(|keys| keys.get(kid)).ok_or_else(|| {
            reject(
                Reason::UnknownKid,
                "no key with the token's kid in the JWKS",
            )
        })?;
        if !key.key_type.fits(alg) {
            return Err(reject(
                Reason::AlgKeyMismatch,
                format!("alg {alg:?} does not fit the {:?} key", key.key_type),
            ));
        }
        if key.alg.is_some_and(|key_alg| key_alg != alg) {
            return Err(reject(
                Reason::AlgKeyMismatch,
                format!("alg {alg:?} is not the key's own alg {:?}", key.alg),
            ));
        }
        Ok(&key.key)
    }

    /// Step 3: the signature over the signing input, with the key parsed at load.
    pub fn check_signature(
        &self,
        token: &Unverified<'_>,
        key: &SignatureKey,
    ) -> Result<(), Rejection> {
        let mut signature = [0u8; MAX_SIGNATURE_BYTES];
        let len = URL_SAFE_NO_PAD
            .decode_slice(token.signature, &mut signature)
            .map_err(|e| {
                reject(
                    Reason::MalformedToken,
                    format!("signature is not base64url or is too long: {e}"),
                )
            })?;
        if !key.admits(token.alg) {
            return Err(reject(
                Reason::AlgKeyMismatch,
                format!("the key cannot verify {:?}", token.alg),
            ));
        }
        if key.verifies(token.alg, token.signing_input, &signature[..len]) {
            Ok(())
        } else {
            Err(reject(
                Reason::BadSignature,
                format!("{:?} signature does not verify", token.alg),
            ))
        }
    }

    /// Step 4: the claims, against the issuer's rules, at `now` (Unix seconds).
    pub fn check_claims(
        &self,
        token: Unverified<'_>,
        issuer: &IssuerPolicy,
        now: u64,
    ) -> Result<VerifiedClaims, Rejection> {
        let extra = self.extra_claims(&token.payload_json);
        let mut claims = self.claims(token.payload, issuer, now as f64)?;
        claims.extra = extra;
        Ok(claims)
    }

    /// Reads the configured extra claims; a second parse, done only when some are configured.
    fn extra_claims(&self, payload_json: &[u8]) -> Vec<(String, String)> {
        if self.extra_claims.is_empty() {
            return Vec::new();
        }
        let Ok(map) =
            serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(payload_json)
        else {
            return Vec::new();
        };
        self.extra_claims
            .iter()
            .filter_map(|name| {
                let value = match map.get(name)? {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::Bool(b) => b.to_string(),
                    _ => return None,
                };
                Some((name.clone(), value))
            })
            .collect()
    }

    fn claims(
        &self,
        p: Payload,
        issuer: &IssuerPolicy,
        now: f64,
    ) -> Result<VerifiedClaims, Rejection> {
        let exp = p
            .exp
            .ok_or_else(|| reject(Reason::MissingClaim, "no `exp` claim"))?;
        let validity = Validity {
            exp,
            nbf: p.nbf,
            iat: p.iat,
        };
        validity.check(now, self.leeway)?;
        let iss = p
            .iss
            .ok_or_else(|| reject(Reason::MissingClaim, "no `iss` claim"))?;
        if iss != issuer.issuer {
            return Err(reject(
                Reason::WrongIssuer,
                "the token's iss is not the issuer it was routed to",
            ));
        }
        match (&p.aud, &p.client_id) {
            (Some(aud), _) => {
                if !aud.as_slice().iter().any(|a| issuer.audiences.contains(a)) {
                    return Err(reject(
                        Reason::WrongAudience,
                        "no `aud` value is a configured audience",
                    ));
                }
            }
            (None, Some(client_id)) => {
                if !issuer.audiences.contains(client_id) {
                    return Err(reject(
                        Reason::WrongAudience,
                        "`client_id` is not a configured audience",
                    ));
                }
            }
            (None, None) => {
                return Err(reject(
                    Reason::WrongAudience,
                    "token has neither `aud` nor `client_id`",
                ));
            }
        }
        if let Some(wanted) = issuer.token_use
            && p.token_use.as_deref() != Some(wanted.as_claim())
        {
            return Err(reject(
                Reason::WrongTokenUse,
                format!(
                    "token_use is {}, expected {:?}",
                    match p.token_use.as_deref() {
                        None => "missing",
                        Some("id") => "\"id\"",
                        Some("access") => "\"access\"",
                        Some(_) => "another value",
                    },
                    wanted.as_claim()
                ),
            ));
        }
        let sub = p
            .sub
            .filter(|s| !s.is_empty())
            .ok_or_else(|| reject(Reason::MissingClaim, "no `sub` claim"))?;

        let single_aud = match &p.aud {
            Some(OneOrMany::One(a)) => Some(a.clone()),
            Some(OneOrMany::Many(many)) if many.len() == 1 => many.first().cloned(),
            _ => None,
        };
        let mut scopes: Vec<String> = Vec::new();
        let listed = p
            .scope
            .iter()
            .chain(p.scp.iter().flat_map(OneOrMany::as_slice));
        for s in listed.flat_map(|s| scope_tokens(s)) {
            if !scopes.iter().any(|have| have == s) {
                scopes.push(s.to_string());
            }
        }
        Ok(VerifiedClaims {
            sub,
            iss,
            client_id: p.client_id.or(p.azp).or(single_aud),
            username: p.cognito_username.or(p.username),
            scopes,
            groups: p.groups.unwrap_or_default(),
            token_use: p.token_use,
            extra: Vec::new(),
            validity,
            jti: p.jti,
            origin_jti: p.origin_jti,
        })
    }

    /// Checks a remembered token's validity window again at `now` (Unix seconds), with the
    /// configured leeway.
    pub fn check_validity(&self, validity: &Validity, now: u64) -> Result<(), Rejection> {
        validity.check(now as f64, self.leeway)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_jws_text_is_exactly_the_base64url_alphabet_and_dot() {
        for b in 0..=127u8 {
            let text = char::from(b).to_string();
            let in_alphabet = b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.';
            assert_eq!(is_compact_jws_text(&text), in_alphabet, "byte {b:#04x}");
        }
        assert!(!is_compact_jws_text("\u{e9}"));
    }

    #[test]
    fn a_refused_alg_is_shown_by_its_name_as_none_or_as_a_placeholder_never_as_sent() {
        let detail = |name: &str| {
            let known = name.parse::<Algorithm>().ok();
            alg_not_allowed(name, known).detail
        };
        assert_eq!(detail("HS256"), "alg HS256 is not allowed");
        assert_eq!(detail("EdDSA"), "alg EdDSA is not allowed");
        assert_eq!(detail("nOnE"), "alg none is not allowed");
        assert_eq!(detail("rs256"), "alg (unknown) is not allowed");
        assert_eq!(detail("CALLER-TEXT"), "alg (unknown) is not allowed");
    }
}
