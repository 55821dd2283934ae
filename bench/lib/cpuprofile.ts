/** Summarises V8 .cpuprofile files (from `node --cpu-prof`): self time per function, heaviest first. */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  fn: string;
  ms: number;
  /** share of the profile's non-idle time, 0–1 */
  share: number;
}

const ROOT = new URL('../..', import.meta.url).pathname;

function label(frame: ProfileNode['callFrame']): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  const path = frame.url.startsWith('file://') ? relative(ROOT, new URL(frame.url).pathname) : frame.url;
  // pnpm's store path says nothing useful; keep the package-relative part.
  const short = path.replace(/^node_modules\/\.pnpm\/[^/]+\/node_modules\//, '');
  return `${name} ${short}:${frame.lineNumber + 1}`;
}

/** Self time by function over one or more profiles (e.g. every worker of every run). */
export function selfTimes(files: readonly string[], top = 15): { totalMs: number; idleMs: number; functions: SelfTime[] } {
  const byFunction = new Map<string, number>();
  let idleMs = 0;
  let totalMs = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const labels = new Map(profile.nodes.map((n) => [n.id, label(n.callFrame)]));
    profile.samples.forEach((id, i) => {
      const ms = (profile.timeDeltas[i] ?? 0) / 1000;
      const fn = labels.get(id) ?? '?';
      if (fn === '(idle)') idleMs += ms;
      else {
        totalMs += ms;
        byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms);
      }
    });
  }
  const functions = [...byFunction]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([fn, ms]) => ({ fn, ms: Math.round(ms), share: Math.round((ms / totalMs) * 1000) / 1000 }));
  return { totalMs: Math.round(totalMs), idleMs: Math.round(idleMs), functions };
}
