/**
 * The README's configuration tables against the one table of settings: every variable a service
 * reads is documented with its default, and the README documents no variable or default the code
 * does not have. The prose cannot drift from the definitions again.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SETTINGS, defaultText, type Setting } from '../src/config/definitions.js';
import { STATE_SETTINGS } from '../src/config/state.js';
import { BROKER_SETTINGS } from '../src/config/broker.js';
import { WORKER_SETTINGS } from '../src/config/worker.js';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

/** The body rows of the first table after `heading`, as trimmed cells without Markdown emphasis. */
function tableAfter(heading: string): string[][] {
  const start = readme.indexOf(`\n${heading}\n`);
  expect(start, `README has a "${heading}" section`).toBeGreaterThanOrEqual(0);
  const lines = readme.slice(start).split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .slice(1, -1)
        .split(' | ')
        .map((cell) => cell.replaceAll('`', '').replaceAll('**', '').trim()),
    );
  }
  return rows;
}

/** The variable names of a row's first cell (`SCC_MAX_PAYLOAD (bytes)` → `SCC_MAX_PAYLOAD`). */
const variableOf = (cell: string) => cell.split(' ')[0] ?? '';

// Documented in the "Limits and hostile input" table (a column per service) and "All services".
const LIMIT_VARIABLES = ['SCC_MAX_PAYLOAD', 'SCC_HANDSHAKE_TIMEOUT', 'SCC_SOCKET_CHANNEL_LIMIT', 'SCC_MAX_CONNECTIONS', 'SCC_MAX_OUTBOUND_BUFFER'];
const ALL_SERVICES_VARIABLES = ['SCC_LOG_FORMAT', 'SCC_LINK_TIMEOUT', 'SCC_BIND_HOST', 'SCC_HEALTH_PORT'];

const services: readonly { heading: string; settings: readonly Setting[] }[] = [
  { heading: '### scc-state', settings: STATE_SETTINGS },
  { heading: '### scc-broker', settings: BROKER_SETTINGS },
  { heading: '### scc-worker', settings: WORKER_SETTINGS },
];

function byVariable(settings: readonly Setting[]): Map<string, Setting> {
  const map = new Map<string, Setting>();
  for (const setting of settings) {
    if (setting.env === null) continue;
    expect(map.has(setting.env), `${setting.env} is read once per service`).toBe(false);
    map.set(setting.env, setting);
  }
  return map;
}

describe('README configuration tables', () => {
  for (const { heading, settings } of services) {
    it(`${heading.slice(4)}: every variable with the default of the definitions, and no other`, () => {
      const defined = byVariable(settings);
      const rows = tableAfter(heading);
      const documented = rows.map(([name]) => variableOf(name ?? ''));
      for (const [name, defaultCell] of rows) {
        const setting = defined.get(variableOf(name ?? ''));
        expect(setting, `${name} is a setting of ${heading.slice(4)}`).toBeDefined();
        expect(defaultCell, `default of ${name}`).toBe(defaultText(setting!));
      }
      const elsewhere = [...LIMIT_VARIABLES, ...ALL_SERVICES_VARIABLES];
      const expected = [...defined.keys()].filter((name) => !elsewhere.includes(name));
      expect(new Set(documented)).toEqual(new Set(expected));
      expect(documented).toHaveLength(expected.length);
    });
  }

  it('All services: the shared variables with their defaults', () => {
    const rows = tableAfter('### All services');
    expect(rows.map(([name]) => name)).toEqual(ALL_SERVICES_VARIABLES);
    expect(rows[0]?.[1]).toBe(defaultText(SETTINGS.logFormat));
    expect(rows[1]?.[1]).toBe(defaultText(SETTINGS.linkTimeout));
    expect(rows[2]?.[1]).toBe(defaultText(SETTINGS.bindHost));
    expect(rows[3]?.[1]).toBe(defaultText(SETTINGS.healthPort));
  });

  it('Limits: each service column holds that service\'s default', () => {
    const rows = tableAfter('## Limits and hostile input');
    expect(rows.map(([name]) => variableOf(name ?? ''))).toEqual(LIMIT_VARIABLES);
    const columns = [STATE_SETTINGS, BROKER_SETTINGS, WORKER_SETTINGS].map(byVariable);
    for (const row of rows) {
      const name = variableOf(row[0] ?? '');
      columns.forEach((settings, i) => {
        const setting = settings.get(name);
        // A cell starts with the number (a unit in brackets may follow) or is a dash: no such limit.
        const cell = row[i + 1] ?? '';
        const shown = /^\d+/.exec(cell)?.[0] ?? null;
        expect(shown, `${name}, column ${i + 1}`).toBe(setting === undefined ? null : defaultText(setting));
      });
    }
  });

  // The plugin options table is generated from the same table (`pnpm docs`); test/packages/readme-docs.test.ts checks it.
});
