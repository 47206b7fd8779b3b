import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asksForJson } from '../../src/cli/main.js';

describe('asksForJson', () => {
  const argv = (...args: string[]): string[] => ['node', 'kollect', ...args];
  it('GIVEN --output json, -o json, --format json or their attached forms THEN errors are JSON', () => {
    for (const args of [
      ['collect', '--output', 'json'],
      ['collect', '-o', 'json'],
      ['shard-report', '--format', 'json'],
      ['export', '--output=json'],
      ['export', '-ojson'],
      ['shard-report', '--format=json'],
    ]) {
      assert.equal(asksForJson(argv(...args)), true, args.join(' '));
    }
  });
  it('GIVEN "json" only as the value of another option, text output, or after -- THEN errors stay text', () => {
    for (const args of [
      ['collect', '--cluster', 'json'],
      ['collect', '--output', 'text', '--context', 'json'],
      ['collect', '--', '--output', 'json'],
      ['collect'],
    ]) {
      assert.equal(asksForJson(argv(...args)), false, args.join(' '));
    }
  });
});
