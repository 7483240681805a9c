/**
 * What the DNS server's defences did, one stable name each. The hub counts
 * them as `muster_dns_*_total` series, so an operator sees an attack (or a
 * misconfigured client) as numbers on a board rather than as silence.
 */

/** Why an answer that came back from an upstream was thrown away instead of believed. */
export type UpstreamDropReason = 'wrong_source' | 'wrong_id' | 'wrong_question' | 'malformed';

/** Why the server closed a TCP connection itself. */
export type TcpCloseReason = 'idle' | 'client_limit' | 'evicted' | 'total_limit';

/** One thing a defence did. */
export type DnsEvent =
  /** A client outside the allowed networks asked for a name outside the domain: REFUSED. */
  | 'refused_recursion'
  /** AXFR/IXFR: REFUSED for everyone. */
  | 'refused_zone_transfer'
  /** Response rate limiting dropped a UDP answer. */
  | 'rate_limited_dropped'
  /** Response rate limiting sent a UDP answer truncated (TC) instead, so a real client retries over TCP. */
  | 'rate_limited_slipped'
  /** A UDP answer did not fit the client's size limit and went out truncated (TC). */
  | 'truncated'
  | `upstream_${UpstreamDropReason}`
  | `tcp_${TcpCloseReason}`;

/** Receives the server's and the forwarder's events (the hub's metrics). */
export type DnsEventSink = (event: DnsEvent) => void;
