import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

/** The issue's configuration for a fleet: one file for every cluster. */
const FLEET = {
  cluster: 'c',
  namespaces: { include: ['team-*', 'default'], exclude: ['team-sandbox-*'] },
  exclude: ['events', 'leases.coordination.k8s.io'],
  list: { scope: 'auto' },
  resources: [
    { version: 'v1', resource: 'pods', labelSelector: 'app!=canary', fieldSelector: 'status.phase!=Succeeded' },
    { group: 'cert-manager.io', resource: '*', optional: true },
    { group: '*', resource: '*' },
    { group: 'example.com', version: 'v1', resource: 'widgets', optional: true },
  ],
};

function issuesOf(raw: unknown, overrides = {}): Array<{ path: string; message: string }> {
  try {
    validateConfig(raw, overrides);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.exitCode, 2);
    return error.issues;
  }
  assert.fail('expected the config to be rejected');
}

describe('configuration for a fleet: optional and wildcard types, namespaces, selectors, list scope', () => {
  it("GIVEN the issue's fleet configuration THEN it validates, with the defaults list.maxTypes 500 and optional false", () => {
    const config = validateConfig(FLEET);
    assert.deepEqual(config.namespaces, FLEET.namespaces);
    assert.deepEqual(config.exclude, FLEET.exclude);
    assert.equal(config.list.scope, 'auto');
    assert.equal(config.list.maxTypes, 500);
    assert.deepEqual(
      config.resources.map((r) => [r.group, r.resource, r.optional]),
      [
        ['', 'pods', false],
        ['cert-manager.io', '*', true],
        ['*', '*', false],
        ['example.com', 'widgets', true],
      ],
    );
  });

  it('GIVEN no namespaces setting THEN every namespace is included and none excluded', () => {
    assert.deepEqual(validateConfig({ cluster: 'c' }).namespaces, { include: ['*'], exclude: [] });
  });

  const bad: Array<[string, unknown, string, RegExp]> = [
    [
      'a malformed label selector',
      { cluster: 'c', resources: [{ version: 'v1', resource: 'pods', labelSelector: 'app in (web' }] },
      'resources[0].labelSelector',
      /in \(a,b\)/,
    ],
    [
      'a malformed field selector',
      { cluster: 'c', resources: [{ version: 'v1', resource: 'pods', fieldSelector: 'status.phase' }] },
      'resources[0].fieldSelector',
      /field!=value/,
    ],
    ['a named resource without a version', { cluster: 'c', resources: [{ resource: 'pods' }] }, 'resources[0].version', /required for a named resource/],
    [
      'group "*" with a named resource',
      { cluster: 'c', resources: [{ group: '*', version: 'v1', resource: 'pods' }] },
      'resources[0].resource',
      /must be "\*"/,
    ],
    ['group "*" with a version', { cluster: 'c', resources: [{ group: '*', version: 'v1', resource: '*' }] }, 'resources[0].version', /preferred version/],
    ['a resource glob other than "*"', { cluster: 'c', resources: [{ group: 'apps', resource: 'deploy*' }] }, 'resources[0].resource', /plural resource name/],
    ['a namespace glob with a slash', { cluster: 'c', namespaces: { include: ['team/*'] } }, 'namespaces.include[0]', /namespace name or a glob/],
    ['an empty include', { cluster: 'c', namespaces: { include: [] } }, 'namespaces.include', /at least 1|>=1/i],
    ['an exclude that is no resource[.group]', { cluster: 'c', exclude: ['Events!'] }, 'exclude[0]', /resource\[\.group\]/],
    ['an unknown list scope', { cluster: 'c', list: { scope: 'everything' } }, 'list.scope', /auto|cluster|namespaces/],
    ['list.maxTypes of 0', { cluster: 'c', list: { maxTypes: 0 } }, 'list.maxTypes', />=1|at least|too small/i],
    [
      'list.scope cluster with namespaces limited',
      { cluster: 'c', list: { scope: 'cluster' }, namespaces: { exclude: ['kube-system'] } },
      'list.scope',
      /use auto/,
    ],
    [
      'optional not a boolean',
      { cluster: 'c', resources: [{ version: 'v1', resource: 'pods', optional: 'yes' }] },
      'resources[0].optional',
      /expected boolean/,
    ],
  ];
  for (const [name, raw, path, message] of bad) {
    it(`GIVEN ${name} THEN exit 2 and the issue names ${path}`, () => {
      const issues = issuesOf(raw);
      const issue = issues.find((i) => i.path === path);
      assert.ok(issue, `no issue at ${path}: ${JSON.stringify(issues)}`);
      assert.match(issue.message, message);
    });
  }

  it("GIVEN -n twice THEN only those namespaces, none excluded; GIVEN -A THEN every namespace, the file's scope replaced", () => {
    assert.deepEqual(validateConfig(FLEET, { namespaces: ['team-a', 'ops-*'] }).namespaces, { include: ['team-a', 'ops-*'], exclude: [] });
    assert.deepEqual(validateConfig(FLEET, { namespaces: ['*'] }).namespaces, { include: ['*'], exclude: [] });
  });

  it("GIVEN -l THEN every resource's selector is the flag's ANDed with its own, the defaults included", () => {
    const config = validateConfig(FLEET, { labelSelector: 'team=a' });
    assert.deepEqual(
      config.resources.map((r) => r.labelSelector),
      ['app!=canary,team=a', 'team=a', 'team=a', 'team=a'],
    );
    assert.ok(validateConfig({ cluster: 'c' }, { labelSelector: 'team=a' }).resources.every((r) => r.labelSelector === 'team=a'));
  });

  it('GIVEN a malformed -l THEN exit 2 and the issue blames --selector, not the file', () => {
    const issues = issuesOf({ cluster: 'c' }, { labelSelector: 'a in (' });
    assert.deepEqual(
      issues.map((i) => i.path),
      ['--selector'],
    );
  });
});
