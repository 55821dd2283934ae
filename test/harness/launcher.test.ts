/**
 * The harness launcher itself: free ports, the process wrapper's stop bound, structured waits, and a
 * cluster of our services run from "another checkout" (a symlink to this one, so the launcher takes
 * the path it takes for `--baseline DIR`: ports handed out, waits on endpoints only).
 */
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LogEvent } from '@scc-ts/shared';
import { Cluster } from '../../harness/cluster.js';
import { freePorts } from '../../harness/ports.js';
import { clusterSnapshot } from '../../harness/ready.js';
import { spawnProcess, stopAll } from '../../harness/service-process.js';
import { REPO_ROOT, uriOf } from '../../harness/services.js';

const dir = mkdtempSync(join(tmpdir(), 'harness-test-'));
afterAll(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('harness', () => {
  it('hands out distinct free ports in one batch', async () => {
    const ports = await freePorts(20);
    expect(new Set(ports).size).toBe(20);
    for (const p of ports) expect(p).toBeGreaterThan(0);
  });

  it('stops a process that ignores SIGTERM with SIGKILL after the bound', async () => {
    const stubborn = spawnProcess({
      name: 'stubborn',
      args: ['-e', "process.on('SIGTERM', () => {}); console.log(JSON.stringify({ level: 30, msg: 'up', event: 'up' })); setInterval(() => {}, 1000);"],
      cwd: dir,
      env: {},
    });
    await stubborn.waitForEvent('up');
    const startedAt = Date.now();
    const exit = await stubborn.stop('SIGTERM', 300);
    expect(exit.signal).toBe('SIGKILL');
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(250);
    // Safe to call again once it has exited.
    await expect(stubborn.stop('SIGTERM', 300)).resolves.toEqual(exit);
  });

  it('an event wait names what it waited for when it times out, and matches on fields', async () => {
    const talker = spawnProcess({
      name: 'talker',
      args: ['-e', "console.log(JSON.stringify({ level: 30, msg: 'n', event: 'count', n: 1 })); console.log('not json'); setInterval(() => {}, 1000);"],
      cwd: dir,
      env: {},
    });
    await expect(talker.waitForEvent('count', { n: 1 })).resolves.toMatchObject({ n: 1 });
    await expect(talker.waitForEvent('count', { n: 2 }, 300)).rejects.toThrow(/"event":"count","n":2/);
    expect(talker.logs.map((l) => l.msg)).toEqual(['n', 'not json']);
    await talker.stop('SIGKILL');
  });

  it('runs our services from another checkout on handed-out ports, ready by endpoints alone', async () => {
    const other = join(dir, 'checkout');
    symlinkSync(REPO_ROOT, other);
    const cluster = await Cluster.start({ brokers: 2, workers: 2, root: other });
    try {
      const view = await clusterSnapshot(cluster.statePort);
      expect(view.brokers.map((b) => b.uri).sort()).toEqual(cluster.brokers.map(uriOf).sort());
      expect(view.workers.map((w) => w.uri).sort()).toEqual(cluster.workers.map(uriOf).sort());
      for (const w of cluster.workers) expect((await fetch(`http://127.0.0.1:${w.port}/ready`)).status).toBe(200);
      // The ports were handed to the services, and the services say they listen on them.
      for (const p of cluster.all()) expect((await p.waitForEvent(LogEvent.Listening)).port).toBe(p.port);
    } finally {
      await cluster.stop('SIGTERM');
    }
    for (const p of cluster.all()) expect(p.alive).toBe(false);
  });

  it('starts the original system and restarts a worker and a broker on their ports', async () => {
    const cluster = await Cluster.start({ system: 'original', brokers: 2, workers: 2, fixedPorts: true });
    try {
      const port = cluster.workers[1]!.port;
      await cluster.restartWorker(1, 'SIGTERM');
      expect(cluster.workers[1]!.port).toBe(port);
      const brokerPort = cluster.brokers[0]!.port;
      const broker = await cluster.restartBroker(0, 'SIGKILL');
      expect(broker.port).toBe(brokerPort);
      expect(cluster.brokers[0]).toBe(broker);
      expect(cluster.retired).toHaveLength(2);
      const view = await clusterSnapshot(cluster.statePort);
      expect(view.workers.map((w) => w.uri)).toContain(uriOf(port));
      expect(view.brokers.map((b) => b.uri)).toContain(uriOf(brokerPort));
    } finally {
      await cluster.close();
    }
  });
});
