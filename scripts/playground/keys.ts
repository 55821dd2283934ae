/**
 * The playground's terminal controls: single keys, read in raw mode when stdin is a terminal. In raw
 * mode Ctrl-C is a key, not a signal, so it reaches only this runner: no pnpm or shell around it
 * sees an interrupt, and each exits with the runner's own status (0).
 */
import type { ActionName } from './playground.js';

/** Key → action, in the order the help lists them. */
export const KEY_ACTIONS: readonly { key: string; action: ActionName; label: string }[] = [
  { key: 'b', action: 'add-broker', label: 'add a broker' },
  { key: 'd', action: 'drain-broker', label: 'drain (remove) a broker: SIGTERM, it moves its channels away first' },
  { key: 'k', action: 'kill-broker', label: 'kill a broker: SIGKILL' },
  { key: 'w', action: 'add-worker', label: 'add a worker' },
  { key: 'r', action: 'remove-worker', label: 'remove a worker: SIGTERM, its clients reconnect elsewhere' },
  { key: 's', action: 'restart-state', label: 'restart the state server' },
];

const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const QUIT_KEYS = new Set(['q', CTRL_C, CTRL_D]);
const HELP_KEYS = new Set(['?', 'h']);

/** The help, one line per key. */
export function keyHelp(): string[] {
  return [
    ...KEY_ACTIONS.map(({ key, label }) => `  ${key}  ${label}`),
    '  ?  this help (also h)',
    '  q  quit: stop every process (also Ctrl-C)',
  ];
}

export interface KeyHandlers {
  act(action: ActionName): void;
  help(): void;
  quit(): void;
}

export interface KeyReader {
  /** Restores the terminal and stops reading. Safe to call twice. */
  close(): void;
}

/** Reads single keys from stdin (raw mode on a terminal; a pipe's characters work too). */
export function readKeys(handlers: KeyHandlers, input: NodeJS.ReadStream = process.stdin): KeyReader {
  const raw = input.isTTY === true;
  if (raw) input.setRawMode(true);
  input.setEncoding('utf8');
  const onData = (chunk: string): void => {
    for (const key of chunk) {
      if (QUIT_KEYS.has(key)) return handlers.quit();
      if (HELP_KEYS.has(key)) handlers.help();
      const bound = KEY_ACTIONS.find((k) => k.key === key);
      if (bound) handlers.act(bound.action);
    }
  };
  input.on('data', onData);
  input.resume();
  let closed = false;
  return {
    close() {
      if (closed) return;
      closed = true;
      input.off('data', onData);
      if (raw) input.setRawMode(false);
      input.pause();
    },
  };
}
