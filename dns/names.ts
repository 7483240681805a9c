/**
 * How node and service names become DNS labels, the same way everywhere (the
 * DNS server, `muster where`, the API): lower case, letters, digits and '-',
 * at most 63 characters, never starting or ending with '-'. A name that is
 * only off by '_' or '.' maps to the obvious label (`my_app` -> `my-app`);
 * anything else that had to change keeps a short hash of the original, so
 * two different names do not silently become the same label.
 */
import { createHash } from 'node:crypto';

const LABEL_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Maps a node or service name to a valid DNS label. */
export function dnsLabel(name: string): string {
  const lower = name.toLowerCase();
  if (LABEL_RE.test(lower)) return lower;
  const cleaned = lower.replace(/[^a-z0-9-]+/g, '-').replace(/-{2,}/g, '-').replace(/^-+|-+$/g, '');
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 6);
  if (cleaned && cleaned === lower.replace(/[_.]/g, '-') && LABEL_RE.test(cleaned)) return cleaned;
  const head = cleaned.slice(0, 63 - 7).replace(/-+$/, '');
  return head ? `${head}-${hash}` : `x-${hash}`;
}

/** The DNS name of a node: `<label>.node.<domain>`. */
export function nodeDnsName(node: string, domain: string): string {
  return `${dnsLabel(node)}.node.${domain}`;
}

/** The DNS name of a service: `<label>.service.<domain>`. */
export function serviceDnsName(service: string, domain: string): string {
  return `${dnsLabel(service)}.service.${domain}`;
}
