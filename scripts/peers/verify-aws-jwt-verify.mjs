// One-shot peer for scripts/process-bench.sh: verify one token with aws-jwt-verify, the same
// issuer, client and JWKS file as tollgate's development configuration. Exit 0 when valid.
// Usage: node verify-aws-jwt-verify.mjs TOKEN JWKS_FILE ISSUER CLIENT_ID
import { readFileSync } from "node:fs";
import { JwtVerifier } from "aws-jwt-verify";

const [token, jwksFile, issuer, clientId] = process.argv.slice(2);
const verifier = JwtVerifier.create({
  issuer,
  audience: null,
  jwksUri: "https://dev-only.tollgate.invalid/jwks.json",
  customJwtCheck: ({ payload }) => {
    if (payload.client_id !== clientId) throw new Error("wrong client_id");
  },
});
verifier.cacheJwks(JSON.parse(readFileSync(jwksFile, "utf8")));
try {
  await verifier.verify(token);
} catch (e) {
  console.error(`rejected: ${e.message}`);
  process.exit(2);
}
