/**
 * /run/reboot-required: whether Debian-family package upgrades are waiting for a reboot.
 */
import { existsSync } from 'node:fs';
import { hostPath, isAbsent, readText } from './read.ts';
import type { CollectorSpec } from './registry.ts';

/** Whether a reboot is pending and which packages asked for it. */
export interface RebootRequired {
  required: boolean;
  packages: string[];
}

/**
 * Parses /run/reboot-required.pkgs: one package per line, repeated once per
 * upgrade that asked (a kernel often appears twice); first-seen order, no repeats.
 */
export function parseRebootRequiredPkgs(text: string): string[] {
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    const pkg = line.trim();
    if (pkg !== '') seen.add(pkg);
  }
  return [...seen];
}

/**
 * Reads `<root>/run/reboot-required` (its presence is the signal; update-notifier
 * and unattended-upgrades create it) and the package list beside it. Absent
 * files are the normal "no reboot needed" case; distributions without this
 * convention simply never report one.
 */
export async function readRebootRequired(root: string): Promise<RebootRequired> {
  // Absent is the usual answer: asked without a failed read (an error and its stack, from the thread pool, every minute).
  if (!existsSync(hostPath(root, '/run/reboot-required'))) return { required: false, packages: [] };
  try {
    return { required: true, packages: parseRebootRequiredPkgs(await readText(root, '/run/reboot-required.pkgs')) };
  } catch (err) {
    if (isAbsent(err)) return { required: true, packages: [] };
    throw err;
  }
}

/**
 * muster's own `reboot_required` collector (node_exporter has none):
 * node_reboot_required, which the Fleet board and the alert rules use.
 */
export const rebootRequiredCollector: CollectorSpec = {
  name: 'reboot_required',
  reads: '/run/reboot-required',
  enabled: true,
  every: 6,
  maxSeries: 1,
  whenAbsent: 'quiet',
  create: (ctx) => async (out) => {
    const r = await readRebootRequired(ctx.root);
    out.gauge('node_reboot_required', 'Node reboot is required for software updates (1) or not (0).')(r.required ? 1 : 0);
  },
};
