/**
 * `npm test`: every test file under test/ with node's built-in runner (through tsx), sharing
 * one PostgreSQL: DATABASE_URL when set, else one embedded server started here for the whole
 * run (each test still gets its own database). Extra arguments are test files or folders.
 */
import { spawn } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startPostgres } from '../test/support/postgres.js';

async function testFiles(path: string): Promise<string[]> {
  if ((await stat(path)).isFile()) return [path];
  const out: string[] = [];
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) out.push(...(await testFiles(child)));
    else if (entry.name.endsWith('.test.ts')) out.push(child);
  }
  return out.sort();
}

const roots = process.argv.slice(2);
const files = (await Promise.all((roots.length > 0 ? roots : ['test']).map(testFiles))).flat();
const server = await startPostgres();
const env = { ...process.env, DATABASE_URL: server.url() };
const concurrency = process.env.KOLLECT_TEST_CONCURRENCY ?? '3';
// CI runs the suite on more than one Node: say which this is.
process.stderr.write(`run-tests: ${files.length} test files on Node ${process.version}\n`);
const child = spawn(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files], { stdio: 'inherit', env });
const code: number = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
await server.dropCreatedDatabases();
process.exit(code);
