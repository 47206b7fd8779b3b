/**
 * `npm run kube-sim -- --objects 100000 [--seed N] [--port N] [--tls] [--kubeconfig PATH]`:
 * runs the local Kubernetes API server until SIGINT or SIGTERM, with a kubeconfig for it, so
 * that kollect (or kubectl) can be pointed at a cluster of any size by hand.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startKubeSim } from '../test/support/kube-sim/index.js';

function integer(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    process.stderr.write(`kube-sim: --${name} takes a whole number, got ${JSON.stringify(text)}\n`);
    process.exit(2);
  }
  return value;
}

const { values } = parseArgs({
  options: {
    objects: { type: 'string', default: '100000' },
    seed: { type: 'string' },
    port: { type: 'string' },
    tls: { type: 'boolean', default: false },
    kubeconfig: { type: 'string', default: './kube-sim.kubeconfig' },
  },
});

const seed = integer('seed', values.seed);
const port = integer('port', values.port);
const sim = await startKubeSim({
  objects: integer('objects', values.objects)!,
  tls: values.tls,
  ...(seed !== undefined ? { seed } : {}),
  ...(port !== undefined ? { port } : {}),
});
const kubeconfig = resolve(values.kubeconfig);
await sim.writeKubeconfig(kubeconfig);

const counts = sim.expectedCounts();
const byType = Object.entries(counts.byType).map(([type, n]) => `  ${type.padEnd(30)} ${n.toLocaleString('en-US').padStart(10)}`);
process.stdout.write(
  [
    `kube-sim serving ${counts.total.toLocaleString('en-US')} objects in ${counts.byType.namespaces} namespaces at ${sim.url}`,
    `kubeconfig: ${kubeconfig}   (kubectl --kubeconfig ${kubeconfig} get pods -A --chunk-size 500)`,
    ...byType,
    'Ctrl-C stops it.',
    '',
  ].join('\n'),
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void sim.close().then(() => process.stdout.write(`kube-sim stopped (${sim.stats.requests} requests served)\n`));
  });
}
