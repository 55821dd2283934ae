/** `node server`: starts scc-state from SCC_* environment variables. */
import { setProcessTitle, createLogger, lifecycleLogger, readStateConfig, runService, SCC_TS_VERSION, LogEvent } from '@scc-ts/shared';
import { startStateServer } from './src/state-server.js';

await runService({
  name: 'scc-state',
  readConfig: () => readStateConfig(),
  async start(config) {
    const logger = createLogger({ name: 'scc-state', level: config.logLevel, format: config.logFormat });
    const server = await startStateServer(config, logger);
    const lifecycle = lifecycleLogger(logger, config.logLevel);
    setProcessTitle('scc-state');
    const health = server.healthPort === null ? '' : `, health on port ${server.healthPort}`;
    lifecycle.info({ event: LogEvent.Listening, port: server.port, healthPort: server.healthPort }, `scc-state ${SCC_TS_VERSION} listening on port ${server.port}${health}${config.authKey === null ? '' : ' (auth key required)'}`);
    return {
      async close() {
        lifecycle.info('scc-state shutting down');
        await server.close();
      },
    };
  },
});
