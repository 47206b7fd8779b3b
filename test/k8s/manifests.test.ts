import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { buildProgram } from '../../src/cli/main.js';
import { validateConfig } from '../../src/config/load.js';

const K8S = fileURLToPath(new URL('../../k8s', import.meta.url));

interface Doc {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string };
  [key: string]: unknown;
}

async function manifests(dir = K8S): Promise<Array<{ file: string; doc: Doc }>> {
  const out: Array<{ file: string; doc: Doc }> = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await manifests(full)));
    else if (entry.name.endsWith('.yaml')) {
      for (const doc of parseAllDocuments(await readFile(full, 'utf8'))) {
        assert.equal(doc.errors.length, 0, `${full}: ${doc.errors[0]?.message}`);
        out.push({ file: full, doc: doc.toJS() as Doc });
      }
    }
  }
  return out;
}

async function find(kind: string): Promise<Doc> {
  const found = (await manifests()).find((m) => m.doc.kind === kind);
  assert.ok(found, `no ${kind} in k8s/`);
  return found.doc;
}

/** Parses argv with the real program, stopping before any action runs; returns the chosen options. */
async function parseOnly(args: string[]): Promise<Record<string, unknown>> {
  const program = buildProgram();
  const stop = new Error('parsed');
  let options: Record<string, unknown> = {};
  program.exitOverride();
  for (const command of program.commands) command.exitOverride();
  program.hook('preAction', (_program, action) => {
    options = action.opts();
    throw stop;
  });
  await assert.rejects(program.parseAsync(['node', 'kollect', ...args]), (e: unknown) => e === stop);
  return options;
}

describe('deployment manifests', () => {
  it('GIVEN every manifest THEN it parses and names apiVersion and kind', async () => {
    const all = await manifests();
    assert.ok(all.length >= 9);
    for (const { file, doc } of all) assert.ok(doc.apiVersion && doc.kind, `${file} lacks apiVersion/kind`);
  });

  it('GIVEN the ClusterRole THEN it grants get and list only, and no Secrets', async () => {
    const role = (await find('ClusterRole')) as Doc & { rules: Array<{ verbs: string[]; resources: string[] }> };
    for (const rule of role.rules) {
      assert.deepEqual([...rule.verbs].sort(), ['get', 'list']);
      assert.ok(!rule.resources.includes('secrets'));
      assert.ok(!rule.resources.includes('*'));
    }
  });

  it('GIVEN the ConfigMap THEN its config validates and RBAC covers every configured resource', async () => {
    const configMap = (await find('ConfigMap')) as Doc & { data: Record<string, string> };
    const doc = parseAllDocuments(configMap.data['kollect.yaml'] ?? '')[0]?.toJS() as unknown;
    const config = validateConfig(doc, {}, 'configmap');
    const role = (await find('ClusterRole')) as Doc & { rules: Array<{ apiGroups: string[]; resources: string[] }> };
    for (const r of config.resources) {
      assert.ok(
        role.rules.some((rule) => rule.apiGroups.includes(r.group) && rule.resources.includes(r.resource)),
        `no RBAC for ${r.group}/${r.resource}`,
      );
    }
  });

  it('GIVEN the CronJob THEN it cannot overlap, has deadlines, runs non-root read-only, mounts the mirror, keeps the code cache on it, and its args parse', async () => {
    const cron = (await find('CronJob')) as Doc & { spec: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(cron.spec.concurrencyPolicy, 'Forbid');
    assert.ok(cron.spec.startingDeadlineSeconds > 0);
    const job = cron.spec.jobTemplate.spec;
    assert.ok(job.activeDeadlineSeconds > 0);
    const pod = job.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    const container = pod.containers[0];
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    const env = Object.fromEntries(container.env.map((e: { name: string; value?: string }) => [e.name, e]));
    assert.ok(env.KOLLECT_GIT_MIRROR_DIR.value);
    assert.ok(container.volumeMounts.some((m: { mountPath: string }) => m.mountPath === env.KOLLECT_GIT_MIRROR_DIR.value));
    // The code cache must outlive the pod: a folder of its own on a writable persistent volume.
    const cacheParent = posix.dirname(env.KOLLECT_COMPILE_CACHE.value);
    const cacheMount = container.volumeMounts.find((m: { mountPath: string }) => cacheParent === m.mountPath || cacheParent.startsWith(`${m.mountPath}/`));
    assert.ok(cacheMount && !cacheMount.readOnly, 'KOLLECT_COMPILE_CACHE is on no writable mount');
    assert.ok(
      pod.volumes.find((v: { name: string }) => v.name === cacheMount.name).persistentVolumeClaim,
      'KOLLECT_COMPILE_CACHE is not on a persistent volume',
    );
    for (const e of container.env) assert.ok(!('value' in e) || !/postgres:\/\/|token/i.test(String(e.value)), `${e.name} inlines a credential`);
    const options = await parseOnly(container.args);
    assert.equal(options.config, '/etc/kollect/kollect.yaml');
    // Metrics go to a Pushgateway whose URL (with any credentials) comes from the Secret, when it has one.
    assert.deepEqual(env.KOLLECT_PUSHGATEWAY.valueFrom, { secretKeyRef: { name: 'kollect-credentials', key: 'pushgateway-url', optional: true } });
  });

  it("GIVEN the read-only root filesystem THEN the store's parent folder is on a volume, not the store folder itself", async () => {
    // The store writer creates `<store.dir>.partial-*` beside store.dir and renames it over
    // store.dir: with the volume mounted at store.dir itself, the mkdir hits the read-only root
    // (EROFS) and the rename would hit the mount point (EBUSY), so every run would fail.
    const configMap = (await find('ConfigMap')) as Doc & { data: Record<string, string> };
    const config = validateConfig(parseAllDocuments(configMap.data['kollect.yaml'] ?? '')[0]?.toJS() as unknown, {}, 'configmap');
    const cron = (await find('CronJob')) as Doc & { spec: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
    const mounts = (cron.spec.jobTemplate.spec.template.spec.containers[0].volumeMounts as Array<{ mountPath: string; readOnly?: boolean }>).filter(
      (m) => !m.readOnly,
    );
    const storeDir = posix.normalize(config.store.dir);
    const parent = posix.dirname(storeDir);
    assert.ok(!mounts.some((m) => posix.normalize(m.mountPath) === storeDir), `a volume is mounted at store.dir ${storeDir} itself`);
    assert.ok(
      mounts.some((m) => parent === posix.normalize(m.mountPath) || parent.startsWith(`${posix.normalize(m.mountPath)}/`)),
      `no writable volume holds ${parent}, where the new store is written`,
    );
  });

  it('GIVEN the large overlay THEN at least 2 GiB requested, 4 GiB limit, more concurrency that parses', async () => {
    const text = await readFile(join(K8S, 'overlays/large/kustomization.yaml'), 'utf8');
    const kustomization = parseAllDocuments(text)[0]?.toJS() as { patches: Array<{ patch: string }> };
    const ops = parseAllDocuments(kustomization.patches[0]?.patch ?? '')[0]?.toJS() as Array<{ path: string; value: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const resources = ops.find((o) => o.path.endsWith('/resources'))?.value;
    const gib = (q: string): number => Number(q.replace(/Gi$/, ''));
    assert.ok(gib(resources.requests.memory) >= 2);
    assert.ok(gib(resources.limits.memory) >= 4);
    const extra = ops.filter((o) => o.path.endsWith('/args/-')).map((o) => String(o.value));
    const cron = (await find('CronJob')) as Doc & { spec: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
    const options = await parseOnly([...cron.spec.jobTemplate.spec.template.spec.containers[0].args, ...extra]);
    assert.equal(options.concurrency, 8);
    // The heap limit follows the container limit: env[0] is NODE_OPTIONS in the base.
    const container = cron.spec.jobTemplate.spec.template.spec.containers[0];
    assert.equal(container.env[0].name, 'NODE_OPTIONS');
    const heapMiB = (value: string): number => Number(/--max-old-space-size=(\d+)/.exec(value)?.[1]);
    assert.ok(heapMiB(container.env[0].value) < 512 * 0.75, 'base heap well under its 512Mi limit');
    const largeHeap = heapMiB(String(ops.find((o) => o.path.endsWith('/env/0/value'))?.value));
    assert.ok(largeHeap > 1024 && largeHeap < gib(resources.limits.memory) * 1024 * 0.8, 'large heap under its limit');
  });
});

describe('the image (Dockerfile)', () => {
  const ROOT = fileURLToPath(new URL('../..', import.meta.url));

  it("GIVEN the files the bundle's build reads from scripts/ THEN the build stage copies each and .dockerignore lets it through", async () => {
    const bundler = await readFile(join(ROOT, 'scripts/bundle.ts'), 'utf8');
    const needed = ['scripts/bundle.ts', ...new Set([...bundler.matchAll(/scripts\/[\w./-]+\.c?[jt]s/g)].map((m) => m[0]))];
    assert.ok(needed.includes('scripts/support/prom-client-lean.cjs'), `found: ${needed.join(', ')}`);

    const dockerfile = await readFile(join(ROOT, 'Dockerfile'), 'utf8');
    const buildStage = dockerfile.split(/^FROM /m)[1] ?? '';
    const copied = [...buildStage.matchAll(/^COPY\s+(?!--)(.+)\s+\S+$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/));
    const ignore = (await readFile(join(ROOT, '.dockerignore'), 'utf8')).split('\n').map((l) => l.trim());
    for (const file of needed) {
      assert.ok(
        copied.some((source) => source === file || file.startsWith(`${source.replace(/\/$/, '')}/`)),
        `the Dockerfile's build stage does not copy ${file}`,
      );
      const excluded = ignore.some((rule) => rule !== '' && !rule.startsWith('!') && (file === rule || file.startsWith(`${rule}/`)));
      assert.ok(!excluded || ignore.includes(`!${file}`), `.dockerignore excludes ${file}`);
    }
  });
});
