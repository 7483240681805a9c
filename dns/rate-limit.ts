/**
 * Response rate limiting for UDP, as BIND's RRL does it. UDP sources can be
 * forged, so whoever can reach the port can aim our answers at a victim;
 * limiting how many answers one client prefix gets a second caps what that
 * is worth. Each prefix has a balance that earns `responsesPerSecond` credits
 * a second (at most one second's worth banked) and pays one per response;
 * below zero, responses are limited, and the debt can grow to `window`
 * seconds' worth, so a prefix that flooded stays limited until it has been
 * quiet for up to the window. Of the limited responses, every `slip`-th goes
 * out truncated (TC, no records: no larger than the query) instead of being
 * dropped: a real client in that prefix retries over TCP, which cannot be
 * forged, while a forged flood gains nothing.
 *
 * TCP answers are never limited here: the handshake proves the address.
 */
import { prefixKey } from './addresses.ts';

export interface RateLimitOptions {
  /** Responses a second per client prefix (default 20). */
  responsesPerSecond?: number;
  /** Seconds of debt a flooding prefix works off before it is answered again (default 15, as BIND). */
  windowSeconds?: number;
  /** Every slip-th limited response is sent truncated instead of dropped; 0 drops them all (default 2, as BIND). */
  slip?: number;
  /** The bits of an address that make one client (defaults 24 and 56, as BIND). */
  ipv4PrefixLength?: number;
  ipv6PrefixLength?: number;
  /** Prefixes tracked at once; beyond, the longest-tracked is forgotten (default 100,000, a few MB). */
  maxClients?: number;
}

/** What to do with one response: send it, drop it, or send it truncated. */
export type RateVerdict = 'send' | 'drop' | 'slip';

/** Accounts responses per client prefix. */
export interface ResponseRateLimiter {
  /** Called once per response about to go to `address` over UDP. */
  check(address: string): RateVerdict;
  /** Prefixes tracked now (tests, and to see the table stays bounded). */
  size(): number;
}

interface Bucket {
  balance: number;
  /** When the balance was last credited, in ms. */
  at: number;
  limited: number;
}

/** Creates a limiter with its own table; `now` is the clock in ms. */
export function createResponseRateLimiter(opts: RateLimitOptions, now: () => number): ResponseRateLimiter {
  const rate = opts.responsesPerSecond ?? 20;
  const floor = -rate * (opts.windowSeconds ?? 15);
  const slip = opts.slip ?? 2;
  const v4 = opts.ipv4PrefixLength ?? 24;
  const v6 = opts.ipv6PrefixLength ?? 56;
  const max = opts.maxClients ?? 100_000;
  const buckets = new Map<string, Bucket>();

  return {
    check(address) {
      const key = prefixKey(address, v4, v6);
      const t = now();
      let b = buckets.get(key);
      if (!b) {
        // Forgetting the oldest prefix first: a flood from many forged prefixes only
        // makes each of them start afresh, with one second of credit.
        if (buckets.size >= max) buckets.delete(buckets.keys().next().value!);
        b = { balance: rate, at: t, limited: 0 };
        buckets.set(key, b);
      } else if (t > b.at) {
        b.balance = Math.min(rate, b.balance + ((t - b.at) / 1000) * rate);
        b.at = t;
      }
      b.balance -= 1;
      if (b.balance >= 0) return 'send';
      if (b.balance < floor) b.balance = floor;
      b.limited++;
      return slip > 0 && b.limited % slip === 0 ? 'slip' : 'drop';
    },
    size: () => buckets.size,
  };
}
