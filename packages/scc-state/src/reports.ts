/**
 * What our peers report unasked, over their state link: a worker's unreachable brokers
 * (`sccWorkerLinks`, to links.ts) and every peer's figures (`sccStats`, to peer-stats.ts). Both are
 * transmits: a malformed one is refused with its named error in the log and changes nothing.
 */
import { InstanceType, LinkProcedure, STATS_EVENT, parseLinkReport, type InstanceTypeName, type Logger, type ServerSocket } from '@scc-ts/shared';
import type { LinkMonitor } from './links.js';
import type { PeerStats } from './peer-stats.js';

export interface ReportSinks {
  /** Whether the socket has joined as `type` (reports of a socket that has not are ignored). */
  isMember(type: InstanceTypeName): boolean;
  /** The type the socket connected as. */
  instanceType: InstanceTypeName;
  links: LinkMonitor;
  peerStats: PeerStats;
  logger: Logger;
}

/** Consumes the socket's reports until it closes. */
export function serveReports(socket: ServerSocket, sinks: ReportSinks): void {
  const { links, peerStats, logger } = sinks;
  void (async () => {
    for await (const data of socket.receiver(LinkProcedure.Report)) {
      if (!sinks.isMember(InstanceType.Worker)) continue;
      try {
        links.report(socket.id, parseLinkReport(data).unreachable);
      } catch (error) {
        const err = error as Error;
        logger.warn(`refused a ${LinkProcedure.Report} report from ${socket.remoteAddress}: ${err.name}: ${err.message}`);
      }
    }
  })();
  void (async () => {
    let warned = false;
    for await (const data of socket.receiver(STATS_EVENT)) {
      // Figures belong to a member: a socket that has not joined has nothing to show them on.
      if (!sinks.isMember(sinks.instanceType)) continue;
      try {
        peerStats.record(socket.id, data);
      } catch (error) {
        // Refused and counted (the view shows the count); the last good figures stay. Warned once
        // per socket: a peer with a bug would otherwise warn every interval.
        const err = error as Error;
        const message = `refused a ${STATS_EVENT} report from ${socket.remoteAddress}: ${err.name}: ${err.message}`;
        if (warned) logger.debug(message);
        else logger.warn(message);
        warned = true;
      }
    }
  })();
}
