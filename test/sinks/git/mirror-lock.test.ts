import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LockBusyError } from '../../../src/errors.js';
import { LOCK_FILE, withMirrorLock } from '../../../src/sinks/git/mirror-lock.js';
import { tempDir } from '../../support/store-fixture.js';
import { captureLogger } from './git-fixture.js';

/** The lock's rules on a short clock: touched every 50 ms, stale after 1 s untouched (room for a loaded CI machine). */
const FAST = { refreshMs: 50, staleMs: 1000, pollMs: 50 };

describe('git mirror lock', () => {
  it('GIVEN an export that outlasts the stale time WHEN another run tries meanwhile THEN it is refused: the holder keeps touching its lock', async () => {
    const dir = await tempDir('kollect-lock-');
    const { log } = captureLogger();
    let refusal: unknown;
    await withMirrorLock(
      dir,
      'audit',
      log,
      async () => {
        await sleep(2 * FAST.staleMs);
        const age = Date.now() - (await stat(join(dir, LOCK_FILE))).mtimeMs;
        assert.ok(age < FAST.staleMs, `touched ${Math.round(age)} ms ago`);
        refusal = await withMirrorLock(dir, 'audit', log, async () => 'ran', FAST).catch((error: unknown) => error);
      },
      FAST,
    );
    assert.ok(refusal instanceof LockBusyError, String(refusal));
    assert.match(refusal.message, new RegExp(`pid ${process.pid} on host `));
    await assert.rejects(stat(join(dir, LOCK_FILE)), { code: 'ENOENT' });
  });

  it("GIVEN a holder whose lock was taken over while it stalled WHEN it ends THEN the new holder's lock stays", async () => {
    const dir = await tempDir('kollect-lock-');
    const { log } = captureLogger();
    const other = JSON.stringify({ pid: 7, host: 'elsewhere', since: '2026-03-01T10:00:00.000Z', token: 'theirs' });
    await withMirrorLock(dir, 'audit', log, async () => writeFile(join(dir, LOCK_FILE), other), FAST);
    assert.equal(await readFile(join(dir, LOCK_FILE), 'utf8'), other);
  });

  it('GIVEN work that fails THEN the error comes through and the lock is released', async () => {
    const dir = await tempDir('kollect-lock-');
    const { log } = captureLogger();
    await assert.rejects(
      withMirrorLock(dir, 'audit', log, async () => Promise.reject(new Error('push failed')), FAST),
      /push failed/,
    );
    await assert.rejects(stat(join(dir, LOCK_FILE)), { code: 'ENOENT' });
    assert.equal(await withMirrorLock(dir, 'audit', log, async () => 'next run', FAST), 'next run');
  });
});
