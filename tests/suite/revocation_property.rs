//! A property of the revocation list, over seeded random interleavings of tokens, revocations
//! (every kind, every scope, short and long lives), refreshes and requests, against moto's
//! DynamoDB through the handler Lambda runs: a token is refused for revocation exactly when
//! an entry that the authorizer has read applies to it and is still live. So no token whose
//! revocation was read is ever allowed (no over-allow), and no token is refused for an entry
//! that does not apply (no over-deny). `#[ignore]`d without moto; scripts/test runs it.

use crate::common;

use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::json;
use tollgate::aws::DynamoDb;
use tollgate::clock::Clock;
use tollgate::decision::Decision;
use tollgate::handler::Authorizer;
use tollgate::log::Capture;
use tollgate::revocation::{Entry, Kind, Table};

use crate::moto::Moto;
use common::generate::Rng;
use common::{EC_KID, ISSUER, RSA_KID, access_claims, config_with, rest_token_event, sign, with};

/// A token the test issued, with what the list is checked against.
struct Issued {
    text: String,
    sub: &'static str,
    jti: String,
    origin_jti: Option<&'static str>,
    iat: Option<u64>,
    kid: &'static str,
}

const SUBS: [&str; 3] = ["u1", "u2", "u3"];
const FAMILIES: [&str; 3] = ["f1", "f2", "f3"];
const ISSUERS: [Option<&str>; 3] = [None, Some(ISSUER), Some("https://other.example")];

/// Whether `entry` refuses `token` at `now` (Unix seconds): the rules the README states, written
/// again here independently of `RevocationList`.
fn refuses(entry: &Entry, token: &Issued, now: u64) -> bool {
    if entry.expires_at <= now {
        return false;
    }
    if entry.issuer.as_deref().is_some_and(|i| i != ISSUER) {
        return false;
    }
    match entry.kind {
        Kind::Jti => entry.value == token.jti,
        Kind::OriginJti => token.origin_jti == Some(entry.value.as_str()),
        Kind::Key => entry.value == token.kid,
        Kind::Subject => {
            entry.value == token.sub
                && match (entry.issued_before, token.iat) {
                    (Some(cut_off), Some(iat)) => iat < cut_off,
                    _ => true,
                }
        }
    }
}

async fn run_seed(seed: u64, moto: &Moto, db: &DynamoDb) {
    let table_name = format!("property-{}-{seed}", std::process::id());
    moto.create_table(&table_name).await;
    let table = Table::new(db.clone(), &table_name);
    let mut vars = moto.env();
    vars.push(("TOLLGATE_REVOCATION_TABLE".into(), table_name.clone()));
    vars.push(("TOLLGATE_REVOCATION_REFRESH_SECONDS".into(), "1".into()));
    vars.push((
        "TOLLGATE_REVOCATION_MAX_STALE_SECONDS".into(),
        "3600".into(),
    ));
    // Remembered tokens on: the property covers that path too.
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let config = config_with(&pairs);
    let clock = Clock::default();
    let authorizer = Authorizer::with_clock(&config, clock.clone()).unwrap();
    authorizer.prefetch().await.unwrap();
    let revocations = authorizer.revocations().unwrap();

    let mut rng = Rng(seed);
    let mut tokens: Vec<Issued> = Vec::new();
    let mut written: Vec<Entry> = Vec::new();
    // How many of `written` the last read saw.
    let mut read_upto = 0;
    let (mut allowed, mut refused, mut reads_seen) = (0, 0, 0);
    for step in 0..160 {
        match rng.below(10) {
            // Issue a token.
            0..=1 => {
                let n = tokens.len();
                let sub = *rng.pick(&SUBS);
                let origin_jti = rng.chance(70).then(|| *rng.pick(&FAMILIES));
                let iat = (!rng.chance(10)).then(|| clock.unix_seconds() - rng.below(3) as u64);
                let (alg, kid) = if rng.chance(50) {
                    (Algorithm::RS256, RSA_KID)
                } else {
                    (Algorithm::ES256, EC_KID)
                };
                let claims = with(
                    access_claims(),
                    json!({
                        "sub": sub,
                        "jti": format!("t{n}"),
                        "origin_jti": origin_jti,
                        "iat": iat,
                    }),
                );
                tokens.push(Issued {
                    text: sign(alg, &claims),
                    sub,
                    jti: format!("t{n}"),
                    origin_jti,
                    iat,
                    kid,
                });
            }
            // Revoke something (sometimes something no token has).
            2..=3 => {
                let kind = *rng.pick(&Kind::ALL);
                let value = match kind {
                    Kind::Jti => format!("t{}", rng.below(tokens.len() + 2)),
                    Kind::OriginJti => rng.pick(&FAMILIES).to_string(),
                    Kind::Subject => rng.pick(&SUBS).to_string(),
                    Kind::Key => rng.pick(&[RSA_KID, EC_KID, "unknown-kid"]).to_string(),
                };
                let issuer = match (kind, *rng.pick(&ISSUERS)) {
                    (Kind::Key, None) => Some(ISSUER.to_string()),
                    (_, issuer) => issuer.map(str::to_string),
                };
                let now_ms = clock.unix_millis();
                let life = if rng.chance(30) {
                    2 + rng.below(4) as u64
                } else {
                    3600
                };
                let entry = Entry {
                    kind,
                    value,
                    issuer,
                    issued_before: (kind == Kind::Subject).then(|| now_ms.div_ceil(1000)),
                    revoked_at_ms: now_ms,
                    expires_at: now_ms / 1000 + life,
                };
                table.put(&entry).await.unwrap();
                written.push(entry);
            }
            // Let a refresh interval pass.
            4..=5 => clock.advance(Duration::from_secs(1)),
            // A request with one of the tokens.
            _ => {
                if tokens.is_empty() {
                    continue;
                }
                let token = &tokens[rng.below(tokens.len())];
                let reads_before = revocations.reads().await;
                let written_before = written.len();
                let event = rest_token_event(
                    &format!("Bearer {}", token.text),
                    "GET",
                    "/api/user/profile",
                );
                let outcome = authorizer
                    .handle(&serde_json::to_vec(&event).unwrap(), None)
                    .await;
                let now = clock.unix_seconds();
                if revocations.reads().await > reads_before {
                    read_upto = written_before;
                    reads_seen += 1;
                }
                let read = &written[..read_upto];
                // An entry whose life ends within a second of now may have been judged
                // either side of the tick: the step proves nothing either way.
                if read
                    .iter()
                    .any(|e| e.expires_at.abs_diff(now) <= 1 && refuses(e, token, e.expires_at - 1))
                {
                    continue;
                }
                let applies: Vec<&Entry> = read.iter().filter(|e| refuses(e, token, now)).collect();
                match &outcome.decision {
                    Decision::Allow(_) => {
                        assert!(
                            applies.is_empty(),
                            "seed {seed} step {step}: {} allowed though read entries refuse it: {applies:?}",
                            token.jti
                        );
                        allowed += 1;
                    }
                    Decision::Unauthorized(r)
                        if matches!(r.reason.code(), "token_revoked" | "key_revoked") =>
                    {
                        assert!(
                            !applies.is_empty(),
                            "seed {seed} step {step}: {} refused ({}) though no read entry applies",
                            token.jti,
                            r.reason.code()
                        );
                        let key = applies.iter().any(|e| e.kind == Kind::Key);
                        assert_eq!(
                            r.reason.code() == "key_revoked",
                            key,
                            "seed {seed} step {step}: a key entry gives key_revoked"
                        );
                        refused += 1;
                    }
                    other => panic!("seed {seed} step {step}: unexpected {other:?}"),
                }
            }
        }
    }
    // The run exercised both sides and the reads.
    assert!(
        allowed > 5 && refused > 5 && reads_seen > 5,
        "seed {seed}: {allowed} allowed, {refused} refused, {reads_seen} reads"
    );
}

#[tokio::test]
#[ignore = "needs moto_server (scripts/setup); scripts/test runs it"]
async fn random_interleavings_never_allow_a_token_whose_revocation_was_read_and_never_refuse_one_without()
 {
    let _logs = Capture::start();
    let moto = Moto::start().await;
    let db = moto.client();
    for seed in [0x5EED_0001_u64, 0x5EED_0002, 0x5EED_0003, 0x0BAD_CAFE] {
        run_seed(seed, &moto, &db).await;
    }
}
