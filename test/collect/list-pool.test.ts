import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listWorkerCount, workerMemoryWarning } from '../../src/collect/list-pool.js';

describe('list pool sizing', () => {
  const counts: Array<[number | 'auto', number, number | undefined, number, number]> = [
    // [setting, cores, memory limit (MiB), types, expected]
    ['auto', 1, undefined, 7, 0],
    ['auto', 2, undefined, 7, 1],
    ['auto', 3, undefined, 7, 2],
    ['auto', 16, undefined, 7, 4],
    ['auto', 16, undefined, 1, 1],
    ['auto', 16, 512, 7, 1],
    ['auto', 16, 256, 7, 0],
    ['auto', 16, 4096, 7, 4],
    [3, 2, 512, 7, 3],
    [8, 2, undefined, 7, 4],
    [0, 16, undefined, 7, 0],
  ];
  for (const [workers, cores, memory, types, expected] of counts) {
    it(`GIVEN workers ${workers} on ${cores} cores, ${memory ?? 'no'} MiB limit, ${types} types, concurrency 4 THEN ${expected} workers`, () => {
      assert.equal(listWorkerCount({ workers, concurrency: 4 }, types, cores, memory), expected);
    });
  }

  it('GIVEN a number of workers the memory limit has no room for THEN a warning says what they need; auto, 0, room enough or no limit THEN none', () => {
    assert.equal(
      workerMemoryWarning({ workers: 3 }, 3, 512),
      "list.workers 3 needs about 704 MiB (320 for the main thread, 128 per worker) and the container's memory limit is 512 MiB: use list.workers auto, fewer workers, or a higher limit",
    );
    assert.equal(workerMemoryWarning({ workers: 'auto' }, 1, 512), undefined);
    assert.equal(workerMemoryWarning({ workers: 0 }, 0, 256), undefined);
    assert.equal(workerMemoryWarning({ workers: 1 }, 1, 512), undefined);
    assert.equal(workerMemoryWarning({ workers: 8 }, 4, undefined), undefined);
  });
});
