import { createServer } from 'node:http';
import { request, Agent } from 'undici';
const s = createServer((req, res) => { res.setHeader('content-type','application/json'); res.end('{"a":1,"b":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}'); }).listen(0);
await new Promise(r => s.on('listening', r));
const url = `http://127.0.0.1:${s.address().port}/`;
const agent = new Agent({ keepAliveTimeout: 10000 });
const inflight = new Set();
setInterval(() => { const now = performance.now(); for (const e of inflight) if (e.d < now) e.ac.abort(); }, 1000).unref();
const variants = {
  plain: () => request(url, { dispatcher: agent }),
  timeoutSignal: () => request(url, { dispatcher: agent, signal: AbortSignal.timeout(10000) }),
  controller: async () => { const ac = new AbortController(); const e = { ac, d: performance.now() + 10000 }; inflight.add(e); try { return await request(url, { dispatcher: agent, signal: ac.signal }); } finally { inflight.delete(e); } },
  controllerNoSignal: async () => { const ac = new AbortController(); const e = { ac, d: performance.now() + 10000 }; inflight.add(e); try { return await request(url, { dispatcher: agent }); } finally { inflight.delete(e); } },
};
for (let round = 0; round < 3; round++) for (const [name, fn] of Object.entries(variants)) {
  for (let i = 0; i < 300; i++) { const r = await fn(); await r.body.text(); }
  const t = performance.now(); const N = 3000;
  for (let i = 0; i < N; i++) { const r = await fn(); await r.body.text(); }
  console.log(round, name, ((performance.now() - t) / N * 1000).toFixed(1), 'us');
}
s.close(); await agent.close(); process.exit(0);
