/**
 * The one validator of settings (definitions.ts), with its two front ends: environment variables
 * (strings, converted first) and plugin options (values as given). Both collect every problem and
 * report them together in one `ConfigError`; a value that is set but invalid is an error, never
 * silently replaced by the default (the originals' `Number(x) || default` turns a 0 into the default).
 */
import { ConfigError } from '../errors.js';
import { isHostOrIp } from '../uri.js';
import { isSemver } from '../version.js';
import type { Setting, ValueOf } from './definitions.js';

/** The environment as Node exposes it. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Longest part of a bad value quoted in a problem (keeps the one-line message readable). */
const MAX_SHOWN_CHARS = 80;

/** Words `SCC_*` booleans accept (the originals treat any non-empty value as true). */
const TRUE_WORDS: readonly string[] = ['true', '1', 'yes', 'on'];
const FALSE_WORDS: readonly string[] = ['false', '0', 'no', 'off'];

/** Whether `value` is acceptable for `setting`; the reason when it is not. */
export function validate(setting: Setting, value: unknown, asOption: boolean): string | null {
  if (asOption && setting.optionAlso?.accepts(value) === true) return null;
  const also = asOption && setting.optionAlso ? ` or ${setting.optionAlso.what}` : '';
  switch (setting.type) {
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value) && value >= setting.min && value <= setting.max
        ? null
        : `must be an integer from ${setting.min} to ${setting.max}`;
    case 'boolean':
      return typeof value === 'boolean' ? null : 'must be true or false';
    case 'enum':
      return (setting.values as readonly unknown[]).includes(value) ? null : `must be one of ${setting.values.join(', ')}${also}`;
    case 'text':
      if (typeof value !== 'string') return 'must be a string';
      return setting.nonEmpty === true && value === '' ? 'must be a non-empty string' : null;
    case 'host':
      return typeof value === 'string' && isHostOrIp(value) ? null : 'must be an IP address or a host name';
    case 'semver':
      return isSemver(value) ? null : 'must be a semver version such as 9.2.0';
    case 'json':
      return value !== null && typeof value === 'object' && !Array.isArray(value) ? null : 'must be a JSON object';
    case 'list':
      return Array.isArray(value) && value.every((item) => typeof item === 'string') ? null : 'must be a list of strings';
  }
}

/** Freezes an object and every object inside it (config is shared by reference across modules). */
export function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const inner of Object.values(value)) {
    if (inner !== null && typeof inner === 'object' && !Object.isFrozen(inner)) deepFreeze(inner as object);
  }
  return Object.freeze(value);
}

/** An env string converted to the setting's type, or the reason it cannot be. */
function fromEnvString(setting: Setting, raw: string): { value: unknown } | { why: string } {
  const trimmed = raw.trim();
  switch (setting.type) {
    case 'integer':
      return { value: Number(trimmed) };
    case 'boolean': {
      const word = trimmed.toLowerCase();
      return { value: TRUE_WORDS.includes(word) ? true : FALSE_WORDS.includes(word) ? false : raw };
    }
    case 'text':
      return { value: raw };
    case 'json':
      try {
        return { value: JSON.parse(raw) as unknown };
      } catch {
        return { why: 'is not valid JSON' };
      }
    case 'list':
      return {
        value: raw
          .split(',')
          .map((item) => item.trim())
          .filter((item) => item !== ''),
      };
    default:
      return { value: trimmed };
  }
}

/** Reads settings from the environment, collecting problems instead of stopping at the first. */
export class EnvSettings {
  private readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  /**
   * The setting's value: its default when unset or blank (blank means "use the default"), or
   * `fallback` when given. An invalid value records a problem and yields the default.
   */
  read<S extends Setting>(setting: S, fallback?: ValueOf<S>): ValueOf<S> {
    const name = setting.env;
    if (name === null) throw new TypeError(`setting "${setting.doc}" has no environment variable`);
    const byDefault = (fallback ?? setting.default) as ValueOf<S>;
    const raw = this.env[name];
    if (raw === undefined || raw.trim() === '') {
      if (setting.required !== undefined) this.problems.push(`${name} is required: ${setting.required}`);
      return byDefault;
    }
    const converted = fromEnvString(setting, raw);
    const why = 'why' in converted ? converted.why : validate(setting, converted.value, false);
    if (why !== null) {
      const shown = raw.length > MAX_SHOWN_CHARS ? `${raw.slice(0, MAX_SHOWN_CHARS)}…` : raw;
      this.problems.push(`${name}=${JSON.stringify(shown)}: ${why}`);
      return byDefault;
    }
    return (converted as { value: unknown }).value as ValueOf<S>;
  }

  /** Records a problem no single setting shows (two settings that exclude each other). */
  problem(message: string): void {
    this.problems.push(message);
  }

  /** Freezes the result, or throws one `ConfigError` listing every problem found. */
  done<T extends object>(config: T): Readonly<T> {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
    return deepFreeze(config);
  }
}

/** Names a bad option value in a problem; never throws (NaN, Infinity, cycles, functions). */
function showOption(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint' || value === undefined) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * Checks plugin options against their settings: each key of `settings` is an option name (its
 * setting's `option`). Returns every value (the default where unset or invalid) and the problems.
 * Unset is `undefined`; `null` is unset too where the default is null, or means `optionNull`.
 */
export function resolveOptionSettings<F extends Readonly<Record<string, Setting>>>(
  settings: F,
  options: Readonly<Record<string, unknown>>,
): { values: { -readonly [K in keyof F]: ValueOf<F[K]> | (F[K]['optionNull'] extends string ? null : never) }; problems: string[] } {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(settings)) {
    const value = options[name];
    const blank = value === undefined || (value === null && setting.optionNull === undefined) || (setting.type === 'host' && typeof value === 'string' && value.trim() === '');
    if (blank) {
      if (setting.optionRequired === true) problems.push(`${name} is required`);
      values[name] = setting.default;
      continue;
    }
    if (value === null) {
      values[name] = null;
      continue;
    }
    const why = validate(setting, value, true);
    if (why !== null) problems.push(`${name}=${showOption(value)}: ${why}`);
    values[name] = why === null ? value : setting.default;
  }
  return { values: values as never, problems };
}
