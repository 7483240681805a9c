/**
 * /run/reboot-required: whether Debian-family package upgrades are waiting for a reboot.
 */
import { isAbsent, readText } from './read.ts';

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
  try {
    await readText(root, '/run/reboot-required');
  } catch (err) {
    if (isAbsent(err)) return { required: false, packages: [] };
    throw err;
  }
  try {
    return { required: true, packages: parseRebootRequiredPkgs(await readText(root, '/run/reboot-required.pkgs')) };
  } catch (err) {
    if (isAbsent(err)) return { required: true, packages: [] };
    throw err;
  }
}
