/**
 * The settings table itself: every default passes its own check, and an env variable and the plugin
 * option of the same setting accept and refuse the same values (one validator behind both).
 */
import { describe, expect, it } from 'vitest';
import { SETTINGS, type IntegerSetting, type Setting } from '../src/config/definitions.js';
import { EnvSettings, resolveOptionSettings, validate } from '../src/config/parse.js';
import { ConfigError } from '../src/errors.js';

const all = Object.entries(SETTINGS) as [string, Setting][];

/** The problems of reading `value` from the environment (none: accepted). */
function envProblems(setting: Setting, value: string): readonly string[] {
  const reader = new EnvSettings({ [setting.env!]: value });
  reader.read(setting);
  try {
    reader.done({});
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
}

describe('SETTINGS', () => {
  it.each(all.filter(([, s]) => s.default !== null))('%s: its default passes its own check', (_name, setting) => {
    expect(validate(setting, setting.default, false)).toBeNull();
  });

  it.each(all.filter(([, s]) => s.type === 'integer'))('%s: bounds are integers in order, the default inside them', (_name, setting) => {
    const { min, max } = setting as IntegerSetting;
    expect(Number.isSafeInteger(min) && Number.isSafeInteger(max) && min <= max).toBe(true);
  });

  it('names each environment variable in upper snake case and each option in camel case', () => {
    for (const [name, setting] of all) {
      if (setting.env !== null) expect(setting.env, name).toMatch(/^[A-Z][A-Z0-9_]*$/);
      if (setting.option !== undefined) expect(setting.option, name).toMatch(/^[a-z][A-Za-z]*$/);
      expect(setting.env !== null || setting.option !== undefined, `${name} is reachable`).toBe(true);
    }
  });

  const both = all.filter(([, s]) => s.type === 'integer' && s.env !== null && s.option !== undefined) as [string, IntegerSetting][];
  it.each(both)('%s: the env variable and the option accept and refuse the same integers', (_name, setting) => {
    for (const value of [setting.min - 1, setting.min, setting.max, setting.max + 1, setting.min + 0.5]) {
      const env = envProblems(setting, String(value));
      const { problems } = resolveOptionSettings({ [setting.option!]: setting }, { [setting.option!]: value });
      expect(env.length, `${setting.env}=${value}`).toBe(problems.length);
      if (problems.length > 0) {
        // The same reason, named once by the variable and once by the option.
        expect(env[0]?.split(': ')[1]).toBe(problems[0]?.split(': ')[1]);
        expect(env[0]).toContain(setting.env!);
        expect(problems[0]).toContain(setting.option!);
      }
    }
  });
});
