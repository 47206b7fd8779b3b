import { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { ResourceConfig } from '../config/schema.js';
import { ConfigError, ExitCode } from '../errors.js';
import { profileNames } from '../rows/profiles/registry.js';
import { resourceTypeKey } from '../rows/row.js';
import { outputOption, printResult } from './common.js';

/** `pods/v1 (labelSelector app!=canary)`, `*.cert-manager.io (optional)`: a resource as configured, wildcards unresolved. */
function describeResource(r: ResourceConfig): string {
  const extras = [
    ...(r.optional ? ['optional'] : []),
    ...(r.labelSelector !== undefined ? [`labelSelector ${r.labelSelector}`] : []),
    ...(r.fieldSelector !== undefined ? [`fieldSelector ${r.fieldSelector}`] : []),
  ];
  return `${resourceTypeKey(r)}${r.version !== undefined ? `/${r.version}` : ''}${extras.length > 0 ? ` (${extras.join(', ')})` : ''}`;
}

export function configCommand(): Command {
  const config = new Command('config').description('Work with configuration files');
  config
    .command('validate')
    .description('Validate a configuration file: print every problem with its path and exit 2, or a summary and exit 0')
    .argument('<file>', 'configuration file (YAML or JSON)')
    .addOption(outputOption())
    .addHelpText('after', '\nExample:\n  kollect config validate kollect.yaml')
    .action(async (file: string, flags: { output: 'text' | 'json' }) => {
      try {
        const cfg = await loadConfig(file);
        const summary = {
          valid: true,
          file,
          cluster: cfg.cluster,
          resources: cfg.resources.map(describeResource),
          namespaces: cfg.namespaces,
          exclude: cfg.exclude,
          sinks: cfg.sinks.map((s) => `${s.name} (${s.type})`),
        };
        printResult(
          flags.output,
          summary,
          () =>
            `${file}: valid\n  cluster: ${summary.cluster}\n  resources: ${summary.resources.join(', ')}\n` +
            `  namespaces: ${summary.namespaces.include.join(', ')}${summary.namespaces.exclude.length > 0 ? ` except ${summary.namespaces.exclude.join(', ')}` : ''}\n` +
            `${summary.exclude.length > 0 ? `  excluded from wildcards: ${summary.exclude.join(', ')}\n` : ''}  sinks: ${summary.sinks.join(', ') || 'none'}\n  built-in profiles: ${profileNames().join(', ')}\n`,
        );
      } catch (error) {
        if (!(error instanceof ConfigError) || flags.output !== 'json') throw error;
        printResult('json', { valid: false, file, issues: error.issues }, () => '');
        process.exitCode = ExitCode.usage;
      }
    });
  return config;
}
