import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fieldSelectorProblem, labelSelectorProblem } from '../../src/kube/selectors.js';

describe('label and field selectors are checked as the API server parses them', () => {
  const labels: Array<[string, boolean]> = [
    ['app=web', true],
    ['app==web', true],
    ['app!=canary', true],
    ['tier in (web, api),!legacy', true],
    ['tier notin (cache)', true],
    ['app.kubernetes.io/name=kollect', true],
    ['release', true],
    ['replicas>2', true],
    ['app=', true],
    ['', false],
    ['app=web,,tier=api', false],
    ['app=we b', false],
    ['-app=web', false],
    ['Bad_Prefix/app=web', false],
    ['tier in (web', false],
    ['replicas>two', false],
    [`app=${'x'.repeat(64)}`, false],
  ];
  const fields: Array<[string, boolean]> = [
    ['status.phase!=Succeeded', true],
    ['metadata.name=a,metadata.namespace==b', true],
    ['metadata.name=a\\,b', true],
    ['spec.nodeName=', true],
    ['', false],
    ['status.phase', false],
    ['status.phase in (Running)', false],
  ];
  const cases = [
    ...labels.map(([selector, valid]) => ({ setting: 'labelSelector', check: labelSelectorProblem, selector, valid })),
    ...fields.map(([selector, valid]) => ({ setting: 'fieldSelector', check: fieldSelectorProblem, selector, valid })),
  ];
  for (const { setting, check, selector, valid } of cases) {
    it(`GIVEN ${setting} ${JSON.stringify(selector)} THEN it is ${valid ? 'accepted' : 'refused with a reason'}`, () => {
      const problem = check(selector);
      if (valid) assert.equal(problem, undefined);
      else assert.match(problem ?? '', /\S/);
    });
  }
});
