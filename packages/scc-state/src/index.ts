/** @scc-ts/scc-state: the cluster coordinator. */
export { startStateServer } from './state-server.js';
export type { StateServer } from './state-server.js';
export { Registry } from './registry.js';
export type { Member, JoinResult } from './registry.js';
export { Notifier } from './notifier.js';
export type { NotifierOptions, ListKind, Direction, PushFn } from './notifier.js';
