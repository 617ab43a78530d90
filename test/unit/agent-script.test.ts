// The agent ships embedded (src/agent/script.ts): it must be exactly what src/agent/agent.sh gives.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderModule, scripts } from '../../scripts/gen-scripts.js';

test('the embedded agent is src/agent/agent.sh as the generator renders it (npm run gen:scripts)', () => {
  assert.equal(readFileSync(scripts.agent.module, 'utf8'), renderModule(scripts.agent, readFileSync(scripts.agent.sh, 'utf8')));
});
