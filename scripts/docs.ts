/**
 * `pnpm docs`: writes the README's generated parts, each between `<!-- NAME:begin -->` and
 * `<!-- NAME:end -->` markers, from their one definition:
 *
 * - `plugin-example`: the example app, docs/examples/plugin-app.mjs (the file the install test runs);
 * - `options`: every `attach()` option with its default, variable and meaning, from the plugin's
 *   OPTION_SETTINGS (the shared settings table) and OTHER_OPTIONS.
 *
 * `pnpm docs --check` changes nothing and exits 1 when the README is out of date;
 * test/packages/readme-docs.test.ts does the same check.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defaultText, type Setting } from '@scc-ts/shared';
import { OPTION_SETTINGS, OTHER_OPTIONS } from '../packages/scc-worker/src/cluster/options.js';

export const README_PATH = fileURLToPath(new URL('../README.md', import.meta.url));
export const EXAMPLE_PATH = fileURLToPath(new URL('../docs/examples/plugin-app.mjs', import.meta.url));

/** The unit or bounds of a number setting, as the docs write them: ` (ms)`, ` (1–64)`. */
function boundsOf(setting: Setting): string {
  if (setting.type !== 'integer' || setting.unit === 'port') return '';
  return setting.unit === 'ms' ? ' (ms)' : ` (${setting.min}–${setting.max})`;
}

/** The meaning cell: the setting's doc line, then what values it takes. */
function meaningOf(setting: Setting): string {
  const parts = [`${setting.doc}${boundsOf(setting)}`];
  if (setting.type === 'enum') {
    const values = setting.values.map((v) => `\`${v}\``).join(', ');
    parts.push(setting.optionAlso ? `${values} or ${setting.optionAlso.what}` : values);
  }
  if (setting.optionNull !== undefined) parts.push(`\`null\`: ${setting.optionNull}`);
  return parts.join('; ');
}

function defaultCell(setting: Setting): string {
  if (setting.optionRequired === true) return '**required**';
  const text = defaultText(setting);
  return setting.type === 'semver' ? `\`${text}\`` : text;
}

/** The options table. */
export function optionsTable(): string {
  const rows = ['| option | default | variable | meaning |', '|---|---|---|---|'];
  for (const [option, setting] of Object.entries(OPTION_SETTINGS) as [string, Setting][]) {
    rows.push(`| \`${option}\` | ${defaultCell(setting)} | ${setting.env === null ? '—' : `\`${setting.env}\``} | ${meaningOf(setting)} |`);
  }
  for (const [option, other] of Object.entries(OTHER_OPTIONS)) rows.push(`| \`${option}\` | ${other.default} | — | ${other.doc} |`);
  return rows.join('\n');
}

/** The example app as a fenced block. */
export function exampleBlock(): string {
  return ['```js', readFileSync(EXAMPLE_PATH, 'utf8').trimEnd(), '```'].join('\n');
}

/** Thrown when a README lacks a pair of markers. */
export class MissingMarkersError extends Error {
  override readonly name = 'MissingMarkersError';
}

/** `readme` with the part between NAME's markers replaced by `body`. */
function replaceBetween(readme: string, name: string, body: string): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const from = readme.indexOf(begin);
  const to = readme.indexOf(end);
  if (from < 0 || to < from) throw new MissingMarkersError(`README.md has no ${begin} … ${end} pair`);
  return `${readme.slice(0, from + begin.length)}\n${body}\n${readme.slice(to)}`;
}

/** The README with every generated part up to date. */
export function renderReadme(readme: string): string {
  return replaceBetween(replaceBetween(readme, 'plugin-example', exampleBlock()), 'options', optionsTable());
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const current = readFileSync(README_PATH, 'utf8');
  const rendered = renderReadme(current);
  if (process.argv.includes('--check')) {
    if (rendered !== current) {
      process.stderr.write('docs: README.md is out of date; run `pnpm docs`\n');
      process.exit(1);
    }
    process.stdout.write('docs: README.md is up to date\n');
  } else if (rendered !== current) {
    writeFileSync(README_PATH, rendered);
    process.stdout.write('docs: README.md updated\n');
  } else {
    process.stdout.write('docs: README.md already up to date\n');
  }
}
