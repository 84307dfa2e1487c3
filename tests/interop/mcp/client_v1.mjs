// MCP SDK v1 client through Tollgate: StreamableHTTPClientTransport with the SDK's
// ClientCredentialsProvider (client_secret_basic, bearer token). It finds the
// authorization server through the gateway's 401 and the protected resource
// metadata. Usage: node client_v1.mjs MCP_URL ISSUER CLIENT_ID SECRET
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';

const [url, issuer, clientId, clientSecret] = process.argv.slice(2);
let passed = 0, failed = 0;
const check = (name, cond, detail = '') => {
    if (cond) passed++; else { failed++; console.error(`  FAIL v1 ${name}: ${detail}`); }
};

// Shim (reported, src/oauth is not this test's): the SDK's metadata schema
// requires authorization_endpoint, which RFC 8414 §2 lets an AS without the
// authorization endpoint leave out, and Tollgate's metadata does. Only that
// member is added to the AS metadata response; nothing else is touched.
const shimFetch = async (input, init) => {
    const res = await fetch(input, init);
    if (!String(input instanceof Request ? input.url : input).includes('/.well-known/oauth-authorization-server') || !res.ok)
        return res;
    const md = await res.json();
    md.authorization_endpoint ??= new URL('/authorize', md.issuer).href;
    return new Response(JSON.stringify(md), { status: res.status, headers: res.headers });
};

try {
    const provider = new ClientCredentialsProvider({ clientId, clientSecret, expectedIssuer: issuer });
    const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider, fetch: shimFetch });
    const client = new Client({ name: 'tollgate-interop-v1', version: '1.0.0' });
    await client.connect(transport);
    check('connect (401 -> metadata -> client_credentials)', !!provider.tokens()?.access_token);
    const tools = (await client.listTools()).tools.map(t => t.name).sort();
    check('tools/list filtered', JSON.stringify(tools) === JSON.stringify(['echo_headers', 'search_notes']),
        JSON.stringify(tools));
    const r = await client.callTool({ name: 'search_notes', arguments: { q: 'tollgate' } });
    check('allowed tool', r.content?.[0]?.text === 'found: tollgate', JSON.stringify(r));
    const e = await client.callTool({ name: 'echo_headers', arguments: {} });
    const h = JSON.parse(e.content?.[0]?.text ?? '{}');
    check('identity headers, no credentials upstream',
        h['x-tollgate-client-id'] === clientId && h['x-tollgate-endpoint'] === 'MCP echo_headers' &&
        !h.authorization && !h.dpop, JSON.stringify(h));
    let refused = null;
    try {
        await client.callTool({ name: 'delete_note', arguments: { id: '1' } });
    } catch (err) {
        refused = err;
    }
    check('ungranted tool refused (403 insufficient_scope, step-up refused by the AS)',
        refused !== null, String(refused));
    await client.close();
} catch (err) {
    check('v1 client run', false, err?.stack ?? String(err));
}
console.log(`v1: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
