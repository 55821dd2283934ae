/**
 * The README's generated parts (`pnpm docs`, scripts/docs.ts) against their one definition: the
 * plugin example is the file the install test runs, and the options table lists every `attach()`
 * option with the default of the settings table. Fails when either changed without `pnpm docs`.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CLIENT_POOL_SIZE } from '@scc-ts/shared';
import { EXAMPLE_PATH, README_PATH, renderReadme, optionsTable } from '../../scripts/docs.js';

const readme = readFileSync(README_PATH, 'utf8');

describe('README generated parts', () => {
  it('are up to date (run `pnpm docs` after changing an option or the example)', () => {
    expect(renderReadme(readme) === readme, 'README.md differs from what `pnpm docs` writes').toBe(true);
  });

  it('hold the example app and every option with its default', () => {
    expect(readme).toContain(readFileSync(EXAMPLE_PATH, 'utf8').trimEnd());
    const table = optionsTable();
    for (const option of ['stateServerHost', 'instancePort', 'clientPoolSize', 'holdSubscribeAcks', 'deliveryMode', 'logger']) {
      expect(table, option).toMatch(new RegExp(`^\\| \`${option}\` \\|`, 'm'));
    }
    expect(table).toContain(`| \`clientPoolSize\` | ${DEFAULT_CLIENT_POOL_SIZE} | \`SCC_CLIENT_POOL_SIZE\` |`);
    expect(renderReadme(readme.replace(table, 'stale'))).toBe(readme);
  });
});
