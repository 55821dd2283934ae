/** pino loggers configured from the SCC log-level scale; pretty single lines on a terminal. */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

/** The originals' scale: 0 silent, 1 errors, 2 warnings, 3 info; 4 (ours) adds debug. */
export type SccLogLevel = 0 | 1 | 2 | 3 | 4;
/** `json` (one object per line, for collectors) or `pretty` (one readable line per event). */
export type LogFormat = 'json' | 'pretty';
export type { Logger };

const PINO_LEVEL: Record<SccLogLevel, pino.LevelWithSilent> = { 0: 'silent', 1: 'error', 2: 'warn', 3: 'info', 4: 'debug' };

/** Maps an SCC log level to pino's level name. */
export function pinoLevel(level: SccLogLevel): pino.LevelWithSilent {
  return PINO_LEVEL[level];
}

export interface LoggerOptions {
  /** Service name, e.g. `scc-broker`; appears as `name` in every line. */
  name: string;
  level: SccLogLevel;
  format: LogFormat;
  /** Where lines go; standard output by default. */
  destination?: NodeJS.WritableStream;
}

/** Creates the service's root logger. */
export function createLogger(options: LoggerOptions): Logger {
  const base = { name: options.name, level: pinoLevel(options.level), base: { pid: process.pid } };
  if (options.format === 'pretty') {
    // Synchronous pretty stream, not a transport: no worker thread, and lines are not lost on exit.
    const stream = pretty({
      sync: true,
      singleLine: true,
      colorize: Boolean((options.destination as { isTTY?: boolean } | undefined)?.isTTY ?? process.stdout.isTTY),
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,name',
      destination: options.destination ?? 1,
    });
    return pino(base, stream);
  }
  return options.destination ? pino(base, options.destination) : pino(base, pino.destination({ sync: true }));
}

/**
 * A logger for the few lifecycle lines (listening, joined, shutting down) that should be seen at
 * any level but 0: the broker's default level (1, errors only) would otherwise hide its start-up.
 */
export function lifecycleLogger(logger: Logger, level: SccLogLevel): Logger {
  return logger.child({}, { level: level === 0 ? 'silent' : level >= 4 ? 'debug' : 'info' });
}
