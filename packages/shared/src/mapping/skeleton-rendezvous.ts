import { md5Hex } from './hash-to-index.js';
import type { Mapper } from './mapper.js';

/** skeleton-rendezvous 1.1.3 default `targetClusterSize`. */
const TARGET_CLUSTER_SIZE = 16;
/** skeleton-rendezvous 1.1.3 default `minClusterSize` (= targetClusterSize). */
const MIN_CLUSTER_SIZE = TARGET_CLUSTER_SIZE;
/** skeleton-rendezvous 1.1.3 default `fanout`; the virtual tree is binary. */
const FANOUT = 2;

/**
 * The original de-duplicates with `var seen = {}; if (!seen[site]) ...`, so a
 * site whose name is a (truthy) property inherited from Object.prototype, such
 * as "constructor", "toString" or "__proto__", is treated as already seen and
 * silently dropped. No broker URI looks like that, but we reproduce it so the
 * site list (and hence the mapping) is identical for every input.
 */
const INHERITED_OBJECT_KEYS: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));

/**
 * Skeleton-based rendezvous (HRW) hashing, bit-identical to skeleton-rendezvous
 * 1.1.3 with its default options (the 'skeletonRendezvous' engine of
 * scc-broker-client 9.2.0). The algorithm and its test vectors: docs/protocol.md,
 * "Channel → broker mapping".
 *
 * Sites are de-duplicated, sorted (default string order) and cut into clusters
 * of 16; a short last cluster is dealt round-robin into the others. A key walks
 * a binary virtual tree of ceil(log2(clusterCount)) levels (choosing the branch
 * with the larger md5 hex string, ties keep branch 0) to a cluster index; an
 * index past the last cluster retries with salt + 1. Inside the cluster the
 * site with the largest md5(key + salt + path + site) wins (first one on ties).
 */
export class SkeletonRendezvousMapper implements Mapper {
  /** Clusters of sites in the original's order. */
  private clusters: readonly (readonly string[])[] = [];
  /** clusterPaths[c]: cluster c's index in binary, padded to the level count (the original's `path`). */
  private clusterPaths: readonly string[] = [];
  /** levelSuffixes[i]: the strings `${i}0` and `${i}1` appended to the (salted) key at level i. */
  private levelSuffixes: readonly (readonly [string, string])[] = [];
  /** Sites flattened cluster by cluster, as the original's getSites() returns them. */
  private sites: readonly string[] = [];

  setSites(sites: readonly string[]): void {
    const seen = new Set<string>();
    const unique: string[] = [];
    for (const site of sites) {
      if (seen.has(site) || INHERITED_OBJECT_KEYS.has(site)) continue;
      seen.add(site);
      unique.push(site);
    }
    // Default sort: UTF-16 code unit order, as Array.prototype.sort() without a comparator.
    unique.sort();

    const clusters: string[][] = [];
    for (let start = 0; start < unique.length; start += TARGET_CLUSTER_SIZE) {
      clusters.push(unique.slice(start, start + TARGET_CLUSTER_SIZE));
    }
    const last = clusters[clusters.length - 1];
    if (clusters.length > 1 && last !== undefined && last.length < MIN_CLUSTER_SIZE) {
      clusters.pop();
      let target = 0;
      for (const site of last) {
        clusters[target]?.push(site);
        target = (target + 1) % clusters.length;
      }
    }

    // Same floating-point expression as the original (Math.ceil(Math.log(n) / Math.log(fanout))),
    // not Math.log2, so the level count matches even where the quotient is inexact.
    const levelCount =
      clusters.length > 0 ? Math.ceil(Math.log(clusters.length) / Math.log(FANOUT)) : 0;

    const levelSuffixes: (readonly [string, string])[] = [];
    for (let level = 0; level < levelCount; level++) {
      levelSuffixes.push([`${level}0`, `${level}1`]);
    }

    this.clusters = clusters;
    this.clusterPaths = clusters.map((_, index) =>
      levelCount === 0 ? '' : index.toString(FANOUT).padStart(levelCount, '0'),
    );
    this.levelSuffixes = levelSuffixes;
    this.sites = Object.freeze(clusters.flat());
  }

  getSites(): readonly string[] {
    return this.sites;
  }

  findSite(key: string): string | null {
    const clusters = this.clusters;
    if (clusters.length === 0) return null;
    const levelSuffixes = this.levelSuffixes;
    const levelCount = levelSuffixes.length;

    for (let salt = 0; ; salt++) {
      // The original appends String(salt) only for a non-zero salt at this step...
      const saltedKey = salt === 0 ? key : key + salt;
      let index = 0;
      for (let level = 0; level < levelCount; level++) {
        const suffixes = levelSuffixes[level];
        if (suffixes === undefined) break;
        // Branch 1 only when its hash is strictly larger: a tie keeps branch 0.
        const branch = md5Hex(saltedKey + suffixes[1]) > md5Hex(saltedKey + suffixes[0]) ? 1 : 0;
        index = index * FANOUT + branch;
      }

      const cluster = clusters[index];
      if (cluster === undefined) {
        if (index === 0) return null;
        continue; // Virtual branch with no cluster behind it: retry with salt + 1.
      }

      // ...but always appends the number (so "0" for salt 0) here.
      const prefix = key + salt + (this.clusterPaths[index] ?? '');
      let bestSite: string | undefined;
      let bestHash = '';
      for (const site of cluster) {
        const siteHash = md5Hex(prefix + site);
        // Strictly greater: on a tie the earlier site in the cluster wins.
        if (bestSite === undefined || siteHash > bestHash) {
          bestSite = site;
          bestHash = siteHash;
        }
      }
      if (bestSite !== undefined) return bestSite;
      // An empty cluster cannot occur, but the original retries with salt + 1 if it did.
    }
  }
}
