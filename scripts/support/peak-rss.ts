import { readFileSync } from 'node:fs';

/**
 * This process's peak RSS, in KiB. On Linux it is the VmHWM of /proc/self/status: getrusage's
 * maxRSS (process.resourceUsage()) of a spawned process also counts its parent's RSS at the fork,
 * since Linux carries the forked copy's high-water mark across exec, so a child of a benchmark
 * that holds the local API server or a cache would report the parent's size as its own.
 *
 * Self-contained (no name from outside but readFileSync and process), so that measured-child.ts
 * can put its source into the preload of a measured process.
 */
export function peakRssKiB(): number {
  if (process.platform === 'linux') {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]);
  }
  return process.resourceUsage().maxRSS;
}
