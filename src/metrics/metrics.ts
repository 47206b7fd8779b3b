import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** `kollect_export_last_success_timestamp_seconds`, registered on `registers`. */
export function lastSuccessGauge(registers: Registry[]): Gauge<'cluster' | 'sink' | 'type'> {
  return new Gauge({
    name: 'kollect_export_last_success_timestamp_seconds',
    help: 'Unix time of the last successful export per sink.',
    labelNames: ['cluster', 'sink', 'type'] as const,
    registers,
  });
}

/**
 * kollect's metrics, named after the seed. One registry per run (no global state), so a test
 * or a library caller gets its own. Every label is bounded: cluster, resource type, sink,
 * operation, never an object or a namespace.
 */
export class KollectMetrics {
  /** What this run did: the textfile and the run's Pushgateway group hold this and nothing older. */
  readonly registry = new Registry();

  /**
   * Collected rows (the seed's collect store items), per resource type: rows this run listed
   * from the API server. `export --from` lists nothing, so it adds nothing here; the store it
   * replays is in `storeRows`. A sum over runs then counts each collection once.
   */
  readonly collectItems = new Counter({
    name: 'kollect_collect_items_total',
    help: 'Rows collected into the collect store.',
    labelNames: ['cluster', 'resource'] as const,
    registers: [this.registry],
  });

  /**
   * Rows per resource type in the collect store this run exported, from its manifest: a fresh
   * collection, or a saved store replayed by `export --from`. A gauge, not a counter: the size
   * of what the sinks were given, not an event to add up.
   */
  readonly storeRows = new Gauge({
    name: 'kollect_store_rows',
    help: 'Rows per resource type in the collect store this run exported (collected now or replayed with export --from).',
    labelNames: ['cluster', 'resource'] as const,
    registers: [this.registry],
  });

  /** Shards at or past the ExportShardWarning line (~1,800 rows). */
  readonly shardWarnings = new Counter({
    name: 'kollect_export_shard_warn_total',
    help: 'Export shards that reached the ExportShardWarning threshold.',
    labelNames: ['cluster'] as const,
    registers: [this.registry],
  });

  readonly exportDuration = new Histogram({
    name: 'kollect_export_duration_seconds',
    help: 'Time one sink took to export a collect store.',
    labelNames: ['cluster', 'sink', 'type'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    registers: [this.registry],
  });

  readonly sinkErrors = new Counter({
    name: 'kollect_sink_errors_total',
    help: 'Sink exports that failed.',
    labelNames: ['cluster', 'sink', 'type'] as const,
    registers: [this.registry],
  });

  /** Values a sink stored altered because it cannot hold them as they are: a NUL in PostgreSQL text or jsonb, stored as U+FFFD. */
  readonly valuesReplaced = new Counter({
    name: 'kollect_sink_values_replaced_total',
    help: 'Values a sink stored altered because it cannot hold them as they are (PostgreSQL: NUL stored as U+FFFD).',
    labelNames: ['cluster', 'sink', 'type'] as const,
    registers: [this.registry],
  });

  /** Rows (database) or files (git, file) per operation: added, changed, unchanged, removed. */
  readonly exportOperations = new Counter({
    name: 'kollect_export_operations_total',
    help: 'Rows or files a sink added, changed, left unchanged or removed.',
    labelNames: ['cluster', 'sink', 'type', 'unit', 'operation'] as const,
    registers: [this.registry],
  });

  /**
   * Unix time of this run's successful export, per sink. On no registry: unlike what this run
   * did, a sink's last success must outlive the runs in which the sink fails, so publish.ts
   * publishes it apart (carried over in the textfile, a Pushgateway group of its own per sink).
   */
  readonly lastSuccess = lastSuccessGauge([]);

  /** Resource types skipped on 403 or left incomplete by an error. */
  readonly incompleteResources = new Counter({
    name: 'kollect_collect_incomplete_resources_total',
    help: 'Resource types whose list did not complete (forbidden, error, interrupted).',
    labelNames: ['cluster', 'resource', 'reason'] as const,
    registers: [this.registry],
  });

  /**
   * Per resource type this run listed: 1 when its list completed, 0 when not, with why
   * (`forbidden`, `error`, `invalid-object`; '' when complete). A gauge a rule can alert on
   * (`== 0`), where the counter above only shows the runs in which a type failed.
   */
  readonly resourceComplete = new Gauge({
    name: 'kollect_collect_resource_complete',
    help: 'Whether the last collection listed the resource type completely (1) or not (0, reason says why).',
    labelNames: ['cluster', 'resource', 'reason'] as const,
    registers: [this.registry],
  });

  /** Per type listed namespace by namespace: how many namespaces' lists did not complete (their rows are kept as they were). */
  readonly incompleteNamespaces = new Gauge({
    name: 'kollect_collect_incomplete_namespaces',
    help: 'Namespaces whose list of the resource type did not complete in the last collection (forbidden or an error).',
    labelNames: ['cluster', 'resource'] as const,
    registers: [this.registry],
  });

  /**
   * Discovery's verdict on what the configuration names: `not-served` for an optional type (or, as
   * `*.group`, a whole group) the cluster does not serve, `failed` for a group version whose
   * discovery failed (503, a timeout; nothing of it is deleted). 1 per such type or group.
   */
  readonly discoveryProblems = new Gauge({
    name: 'kollect_discovery_problems',
    help: 'Configured types not served (optional) and group versions whose discovery failed, in the last collection.',
    labelNames: ['cluster', 'resource', 'problem'] as const,
    registers: [this.registry],
  });

  readonly listRetries = new Counter({
    name: 'kollect_list_retries_total',
    help: 'List requests retried after 429, 5xx or a dropped connection, and relists after an expired continue token.',
    labelNames: ['cluster', 'resource', 'kind'] as const,
    registers: [this.registry],
  });

  readonly collectDuration = new Gauge({
    name: 'kollect_collect_duration_seconds',
    help: 'Time the last collection took, from its first request to the collect store written.',
    labelNames: ['cluster'] as const,
    registers: [this.registry],
  });
}
