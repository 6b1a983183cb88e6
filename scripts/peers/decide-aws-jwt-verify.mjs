// The aws-jwt-verify side of tests/suite/differential.rs: decides every token of a corpus with
// JwtVerifier (same issuer, audience, leeway and JWKS as tollgate's), offline.
// Usage: node decide-aws-jwt-verify.mjs CORPUS.json   (prints a JSON array, one entry per token)
import { readFileSync } from "node:fs";
import { JwtVerifier } from "aws-jwt-verify";

const corpus = JSON.parse(readFileSync(process.argv[2], "utf8"));
const verifier = JwtVerifier.create({
  issuer: corpus.issuer,
  audience: corpus.audience,
  jwksUri: `${corpus.issuer}/.well-known/jwks.json`,
  graceSeconds: corpus.leeway_seconds,
});
verifier.cacheJwks(corpus.jwks);
const decisions = corpus.tokens.map((token) => {
  try {
    verifier.verifySync(token);
    return { accepted: true };
  } catch (e) {
    return { accepted: false, error: `${e.name}: ${e.message}`.slice(0, 200) };
  }
});
process.stdout.write(JSON.stringify(decisions));
