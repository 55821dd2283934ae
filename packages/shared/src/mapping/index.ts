import type { Mapper } from './mapper.js';
import { SimpleMapper } from './simple.js';
import { SkeletonRendezvousMapper } from './skeleton-rendezvous.js';

export type { Mapper } from './mapper.js';
export { hashToIndex, md5Hex } from './hash-to-index.js';
export { SimpleMapper } from './simple.js';
export { SkeletonRendezvousMapper } from './skeleton-rendezvous.js';

/**
 * Names of the built-in mapping engines (scc-broker-client's `mappingEngine` option), the default
 * first. The one list config, plugin options, the cluster view and `createMapper` read.
 * Algorithms and test vectors: docs/protocol.md, "Channel → broker mapping".
 */
export const MAPPING_ENGINES = Object.freeze(['skeletonRendezvous', 'simple'] as const);
export type MappingEngineName = (typeof MAPPING_ENGINES)[number];
/** The engine used when none is named (the original's default). */
export const DEFAULT_MAPPING_ENGINE: MappingEngineName = MAPPING_ENGINES[0];

/** Whether `value` names a built-in engine. */
export function isMappingEngineName(value: unknown): value is MappingEngineName {
  return (MAPPING_ENGINES as readonly unknown[]).includes(value);
}

const ENGINE_CLASSES: Readonly<Record<MappingEngineName, new () => Mapper>> = {
  skeletonRendezvous: SkeletonRendezvousMapper,
  simple: SimpleMapper,
};

/**
 * Whether `value` can serve as a custom engine: it needs `setSites` and `findSite`, the only two
 * methods scc-broker-client 9.x ever calls, so engines written for the original fit unchanged.
 */
export function isMapper(value: unknown): value is Mapper {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<Record<keyof Mapper, unknown>>;
  return typeof candidate.setSites === 'function' && typeof candidate.findSite === 'function';
}

/**
 * Returns a fresh instance of the named engine, or `engine` itself when it is
 * already a Mapper object. Throws a TypeError for anything else.
 */
export function createMapper(engine: MappingEngineName | Mapper): Mapper {
  if (isMappingEngineName(engine)) return new ENGINE_CLASSES[engine]();
  if (isMapper(engine)) return engine;
  const shown = typeof engine === 'string' ? `'${engine}'` : String(engine);
  throw new TypeError(
    `Invalid mapping engine ${shown}: expected ${MAPPING_ENGINES.map((name) => `'${name}'`).join(', ')} or an object with setSites and findSite methods`,
  );
}
