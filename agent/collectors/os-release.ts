/**
 * /etc/os-release: which distribution and version the node runs.
 */
import type { HostFacts } from '../../protocol/messages.ts';
import { isAbsent, readFileAt, readText } from './read.ts';
import type { CollectorSpec } from './registry.ts';

/** The distribution as the protocol describes it. */
export type OsRelease = HostFacts['os'];

/** Undoes os-release's shell-style quoting: `"a \"b\""`, `'a b'` or a bare word. */
function unquote(raw: string): string {
  const v = raw.trim();
  if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) return v.slice(1, -1);
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\([\\"$`])/g, '$1');
  return v;
}

/** Parses os-release(5) into all its variables. */
export function parseOsReleaseVars(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) vars.set(m[1], unquote(m[2]));
  }
  return vars;
}

/**
 * Parses os-release(5), with the defaults the spec gives for missing fields.
 * `version` is the machine-comparable VERSION_ID ("12"); rolling distributions
 * without one (Debian sid, Arch) fall back to VERSION, then BUILD_ID.
 */
export function parseOsRelease(text: string): OsRelease {
  const v = parseOsReleaseVars(text);
  const name = v.get('NAME') ?? 'Linux';
  return {
    id: v.get('ID') ?? 'linux',
    name,
    version: v.get('VERSION_ID') ?? v.get('VERSION') ?? v.get('BUILD_ID') ?? '',
    prettyName: v.get('PRETTY_NAME') ?? name,
  };
}

/** Reads `<root>/etc/os-release`, falling back to /usr/lib/os-release as the spec says. */
export async function readOsRelease(root: string): Promise<OsRelease> {
  try {
    return parseOsRelease(await readText(root, '/etc/os-release'));
  } catch (err) {
    if (!isAbsent(err)) throw err;
    return parseOsRelease(await readText(root, '/usr/lib/os-release'));
  }
}

/** node_os_info's labels and the os-release(5) variables they come from. */
const OS_INFO_LABELS = [
  ['build_id', 'BUILD_ID'], ['id', 'ID'], ['id_like', 'ID_LIKE'], ['image_id', 'IMAGE_ID'], ['image_version', 'IMAGE_VERSION'],
  ['name', 'NAME'], ['pretty_name', 'PRETTY_NAME'], ['variant', 'VARIANT'], ['variant_id', 'VARIANT_ID'], ['version', 'VERSION'],
  ['version_codename', 'VERSION_CODENAME'], ['version_id', 'VERSION_ID'],
] as const;

/** node_os_version: the leading `major.minor` of VERSION_ID as a number (0 without one), as node_exporter reads it. */
export function osVersionNumber(versionId: string | undefined): number {
  const m = /^[0-9]+\.?[0-9]*/.exec(versionId ?? '');
  return m ? Number(m[0]) : 0;
}

/** node_exporter's `os` collector: node_os_info and node_os_version from /etc/os-release (else /usr/lib/os-release). */
export const osCollector: CollectorSpec = {
  name: 'os',
  reads: '/etc/os-release, /usr/lib/os-release',
  enabled: true,
  every: 30,
  maxSeries: 2,
  whenAbsent: 'nodata',
  create: (ctx) => (out) => {
    let text: string;
    try {
      text = readFileAt(ctx.root, '/etc/os-release');
    } catch (err) {
      if (!isAbsent(err)) throw err;
      text = readFileAt(ctx.root, '/usr/lib/os-release');
    }
    const v = parseOsReleaseVars(text);
    out.gauge('node_os_info', 'A metric with a constant \'1\' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id.',
      OS_INFO_LABELS.map(([l]) => l))(1, ...OS_INFO_LABELS.map(([, k]) => v.get(k) ?? ''));
    out.gauge('node_os_version', 'Metric containing the major.minor part of the OS version.', ['id', 'id_like', 'name'])(
      osVersionNumber(v.get('VERSION_ID')), v.get('ID') ?? '', v.get('ID_LIKE') ?? '', v.get('NAME') ?? '');
  },
};
