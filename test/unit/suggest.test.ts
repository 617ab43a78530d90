import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measureDistance, suggest } from '../../src/util/suggest.js';

void test('a swap of adjacent letters is one edit', () => {
  assert.equal(measureDistance('wbe', 'web'), 1);
  assert.equal(measureDistance('buidlHost', 'buildHost'), 1);
  assert.equal(measureDistance('kitten', 'sitting'), 3);
});

void test('suggest picks a plausible typo and nothing for unrelated words', () => {
  assert.equal(suggest('wbe', ['db', 'eu', 'web']), 'web');
  assert.equal(suggest('buidHost', ['host', 'buildHost', 'user']), 'buildHost');
  assert.equal(suggest('zzz', ['web', 'db']), undefined);
});
