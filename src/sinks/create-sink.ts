import type { SinkConfig } from '../config/schema.js';
import type { Sink } from './sink.js';

/**
 * The sink for one configured entry. Creating a sink opens nothing; the first plan/apply does.
 * Each sink's module (and its client library: pg, isomorphic-git) loads only when configured,
 * which keeps a run's start-up short; a fleet starts many of them at once.
 */
export async function createSink(config: SinkConfig): Promise<Sink> {
  switch (config.type) {
    case 'file':
      return (await import('./file/file-sink.js')).createFileSink(config);
    case 'postgres':
      return (await import('./postgres/postgres-sink.js')).createPostgresSink(config);
    case 'git':
      return (await import('./git/git-sink.js')).createGitSink(config);
  }
}
