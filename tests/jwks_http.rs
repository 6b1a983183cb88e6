//! Keys over real HTTP: a server on 127.0.0.1 serves the JWKS; tollgate fetches it with reqwest.

mod common;

use common::http::Server;
use common::*;
use jsonwebtoken::Algorithm;
use serde_json::json;
use tollgate::decision::Decision;
use tollgate::handler::Authorizer;

fn event() -> Vec<u8> {
    let token = sign(Algorithm::RS256, &access_claims());
    rest_request_event(
        json!({"Authorization": format!("Bearer {token}")}),
        json!({}),
        "GET",
        "/x",
    )
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn jwks_is_fetched_once_at_init_and_reused_by_warm_invocations() {
    let server = Server::start(200, dev_jwks().to_string().into_bytes());
    let authorizer = Authorizer::new(&config_with(&[("JWKS_URI", &server.url("/jwks.json"))]))
        .expect("authorizer");
    authorizer.prefetch().await;
    assert_eq!(server.hits(), 1);
    for _ in 0..25 {
        let out = authorizer.handle(&event(), None).await;
        assert!(
            matches!(out.decision, Decision::Allow(_)),
            "{:?}",
            out.decision
        );
    }
    assert_eq!(server.hits(), 1, "warm invocations must not fetch");
}

#[tokio::test]
async fn http_error_from_the_jwks_host_is_a_500_error() {
    let server = Server::start(503, b"{}".to_vec());
    let authorizer = Authorizer::new(&config_with(&[("JWKS_URI", &server.url("/jwks.json"))]))
        .expect("authorizer");
    authorizer.prefetch().await;
    let out = authorizer.handle(&event(), None).await;
    assert_eq!(out.decision.reason_code(), "jwks_unavailable");
    assert_eq!(out.decision.status(), 500);
    assert!(
        server.hits() >= 2,
        "the request retries after a failed prefetch"
    );
}

#[tokio::test]
async fn garbage_jwks_is_a_500_error() {
    let server = Server::start(200, b"<html>not a jwks</html>".to_vec());
    let authorizer = Authorizer::new(&config_with(&[("JWKS_URI", &server.url("/jwks.json"))]))
        .expect("authorizer");
    let out = authorizer.handle(&event(), None).await;
    assert_eq!(out.decision.reason_code(), "jwks_unavailable");
}

#[tokio::test]
async fn oversized_jwks_is_a_500_error() {
    let mut doc = dev_jwks();
    doc["padding"] = json!("x".repeat(300 * 1024));
    let server = Server::start(200, doc.to_string().into_bytes());
    let authorizer = Authorizer::new(&config_with(&[("JWKS_URI", &server.url("/jwks.json"))]))
        .expect("authorizer");
    let out = authorizer.handle(&event(), None).await;
    assert_eq!(out.decision.reason_code(), "jwks_unavailable");
}

#[tokio::test]
async fn unreachable_jwks_host_is_a_500_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let uri = format!("http://127.0.0.1:{port}/jwks.json");
    let authorizer = Authorizer::new(&config_with(&[("JWKS_URI", &uri)])).expect("authorizer");
    let out = authorizer.handle(&event(), None).await;
    assert!(matches!(out.decision, Decision::Error(_)));
    assert_eq!(out.decision.reason_code(), "jwks_unavailable");
}
