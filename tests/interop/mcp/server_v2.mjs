// A real MCP server (MCP TypeScript SDK v2: @modelcontextprotocol/server,
// createMcpHandler, protocol revision 2026-07-28) on 127.0.0.1:0, modern-only
// (legacy: 'reject'), so it enforces SEP-2243 Mcp-Method / Mcp-Name
// agreement on every request (docs/gateway.md, "/check for MCP servers").
// Prints "port N" once listening, then one line per POST it serves:
// "POST <Mcp-Method> <Mcp-Name> <tool called or ->" (run.sh reads them).
import http from 'node:http';
import { McpServer, createMcpHandler } from '@modelcontextprotocol/server';
import { z } from 'zod';

function makeServer(headers) {
    const s = new McpServer({ name: 'notes-v2', version: '2.0.0' });
    const called = (name) => console.log(`CALL ${name} ${headers.get('mcp-name') ?? '-'}`);
    s.registerTool('search_notes', { description: 'Search notes', inputSchema: z.object({ q: z.string() }) },
        async ({ q }) => { called('search_notes'); return { content: [{ type: 'text', text: `found: ${q}` }] }; });
    s.registerTool('delete_note', { description: 'Delete a note', inputSchema: z.object({ id: z.string() }) },
        async ({ id }) => { called('delete_note'); return { content: [{ type: 'text', text: `deleted: ${id}` }] }; });
    s.registerTool('echo_headers', { description: 'The headers the server received' },
        async () => {
            called('echo_headers');
            return { content: [{ type: 'text', text: JSON.stringify(Object.fromEntries(headers)) }] };
        });
    return s;
}

const handler = createMcpHandler(({ requestInfo }) => makeServer(requestInfo.headers),
    { legacy: 'reject', onerror: (e) => console.log(`ERROR ${e?.message ?? e}`) });

const srv = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers))
        if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    if (req.method === 'POST')
        console.log(`POST ${headers.get('mcp-method') ?? '-'} ${headers.get('mcp-name') ?? '-'}`);
    try {
        const request = new Request(`http://${req.headers.host}${req.url}`, {
            method: req.method, headers,
            body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
        });
        const response = await handler.fetch(request);
        const out = {};
        response.headers.forEach((v, k) => { out[k] = v; });
        res.writeHead(response.status, out);
        res.end(Buffer.from(await response.arrayBuffer()));
    } catch (e) {
        if (!res.headersSent) res.writeHead(500).end(String(e));
    }
});
srv.listen(0, '127.0.0.1', () => console.log(`port ${srv.address().port}`));
