// bench/peers: node oidc-provider (pinned in package.json) configured like
// Tollgate for the side-by-side benchmark (see bench/README.md, "Side by side
// with the peers"):
//
//   - one confidential client (client_secret_basic), grant client_credentials
//   - ES256-signed JWT access tokens (RFC 9068 at+jwt) for one resource
//     (resource indicators, RFC 8707; the resource is the default one, so a
//     request without `resource` gets it too), 300 s lifetime
//   - DPoP enabled (RFC 9449): replay detection on (allowReplay false), no
//     nonce, the library's fixed 300 s iat window; DPoP optional, as in
//     Tollgate (a request without a proof gets a bearer token)
//   - no request logging: oidc-provider logs nothing by itself; server errors
//     are printed (errors only)
//   - storage: the library's in-memory adapter (the default; nothing is
//     stored for a client_credentials JWT token; the DPoP jti replay cache is
//     in memory, as Tollgate's is)
//
// usage: node server.mjs PORT CLIENT_ID CLIENT_SECRET RESOURCE
// Prints "ready <issuer>" on stdout when listening.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const [port, clientId, clientSecret, resource] = process.argv.slice(2);
if (!port || !clientId || !clientSecret || !resource) {
  console.error('usage: node server.mjs PORT CLIENT_ID CLIENT_SECRET RESOURCE');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = privateKey.export({ format: 'jwk' });
jwk.kid = randomBytes(8).toString('base64url');
jwk.alg = 'ES256';
jwk.use = 'sig';

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256',
  }],
  jwks: { keys: [jwk] },
  scopes: ['demo:read'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    dPoP: { enabled: true },
    introspection: { enabled: false },
    revocation: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== resource) {
          throw new Provider.errors.InvalidTarget();
        }
        return {
          scope: 'demo:read',
          audience: resource,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
  ttl: { ClientCredentials: 300 },
  enabledJWA: { dPoPSigningAlgValues: ['ES256'] },
});
provider.proxy = false;
// Errors only: server errors (500s) are printed; client errors (400s) are
// not, as in Tollgate, which does not log refused requests either.
provider.on('server_error', (ctx, err) => console.error('server_error', err));

const server = createServer(provider.callback());
server.keepAliveTimeout = 65000;
server.listen(Number(port), '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
