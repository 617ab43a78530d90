// Every invalid fixture states its diagnostics in `# expect:` / `# warn:` lines; the loader must report exactly those.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, formatDiagnostic, type Diagnostic } from '../../src/errors.js';
import { parseFleet, probePath } from '../../src/config/index.js';

const dir = fileURLToPath(new URL('../../fixtures/invalid/', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();

interface Expectation {
  severity: Diagnostic['severity'];
  line: number;
  col: number;
  text: string;
}

function readExpectations(text: string): Expectation[] {
  const found: Expectation[] = [];
  for (const m of text.matchAll(/^# (expect|warn): (\d+):(\d+): (.+)$/gm)) {
    found.push({ severity: m[1] === 'warn' ? 'warning' : 'error', line: Number(m[2]), col: Number(m[3]), text: m[4]! });
  }
  return found;
}

/** Pairs each expectation with a distinct diagnostic; returns what is left unmatched on either side. */
function matchAll(expected: Expectation[], actual: Diagnostic[]): { missing: Expectation[]; extra: Diagnostic[] } {
  const extra = [...actual];
  const missing = expected.filter((e) => {
    const i = extra.findIndex((d) => d.severity === e.severity && d.line === e.line && d.col === e.col && d.message.includes(e.text));
    if (i >= 0) extra.splice(i, 1);
    return i < 0;
  });
  return { missing, extra };
}

test('the invalid corpus is big enough', () => {
  assert.ok(files.length >= 45, `only ${files.length} invalid fixtures`);
});

for (const name of files) {
  test(`fixtures/invalid/${name}`, () => {
    const file = path.join(dir, name);
    const text = readFileSync(file, 'utf8');
    const expected = readExpectations(text);
    assert.ok(expected.some((e) => e.severity === 'error'), 'the fixture states no expected error');
    let error: unknown;
    try {
      parseFleet(text, file, probePath); // paths on disk are checked, as `fleet check` does
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    for (const d of error.diagnostics) {
      assert.equal(d.file, file);
      assert.doesNotMatch(d.message, /must NOT have|must match pattern|must have required property|\n/, 'raw ajv wording or a multi-line message');
    }
    const { missing, extra } = matchAll(expected, error.diagnostics);
    const shown = error.diagnostics.map(formatDiagnostic).join('\n');
    assert.deepEqual({ missing, extra: extra.map(formatDiagnostic) }, { missing: [], extra: [] }, `got:\n${shown}`);
    const positions = error.diagnostics.map((d) => d.line * 1e4 + d.col);
    assert.deepEqual(positions, [...positions].sort((a, b) => a - b), 'diagnostics are not sorted by position');
  });
}
