/** `node server`: starts scc-broker from SCC_* environment variables (SCC_STATE_SERVER_HOST is required). */
import { setProcessTitle, CLOSE_MARGIN_MS, createLogger, lifecycleLogger, readBrokerConfig, runService, SCC_TS_VERSION, LogEvent } from '@scc-ts/shared';
import { startBrokerServer } from './src/broker-server.js';
import { readRelaySettings } from './src/relay-settings.js';

await runService({
  name: 'scc-broker',
  readConfig: () => {
    const config = readBrokerConfig();
    // Checked with the rest of the config, so an unknown SOCKETCLUSTER_OPTIONS key is one start-up line.
    readRelaySettings(config.socketClusterOptions);
    return config;
  },
  shutdownTimeoutMsFor: (config) => config.drainTimeoutMs + CLOSE_MARGIN_MS,
  async start(config) {
    const logger = createLogger({ name: 'scc-broker', level: config.logLevel, format: config.logFormat });
    const lifecycle = lifecycleLogger(logger, config.logLevel);
    const broker = await startBrokerServer(config, logger);
    setProcessTitle(`scc-broker :${broker.port}`);
    const health = broker.healthPort === null ? '' : `, health on port ${broker.healthPort}`;
    lifecycle.info(
      { event: LogEvent.Listening, port: broker.port, healthPort: broker.healthPort },
      `scc-broker ${SCC_TS_VERSION} listening on port ${broker.port}${health}, joining state server ${config.stateServerHost}:${config.stateServerPort}`,
    );
    const { channelPrefixes, size, ttlMs, channelMaxBytes, maxBytes } = config.history;
    if (channelPrefixes.length > 0) {
      lifecycle.info(
        { history: config.history },
        `channel history on for ${channelPrefixes.join(', ')}: at most ${size} messages and ${channelMaxBytes} bytes per channel, ${maxBytes} bytes in all, ${ttlMs === 0 ? 'no time limit' : `for ${ttlMs} ms`}`,
      );
    }
    return {
      async close() {
        lifecycle.info('scc-broker leaving the cluster and shutting down');
        await broker.drain();
        await broker.close();
      },
    };
  },
});
