/**
 * A channel→broker mapping engine (docs/protocol.md, "Channel → broker mapping"): given the current list of scc-broker URIs
 * ("sites"), decides which broker owns a channel ("key").
 *
 * Shape-compatible with the mapping engines of scc-broker-client 9.2.0, so a
 * custom engine object written for the original also fits here.
 */
export interface Mapper {
  /** Replaces the whole site list (broker URIs); the engine may normalise (sort, de-duplicate) it. */
  setSites(sites: readonly string[]): void;
  /** Returns the sites as the engine holds them (possibly normalised and reordered). */
  getSites?(): readonly string[];
  /** Returns the site that owns `key`, or null when there is no site to map to. */
  findSite(key: string): string | null;
}
