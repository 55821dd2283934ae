/**
 * Preloaded into a service by the soak (NODE_OPTIONS=--require …/heap-sampler.cjs): every
 * SCC_SOAK_SAMPLE_MS it runs a full GC and writes one JSON line with process.memoryUsage() to stdout,
 * next to the service's pino lines. The services themselves are not changed for the soak.
 */
'use strict';
const { writeSync } = require('node:fs');
const v8 = require('node:v8');
const vm = require('node:vm');

const intervalMs = Number(process.env.SCC_SOAK_SAMPLE_MS || 1000);
// A sample after a full collection measures live memory, not where the GC sawtooth happens to be.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

setInterval(() => {
  gc();
  const m = process.memoryUsage();
  const line = { level: 30, msg: 'heap-sample', t: Date.now(), heapUsed: m.heapUsed, heapTotal: m.heapTotal, rss: m.rss, external: m.external };
  try {
    writeSync(1, `${JSON.stringify(line)}\n`);
  } catch {
    // stdout closed: the process is shutting down.
  }
}, intervalMs).unref();
