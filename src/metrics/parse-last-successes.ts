/** One sample of `kollect_export_last_success_timestamp_seconds`, read back from a metrics file. */
export interface LastSuccessSample {
  labels: Record<string, string>;
  /** Unix time, in seconds. */
  seconds: number;
}

export interface ParsedLastSuccesses {
  samples: LastSuccessSample[];
  /** Lines of the metric that could not be read (cut short, a value that is not a time): skipped. */
  unreadable: number;
}

const SAMPLE = /^kollect_export_last_success_timestamp_seconds\{([^}]*)\}[ \t]+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/**
 * The last successes in a metrics file an earlier run wrote, read leniently: the file is only a
 * memory of earlier runs, so whatever cannot be read (a truncated file, a line edited by hand,
 * another program's metrics) is skipped rather than failing this run.
 */
export function parseLastSuccesses(text: string): ParsedLastSuccesses {
  const samples: LastSuccessSample[] = [];
  let unreadable = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('kollect_export_last_success_timestamp_seconds')) continue;
    const sample = SAMPLE.exec(line);
    const seconds = Number(sample?.[2]);
    if (!sample || !Number.isFinite(seconds) || seconds <= 0) {
      unreadable++;
      continue;
    }
    const labels: Record<string, string> = {};
    for (const [, name = '', value = ''] of (sample[1] ?? '').matchAll(LABEL)) labels[name] = value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ labels, seconds });
  }
  return { samples, unreadable };
}
