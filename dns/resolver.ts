/**
 * The authoritative half of the DNS server, as a pure function of a question
 * and a compiled zone: `<node>.node.<domain>` (A, AAAA, TXT),
 * `<service>.service.<domain>` (A, AAAA of healthy instances, shuffled),
 * `_<service>._tcp|_udp.service.<domain>` (SRV with the targets' addresses as
 * additionals), PTR for node addresses, SOA and NS at the apex. Unknown names
 * in the domain are NXDOMAIN, known names without the asked type NODATA, both
 * with the SOA for negative caching. Everything else is for the forwarder.
 */
import type { Answer, SoaAnswer } from 'dns-packet';
import type { CompiledZone } from './zone.ts';

export interface ResolverOptions {
  /** The domain served, lower case, without dots at the ends: `internal`. */
  domain: string;
  /** TTL of every answer, in seconds. */
  ttl: number;
  /** TTL of negative answers (the SOA minimum), in seconds. */
  negativeTtl: number;
  /** Addresses `ns.<domain>` resolves to: where this server listens. */
  nsAddresses: string[];
}

/** A question as the server decoded it. */
export interface Question {
  name: string;
  type: string;
  class?: string;
}

/** What to send back, or that the question belongs upstream. */
export type Resolution =
  | { kind: 'forward' }
  | {
    kind: 'answer'; rcode: 'NOERROR' | 'NXDOMAIN' | 'REFUSED'; answers: Answer[]; authorities: Answer[]; additionals: Answer[];
    /** The records were shuffled: asked again, the same question gets another order, so the answer is not to be reused. */
    varies?: boolean;
  };

/** Answers questions from the current zone. */
export interface Resolver {
  resolve(q: Question, zone: CompiledZone, serial: number, random?: () => number): Resolution;
}

const isV4 = (a: string) => !a.includes(':');

function shuffle<T>(list: T[], random: () => number): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Creates a resolver for one domain. */
export function createResolver(opts: ResolverOptions): Resolver {
  const domain = opts.domain.toLowerCase().replace(/^\.+|\.+$/g, '');
  const suffix = `.${domain}`;
  const ns = `ns.${domain}`;
  const { ttl } = opts;

  const soa = (serial: number): SoaAnswer & { ttl: number } => ({
    name: domain, type: 'SOA', ttl: opts.negativeTtl,
    data: { mname: ns, rname: `hostmaster.${domain}`, serial, refresh: 3600, retry: 600, expire: 86400, minimum: opts.negativeTtl },
  });
  const addressRecords = (name: string, addresses: string[], type: 'A' | 'AAAA'): Answer[] =>
    addresses.filter((a) => (type === 'A' ? isV4(a) : !isV4(a))).map((data) => ({ name, type, ttl, data }));

  return {
    resolve(q, zone, serial, random = Math.random) {
      const qname = q.name.replace(/\.+$/, '');
      const lower = qname.toLowerCase();
      const type = q.type.toUpperCase();
      if (q.class && q.class !== 'IN' && q.class !== 'ANY') return { kind: 'forward' };

      // Reverse names of node addresses are ours; other reverse names go upstream.
      if (lower.endsWith('.in-addr.arpa') || lower.endsWith('.ip6.arpa')) {
        const node = zone.reverse.get(lower);
        if (!node) return { kind: 'forward' };
        const answers: Answer[] = type === 'PTR' || type === 'ANY' ? [{ name: qname, type: 'PTR', ttl, data: `${node}.node${suffix}` }] : [];
        return { kind: 'answer', rcode: 'NOERROR', answers, authorities: [], additionals: [] };
      }
      if (lower !== domain && !lower.endsWith(suffix)) return { kind: 'forward' };

      const rel = lower === domain ? '' : lower.slice(0, -suffix.length);
      const labels = rel === '' ? [] : rel.split('.');
      const nodata = (): Resolution => ({ kind: 'answer', rcode: 'NOERROR', answers: [], authorities: [soa(serial)], additionals: [] });
      const nxdomain = (): Resolution => ({ kind: 'answer', rcode: 'NXDOMAIN', answers: [], authorities: [soa(serial)], additionals: [] });
      const answer = (answers: Answer[], additionals: Answer[] = [], varies = false): Resolution =>
        answers.length === 0 ? nodata() : { kind: 'answer', rcode: 'NOERROR', answers, authorities: [], additionals, ...(varies ? { varies } : {}) };
      const wants = (t: string) => type === t || type === 'ANY';

      // The apex: SOA and NS.
      if (labels.length === 0) {
        const answers: Answer[] = [];
        if (wants('SOA')) answers.push({ ...soa(serial), name: qname, ttl });
        if (wants('NS')) answers.push({ name: qname, type: 'NS', ttl, data: ns });
        const glue = wants('NS') ? [...addressRecords(ns, opts.nsAddresses, 'A'), ...addressRecords(ns, opts.nsAddresses, 'AAAA')] : [];
        return answer(answers, glue);
      }
      // ns.<domain>: where this server listens.
      if (labels.length === 1 && labels[0] === 'ns') {
        return answer([...(wants('A') ? addressRecords(qname, opts.nsAddresses, 'A') : []), ...(wants('AAAA') ? addressRecords(qname, opts.nsAddresses, 'AAAA') : [])]);
      }
      const kind = labels[labels.length - 1];
      // node.<domain> and service.<domain> exist (they have names under them) but hold no records.
      if (labels.length === 1 && (kind === 'node' || kind === 'service')) return nodata();
      // _tcp.service.<domain> is the parent of every _<service>._tcp.service.<domain>: an empty non-terminal.
      if (labels.length === 2 && kind === 'service' && /^_(tcp|udp)$/.test(labels[0]!)) return nodata();

      if (kind === 'node' && labels.length === 2) {
        const node = zone.nodes.get(labels[0]!);
        if (!node) return nxdomain();
        const answers: Answer[] = [];
        if (wants('A')) answers.push(...node.v4.map((data) => ({ name: qname, type: 'A' as const, ttl, data })));
        if (wants('AAAA')) answers.push(...node.v6.map((data) => ({ name: qname, type: 'AAAA' as const, ttl, data })));
        if (wants('TXT') && node.txt.length) answers.push({ name: qname, type: 'TXT', ttl, data: node.txt });
        return answer(answers);
      }

      if (kind === 'service' && labels.length === 2) {
        const svc = zone.services.get(labels[0]!);
        if (!svc || svc.nodes.length === 0) return nxdomain();
        const answers: Answer[] = [];
        for (const label of shuffle(svc.nodes, random)) {
          const node = zone.nodes.get(label);
          if (!node) continue;
          if (wants('A')) answers.push(...node.v4.map((data) => ({ name: qname, type: 'A' as const, ttl, data })));
          if (wants('AAAA')) answers.push(...node.v6.map((data) => ({ name: qname, type: 'AAAA' as const, ttl, data })));
        }
        return answer(answers, [], svc.nodes.length > 1);
      }

      // _<service>._<proto>.service.<domain>, and the empty non-terminal _<proto>... above it.
      if (kind === 'service' && labels.length === 3 && labels[0]!.startsWith('_') && /^_(tcp|udp)$/.test(labels[1]!)) {
        const svc = zone.services.get(labels[0]!.slice(1));
        if (!svc || svc.nodes.length === 0) return nxdomain();
        const targets = svc.srv.get(labels[1]!.slice(1)) ?? [];
        if (!wants('SRV') || targets.length === 0) return nodata();
        const answers: Answer[] = shuffle(targets, random).map((t) => ({
          name: qname, type: 'SRV', ttl, data: { priority: 10, weight: 10, port: t.port, target: `${t.node}.node${suffix}` },
        }));
        const additionals: Answer[] = [];
        for (const label of new Set(targets.map((t) => t.node))) {
          const node = zone.nodes.get(label);
          const target = `${label}.node${suffix}`;
          if (!node) continue;
          additionals.push(...node.v4.map((data) => ({ name: target, type: 'A' as const, ttl, data })));
          additionals.push(...node.v6.map((data) => ({ name: target, type: 'AAAA' as const, ttl, data })));
        }
        return answer(answers, additionals, targets.length > 1);
      }
      return nxdomain();
    },
  };
}
