// A real MCP server (MCP TypeScript SDK v1: McpServer + StreamableHTTPServerTransport,
// stateless) on 127.0.0.1:0. Prints "port N" once listening.
import http from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

function makeServer() {
    const s = new McpServer({ name: 'notes', version: '1.0.0' });
    s.registerTool('search_notes', { description: 'Search notes', inputSchema: { q: z.string() } },
        async ({ q }) => ({ content: [{ type: 'text', text: `found: ${q}` }] }));
    s.registerTool('delete_note', { description: 'Delete a note', inputSchema: { id: z.string() } },
        async ({ id }) => ({ content: [{ type: 'text', text: `deleted: ${id}` }] }));
    s.registerTool('echo_headers', { description: 'The headers the server received' },
        async (extra) => ({ content: [{ type: 'text', text: JSON.stringify(extra?.requestInfo?.headers ?? {}) }] }));
    return s;
}

const srv = http.createServer(async (req, res) => {
    if (req.method !== 'POST') {
        // No standalone SSE stream (the gateway buffers): 405, as the spec allows.
        res.writeHead(405, { Allow: 'POST' }).end();
        return;
    }
    let body = '';
    for await (const c of req) body += c;
    const server = makeServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => { transport.close(); server.close(); });
    try {
        await server.connect(transport);
        await transport.handleRequest(req, res, JSON.parse(body));
    } catch (e) {
        if (!res.headersSent) res.writeHead(500).end(String(e));
    }
});
srv.listen(0, '127.0.0.1', () => console.log(`port ${srv.address().port}`));
