//! Differential test: tollgate and aws-jwt-verify decide the same corpus of tokens (valid ones,
//! the attack corpus, and seeded random mutations of valid ones) against the same JWKS, issuer,
//! audience and leeway, and must make the same accept/reject decision on every token, except
//! where tollgate is stricter by design, which is listed case by case with the expected side.
//!
//! Needs node and aws-jwt-verify (`scripts/peers/install.sh`), so it is `#[ignore]`d in a plain
//! `cargo test`; `scripts/test` runs it with `cargo test --test suite differential:: -- --ignored`.

use crate::common;

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use tollgate::jwks::KeySet;
use tollgate::verify::{TrustedIssuer, Verifier};

/// Why tollgate rejects a token that aws-jwt-verify accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stricter {
    /// `jku`/`x5u`/`jwk`/`x5c`: a token naming its own key is refused, not ignored.
    KeyHeader,
    /// `crit`: no extension is understood, so RFC 7515 §4.1.11 says reject.
    Crit,
    /// `cty: JWT`: nested tokens are refused.
    Nested,
    /// `iat` beyond the leeway in the future.
    IssuedInFuture,
    /// Over the 8 KiB token cap.
    TooLarge,
    /// No `exp`: aws-jwt-verify's generic verifier accepts a token that never expires;
    /// tollgate requires `exp`.
    MissingExp,
    /// A NumericDate past the year 9999.
    DateOutOfRange,
    /// A JSON object with a repeated member name (RFC 7515 §5.2 says reject or use the last
    /// value; tollgate rejects).
    DuplicateMember,
    /// base64url with non-zero trailing bits: not the canonical encoding of any bytes.
    NonCanonicalBase64,
}

struct Case {
    name: String,
    token: String,
    /// `None`: both must decide alike. `Some`: tollgate rejects and aws-jwt-verify accepts.
    stricter: Option<Stricter>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn claims(now: u64) -> Value {
    json!({
        "sub": "789012",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "token_use": "id",
        "iat": now - 60,
        "exp": now + 3600,
    })
}

fn header(alg: Algorithm) -> Value {
    json!({"alg": format!("{alg:?}"), "typ": "JWT", "kid": kid_for(alg)})
}

/// Signs raw header and payload text (so that it can hold what `json!` cannot, like
/// duplicate members).
fn sign_text(header: &str, payload: &str, alg: Algorithm, key: &EncodingKey) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).expect("sign");
    format!("{input}.{signature}")
}

/// A small deterministic generator (xorshift64*), so the corpus is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Whether two base64url segments decode to the same bytes when trailing bits are ignored
/// (what Node's decoder does).
fn same_bytes_leniently(a: &str, b: &str) -> bool {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let lenient = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    matches!((lenient.decode(a), lenient.decode(b)), (Ok(x), Ok(y)) if x == y)
}

fn corpus(now: u64) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |name: &str, token: String, stricter: Option<Stricter>| {
        cases.push(Case {
            name: name.to_string(),
            token,
            stricter,
        })
    };
    let base = claims(now);
    let rsa = signing_key(Algorithm::RS256);

    // Valid tokens, one per algorithm the JWKS holds.
    let mut valid = Vec::new();
    for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
        let token = sign_raw(&header(alg), &base, alg, &signing_key(alg));
        add(&format!("valid {alg:?}"), token.clone(), None);
        valid.push(token);
    }
    add(
        "valid RS256 with aud array holding the client",
        sign(
            Algorithm::RS256,
            &with(base.clone(), json!({"aud": ["other", AUDIENCE]})),
        ),
        None,
    );

    // Algorithms.
    for alg in ["none", "None", "NONE", "nOnE"] {
        let h = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": RSA_KID}).to_string());
        let p = URL_SAFE_NO_PAD.encode(base.to_string());
        add(&format!("alg {alg}"), format!("{h}.{p}."), None);
    }
    let public_pem = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(repo_path("events/dev-keys/DEV-ONLY-rsa-private.pem"))
        .output()
        .expect("openssl runs")
        .stdout;
    assert!(public_pem.starts_with(b"-----BEGIN PUBLIC KEY-----"));
    add(
        "HS256 signed with the RSA public key (algorithm confusion)",
        sign_raw(
            &json!({"alg": "HS256", "kid": RSA_KID}),
            &base,
            Algorithm::HS256,
            &EncodingKey::from_secret(&public_pem),
        ),
        None,
    );
    add(
        "ES256 header on the RSA key",
        sign_raw(
            &json!({"alg": "ES256", "kid": RSA_KID}),
            &base,
            Algorithm::ES256,
            &signing_key(Algorithm::ES256),
        ),
        None,
    );
    add(
        "RS384 against a key whose own alg is RS256",
        sign_raw(
            &json!({"alg": "RS384", "kid": RSA_KID}),
            &base,
            Algorithm::RS384,
            &rsa,
        ),
        None,
    );
    {
        let good = &valid[1];
        let (input, _) = good.rsplit_once('.').expect("token");
        add(
            "ES256 signature of zeros (CVE-2022-21449)",
            format!("{input}.{}", URL_SAFE_NO_PAD.encode([0u8; 64])),
            None,
        );
    }

    // Key ids.
    for kid in [
        "../../etc/passwd".to_string(),
        "' OR '1'='1".to_string(),
        "k".repeat(4000),
        String::new(),
    ] {
        add(
            &format!("kid {:.20}", kid),
            sign_raw(
                &json!({"alg": "RS256", "kid": kid}),
                &base,
                Algorithm::RS256,
                &rsa,
            ),
            None,
        );
    }
    add(
        "no kid",
        sign_raw(&json!({"alg": "RS256"}), &base, Algorithm::RS256, &rsa),
        None,
    );
    add(
        "forged by a key outside the JWKS",
        sign_raw(
            &header(Algorithm::RS256),
            &base,
            Algorithm::RS256,
            &untrusted_rsa_key(),
        ),
        None,
    );

    // Headers tollgate refuses although the signature is good.
    for (name, value) in [
        ("jku", json!("https://attacker.example/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        ("jwk", json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"})),
        ("x5c", json!(["MIIB"])),
    ] {
        let mut h = header(Algorithm::RS256);
        h[name] = value;
        add(
            &format!("{name} header"),
            sign_raw(&h, &base, Algorithm::RS256, &rsa),
            Some(Stricter::KeyHeader),
        );
    }
    let mut h = header(Algorithm::RS256);
    h["crit"] = json!(["exp"]);
    add(
        "crit header",
        sign_raw(&h, &base, Algorithm::RS256, &rsa),
        Some(Stricter::Crit),
    );
    let mut h = header(Algorithm::RS256);
    h["cty"] = json!("JWT");
    add(
        "cty JWT (nested)",
        sign_raw(&h, &base, Algorithm::RS256, &rsa),
        Some(Stricter::Nested),
    );

    // Structure.
    let (h, rest) = valid[0].split_once('.').expect("token");
    let (p, s) = rest.split_once('.').expect("token");
    add("JWE (five segments)", format!("{h}.{p}.{s}.e30.e30"), None);
    add("two segments", format!("{h}.{p}"), None);
    add("four segments", format!("{h}.{p}.{s}.{s}"), None);
    add("padded payload", format!("{h}.{p}==.{s}"), None);
    add(
        "standard base64 alphabet",
        format!("{h}.{}.{s}", p.replace('-', "+").replace('_', "/")),
        None,
    );
    add("empty", String::new(), None);
    for (name, header_text) in [
        ("header not JSON", "not json"),
        ("header a JSON array", r#"["RS256"]"#),
        ("header a JSON string", r#""RS256""#),
    ] {
        add(
            name,
            sign_text(header_text, &base.to_string(), Algorithm::RS256, &rsa),
            None,
        );
    }
    let hdr = header(Algorithm::RS256).to_string();
    for (name, payload_text) in [
        ("payload not JSON", "not json".to_string()),
        ("payload a JSON array", "[1,2]".to_string()),
        ("payload null", "null".to_string()),
    ] {
        add(
            name,
            sign_text(&hdr, &payload_text, Algorithm::RS256, &rsa),
            None,
        );
    }
    let body = base.to_string();
    let duplicated = format!(r#"{{"iss":"https://attacker.example",{}"#, &body[1..]);
    add(
        "duplicate iss member",
        sign_text(&hdr, &duplicated, Algorithm::RS256, &rsa),
        Some(Stricter::DuplicateMember),
    );

    // Claims.
    let signed = |changes: Value| sign(Algorithm::RS256, &with(base.clone(), changes));
    add("expired", signed(json!({"exp": now - 3600})), None);
    add(
        "exp as a string",
        signed(json!({"exp": (now + 3600).to_string()})),
        None,
    );
    add(
        "exp missing",
        signed(json!({"exp": null})),
        Some(Stricter::MissingExp),
    );
    add(
        "exp 1e300",
        signed(json!({"exp": 1e300})),
        Some(Stricter::DateOutOfRange),
    );
    add(
        "nbf in the future",
        signed(json!({"nbf": now + 3600})),
        None,
    );
    add("nbf as a string", signed(json!({"nbf": "soon"})), None);
    add(
        "iat in the future",
        signed(json!({"iat": now + 3600})),
        Some(Stricter::IssuedInFuture),
    );
    add("iat as a string", signed(json!({"iat": "now"})), None);
    add(
        "aud without a match",
        signed(json!({"aud": "someone-else"})),
        None,
    );
    add(
        "aud array without a match",
        signed(json!({"aud": ["a", "b"]})),
        None,
    );
    add("aud missing", signed(json!({"aud": null})), None);
    add(
        "iss with a trailing slash",
        signed(json!({"iss": format!("{ISSUER}/")})),
        None,
    );
    add(
        "iss in upper case",
        signed(json!({"iss": ISSUER.to_uppercase()})),
        None,
    );
    add("iss missing", signed(json!({"iss": null})), None);
    add(
        "oversized (valid, 9 KiB)",
        signed(json!({"padding": "x".repeat(9 * 1024)})),
        Some(Stricter::TooLarge),
    );

    // Seeded random mutations of the valid tokens: one character replaced, or one removed.
    let mut rng = Rng(0x7011_6a7e_d1ff_5eed);
    for i in 0..240 {
        let original = &valid[i % valid.len()];
        let mut bytes = original.as_bytes().to_vec();
        let at = rng.below(bytes.len());
        if bytes[at] == b'.' {
            continue;
        }
        if rng.below(4) == 0 {
            bytes.remove(at);
        } else {
            bytes[at] = ALPHABET[rng.below(ALPHABET.len())];
        }
        let Ok(token) = String::from_utf8(bytes) else {
            continue;
        };
        if token == *original {
            continue;
        }
        // A change in the last character of a segment may flip only its unused trailing bits:
        // Node decodes that to the original bytes, tollgate refuses the non-canonical text.
        let lenient_same = token
            .split('.')
            .zip(original.split('.'))
            .all(|(a, b)| same_bytes_leniently(a, b));
        let stricter = lenient_same.then_some(Stricter::NonCanonicalBase64);
        add(&format!("mutation {i} at byte {at}"), token, stricter);
    }
    cases
}

fn aws_jwt_verify(corpus_file: &std::path::Path) -> Vec<Value> {
    let dir = std::env::var("TOLLGATE_PEERS_NODE_DIR")
        .unwrap_or_else(|_| repo_path("target/peers/node").display().to_string());
    let script = std::path::Path::new(&dir).join("decide-aws-jwt-verify.mjs");
    assert!(
        script.exists(),
        "{} is missing: run scripts/peers/install.sh first",
        script.display()
    );
    let output = Command::new("node")
        .arg(&script)
        .arg(corpus_file)
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("aws-jwt-verify's decisions as JSON")
}

#[test]
#[ignore = "needs node and aws-jwt-verify: scripts/peers/install.sh, then --ignored"]
fn tollgate_agrees_with_aws_jwt_verify_on_every_token_of_the_corpus() {
    let now = now();
    let cases = corpus(now);
    let config = config_with(&[("REQUIRED_SCOPES", "")]);
    let verifier = Verifier::new(&config.verifier_settings());
    let policy = TrustedIssuer::new(config.issuers[0].policy());
    let jwks = dev_jwks();
    let keys = KeySet::parse(jwks.to_string().as_bytes()).expect("development JWKS");

    let dir = tempdir();
    let corpus_file = dir.join("corpus.json");
    let tokens: Vec<&str> = cases.iter().map(|c| c.token.as_str()).collect();
    std::fs::write(
        &corpus_file,
        json!({
            "issuer": ISSUER,
            "audience": AUDIENCE,
            "leeway_seconds": config.leeway_seconds,
            "jwks": jwks,
            "tokens": tokens,
        })
        .to_string(),
    )
    .expect("write corpus");
    let theirs = aws_jwt_verify(&corpus_file);
    assert_eq!(theirs.len(), cases.len());

    let mut agreed = 0;
    let mut by_design = 0;
    let mut accepted = 0;
    let mut problems = Vec::new();
    for (case, their) in cases.iter().zip(&theirs) {
        let ours = verifier.verify(&case.token, &policy, &keys, now);
        accepted += usize::from(ours.is_ok());
        let they_accept = their["accepted"] == true;
        match (case.stricter, ours.is_ok(), they_accept) {
            (None, a, b) if a == b => agreed += 1,
            (Some(_), false, true) => by_design += 1,
            (stricter, ours_ok, _) => problems.push(format!(
                "{}: tollgate {} ({:?}), aws-jwt-verify {} ({}), expected {}",
                case.name,
                if ours_ok { "accepts" } else { "rejects" },
                ours.as_ref().err().map(|r| r.reason),
                if they_accept { "accepts" } else { "rejects" },
                their["error"].as_str().unwrap_or(""),
                match stricter {
                    None => "the same decision".to_string(),
                    Some(why) => format!("tollgate rejects, aws-jwt-verify accepts ({why:?})"),
                },
            )),
        }
    }
    println!(
        "differential corpus: {} tokens ({accepted} accepted by tollgate); {agreed} same decision, \
         {by_design} stricter by design, {} unexpected",
        cases.len(),
        problems.len()
    );
    assert!(accepted >= 4, "the corpus must hold valid tokens");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tollgate-differential-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
