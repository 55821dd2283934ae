/** A real pino logger whose lines are kept in memory, for unit tests that assert on warnings. */
import { createLogger, type Logger } from '@scc-ts/shared';

export interface CapturedLog {
  logger: Logger;
  /** Messages of the lines logged at `warn`, oldest first. */
  warnings(): string[];
  /** Every line logged, parsed, oldest first. */
  lines(): Array<Record<string, unknown>>;
}

const PINO_WARN = 40;

export function captureLog(): CapturedLog {
  const lines: string[] = [];
  const destination = { write: (line: string) => lines.push(line) > 0 } as unknown as NodeJS.WritableStream;
  const logger = createLogger({ name: 'test', level: 4, format: 'json', destination });
  const warnings = (): string[] =>
    lines.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((l) => l.level === PINO_WARN).map((l) => l.msg);
  return { logger, warnings, lines: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}
