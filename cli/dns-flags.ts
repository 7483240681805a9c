/** The DNS flags `muster hub` and `muster up` share, turned into the hub's DnsOptions. */
import { isIP } from 'node:net';
import type { DnsOptions } from '../hub/main.ts';
import { parseListen } from './args.ts';
import { CliError } from './config.ts';
import { parseCidrList } from '../dns/client-acl.ts';

/** Flag definitions for parseFlags. */
export const DNS_FLAGS = {
  'dns-listen': { type: 'string' }, domain: { type: 'string' }, 'dns-upstream': { type: 'string', multiple: true }, 'dns-ttl': { type: 'string' },
  'dns-allow': { type: 'string', multiple: true }, 'dns-rate-limit': { type: 'string' },
} as const;

export const DNS_USAGE = `  --dns-listen HOST:PORT  DNS over UDP and TCP (default 127.0.0.1:5354; 'off' for none;
                          0.0.0.0:53 to serve the network, as root)
  --domain NAME           DNS domain served (default internal)
  --dns-upstream IP[:PORT]  resolver for other names, repeatable
                          (default: the nameservers of /etc/resolv.conf)
  --dns-ttl SECONDS       TTL of answers (default 30)
  --dns-allow CIDR        clients that may resolve names outside the domain through
                          the hub, repeatable (default: loopback and the subnets of
                          this machine's interfaces); others get REFUSED for those,
                          and answers for the domain's own names
  --dns-rate-limit N|off  UDP answers a second per client prefix (/24, /56) for every
                          client (default: 20 a second, for clients outside --dns-allow)
`;

/** Validates the DNS flags, reporting every problem at once. */
export function parseDnsFlags(values: { 'dns-listen'?: string; domain?: string; 'dns-upstream'?: string[]; 'dns-ttl'?: string; 'dns-allow'?: string[]; 'dns-rate-limit'?: string }): DnsOptions | false {
  if (values['dns-listen'] === 'off') return false;
  const problems: string[] = [];
  let listen = { host: '127.0.0.1', port: 5354 };
  try {
    listen = parseListen(values['dns-listen'] ?? '127.0.0.1:5354');
  } catch {
    problems.push(`--dns-listen must be HOST:PORT or off, not ${JSON.stringify(values['dns-listen'])}`);
  }
  const domain = (values.domain ?? 'internal').toLowerCase().replace(/^\.+|\.+$/g, '');
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(domain) || domain.length > 200) {
    problems.push(`--domain must be a DNS name like internal or lab.example, not ${JSON.stringify(values.domain)}`);
  }
  const upstreams = [];
  for (const u of values['dns-upstream'] ?? []) {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)|([0-9a-fA-F:]+))(?::(\d{1,5}))?$/.exec(u);
    const host = m ? (m[1] ?? m[2] ?? m[3])! : '';
    const port = m?.[4] && (m[1] || m[2]) ? Number(m[4]) : 53;
    if (!m || !isIP(host) || port < 1 || port > 65535) problems.push(`--dns-upstream must be an IP address with an optional port (9.9.9.9, 192.168.1.1:5353, [2620:fe::fe]:53), not ${JSON.stringify(u)}`);
    else upstreams.push({ host, port });
  }
  const ttl = values['dns-ttl'] === undefined ? 30 : Number(values['dns-ttl']);
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 86400) problems.push(`--dns-ttl must be whole seconds from 1 to 86400, not ${JSON.stringify(values['dns-ttl'])}`);
  const { cidrs, invalid } = parseCidrList(values['dns-allow'] ?? []);
  for (const c of invalid) problems.push(`--dns-allow must be a network like 192.168.1.0/24, 10.0.0.5 or fd00::/8, not ${JSON.stringify(c)}`);
  const rate = values['dns-rate-limit'];
  const perSecond = rate === undefined || rate === 'off' ? 0 : Number(rate);
  if (rate !== undefined && rate !== 'off' && (!Number.isInteger(perSecond) || perSecond < 1 || perSecond > 1_000_000)) {
    problems.push(`--dns-rate-limit must be answers a second from 1 to 1000000, or off, not ${JSON.stringify(rate)}`);
  }
  if (problems.length) throw new CliError('MUSTER_ERR_USAGE', problems.join('\n'), 2);
  return {
    host: listen.host, port: listen.port, domain, ttl, negativeTtl: Math.min(ttl, 10), ...(upstreams.length ? { upstreams } : {}),
    ...(values['dns-allow'] ? { allow: cidrs.map((c) => c.text) } : {}),
    ...(rate === 'off' ? { rateLimit: false as const } : rate !== undefined ? { rateLimit: { responsesPerSecond: perSecond, everyone: true } } : {}),
  };
}
