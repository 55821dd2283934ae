/**
 * Scrapes `/metrics` and checks the text twice: with parse-prometheus-text-format (an independent
 * parser of the exposition format) and line by line against the format's grammar, so a malformed
 * line fails even where that parser is lenient.
 */
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL_VALUE = '"(?:[^"\\\\\\n]|\\\\[\\\\n"])*"';
const LABELS = `\\{(?:[a-zA-Z_][a-zA-Z0-9_]*=${LABEL_VALUE}(?:,[a-zA-Z_][a-zA-Z0-9_]*=${LABEL_VALUE})*,?)?\\}`;
const VALUE = '(?:[-+]?(?:\\d+\\.?\\d*(?:[eE][-+]?\\d+)?|\\.\\d+(?:[eE][-+]?\\d+)?)|NaN|[-+]?Inf)';
const SAMPLE = new RegExp(`^(${NAME})(${LABELS})? ${VALUE}(?: -?\\d+)?$`);
const HELP = new RegExp(`^# HELP (${NAME}) .*$`);
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);

/** One scrape: the families as parsed and a flat `name{labels}` → value index. */
export class Scrape {
  constructor(
    readonly families: ParsedFamily[],
    readonly text: string,
  ) {}

  family(name: string): ParsedFamily | undefined {
    return this.families.find((f) => f.name === name);
  }

  /** The value of the sample with exactly these labels (all labels when omitted: the single sample). */
  value(name: string, labels: Record<string, string> = {}): number | undefined {
    const family = this.family(name);
    const sample = family?.metrics.find((m) => {
      const have = m.labels ?? {};
      return Object.keys(have).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => have[k] === v);
    });
    return sample?.value === undefined ? undefined : Number(sample.value);
  }

  /** Sum over every sample of a counter or gauge family (0 when absent). */
  sum(name: string): number {
    return (this.family(name)?.metrics ?? []).reduce((total, m) => total + Number(m.value ?? 0), 0);
  }

  /** Samples of a family as labels → value. */
  samples(name: string): Array<{ labels: Record<string, string>; value: number }> {
    return (this.family(name)?.metrics ?? []).map((m) => ({ labels: m.labels ?? {}, value: Number(m.value) }));
  }
}

/** Checks `text` against the exposition grammar; returns the problems found (empty when valid). */
export function expositionProblems(text: string): string[] {
  const problems: string[] = [];
  const typed = new Map<string, string>();
  if (!text.endsWith('\n')) problems.push('does not end with a newline');
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const help = HELP.exec(line);
    if (help) continue;
    const type = TYPE.exec(line);
    if (type) {
      if (typed.has(type[1]!)) problems.push(`line ${i + 1}: second TYPE for ${type[1]}`);
      typed.set(type[1]!, type[2]!);
      continue;
    }
    const sample = SAMPLE.exec(line);
    if (!sample) {
      problems.push(`line ${i + 1}: not a sample: ${line}`);
      continue;
    }
    const name = sample[1]!;
    const base = [...typed.keys()].find((t) => name === t || ((name === `${t}_bucket` || name === `${t}_sum` || name === `${t}_count`) && typed.get(t) !== 'counter'));
    if (base === undefined) problems.push(`line ${i + 1}: sample ${name} without a TYPE line before it`);
  }
  for (const [name, type] of typed) {
    if (name.startsWith('scc_') && type === 'counter' && !name.endsWith('_total')) problems.push(`counter ${name} does not end in _total`);
    if (name.startsWith('scc_') && type !== 'counter' && name.endsWith('_total')) problems.push(`${type} ${name} ends in _total`);
  }
  return problems;
}

/** GETs /metrics on 127.0.0.1:port, checks the content type and format, and parses it. */
export async function scrape(port: number): Promise<Scrape> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics on ${port} answered ${res.status}`);
  const type = res.headers.get('content-type') ?? '';
  if (!/^text\/plain; version=0\.0\.4/.test(type)) throw new Error(`/metrics on ${port}: content type ${type}`);
  const text = await res.text();
  const problems = expositionProblems(text);
  if (problems.length > 0) throw new Error(`/metrics on ${port} is not valid exposition format:\n${problems.slice(0, 10).join('\n')}`);
  return new Scrape(parsePrometheusTextFormat(text), text);
}
