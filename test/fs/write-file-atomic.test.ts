import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { replaceFile, writeFileAtomic } from '../../src/fs/write-file-atomic.js';
import { tempDir } from '../support/store-fixture.js';

describe('replaceFile', () => {
  it('GIVEN an existing file THEN it holds the new content and the temporary file is gone', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'target'), 'old');
    await replaceFile(join(dir, 'target'), join(dir, 'tmp'), Buffer.from('new'));
    assert.equal(await readFile(join(dir, 'target'), 'utf8'), 'new');
    assert.deepEqual(await readdir(dir), ['target']);
  });

  it('GIVEN a temporary file that cannot be written THEN the target keeps its old content', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'target'), 'old');
    await assert.rejects(replaceFile(join(dir, 'target'), join(dir, 'missing', 'tmp'), 'new'), { code: 'ENOENT' });
    assert.equal(await readFile(join(dir, 'target'), 'utf8'), 'old');
  });

  it('GIVEN a rename that fails (a folder stands at the target) THEN the error is thrown and the temporary file removed', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'target', 'inside'), { recursive: true });
    await assert.rejects(replaceFile(join(dir, 'target'), join(dir, 'tmp'), 'new'), { code: 'EISDIR', syscall: 'rename' });
    assert.deepEqual((await readdir(dir)).sort(), ['target']);
  });
});

describe('writeFileAtomic', () => {
  it('GIVEN a path in folders that do not exist THEN it creates them and leaves only the file', async () => {
    const dir = await tempDir();
    await writeFileAtomic(join(dir, 'a', 'b', 'file.json'), '{}\n');
    assert.equal(await readFile(join(dir, 'a', 'b', 'file.json'), 'utf8'), '{}\n');
    assert.deepEqual(await readdir(join(dir, 'a', 'b')), ['file.json']);
  });
});
