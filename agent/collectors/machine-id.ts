/**
 * /etc/machine-id: the node's stable identity.
 */
import { readText } from './read.ts';

/**
 * Parses a machine-id file: 32 lowercase hex digits. An empty or
 * "uninitialized" file (a fresh image before first boot) is an error, not an
 * identity, since every clone of that image would share it.
 */
export function parseMachineId(text: string): string {
  const id = text.trim().toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(id)) throw new Error(`machine-id is not 32 hex digits: ${JSON.stringify(id.slice(0, 40))}`);
  return id;
}

/**
 * Reads `<root>/etc/machine-id`, or D-Bus's copy on systems without systemd
 * (or whose /etc copy is still uninitialized). When both fail, the error about
 * /etc/machine-id is the one worth reporting.
 */
export async function readMachineId(root: string): Promise<string> {
  try {
    return parseMachineId(await readText(root, '/etc/machine-id'));
  } catch (err) {
    try {
      return parseMachineId(await readText(root, '/var/lib/dbus/machine-id'));
    } catch {
      throw err;
    }
  }
}
