import * as z from 'zod/mini';
import { fileSinkConfig } from './file/config.js';
import { gitSinkConfig } from './git/config.js';
import { postgresSinkConfig } from './postgres/config.js';
import { s3SinkConfigSchema } from './s3/config.js';
import type { Sink } from './sink.js';

/**
 * Every sink kollect knows: its config schema (light, loaded at start-up to validate a file) and
 * its factory, imported only when a configuration names the sink, so that a sink's client library
 * (pg, isomorphic-git, the AWS SDK) loads only for a run that uses it. Adding a sink is a folder
 * src/sinks/<type>/ and one line here (CONTRIBUTING.md, "Adding a sink").
 */

/** A sink's entry: its type (as `type:` names it in a config), its config's schema, how to load its factory. */
interface SinkEntry<Type extends string, Schema extends z.ZodMiniType<{ type: Type }>> {
  type: Type;
  config: Schema;
  load: () => Promise<(config: z.infer<Schema>) => Sink>;
}

const entry = <Type extends string, Schema extends z.ZodMiniType<{ type: Type }>>(
  type: Type,
  config: Schema,
  load: SinkEntry<Type, Schema>['load'],
): SinkEntry<Type, Schema> => ({ type, config, load });

const registered = [
  entry('file', fileSinkConfig, async () => (await import('./file/file-sink.js')).createFileSink),
  entry('postgres', postgresSinkConfig, async () => (await import('./postgres/postgres-sink.js')).createPostgresSink),
  entry('git', gitSinkConfig, async () => (await import('./git/git-sink.js')).createGitSink),
  entry('s3', s3SinkConfigSchema, async () => (await import('./s3/s3-sink.js')).createS3Sink),
] as const;

type Schemas<Entries> = { -readonly [K in keyof Entries]: Entries[K] extends SinkEntry<string, infer Schema> ? Schema : never };

const sinkTypes = registered.map((sink) => sink.type);

export const sinkConfig = z.discriminatedUnion('type', registered.map((sink) => sink.config) as Schemas<typeof registered>, {
  error: `must have type ${sinkTypes.slice(0, -1).join(', ')} or ${sinkTypes.at(-1)}`,
});
export type SinkConfig = z.infer<typeof sinkConfig>;
export type SinkType = SinkConfig['type'];

/**
 * The sink for one configured entry. Creating a sink opens nothing; the first plan/apply does.
 * Only the configured sink's module loads, which keeps a run's start-up short (a fleet starts many).
 */
export async function createSink(config: SinkConfig): Promise<Sink> {
  const sink = registered.find((candidate) => candidate.type === config.type);
  if (!sink) throw new Error(`no sink of type ${config.type} is registered`);
  // The schema and the factory of one entry agree; TypeScript cannot see that through the union.
  const create = (await sink.load()) as (config: SinkConfig) => Sink;
  return create(config);
}
