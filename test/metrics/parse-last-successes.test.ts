import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { KollectMetrics, lastSuccessGauge } from '../../src/metrics/metrics.js';
import { parseLastSuccesses } from '../../src/metrics/parse-last-successes.js';

const METRIC = 'kollect_export_last_success_timestamp_seconds';

describe('parseLastSuccesses: the last successes an earlier metrics file holds, read leniently', () => {
  it('reads back what prom-client writes, to the digit', async () => {
    // GIVEN a textfile as kollect writes it: the run's metrics and two last successes
    const registry = new Registry();
    const gauge = lastSuccessGauge([registry]);
    gauge.set({ cluster: 'c1', sink: 'fleet-db', type: 'postgres' }, 1764067200.123);
    gauge.set({ cluster: 'c1', sink: 'files', type: 'file' }, 1764067201);
    const text = await Registry.merge([new KollectMetrics().registry, registry]).metrics();

    // WHEN it is parsed, THEN both samples come back with their labels and exact values
    assert.deepEqual(parseLastSuccesses(text), {
      samples: [
        { labels: { cluster: 'c1', sink: 'fleet-db', type: 'postgres' }, seconds: 1764067200.123 },
        { labels: { cluster: 'c1', sink: 'files', type: 'file' }, seconds: 1764067201 },
      ],
      unreadable: 0,
    });
  });

  const cases: Array<[string, string, ReturnType<typeof parseLastSuccesses>]> = [
    ['an empty file', '', { samples: [], unreadable: 0 }],
    ['text that is not exposition format', '\u0000\u0001garbage\n{"json": true}\n', { samples: [], unreadable: 0 }],
    ['other metrics, comments and blank lines', `# HELP ${METRIC} x\n\nkollect_sink_errors_total{sink="a"} 1\n`, { samples: [], unreadable: 0 }],
    ['a line cut short', `${METRIC}{cluster="c1",sink="fi`, { samples: [], unreadable: 1 }],
    ['a value that is not a number', `${METRIC}{sink="a"} soon\n`, { samples: [], unreadable: 1 }],
    [
      'a value that is no time',
      `${METRIC}{sink="a"} NaN\n${METRIC}{sink="b"} +Inf\n${METRIC}{sink="c"} 0\n${METRIC}{sink="d"} -5\n`,
      { samples: [], unreadable: 4 },
    ],
    ['no labels at all', `${METRIC} 17\n`, { samples: [], unreadable: 1 }],
    [
      'labels in another order, blanks and a timestamp',
      `${METRIC}{ type="file", sink="a" }\t17 1764067200000\n`,
      { samples: [{ labels: { type: 'file', sink: 'a' }, seconds: 17 }], unreadable: 0 },
    ],
    ['escaped label values', `${METRIC}{sink="a\\"b\\\\c\\nd"} 17\n`, { samples: [{ labels: { sink: 'a"b\\c\nd' }, seconds: 17 }], unreadable: 0 }],
    [
      'a good line among bad ones',
      `${METRIC}{sink="a"} x\n${METRIC}{sink="b"} 18\n${METRIC}{sink`,
      { samples: [{ labels: { sink: 'b' }, seconds: 18 }], unreadable: 2 },
    ],
    ['CRLF line ends', `${METRIC}{sink="a"} 19\r\n`, { samples: [{ labels: { sink: 'a' }, seconds: 19 }], unreadable: 0 }],
  ];
  for (const [what, text, expected] of cases) {
    it(`GIVEN ${what} THEN ${expected.samples.length} sample(s), ${expected.unreadable} line(s) skipped`, () => {
      assert.deepEqual(parseLastSuccesses(text), expected);
    });
  }
});
