import type { Command } from 'commander';
import { runCommand } from './run-command.js';

export function collectCommand(): Command {
  return runCommand('collect').addHelpText(
    'after',
    `
Examples:
  kollect collect --config kollect.yaml
  kollect collect --config kollect.yaml --context prod-eu-1 --cluster prod-eu-1 --output json
  kollect collect --config kollect.yaml --sink audit --force`,
  );
}
