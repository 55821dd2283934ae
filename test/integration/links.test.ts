/**
 * Link reports (`sccWorkerLinks`) against the real scc-state with two real brokers: a worker that
 * cannot reach a broker makes the state server withdraw it from the list it pushes (named in
 * `sccWithdrawn`), restore it once no worker reports it for the restore delay, and ignore what would
 * empty the list or comes from a worker cut off from everything. The "worker" is a raw
 * socketcluster-client speaking our extension, so each push can be read as the state server sent it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import socketClusterClient from 'socketcluster-client';
import { DEFAULT_ANNOUNCED_VERSION, InstanceType, LinkProcedure, LogEvent, Procedure, StateQuery } from '@scc-ts/shared';
import { waitUntil } from '../../harness/clients.js';
import { scrape } from '../helpers/metrics.js';
import { startBroker, startState, stopAll, uriOf, waitForMembers, type ServiceProcess } from '../helpers/processes.js';

type Client = ReturnType<typeof socketClusterClient.create>;
type Request = { data: unknown; end(data?: unknown): void };
interface Push {
  procedure: string;
  data: { sccBrokerURIs: string[]; time: number; sccHandover?: boolean; sccWithdrawn?: string[] };
}

const RESTORE_DELAY_MS = 600;
let state: ServiceProcess;
let brokers: ServiceProcess[];
const raw: Client[] = [];

/** A worker of our kind, by hand: joins, records every broker-list push, can report links. */
async function rawWorker(port: number, join: Record<string, unknown> = {}): Promise<{ client: Client; pushes: Push[]; reply: Record<string, unknown> }> {
  const client = socketClusterClient.create({
    hostname: '127.0.0.1',
    port: state.port,
    autoReconnect: false,
    query: {
      [StateQuery.AuthKey]: 'null',
      [StateQuery.InstancePort]: String(port),
      [StateQuery.InstanceType]: InstanceType.Worker,
      [StateQuery.Version]: DEFAULT_ANNOUNCED_VERSION,
    },
  });
  raw.push(client);
  const pushes: Push[] = [];
  for (const procedure of [Procedure.BrokerJoinCluster, Procedure.BrokerLeaveCluster]) {
    void (async () => {
      for await (const request of client.procedure(procedure) as AsyncIterable<Request>) {
        pushes.push({ procedure, data: request.data as Push['data'] });
        request.end();
      }
    })();
  }
  await client.listener('connect').once(5000);
  const reply = (await client.invoke(Procedure.WorkerJoinCluster, { instanceId: `raw-${port}`, instanceIp: '127.0.0.1', instanceIpFamily: 'IPv4', sccHandover: true, ...join })) as Record<string, unknown>;
  return { client, pushes, reply };
}

const lastList = (pushes: Push[]): Push['data'] | undefined => pushes.at(-1)?.data;
const clusterJson = async (): Promise<{ links: { unreachable: Array<{ worker: string; broker: string }>; withdrawn: Array<{ broker: string; workers: string[] }> } }> =>
  (await fetch(`http://127.0.0.1:${state.port}/cluster.json`)).json() as never;

beforeAll(async () => {
  state = await startState({ SCC_STATE_SERVER_LINK_RESTORE_DELAY: String(RESTORE_DELAY_MS) });
  brokers = await Promise.all([startBroker(state.port), startBroker(state.port)]);
  await waitForMembers(state.port, { brokers: brokers.map((b) => uriOf(b)) });
});

afterAll(async () => {
  for (const client of raw) client.disconnect();
  await stopAll();
});

describe('link reports', () => {
  it('withdraws a broker a worker cannot reach, names it in sccWithdrawn, and restores it after the restore delay', async () => {
    const [b1, b2] = brokers.map((b) => uriOf(b)) as [string, string];
    const a = await rawWorker(9001);
    const b = await rawWorker(9002);
    expect(a.reply['sccHandover']).toBe(true);
    expect(new Set(a.reply['sccBrokerURIs'] as string[])).toEqual(new Set([b1, b2]));
    const mark = state.mark();

    b.client.transmit(LinkProcedure.Report, { unreachable: [b1] });
    await waitUntil(() => lastList(a.pushes)?.sccBrokerURIs.length === 1 && lastList(b.pushes)?.sccBrokerURIs.length === 1, 5000, 'the list without b1');
    for (const worker of [a, b]) expect(lastList(worker.pushes)).toMatchObject({ sccBrokerURIs: [b2], sccHandover: true, sccWithdrawn: [b1] });
    const logged = await state.waitForEvent(LogEvent.BrokerWithdrawn, { broker: b1 }, 1000, mark);
    expect(logged['workers']).toEqual(['ws://127.0.0.1:9002']);
    const view = await clusterJson();
    expect(view.links.unreachable).toEqual([expect.objectContaining({ worker: 'ws://127.0.0.1:9002', broker: b1 })]);
    expect(view.links.withdrawn).toEqual([expect.objectContaining({ broker: b1, workers: ['ws://127.0.0.1:9002'] })]);
    const metrics = await scrape(state.port);
    expect(metrics.value('scc_state_withdrawn_brokers')).toBe(1);
    expect(metrics.value('scc_state_unreachable_links')).toBe(1);
    expect(metrics.value('scc_state_broker_withdrawals_total')).toBe(1);

    // Reachable again: restored only after the restore delay, then pushed without sccWithdrawn.
    const clearedAt = Date.now();
    const pushesBefore = a.pushes.length;
    b.client.transmit(LinkProcedure.Report, { unreachable: [] });
    await waitUntil(() => lastList(a.pushes)?.sccBrokerURIs.length === 2, 5000, 'the list with b1 again');
    expect(Date.now() - clearedAt).toBeGreaterThanOrEqual(RESTORE_DELAY_MS);
    expect(a.pushes.length).toBe(pushesBefore + 1);
    expect(lastList(a.pushes)?.sccWithdrawn).toBeUndefined();
    await state.waitForEvent(LogEvent.BrokerRestored, { broker: b1 }, 1000, mark);
    expect((await clusterJson()).links).toEqual({ unreachable: [], withdrawn: [] });
    a.client.disconnect();
    b.client.disconnect();
  });

  it('a link that comes back before the restore delay and drops again keeps the broker withdrawn: one withdrawal, one restore', async () => {
    const [b1] = brokers.map((b) => uriOf(b)) as [string, string];
    const a = await rawWorker(9011);
    const b = await rawWorker(9012);
    const mark = state.mark();
    const flaps = 6;
    for (let i = 0; i < flaps; i++) {
      b.client.transmit(LinkProcedure.Report, { unreachable: [b1] });
      await new Promise((r) => setTimeout(r, RESTORE_DELAY_MS / 3));
      b.client.transmit(LinkProcedure.Report, { unreachable: [] });
      await new Promise((r) => setTimeout(r, RESTORE_DELAY_MS / 3));
    }
    await waitUntil(() => lastList(a.pushes)?.sccBrokerURIs.length === 2 && a.pushes.length >= 2, 5000, 'restored');
    await new Promise((r) => setTimeout(r, 300));
    const events = state.logs.slice(mark).filter((l) => l.event === LogEvent.BrokerWithdrawn || l.event === LogEvent.BrokerRestored);
    expect(events.map((l) => l.event)).toEqual([LogEvent.BrokerWithdrawn, LogEvent.BrokerRestored]);
    expect(a.pushes.map((p) => p.data.sccBrokerURIs.length)).toEqual([1, 2]);
    a.client.disconnect();
    b.client.disconnect();
  });

  it('ignores a worker cut off from every broker, never withdraws the last broker, refuses a malformed report', async () => {
    const [b1, b2] = brokers.map((b) => uriOf(b)) as [string, string];
    const a = await rawWorker(9021);
    const b = await rawWorker(9022);
    const c = await rawWorker(9023);
    const mark = state.mark();
    // b reaches neither broker: b is the one cut off, the brokers are fine.
    b.client.transmit(LinkProcedure.Report, { unreachable: [b1, b2] });
    // c cannot reach b1, a cannot reach b2: withdrawing both would leave no broker.
    c.client.transmit(LinkProcedure.Report, { unreachable: [b1] });
    await waitUntil(() => lastList(a.pushes)?.sccBrokerURIs.length === 1, 5000, 'b1 withdrawn');
    a.client.transmit(LinkProcedure.Report, { unreachable: [b2] });
    c.client.transmit(LinkProcedure.Report, { unreachable: 'everything' });
    await state.waitForLog(/sccWorkerLinks report .*InvalidPayloadError/, 3000, mark);
    await state.waitForLog(new RegExp(`broker ${b2.replace(/[./]/g, '\\$&')} is unreachable .* but is the last broker listed`), 3000, mark);
    await new Promise((r) => setTimeout(r, 300));
    expect(lastList(a.pushes)?.sccBrokerURIs).toEqual([b2]);
    expect((await clusterJson()).links.withdrawn.map((w) => w.broker)).toEqual([b1]);
    for (const w of [a, b, c]) w.client.disconnect();
  });

  it('answers a re-join that routes by brokers not joined here with sccPushFollows, then pushes the settled list', async () => {
    const [b1, b2] = brokers.map((b) => uriOf(b)) as [string, string];
    // The earlier test's reporters left: its withdrawal is undone after the restore delay.
    await waitUntil(() => true, 0, '');
    await new Promise((r) => setTimeout(r, RESTORE_DELAY_MS + 500));
    const gone = 'ws://127.0.0.1:1';
    const w = await rawWorker(9031, { sccBrokerURIs: [b1, b2, gone] });
    expect(w.reply['sccPushFollows']).toBe(true);
    await waitUntil(() => w.pushes.length > 0, 5000, 'the settled push');
    expect(new Set(lastList(w.pushes)?.sccBrokerURIs)).toEqual(new Set([b1, b2]));
    // A re-join that knows nothing the state server lacks is answered as usual.
    const v = await rawWorker(9032, { sccBrokerURIs: [b1] });
    expect(v.reply['sccPushFollows']).toBeUndefined();
    w.client.disconnect();
    v.client.disconnect();
  });
});
