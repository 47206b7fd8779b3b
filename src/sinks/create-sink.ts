import type { SinkConfig } from '../config/schema.js';
import { createFileSink } from './file/file-sink.js';
import { createGitSink } from './git/git-sink.js';
import { createPostgresSink } from './postgres/postgres-sink.js';
import type { Sink } from './sink.js';

/** The sink for one configured entry. Creating a sink opens nothing; the first plan/apply does. */
export function createSink(config: SinkConfig): Sink {
  switch (config.type) {
    case 'file':
      return createFileSink(config);
    case 'postgres':
      return createPostgresSink(config);
    case 'git':
      return createGitSink(config);
  }
}
