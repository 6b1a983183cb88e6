"""moto_server on 127.0.0.1, for the scripts that need AWS offline: Cognito (cognito-test.py)
and DynamoDB's revocation table (cognito-test.py, init-bench.py, lambda-revocation-test.sh).

One place finds moto_server (the project venv's first), starts it on a free port, waits until it
answers, stops it, and creates the revocation table in issue 22's layout through the DynamoDB
API: `pk`/`sk` strings, on-demand, TTL on `expires_at`.

As a library:  `with MotoServer(log_path) as moto: create_revocation_table(moto.endpoint, name)`
As a command:  `python3 scripts/moto_local.py table ENDPOINT NAME` waits for a moto_server that
               another process started at ENDPOINT, then creates the table there.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

# moto accepts any credentials; these are what every script here signs with.
CREDENTIALS = {"aws_access_key_id": "AKIDTOLLGATETEST",
               "aws_secret_access_key": "tollgate-test-not-a-secret"}
REGION = "us-east-1"


def aws_environment(endpoint: str) -> dict[str, str]:
    """The environment that points tollgate (the authorizer, `revoke`) at this moto's DynamoDB,
    signing with the same credentials and region as the clients here."""
    return {"AWS_ENDPOINT_URL_DYNAMODB": endpoint,
            "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
            "AWS_REGION": REGION}


class MotoError(Exception):
    """moto_server is not installed, exited, or did not answer."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(endpoint: str, seconds: float = 60, proc: subprocess.Popen | None = None) -> None:
    """Returns once moto_server answers at `endpoint` (its /moto-api/ page, any status)."""
    deadline = time.monotonic() + seconds
    while True:
        if proc is not None and proc.poll() is not None:
            raise MotoError(f"moto_server exited ({proc.returncode})")
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # it answers, even if not with 200
        except OSError:
            if time.monotonic() > deadline:
                raise MotoError(f"moto_server did not answer on {endpoint} within {seconds:.0f} s") from None
            time.sleep(0.1)


class MotoServer:
    """A moto_server this process starts on 127.0.0.1 and stops (its output in `log_path`)."""

    def __init__(self, log_path: Path) -> None:
        beside = Path(sys.executable).parent / "moto_server"
        exe = str(beside) if beside.exists() else shutil.which("moto_server")
        if exe is None:
            raise MotoError("moto_server is not installed (the project venv: scripts/setup)")
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_path)
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=self.log_file, stderr=subprocess.STDOUT)
        try:
            wait_until_up(self.endpoint, proc=self.proc)
        except MotoError as e:
            self.close()
            raise MotoError(f"{e}:\n{self.tail()}") from None

    def client(self, service: str):
        """A boto3 client for `service` on this server."""
        import boto3
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION, **CREDENTIALS)

    def tail(self) -> str:
        """The end of moto_server's output, for an error message."""
        self.log_file.flush()
        return self.log_path.read_bytes()[-4000:].decode(errors="replace")

    def requests(self) -> int:
        """The API calls moto has logged so far (werkzeug writes one line per request)."""
        self.log_file.flush()
        return self.log_path.read_bytes().count(b'"POST / HTTP/1.1"')

    def close(self) -> None:
        """Stops the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()

    def __enter__(self) -> MotoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def create_revocation_table(endpoint: str, name: str) -> None:
    """Creates the revocation table of issue 22's layout at `endpoint` and waits until it exists."""
    import boto3
    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST")
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "expires_at"})


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "table":
        print("usage: moto_local.py table ENDPOINT NAME", file=sys.stderr)
        return 64
    _, endpoint, name = argv
    try:
        wait_until_up(endpoint, seconds=30)
    except MotoError as e:
        print(e, file=sys.stderr)
        return 1
    create_revocation_table(endpoint, name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
