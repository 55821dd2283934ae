/** `node server`: starts scc-worker from SCC_* / SOCKETCLUSTER_* environment variables. */
import { setProcessTitle, CLOSE_MARGIN_MS, createLogger, lifecycleLogger, readWorkerConfig, runService, SCC_TS_VERSION, LogEvent } from '@scc-ts/shared';
import { startWorkerServer } from './src/worker-server.js';

await runService({
  name: 'scc-worker',
  readConfig: () => readWorkerConfig(),
  shutdownTimeoutMsFor: (config) => config.drainTimeoutMs + CLOSE_MARGIN_MS,
  async start(config) {
    const logger = createLogger({ name: 'scc-worker', level: config.logLevel, format: config.logFormat });
    const lifecycle = lifecycleLogger(logger, config.logLevel);
    const worker = await startWorkerServer(config, logger);
    setProcessTitle(`scc-worker :${worker.port}`);
    const mode = config.cluster
      ? `cluster mode, state server ${config.cluster.stateServerHost}:${config.cluster.stateServerPort}`
      : 'standalone mode (SCC_STATE_SERVER_HOST not set)';
    const health = worker.healthPort === null ? '' : `, health on port ${worker.healthPort}`;
    lifecycle.info(
      { event: LogEvent.Listening, port: worker.port, healthPort: worker.healthPort },
      `scc-worker ${SCC_TS_VERSION} listening on port ${worker.port}${health}, ${mode}, instance ${worker.cluster?.instanceId ?? '-'}`,
    );
    return {
      async close() {
        lifecycle.info('scc-worker shutting down');
        await worker.close();
      },
    };
  },
});
