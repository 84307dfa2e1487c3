// MCP SDK v2 client (@modelcontextprotocol/client) through Tollgate with its
// built-in DPoP: ClientCredentialsProvider + dpop() -> a DPoP-bound token
// (cnf.jkt) and a fresh proof per request. Usage: node client_v2.mjs MCP_URL ISSUER CLIENT_ID SECRET
import { Client, ClientCredentialsProvider, DpopSession, StreamableHTTPClientTransport }
    from '@modelcontextprotocol/client';

const [url, issuer, clientId, clientSecret] = process.argv.slice(2);
let passed = 0, failed = 0;
const check = (name, cond, detail = '') => {
    if (cond) passed++; else { failed++; console.error(`  FAIL v2 ${name}: ${detail}`); }
};

// The same shim as client_v1.mjs (authorization_endpoint; reported).
const shimFetch = async (input, init) => {
    const res = await fetch(input, init);
    if (!String(input instanceof Request ? input.url : input).includes('/.well-known/oauth-authorization-server') || !res.ok)
        return res;
    const md = await res.json();
    md.authorization_endpoint ??= new URL('/authorize', md.issuer).href;
    return new Response(JSON.stringify(md), { status: res.status, headers: res.headers });
};

class DpopClientCredentials extends ClientCredentialsProvider {
    constructor(opts) { super(opts); this._dpop = DpopSession.create(); }
    dpop() { return this._dpop; }
}

try {
    const provider = new DpopClientCredentials({ clientId, clientSecret, expectedIssuer: issuer });
    const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider, fetch: shimFetch });
    const client = new Client({ name: 'tollgate-interop-v2', version: '1.0.0' });
    await client.connect(transport);
    const tok = provider.tokens();
    check('DPoP-bound token', String(tok?.token_type).toLowerCase() === 'dpop', JSON.stringify(tok?.token_type));
    const tools = (await client.listTools()).tools.map(t => t.name).sort();
    check('tools/list filtered', JSON.stringify(tools) === JSON.stringify(['delete_note', 'search_notes']),
        JSON.stringify(tools));
    const r = await client.callTool({ name: 'delete_note', arguments: { id: '7' } });
    check('high-risk tool named by the grant, DPoP', r.content?.[0]?.text === 'deleted: 7', JSON.stringify(r));
    const s = await client.callTool({ name: 'search_notes', arguments: { q: 'x' } });
    check('allowed tool', s.content?.[0]?.text === 'found: x', JSON.stringify(s));
    let refused = null;
    try {
        await client.callTool({ name: 'echo_headers', arguments: {} });
    } catch (err) {
        refused = err;
    }
    check('ungranted tool refused', refused !== null, String(refused));
    await client.close();
} catch (err) {
    check('v2 client run', false, err?.stack ?? String(err));
}
console.log(`v2: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
