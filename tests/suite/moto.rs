//! moto's server (`moto[server]`, pinned in scripts/requirements.txt) on 127.0.0.1: a real
//! DynamoDB API for the revocation tests. Each test starts its own and it stops when dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use tollgate::aws::{AwsSettings, DynamoDb};

/// The fake credentials and region every call is signed with (moto checks neither).
pub const AWS_ENV: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_REGION", "us-east-1"),
];

/// A running moto server.
pub struct Moto {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

fn moto_server() -> std::path::PathBuf {
    let venv = crate::common::repo_path(".venv/bin/moto_server");
    if venv.exists() {
        venv
    } else {
        "moto_server".into()
    }
}

impl Moto {
    /// Starts moto on a free port and waits until it answers.
    pub async fn start() -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server runs (scripts/setup installs it in .venv)");
        let endpoint = format!("http://127.0.0.1:{port}");
        let moto = Moto {
            child: Some(child),
            endpoint,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = client
                .get(format!("{}/moto-api/", moto.endpoint))
                .send()
                .await
                && r.status().is_success()
            {
                return moto;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto_server did not come up at {}", moto.endpoint);
    }

    /// Stops the server now (the table becomes unreachable).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The environment that points tollgate (and `tollgate revoke`) at this server.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = AWS_ENV
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.push(("AWS_ENDPOINT_URL_DYNAMODB".into(), self.endpoint.clone()));
        env
    }

    /// A DynamoDB client for this server.
    pub fn client(&self) -> DynamoDb {
        let env = self.env();
        let settings = AwsSettings::from_lookup(&|name: &str| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
        .expect("test AWS settings");
        DynamoDb::new(reqwest::Client::new(), settings, Duration::from_secs(10))
    }

    /// Creates a revocation table the way template.yaml declares it (pk/sk, on demand), through
    /// the API.
    pub async fn create_table(&self, name: &str) {
        let request = json!({
            "TableName": name,
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
        });
        self.client()
            .call("CreateTable", request.to_string().into_bytes())
            .await
            .expect("CreateTable");
    }

    /// Runs `tollgate revoke ARGS --table TABLE` against this server; panics unless it exits 0.
    pub fn revoke(&self, table: &str, args: &[&str]) {
        let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .arg("revoke")
            .args(args)
            .args(["--table", table])
            .env_clear()
            .envs(self.env())
            .output()
            .expect("tollgate revoke runs");
        assert!(
            out.status.success(),
            "tollgate revoke {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}
