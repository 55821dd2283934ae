/**
 * A server's V8 heap in use, read from its Prometheus `/metrics` (prom-client's default
 * `nodejs_heap_size_used_bytes`): our workers serve it as a documented metric; systems without
 * /metrics report n/a rather than gaining a debug hook for the bench.
 */
import http from 'node:http';

const METRICS_TIMEOUT_MS = 10_000;
const HEAP_USED = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})?\s+(\S+)/m;

/** heapUsed of the process serving `port`, bytes. */
export function heapUsedBytes(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false, timeout: METRICS_TIMEOUT_MS }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.once('end', () => {
        const value = Number(HEAP_USED.exec(text)?.[1]);
        if (res.statusCode === 200 && Number.isFinite(value)) resolve(value);
        else reject(new Error(`GET :${port}/metrics: status ${res.statusCode}, no nodejs_heap_size_used_bytes`));
      });
    });
    req.once('timeout', () => req.destroy(new Error(`GET :${port}/metrics timed out after ${METRICS_TIMEOUT_MS} ms`)));
    req.once('error', reject);
  });
}
