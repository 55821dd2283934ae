/**
 * Holes in socketcluster-server 20 that `pnpm fuzz` found, closed by harden.ts, checked on each real
 * service: event and channel names that hit Object.prototype (`constructor`, `toString`,
 * `__proto__`) killed the process (in the server's tables, and in a worker's broker links once it
 * subscribed upstream), so such names are refused at decode (InvalidEventError, InvalidChannelError:
 * the message is dropped unanswered; the broker, on its own wire, answers with a named error); a second `#handshake` on an open socket inflated the connection
 * count (and on the state server and broker stalled that socket's inbound queue for good).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Collector, connect, disconnectAll } from '../../harness/clients.js';
import { RawSocket, scUrl } from '../../harness/raw.js';
import { startBroker, startState, startWorker, stopAll, waitReady, type ServiceProcess } from '../helpers/processes.js';
import { unhandledLines } from '../../harness/fuzz-campaign.js';
import { LogEvent } from '@scc-ts/shared';
import { scrape } from '../helpers/metrics.js';

let state: ServiceProcess;
let broker: ServiceProcess;
let worker: ServiceProcess;
const raws: RawSocket[] = [];

beforeAll(async () => {
  state = await startState();
  broker = await startBroker(state.port);
  await broker.waitForEvent(LogEvent.Joined);
  // Cluster mode: the worker hands channel names on to its broker links (socketcluster-client).
  worker = await startWorker(state.port, { SCC_MAX_CONNECTIONS: '3' });
  await waitReady(worker.port);
});
afterEach(() => {
  for (const s of raws.splice(0)) s.close();
  disconnectAll();
});
afterAll(() => stopAll());

const queries = (): [string, number, Record<string, string>][] => [
  ['state', state.port, { instanceType: 'scc-worker', instancePort: '1', version: '9.3.0' }],
  ['broker', broker.port, { poolIndex: '0' }],
  ['worker', worker.port, {}],
];

async function session(port: number, query: Record<string, string>): Promise<RawSocket> {
  const socket = new RawSocket(scUrl(port, query));
  raws.push(socket);
  expect(await socket.handshake()).toEqual({ kind: 'replied' });
  return socket;
}

describe('prototype names', () => {
  it('events and channels named after Object.prototype members are refused at decode and change nothing', async () => {
    const names = ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf'];
    for (const [what, port, query] of queries()) {
      const socket = await session(port, query);
      for (const name of names) {
        socket.send(JSON.stringify({ event: name, data: 1 }));
        socket.send(JSON.stringify({ event: name, data: 1, cid: 999 }));
        socket.send(JSON.stringify({ event: '#publish', data: { channel: name, data: 1 } }));
        socket.invoke('#subscribe', { channel: name });
        socket.invoke('#publish', { channel: name, data: { sender: null, messages: [1] } });
        socket.invoke('#unsubscribe', name);
      }
      expect((await socket.probe(5000)).kind, what).toBe('error');
      expect(socket.open, what).toBe(true);
      if (what === 'broker') {
        // The broker owns its wire (relay.ts): it answers such channel names with a named error.
        const subscribe = socket.invoke('#subscribe', { channel: 'constructor' });
        expect(await socket.outcome(subscribe, 5000), what).toEqual({ kind: 'error', name: 'BrokerError' });
        expect(socket.replies.get(subscribe)?.error?.message, what).toMatch(/InvalidChannelError/);
        expect(await socket.outcome(socket.invoke('#publish', { channel: 'toString', data: 1 }), 5000), what).toEqual({ kind: 'error', name: 'InvalidChannelError' });
      } else {
        // socketcluster-server: refused at decode (the codec throws a named error), the request is
        // dropped unanswered, and the probe after it, answered in order, shows it was processed.
        const subscribe = socket.invoke('#subscribe', { channel: 'constructor' });
        const publish = socket.invoke('#publish', { channel: 'toString', data: 1 });
        const event = socket.invoke('hasOwnProperty', 1);
        expect((await socket.probe(5000)).kind, what).toBe('error');
        for (const cid of [subscribe, publish, event]) expect(socket.replies.has(cid), `${what} ${cid}`).toBe(false);
      }
      expect(socket.open, what).toBe(true);
    }
    await worker.waitForLog(/warning: InvalidChannelError: channel name "constructor" is refused/, 5000);
    await worker.waitForLog(/warning: InvalidEventError: event name "constructor" is refused/, 5000);
    // Subscribing to '__proto__' must not write the socket into Object.prototype (it would be
    // visible here only in the service's process; the service staying healthy is the check).
    for (const service of [state, broker, worker]) {
      expect(service.alive, service.name).toBe(true);
      expect(unhandledLines(service), service.name).toEqual([]);
    }
    // (socketcluster-client has the same hole on its side, so the well-behaved client uses a plain name.)
    const collector = new Collector();
    const client = await connect(worker.port);
    await collector.subscribe('c', client, 'after');
    await client.invokePublish('after', { id: 'ok' });
    await collector.until(() => collector.messages('c', 'after').length === 1, 5000, 'a message after the prototype names');
  });
});

describe('repeated handshake', () => {
  it('is refused with InvalidHandshakeError and close 4008, and does not count the socket twice', async () => {
    for (const [what, port, query] of queries()) {
      const socket = await session(port, query);
      expect(await socket.outcome(socket.invoke('#handshake', {}), 5000), what).toEqual({ kind: 'error', name: 'InvalidHandshakeError' });
      expect((await socket.closedWithin(5000))?.code, what).toBe(4008);
    }
    // The worker allows 3 connections: were the repeat counted, one of these would get HTTP 503.
    const held = [await session(worker.port, {}), await session(worker.port, {})];
    expect(held.every((s) => s.open)).toBe(true);
    expect(await connect(worker.port).then((c) => c.state)).toBe('open');
    // Each front server counts the refusal where an operator sees it.
    expect((await scrape(worker.port)).value('scc_worker_repeated_handshakes_refused_total')).toBe(1);
    expect((await scrape(state.port)).value('scc_state_repeated_handshakes_refused_total')).toBe(1);
    expect((await scrape(worker.port)).value('scc_worker_connections_refused_total')).toBe(0);
  });
});
