// MCP SDK v2 client (@modelcontextprotocol/client) through Tollgate with its
// built-in DPoP: ClientCredentialsProvider + dpop() -> a DPoP-bound token
// (cnf.jkt) and a fresh proof per request. Usage: node client_v2.mjs MCP_URL ISSUER CLIENT_ID SECRET [v2server]
// With "v2server" (the SDK v2 server, server_v2.mjs: protocol 2026-07-28) it
// also checks that the client sent Mcp-Method / Mcp-Name, and that a request
// whose Mcp-Name disagrees with its body is refused (400, -32020).
import { Client, ClientCredentialsProvider, DpopSession, StreamableHTTPClientTransport }
    from '@modelcontextprotocol/client';

const [url, issuer, clientId, clientSecret, mode] = process.argv.slice(2);
const sent = [];          // [Mcp-Method, Mcp-Name] of every MCP POST
let tamperName = null;    // when set: the Mcp-Name header is replaced by it
let passed = 0, failed = 0;
const check = (name, cond, detail = '') => {
    if (cond) passed++; else { failed++; console.error(`  FAIL v2 ${name}: ${detail}`); }
};

// The same shim as client_v1.mjs (authorization_endpoint; reported).
const shimFetch = async (input, init) => {
    if (init?.method === 'POST' && String(input).startsWith(url)) {
        const h = new Headers(init.headers);
        if (tamperName !== null && h.has('mcp-name')) h.set('mcp-name', tamperName);
        sent.push([h.get('mcp-method'), h.get('mcp-name')]);
        init = { ...init, headers: h };
    }
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
    // Against the v2 server: negotiate the 2026-07-28 revision (server/discover),
    // whose requests carry the SEP-2243 headers; else the SDK's default (legacy).
    const client = new Client({ name: 'tollgate-interop-v2', version: '1.0.0' },
        mode === 'v2server' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : undefined);
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
    if (mode === 'v2server') {
        check('Mcp-Method and Mcp-Name sent on tools/call',
            sent.some(([m, n]) => m === 'tools/call' && n === 'search_notes'), JSON.stringify(sent));
        check('Mcp-Method sent on tools/list', sent.some(([m]) => m === 'tools/list'), JSON.stringify(sent));
        tamperName = 'search_notes';
        let bad = null;
        try {
            await client.callTool({ name: 'delete_note', arguments: { id: '8' } });
        } catch (err) {
            bad = err;
        }
        tamperName = null;
        check('Mcp-Name disagreeing with the body refused (-32020)',
            bad !== null && (bad.code === -32020 || /-32020|Mcp-Name/.test(String(bad?.message))),
            String(bad) + ' ' + JSON.stringify(bad?.code));
    }
    await client.close();
} catch (err) {
    check('v2 client run', false, err?.stack ?? String(err));
}
console.log(`v2: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
