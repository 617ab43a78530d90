// Prometheus's text exposition format (version 0.0.4): HELP and TYPE per family, label values escaped. The one
// writer `fleet status --format prometheus` and `fleet apply --metrics-file` share.

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  labels?: Labels;
  value: number;
}

export interface MetricFamily {
  /** Prometheus naming: snake_case, the unit as suffix (`_seconds`, `_bytes`), `_total` only on counters. */
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  samples: readonly Sample[];
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A label value as the format wants it: backslash, double quote and line feed escaped. */
export function labelValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text: backslash and line feed escaped. */
function helpText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function formatLabels(labels: Labels | undefined): string {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return '';
  for (const [name] of entries) if (!labelName.test(name) || name.startsWith('__')) throw new Error(`invalid Prometheus label name: ${name}`);
  return `{${entries.map(([name, value]) => `${name}="${labelValue(value)}"`).join(',')}}`;
}

/** The families in order; one without samples is left out (nothing to say, and no lone HELP line). */
export function formatExposition(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const f of families) {
    if (!metricName.test(f.name)) throw new Error(`invalid Prometheus metric name: ${f.name}`);
    if (f.samples.length === 0) continue;
    lines.push(`# HELP ${f.name} ${helpText(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) lines.push(`${f.name}${formatLabels(s.labels)} ${formatValue(s.value)}`);
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

/** A list as one label value, Prometheus's own way for tags (`,web,eu,`): `{tags=~".*,web,.*"}` matches one. */
export function listLabel(items: readonly string[]): string {
  return items.length === 0 ? '' : `,${items.join(',')},`;
}

/** Seconds since the epoch from a Date or an ISO time (Prometheus's unit for timestamps). */
export function epochSeconds(time: Date | string): number {
  return (typeof time === 'string' ? Date.parse(time) : time.getTime()) / 1000;
}
