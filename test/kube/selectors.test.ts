import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fieldSelectorMatches, fieldSelectorProblem, labelSelectorMatches, labelSelectorProblem } from '../../src/kube/selectors.js';

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

describe('selectors evaluated on an object as the API server would (shard-report --manifests)', () => {
  const labels = { app: 'web', tier: 'api', replicas: '3' };
  const labelCases: Array<[string, boolean]> = [
    ['app=web', true],
    ['app==web', true],
    ['app=db', false],
    ['app!=db', true],
    ['missing!=x', true],
    ['missing=x', false],
    ['tier in (web, api)', true],
    ['tier notin (api)', false],
    ['missing in (a)', false],
    ['missing notin (a)', true],
    ['app', true],
    ['!app', false],
    ['!missing', true],
    ['replicas>2', true],
    ['replicas<3', false],
    ['app>1', false],
    ['app=web,tier=cache', false],
    ['app=web,tier in (api),!missing', true],
  ];
  for (const [selector, expected] of labelCases) {
    it(`GIVEN labels app=web,tier=api,replicas=3 WHEN ${JSON.stringify(selector)} THEN ${expected ? 'selected' : 'not selected'}`, () => {
      assert.equal(labelSelectorMatches(selector, labels), expected);
    });
  }
  const fields = { 'metadata.name': 'a,b', 'metadata.namespace': 'shop' };
  const fieldCases: Array<[string, boolean]> = [
    ['metadata.namespace=shop', true],
    ['metadata.namespace==shop', true],
    ['metadata.namespace!=shop', false],
    ['metadata.name=a\\,b', true],
    ['metadata.name=a', false],
    ['status.phase!=Succeeded', true],
    ['status.phase=Running,metadata.namespace!=shop', false],
  ];
  for (const [selector, expected] of fieldCases) {
    it(`GIVEN name "a,b" in shop WHEN ${JSON.stringify(selector)} THEN ${expected ? 'selected' : 'not selected'}`, () => {
      assert.equal(fieldSelectorMatches(selector, fields), expected);
    });
  }
});
