import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { silentLogger } from '../../src/log.js';
import { KollectMetrics } from '../../src/metrics/metrics.js';
import { publishMetrics } from '../../src/metrics/publish.js';

describe('publishing metrics to a Pushgateway', () => {
  it('GIVEN a Pushgateway that refuses basic auth and quotes it back WHEN pushing THEN the failure shows the URL and the answer with the password hidden', async () => {
    const gateway = createServer((request, response) => {
      request.resume();
      const credentials = Buffer.from((request.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
      response.writeHead(401).end(`bad credentials ${credentials}`);
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = gateway.address() as AddressInfo;

      const failures = await publishMetrics(new KollectMetrics(), {
        pushgateway: `http://kollect:p%40ss-w0rd@127.0.0.1:${port}`,
        cluster: 'c1',
        sinks: [],
        log: silentLogger,
      });

      assert.equal(failures.length, 1);
      const [failure] = failures;
      assert.equal(failure?.code, 'METRICS_PUBLISH_FAILED');
      assert.equal(failure?.data.url, `http://kollect:***@127.0.0.1:${port}`);
      assert.match(
        failure?.message ?? '',
        /Pushgateway http:\/\/kollect:\*\*\*@127\.0\.0\.1:\d+ failed: push failed with status 401, bad credentials kollect:\*\*\*$/,
      );
      assert.doesNotMatch(JSON.stringify(failure), /p%40ss|p@ss/);
    } finally {
      await new Promise((resolve) => gateway.close(resolve));
    }
  });
});
