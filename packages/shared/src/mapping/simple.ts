import { hashToIndex, md5Hex } from './hash-to-index.js';
import type { Mapper } from './mapper.js';

/**
 * The 'simple' mapping engine of scc-broker-client 9.2.0:
 * `sites[hashToIndex(md5Hex(key), sites.length)]` (docs/protocol.md, "hashToIndex and simple").
 *
 * The site list is used exactly as received (not sorted, not de-duplicated),
 * so the order of `setSites` matters. Unlike the original (which returns
 * undefined), an empty site list maps every key to null.
 */
export class SimpleMapper implements Mapper {
  private sites: readonly string[] = [];

  setSites(sites: readonly string[]): void {
    // A copy, so later mutation of the caller's array cannot change the mapping.
    this.sites = Object.freeze([...sites]);
  }

  getSites(): readonly string[] {
    return this.sites;
  }

  findSite(key: string): string | null {
    const sites = this.sites;
    if (sites.length === 0) return null;
    return sites[hashToIndex(md5Hex(key), sites.length)] ?? null;
  }
}
