/**
 * A broker's graceful drain. It leaves the cluster first (`sccBrokerLeaveCluster`, then closes its
 * state link so a reconnect cannot re-join it), which makes the state server push a shorter broker
 * list; the workers then subscribe the channels on their new owners and let go of them here. Until
 * the last subscription is gone the broker keeps relaying, so a worker still publishing here is
 * still heard. Ends when no subscription is left or at the deadline, whichever comes first.
 */
import { endConsumer, type AGServer, type Logger } from '@scc-ts/shared';
import { subscriptionCount } from './metrics.js';

export interface DrainOptions {
  agServer: AGServer;
  /** Leaves the cluster and closes the state link (never throws). */
  leave: () => Promise<void>;
  /** Longest the whole drain may take, ms (the leave included). */
  timeoutMs: number;
  logger: Logger;
}

/** How a drain ended. */
export interface DrainResult {
  /** `drained` when no subscription was left, `timeout` when the deadline came first. */
  outcome: 'drained' | 'timeout';
  durationMs: number;
  /** Subscriptions still held at the end. */
  subscriptionsLeft: number;
}

/** Drains the broker; resolves when it may close. */
export async function drainBroker(options: DrainOptions): Promise<DrainResult> {
  const { agServer, logger } = options;
  const startedAt = Date.now();
  const engine = agServer.brokerEngine;
  logger.info(
    { connections: agServer.clientsCount, subscriptions: subscriptionCount(agServer), channels: engine.subscriptions().length },
    `drain started: leaving the cluster; relaying until workers have moved their ${engine.subscriptions().length} channels (at most ${options.timeoutMs} ms)`,
  );
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), options.timeoutMs);
  });
  // Listen before the first check, so an unsubscribe between check and wait is not missed.
  const unsubscribed = engine.listener('unsubscribe').createConsumer();
  let outcome: DrainResult['outcome'] = 'drained';
  try {
    if ((await Promise.race([options.leave().then(() => 'left' as const), deadline])) === 'timeout') {
      outcome = 'timeout';
    } else {
      // The engine drops a channel (and emits `unsubscribe`) when its last subscriber leaves,
      // by unsubscribing or by disconnecting.
      while (engine.subscriptions().length > 0) {
        const next = await Promise.race([unsubscribed.next(), deadline]);
        if (next === 'timeout') {
          outcome = 'timeout';
          break;
        }
      }
    }
  } finally {
    clearTimeout(timer);
    endConsumer(unsubscribed);
  }
  const result: DrainResult = { outcome, durationMs: Date.now() - startedAt, subscriptionsLeft: subscriptionCount(agServer) };
  logger.info(
    { ...result, connections: agServer.clientsCount, channels: engine.subscriptions().length },
    `drain finished in ${result.durationMs} ms: ${outcome === 'drained' ? 'no subscriptions left' : `timed out with ${result.subscriptionsLeft} subscriptions left`}`,
  );
  return result;
}
