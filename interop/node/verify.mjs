// Verifies access tokens the way a Node.js service would: jose's
// createRemoteJWKSet fetches the keys from the running service, jwtVerify
// checks the signature, the algorithm, iss, aud, exp, nbf and typ.
//
// usage: node verify.mjs ISSUER AUDIENCE JWKS_URL TOKEN...
// It prints one JSON line per token: {"ok":true,"kid":...,"alg":...,"payload":{...}}
// or {"ok":false,"code":"ERR_..."}; it exits 0 when it could check them all.
import { createRemoteJWKSet, jwtVerify } from 'jose';

const [issuer, audience, jwksURL, ...tokens] = process.argv.slice(2);
if (!issuer || !audience || !jwksURL || tokens.length === 0) {
  console.error('usage: node verify.mjs ISSUER AUDIENCE JWKS_URL TOKEN...');
  process.exit(2);
}
const jwks = createRemoteJWKSet(new URL(jwksURL));
for (const token of tokens) {
  try {
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer,
      audience,
      typ: 'at+jwt',
      requiredClaims: ['exp', 'sub', 'iat', 'nbf'],
    });
    console.log(JSON.stringify({ ok: true, kid: protectedHeader.kid, alg: protectedHeader.alg, payload }));
  } catch (err) {
    console.log(JSON.stringify({ ok: false, code: err.code ?? String(err) }));
  }
}
