import type { Command } from 'commander';
import { runCommand } from './run-command.js';

export function exportCommand(): Command {
  return runCommand('export').addHelpText(
    'after',
    `
Examples:
  kollect export --config kollect.yaml --from .kollect/store --dry-run
  kollect export --config kollect.yaml --from .kollect/store --sink fleet-db
  kollect export --config kollect.yaml --dry-run --output json     # collect fresh, plan only`,
  );
}
