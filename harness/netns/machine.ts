/**
 * The machine a test bed runs on: whether it can (Linux, root, iproute2, a firewall that lets
 * bridged packets through), which subnets of 198.18.0.0/15 are taken, and the removal of beds whose
 * owner died.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { IP, ip, ownerAlive, processStart, readRecord, recordPaths, teardownRecord } from './record.js';

/** /24 subnets in 198.18.0.0/15. */
export const SUBNETS = 512;

/** Why the bed cannot run here, or null when it can. */
export function testBedUnavailable(): string | null {
  if (process.platform !== 'linux') return `it uses Linux network namespaces; this is ${process.platform}`;
  const uid = process.getuid?.();
  if (uid !== 0) return `this process runs as uid ${uid}; run it as root (CI does), it creates network namespaces, veths and a bridge`;
  if (ip(['-V'], { tolerate: true }) === null) return `iproute2's \`ip\` did not run (looked for ${IP})`;
  return firewallProblem();
}

/**
 * Bridged traffic passes iptables when br_netfilter is loaded with bridge-nf-call-iptables=1; a
 * FORWARD policy of DROP (Docker's default when it manages iptables) then drops host-to-host
 * packets. The bed says so rather than changing the host's firewall.
 */
function firewallProblem(): string | null {
  const sysctl = '/proc/sys/net/bridge/bridge-nf-call-iptables';
  if (!existsSync(sysctl) || readFileSync(sysctl, 'utf8').trim() !== '1') return null;
  const iptables = ['/usr/sbin/iptables', '/sbin/iptables'].find((p) => existsSync(p));
  if (iptables === undefined) return null;
  let rules = '';
  try {
    rules = execFileSync(iptables, ['-S', 'FORWARD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return null; // no iptables backend here: nothing filters the bridge
  }
  if (!/^-P FORWARD DROP/m.test(rules)) return null;
  return (
    'bridged packets pass iptables (net.bridge.bridge-nf-call-iptables=1) and the FORWARD policy is DROP, so hosts on the bed ' +
    'could not reach each other; allow 198.18.0.0/15 in FORWARD (iptables -I FORWARD -s 198.18.0.0/15 -d 198.18.0.0/15 -j ACCEPT) ' +
    'or set net.bridge.bridge-nf-call-iptables=0 — the bed does not change the host firewall itself'
  );
}

/** The address of host `index` (0-based) in subnet `subnet`; index -1 is the bridge's. */
export function addressOf(subnet: number, index: number): string {
  return `198.${18 + Math.floor(subnet / 256)}.${subnet % 256}.${index + 2}`;
}

/** Subnets with an address on some root-namespace interface (someone else's, or a bed's whose record is lost). */
export function subnetsInUse(): Set<number> {
  const used = new Set<number>();
  for (const m of (ip(['-4', '-o', 'addr', 'show'], { tolerate: true }) ?? '').matchAll(/inet 198\.(18|19)\.(\d+)\.\d+/g)) {
    used.add((Number(m[1]) - 18) * 256 + Number(m[2]));
  }
  for (const m of (ip(['-4', 'route', 'show'], { tolerate: true }) ?? '').matchAll(/^198\.(18|19)\.(\d+)\.\d+/gm)) {
    used.add((Number(m[1]) - 18) * 256 + Number(m[2]));
  }
  return used;
}

/** Names a bed's links and namespaces carry: `<pid base 36>x<sequence base 36>`. */
const ID_PATTERN = /^(?:scc-|sccb|sccv)([0-9a-z]+)x[0-9a-z]+/;

/**
 * Removes beds whose owner died: by their records first, then any namespace or link named like a
 * bed's whose owner pid no longer runs (a record lost, or a teardown cut short).
 */
export function removeStaleBeds(): number {
  let removed = 0;
  for (const path of recordPaths()) {
    const record = readRecord(path);
    if (record === null || ownerAlive(record)) continue;
    teardownRecord(record);
    removed += 1;
  }
  const deadOwner = (name: string): boolean => {
    const m = ID_PATTERN.exec(name);
    return m !== null && processStart(parseInt(m[1]!, 36)) === null;
  };
  const nsNames = (ip(['netns', 'list'], { tolerate: true }) ?? '').split('\n').map((l) => l.split(' ')[0] ?? '');
  const links = [...(ip(['-o', 'link', 'show'], { tolerate: true }) ?? '').matchAll(/^\d+: ([^:@]+)/gm)].map((m) => m[1]!);
  const strays = { ns: nsNames.filter((n) => n.startsWith('scc-') && deadOwner(n)), links: links.filter((l) => /^scc[bv]/.test(l) && deadOwner(l)) };
  if (strays.ns.length + strays.links.length > 0) {
    teardownRecord({ owner: 0, ownerStart: null, id: '', subnet: -1, bridge: '', hosts: strays.ns.map((ns) => ({ name: ns, ns, veth: '', address: '' })), pids: [], reaper: null });
    for (const l of strays.links) ip(['link', 'delete', l], { tolerate: true });
    removed += 1;
  }
  return removed;
}
