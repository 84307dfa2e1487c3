// Independent client: oauth4webapi (discovery, client_credentials with DPoP,
// introspection, revocation) and jose (JWKS verification, thumbprints)
// against a running `tollgate serve --dev`. Usage: node oauth4webapi.mjs DEV_JSON
import { readFileSync } from 'node:fs';
import { webcrypto } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import * as jose from 'jose';

if (!globalThis.crypto) globalThis.crypto = webcrypto;

let passed = 0, failed = 0;
function check(name, cond, detail) {
  if (cond) passed++;
  else { failed++; console.error(`  FAIL ${name}: ${detail ?? ''}`); }
}

async function main() {
  const dev = JSON.parse(readFileSync(process.argv[2], 'utf8'));
  const issuer = new URL(dev.issuer);
  const insecure = { [oauth.allowInsecureRequests]: true };

  // RFC 8414 discovery, validated by oauth4webapi (issuer match etc.)
  const as = await oauth.processDiscoveryResponse(
    issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
  check('discovery issuer', as.issuer === dev.issuer, as.issuer);
  check('discovery dpop algs', as.dpop_signing_alg_values_supported?.includes('ES256'));

  const client = { client_id: dev.agents.secret.client_id };
  const clientAuth = oauth.ClientSecretBasic(dev.agents.secret.client_secret);

  for (const alg of ['ES256', 'EdDSA', 'PS256']) {
    const keyPair = await oauth.generateKeyPair(alg, { extractable: true });
    const DPoP = oauth.DPoP(client, keyPair);
    const params = new URLSearchParams({ scope: 'demo:read' });
    let response = await oauth.clientCredentialsGrantRequest(as, client, clientAuth, params,
                                                              { DPoP, ...insecure });
    const result = await oauth.processClientCredentialsResponse(as, client, response);
    check(`${alg}: token_type dpop`, result.token_type === 'dpop', result.token_type);

    // The token verifies with the JWKS and is bound to our key.
    const jwks = jose.createRemoteJWKSet(new URL(as.jwks_uri));
    const { payload, protectedHeader } = await jose.jwtVerify(result.access_token, jwks, {
      issuer: dev.issuer, audience: dev.tool.resource, typ: 'at+jwt',
    });
    check(`${alg}: header typ`, protectedHeader.typ === 'at+jwt', protectedHeader.typ);
    const jwk = await jose.exportJWK(keyPair.publicKey);
    const jkt = await jose.calculateJwkThumbprint(jwk, 'sha256');
    check(`${alg}: cnf.jkt`, payload.cnf?.jkt === jkt, `${payload.cnf?.jkt} vs ${jkt}`);
    check(`${alg}: scope`, payload.scope === 'demo:read', payload.scope);
    check(`${alg}: client_id`, payload.client_id === client.client_id, payload.client_id);

    // RFC 7662 introspection
    response = await oauth.introspectionRequest(as, client, clientAuth, result.access_token,
                                                insecure);
    let intro = await oauth.processIntrospectionResponse(as, client, response);
    check(`${alg}: introspection active`, intro.active === true, JSON.stringify(intro));
    check(`${alg}: introspection jkt`, intro.cnf?.jkt === jkt, JSON.stringify(intro.cnf));

    // RFC 7009 revocation, then inactive
    response = await oauth.revocationRequest(as, client, clientAuth, result.access_token, insecure);
    await oauth.processRevocationResponse(response);
    response = await oauth.introspectionRequest(as, client, clientAuth, result.access_token,
                                                insecure);
    intro = await oauth.processIntrospectionResponse(as, client, response);
    check(`${alg}: revoked is inactive`, intro.active === false, JSON.stringify(intro));
  }

  // A refusal is a proper RFC 6749 error oauth4webapi understands.
  const DPoP = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
  const response = await oauth.clientCredentialsGrantRequest(
    as, client, clientAuth, new URLSearchParams({ scope: 'demo:admin' }), { DPoP, ...insecure });
  try {
    await oauth.processClientCredentialsResponse(as, client, response);
    check('ungranted scope refused', false, 'no error');
  } catch (e) {
    check('ungranted scope refused', e instanceof oauth.ResponseBodyError && e.error === 'invalid_scope',
          `${e.name} ${e.error} ${e.message}`);
  }
}

main().catch((e) => { failed++; console.error('  FAIL exception:', e); }).finally(() => {
  console.log(`interop-oauth4webapi: ${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
});
