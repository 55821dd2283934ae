/**
 * A broker's graceful drain. It leaves the cluster first (`sccBrokerLeaveCluster`, then closes its
 * state link so a reconnect cannot re-join it), which makes the state server push a shorter broker
 * list; the workers then subscribe the channels on their new owners and let go of them here. Until
 * the last subscription is gone the broker keeps relaying, so a worker still publishing here is
 * still heard. Ends when no subscription is left or at the deadline, whichever comes first.
 *
 * With history on it also waits until no channel with live (unexpired) history is left here: the
 * handover's worker exports each to its new owner (docs/history.md, "The handover").
 */
import { LogEvent, type Logger } from '@scc-ts/shared';
import type { Relay } from './relay.js';
import type { HistoryStore } from './history.js';

/** Least time between two counts of the live history channels during a drain, ms. */
const HISTORY_CHECK_MS = 50;

export interface DrainOptions {
  relay: Relay;
  /** Leaves the cluster and closes the state link (never throws). */
  leave: () => Promise<void>;
  /** Longest the whole drain may take, ms (the leave included). */
  timeoutMs: number;
  logger: Logger;
  /** The relay's history store, when history is on. */
  history?: HistoryStore | null;
}

/** How a drain ended. */
export interface DrainResult {
  /** `drained` when no subscription was left, `timeout` when the deadline came first. */
  outcome: 'drained' | 'timeout';
  durationMs: number;
  /** Subscriptions still held at the end. */
  subscriptionsLeft: number;
  /** Channels with live history not exported at the end (0 when history is off). */
  historyChannelsLeft: number;
}

/** Drains the broker; resolves when it may close. */
export async function drainBroker(options: DrainOptions): Promise<DrainResult> {
  const { relay, logger } = options;
  const history = options.history ?? null;
  const done = () => relay.channelCount === 0 && (history === null || history.liveChannels() === 0);
  const startedAt = Date.now();
  logger.info(
    { event: LogEvent.DrainStarted, connections: relay.connectionCount, subscriptions: relay.subscriptionCount, channels: relay.channelCount },
    `drain started: leaving the cluster; relaying until workers have moved their ${relay.channelCount} channels (at most ${options.timeoutMs} ms)`,
  );
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), options.timeoutMs);
  });
  // Listen before the first check, so a channel emptied between check and wait is not missed.
  let wake: (() => void) | undefined;
  const stopListening = relay.onChannelEmpty(() => {
    if (done()) wake?.();
  });
  // Counting live history channels walks them all: after an export, checked at most every HISTORY_CHECK_MS.
  let check: NodeJS.Timeout | undefined;
  const stopHistory = history?.onForget(() => {
    check ??= setTimeout(() => {
      check = undefined;
      if (done()) wake?.();
    }, HISTORY_CHECK_MS);
  });
  const empty = new Promise<'drained'>((resolve) => {
    wake = () => resolve('drained');
  });
  let outcome: DrainResult['outcome'] = 'drained';
  try {
    if ((await Promise.race([options.leave().then(() => 'left' as const), deadline])) === 'timeout') {
      outcome = 'timeout';
    } else if (!done()) {
      // The relay drops a channel when its last subscriber leaves, by unsubscribing or by disconnecting;
      // the store forgets a channel when it is exported or its last message expires.
      outcome = await Promise.race([empty, deadline]);
    }
  } finally {
    clearTimeout(timer);
    stopListening();
    stopHistory?.();
    clearTimeout(check);
  }
  const result: DrainResult = {
    outcome,
    durationMs: Date.now() - startedAt,
    subscriptionsLeft: relay.subscriptionCount,
    historyChannelsLeft: history?.liveChannels() ?? 0,
  };
  logger.info(
    { event: LogEvent.DrainFinished, ...result, connections: relay.connectionCount, channels: relay.channelCount },
    `drain finished in ${result.durationMs} ms: ${outcome === 'drained' ? 'no subscriptions left' : `timed out with ${result.subscriptionsLeft} subscriptions${history === null ? '' : ` and ${result.historyChannelsLeft} history channels`} left`}`,
  );
  return result;
}
