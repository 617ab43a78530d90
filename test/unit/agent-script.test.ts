// The agent ships embedded (src/agent/script.ts): it must be exactly what src/agent/agent.sh gives.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { agentPath, renderModule, scriptPath } from '../../scripts/gen-agent.js';

test('the embedded agent is src/agent/agent.sh as the generator renders it (npm run gen:agent)', () => {
  assert.equal(readFileSync(scriptPath, 'utf8'), renderModule(readFileSync(agentPath, 'utf8')));
});
