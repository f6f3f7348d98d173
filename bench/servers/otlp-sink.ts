// A stand-in OpenTelemetry collector for the telemetry-cost benchmark: accepts OTLP/HTTP trace exports (protobuf,
// Tiffin's default, or JSON), counts the spans, and answers GET /count with the total (GET /readyz for the
// benchmark's start-up check). It runs in its own process, so its parsing never competes with the server under
// test's event loop.
import { createServer } from 'node:http';
import { countSpans } from '../../src/testing/otlp-protobuf.ts';

let spans = 0;
let exports = 0;

const server = createServer((req, res) => {
  if (req.method === 'GET') {
    res.setHeader('content-type', 'application/json');
    return res.end(req.url === '/count' ? JSON.stringify({ spans, exports }) : '{}');
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const json = /json/.test(req.headers['content-type'] ?? '');
    try {
      const raw = Buffer.concat(chunks);
      if (json) {
        const body = JSON.parse(raw.toString()) as { resourceSpans?: { scopeSpans?: { spans?: unknown[] }[] }[] };
        for (const rs of body.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans += ss.spans?.length ?? 0;
      } else spans += countSpans(raw);
      exports++;
    } catch {
      // Unreadable: count nothing, answer as a collector would.
    }
    // An empty ExportTraceServiceResponse in either encoding.
    res.setHeader('content-type', json ? 'application/json' : 'application/x-protobuf');
    res.end(json ? '{}' : '');
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1');
