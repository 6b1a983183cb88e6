"""One-shot peer for scripts/process-bench.sh: verify one token with PyJWT, the same issuer,
client and JWKS file as tollgate's development configuration. Exit 0 when valid.
Usage: python3 verify-pyjwt.py TOKEN JWKS_FILE ISSUER CLIENT_ID"""
import json
import sys

import jwt

token, jwks_file, issuer, client_id = sys.argv[1:5]
with open(jwks_file) as f:
    keys = jwt.PyJWKSet.from_dict(json.load(f))
kid = jwt.get_unverified_header(token)["kid"]
key = next(k for k in keys.keys if k.key_id == kid)
try:
    claims = jwt.decode(token, key, algorithms=["RS256"], issuer=issuer,
                        options={"require": ["exp", "iss", "sub"]})
    if claims.get("client_id") != client_id:
        raise jwt.InvalidTokenError("wrong client_id")
except jwt.InvalidTokenError as e:
    print(f"rejected: {e}", file=sys.stderr)
    sys.exit(2)
