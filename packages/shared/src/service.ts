/** Process lifecycle shared by the three `node server` entry points. */
import { ConfigError } from './errors.js';
import { activeResourcesSummary } from './shutdown.js';

/** A running service. `close()` stops it for good and is safe to call twice. */
export interface Service {
  close(): Promise<void>;
}

export interface RunServiceOptions<C> {
  /** Service name for the one-line start-up error, e.g. `scc-state`. */
  name: string;
  /** Parses the environment; throws `ConfigError` on bad values. */
  readConfig: () => C;
  start: (config: C) => Promise<Service>;
  /** Longest a graceful close may take before the process exits anyway, ms. */
  shutdownTimeoutMs?: number;
  /** As `shutdownTimeoutMs`, from the parsed config (e.g. the drain timeout plus a close margin); wins when given. */
  shutdownTimeoutMsFor?: (config: C) => number;
}

/** Default upper bound on a graceful shutdown, ms. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

/**
 * Time allowed after a drain for the final close (leave acknowledgements, socket closes), ms. A
 * draining service exits at the latest `SCC_DRAIN_TIMEOUT` + this after the first signal.
 */
export const CLOSE_MARGIN_MS = 5_000;

/**
 * Reads the config, starts the service and closes it on SIGINT/SIGTERM. A bad config prints one
 * line naming each bad variable and exits with code 1; a second signal exits at once.
 */
export async function runService<C>(options: RunServiceOptions<C>): Promise<void> {
  let config: C;
  try {
    config = options.readConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${options.name}: ${error.name}: ${error.problems.join('; ')}\n`);
      process.exit(1);
    }
    throw error;
  }
  let service: Service;
  try {
    service = await options.start(config);
  } catch (error) {
    const err = error as Error;
    process.stderr.write(`${options.name}: failed to start: ${err.name}: ${err.message}\n`);
    process.exit(1);
  }
  const shutdownTimeoutMs = options.shutdownTimeoutMsFor?.(config) ?? options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.stderr.write(`${options.name}: ${signal} again, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    const timeout = setTimeout(() => {
      // What is still open tells why (e.g. sockets whose peer never finished closing).
      process.stderr.write(`${options.name}: shutdown took longer than ${shutdownTimeoutMs} ms, exiting; still active: ${activeResourcesSummary()}\n`);
      process.exit(1);
    }, shutdownTimeoutMs);
    timeout.unref();
    service.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`${options.name}: error while closing: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/**
 * Names the process in `ps` and `top` (e.g. `scc-broker :8888`), so a broker can be told from a
 * worker. Linux shows the title in the space of the original command line: `node server` typed by
 * hand leaves room for 11 characters (`scc-broker `); started with a longer argv[0], e.g. `exec -a
 * scc-broker node server` or the harness's spawn, the whole title shows in `ps -o args`. `ps -o comm`
 * is cut at 15 characters by the kernel.
 */
export function setProcessTitle(title: string): void {
  process.title = title;
}
