import { posix } from 'node:path';
import { SinkError } from '../../errors.js';
import { quoted } from '../../format.js';
import { isValidNamespace } from '../../rows/object-name.js';
import { CLUSTER_SHARD } from '../../rows/row.js';

/**
 * A compiled `pathTemplate` for one cluster: where each shard's file goes, and which existing
 * files belong to this cluster (only those may ever be removed).
 */
export interface ShardPathLayout {
  /**
   * Where a shard's file goes, relative to the sink's root. Throws SHARD_PATH_INVALID for a shard
   * key that is not a namespace's name (a store edited by hand: `../../x`), before anything is written.
   */
  pathFor(shardKey: string): string;
  /** The shard key a path stands for, or undefined when the path is not this cluster's. */
  shardOf(path: string): string | undefined;
  /** The longest folder prefix without placeholders: where to look for this cluster's files. */
  prefix: string;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * True when a path relative to a sink's root stays under it. Config refuses `..` in templates, so
 * with a valid shard key only a bug (or a config built without validation) would fail it.
 */
function staysUnderRoot(path: string): boolean {
  const normal = posix.normalize(path);
  return !posix.isAbsolute(normal) && normal !== '..' && !normal.startsWith('../');
}

/** `sink`: whose paths these are, for errors. */
export function shardPathLayout(template: string, cluster: string, sink: string): ShardPathLayout {
  const withCluster = template.split('{cluster}').join(cluster);
  const [before = '', ...after] = withCluster.split('{namespace}');
  const pattern = new RegExp(`^${escapeRegExp(before)}([a-z0-9]([-a-z0-9]*[a-z0-9])?|${CLUSTER_SHARD})${escapeRegExp(after.join('{namespace}'))}$`);
  const prefix = before.includes('/') ? before.slice(0, before.lastIndexOf('/')) : '';
  return {
    pathFor: (shardKey) => {
      const path = withCluster.split('{namespace}').join(shardKey);
      if ((shardKey !== CLUSTER_SHARD && !isValidNamespace(shardKey)) || !staysUnderRoot(path)) {
        throw new SinkError(
          sink,
          `shard ${quoted(shardKey)} of the collect store would be written to ${quoted(path)}, which may not be under the sink's root ` +
            `(a shard key must be a namespace's name, a DNS-1123 label, or ${CLUSTER_SHARD}): nothing is written. The store was edited or damaged: collect again to replace it`,
          { shard: shardKey, path },
          { code: 'SHARD_PATH_INVALID' },
        );
      }
      return path;
    },
    shardOf: (path) => {
      const match = pattern.exec(path);
      if (!match?.[1]) return undefined;
      // A template with {namespace} twice must give the same namespace in both places.
      return withCluster.split('{namespace}').join(match[1]) === path ? match[1] : undefined;
    },
    prefix,
  };
}
