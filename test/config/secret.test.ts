import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readSecret } from '../../src/config/secret.js';
import { tempDir } from '../support/store-fixture.js';

/** Secrets referenced from the config (`{env: NAME}`, `{file: PATH}`), read when a sink starts. */

describe('secret references', () => {
  it('GIVEN a variable and a mounted file WHEN read THEN each value comes back trimmed', async () => {
    const dir = await tempDir('kollect-secret-');
    const path = join(dir, 'password');
    await writeFile(path, 's3cret\n');

    assert.equal(await readSecret({ env: 'KOLLECT_TEST_SECRET' }, { env: { KOLLECT_TEST_SECRET: ' token ' } }), 'token');
    assert.equal(await readSecret({ file: path }), 's3cret');
  });

  for (const [what, make, reason] of [
    ['a missing file', async (dir: string) => join(dir, 'absent'), 'file not found'],
    [
      'a named pipe (FIFO) with no writer',
      async (dir: string) => {
        const fifo = join(dir, 'secret.fifo');
        execFileSync('mkfifo', [fifo]);
        return fifo;
      },
      'is a named pipe (FIFO), not a regular file',
    ],
    ['a folder', async (dir: string) => dir, 'is a folder, not a file'],
  ] as const) {
    it(`GIVEN ${what} WHEN read THEN it fails at once with the reason, which the sink's message then names`, async () => {
      const path = await make(await tempDir('kollect-secret-'));

      await assert.rejects(readSecret({ file: path }), { message: reason });
    });
  }
});
