/**
 * The node agent: samples and reads workloads on a timer into its journal
 * (agent/outbox.ts), keeps one WebSocket to the hub, authenticates with its
 * credential (or joins with a token the first time), sends facts and then
 * every journaled record after the hub's acked position, and reconnects with
 * capped, jittered backoff. Sampling never waits for the link: what happens
 * while the hub is away (or paused) is journaled and sent later, in order,
 * with its original sequence numbers and times.
 *
 * The agent pings the hub and drops a link that stays silent too long, so a
 * black-holed connection (no RST, no FIN) is noticed within a minute.
 */
import WebSocket from 'ws';
// Values come from the schema-free modules only: protocol/index.ts would load TypeBox and every schema on the node.
import { AGENT_PATH, MUSTER_VERSION, PROTOCOL_VERSION } from '../protocol/version.ts';
import { CloseCode, FATAL_CLOSE_CODES } from '../protocol/close-codes.ts';
import { createHubMessageDecoder } from '../protocol/hub-decoder.ts';
import { packFrame, unpackFrame } from '../protocol/compression.ts';
import type { AgentMessage, DeployProgress, DeployResult, HostFacts, HubMessage, SampleData, UpgradeResult } from '../protocol/index.ts';
import { openOutbox, type Outbox } from './outbox.ts';
import { createWorkloadDiff } from './workload-diff.ts';
import { createMetricDiff } from './metric-diff.ts';
import type { CollectedFamily } from './collectors/metric-writer.ts';
import type { WorkloadCollector } from './workloads.ts';
import type { StateStore } from './state.ts';
import type { DeployExecutor } from './deploy.ts';
import type { AgentLogger } from './log.ts';
import type { LogCollector } from './logs/collector.ts';
import { explainTlsFailure, TrustError, type HubTrust } from './hub-trust.ts';
import { CONFIRM_WITHIN_MS, type Upgrader } from './upgrade.ts';

/** What the agent needs from its collectors. */
export interface HostSource {
  facts(): Promise<HostFacts>;
  sample(): Promise<SampleData>;
}

/** The node's metric families (agent/collectors/registry.ts): node_exporter's, and whatever collectors come next. */
export interface MetricSource {
  collect(): Promise<CollectedFamily[]>;
}

export interface AgentDeps {
  collectors: HostSource;
  /** Generic metric families, shipped as `metrics` records; absent, the hub derives the node's series from samples. */
  metrics?: MetricSource;
  /** Processes, containers, units and ports; absent, the agent reports host facts and samples only. */
  workloads?: WorkloadCollector;
  /** Runs deploys the hub sends; absent, the agent refuses them. */
  deploys?: DeployExecutor;
  state: StateStore;
  log: AgentLogger;
  /** What to trust for the next connection (agent/hub-trust.ts); absent, the system's CAs for wss://. */
  trust?: () => Promise<HubTrust>;
  /** Runs upgrades the hub pushes (agent/upgrade.ts); absent, the agent refuses them. */
  upgrader?: Upgrader;
  /** Containers' and units' logs (agent/logs/collector.ts), journaled in the `logs` lane; absent, no logs are shipped. */
  logs?: Pick<LogCollector, 'start' | 'durable' | 'close'>;
  now?: () => number;
  random?: () => number;
}

export interface AgentOptions {
  /** Hub base URL: http(s)://host:port or ws(s)://host:port. */
  hub: string;
  name: string;
  machineId: string;
  /** Join token; only needed until the agent holds a credential. */
  joinToken?: string;
  intervalMs?: number;
  /** Bound on the journal's size (default 64 MiB). */
  journalMaxBytes?: number;
  /** Records older than this are dropped from the journal (default 12 h). */
  journalMaxAgeMs?: number;
  /** Re-read facts this often and send them when they changed. */
  factsEveryMs?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** How often the agent pings the hub (default 10 s). */
  pingEveryMs?: number;
  /** A link with nothing from the hub for this long is dropped and dialled again (default 30 s). */
  silentAfterMs?: number;
  /** Called when the hub refuses this agent for good (bad token, revoked, name taken). */
  onFatal?: (code: number, reason: string) => void;
  /** Called by close(), after the last read: releases what the collectors hold (event streams, watchers). */
  onClose?: () => void;
  /**
   * The process should end so that systemd starts it again: `upgraded` after
   * a new bundle was put in place, `unconfirmed` when this new version did not
   * reach the hub in time (its launcher then puts the old one back).
   */
  onRestart?: (why: 'upgraded' | 'unconfirmed') => void;
}

/** Live view of the agent, for tests and the CLI. */
export interface AgentStatus {
  connected: boolean;
  node: string;
  /** Records in the journal the hub has not acked. */
  outbox: number;
  /** Records lost (every reason), since the state directory began. */
  dropped: number;
  ackedSeq: number;
  /** Why the hub paused this agent, while it does. */
  paused: string | null;
  lastError: string | null;
}

export interface Agent {
  start(): void;
  /** Takes a sample now (besides the timer); resolves when it is in the journal. */
  sampleNow(): Promise<void>;
  /** Reads workloads soon and journals what changed: for Docker events, which should not wait for the next sample. */
  refreshWorkloads(): void;
  status(): AgentStatus;
  /** Stops timers, closes the link, fsyncs and closes the journal. */
  close(): Promise<void>;
}

/** Records in flight (sent, not acked) at most: a long replay goes out as acks come back, not all at once. */
const WINDOW_RECORDS = 500;
/** Bytes of record bodies read from the journal per send. */
const WINDOW_BYTES = 2 * 1024 * 1024;
/** Deploy results kept for the next link; as many as the journal holds. */
const MAX_UNSENT_RESULTS = 200;
/** Docker sends several events per container change (kill, die, stop); one read covers them all. */
const WORKLOAD_DEBOUNCE_MS = 200;

/** Turns http(s):// into ws(s):// and appends the agent path. */
export function agentUrl(hub: string): string {
  const u = new URL(hub);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  else if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new Error(`hub URL must be http(s):// or ws(s)://, not ${u.protocol}`);
  u.pathname = u.pathname.replace(/\/+$/, '') + AGENT_PATH;
  return u.toString();
}

/** Creates an agent and opens its journal; nothing runs until `start()`. */
export function createAgent(deps: AgentDeps, opts: AgentOptions): Agent {
  const { collectors, state, log } = deps;
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const intervalMs = opts.intervalMs ?? 10_000;
  const factsEveryMs = opts.factsEveryMs ?? 5 * 60_000;
  const backoffMin = opts.backoffMinMs ?? 1_000;
  const backoffMax = opts.backoffMaxMs ?? 30_000;
  const pingEveryMs = opts.pingEveryMs ?? 10_000;
  const silentAfterMs = opts.silentAfterMs ?? 30_000;
  const decode = createHubMessageDecoder();
  const url = agentUrl(opts.hub);

  let ws: WebSocket | undefined;
  let welcomed = false;
  /** Highest sequence number sent on this link. */
  let sentUpTo = 0;
  let ackedSeq = 0;
  let attempt = 0;
  let stopped = false;
  let paused: string | null = null;
  let lastFactsJson = '';
  let lastError: string | null = null;
  let lastHeard = 0;
  let sampleTimer: NodeJS.Timeout | undefined;
  let factsTimer: NodeJS.Timeout | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let pingTimer: NodeJS.Timeout | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let confirmTimer: NodeJS.Timeout | undefined;
  let sampling: Promise<void> = Promise.resolve();
  let workloadChain: Promise<void> = Promise.resolve();
  let workloadTimer: NodeJS.Timeout | undefined;
  let syncId = 0;
  /** A full workloads snapshot is due: at start, after every welcome, after a resume. */
  let snapshotDue = true;
  /** The sequence number of the last snapshot's last part: one the hub has not acked yet needs no successor. */
  let lastSnapshotSeq = 0;
  const diff = createWorkloadDiff();
  let metricsChain: Promise<void> = Promise.resolve();
  /** A metrics snapshot is due: after every welcome and resume (unless one is still on its way). */
  let metricsSnapshotDue = true;
  let lastMetricsSnapshotSeq = 0;
  const metricDiff = createMetricDiff({ random });

  const outbox: Outbox = openOutbox({
    dir: state.dir,
    ...(opts.journalMaxBytes !== undefined ? { maxBytes: opts.journalMaxBytes } : {}),
    ...(opts.journalMaxAgeMs !== undefined ? { maxAgeMs: opts.journalMaxAgeMs } : {}),
    now,
    onDurable: () => {
      flush();
      // Log positions follow the journal's fsync: a restart then resumes right after what it keeps.
      deps.logs?.durable(outbox.durableSeq());
    },
  });
  const legacy = state.takeLegacyOutbox();
  if (legacy && legacy.samples.length && outbox.lastSeq() === 0) {
    // An agent from before the journal saved these at its last stop: they keep their numbers.
    outbox.rebase(legacy.samples[0]!.seq - 1);
    for (const s of legacy.samples) outbox.pushSample(s.ts, s.data);
    log.info('carried the saved outbox over into the journal', { samples: legacy.samples.length });
  }
  const journalBacklog = outbox.size();
  if (journalBacklog > 0 || outbox.dropped() > 0) log.info('journal opened', { pending: journalBacklog, lost: outbox.lost() });

  const live = () => ws !== undefined && ws.readyState === WebSocket.OPEN;

  const sendText = (text: string, cb?: (err?: Error) => void) => {
    const socket = ws;
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(packFrame(text), cb);
    return true;
  };
  const send = (msg: AgentMessage) => sendText(JSON.stringify(msg));

  /**
   * Deploy frames go out only on a welcomed link. A result that cannot go out
   * now is kept and sent after the next welcome (the hub also sends open jobs
   * again, and the journal answers those); progress during a cut is dropped,
   * the result says how the job ended.
   */
  const unsentResults = new Map<string, DeployResult>();
  const keepResult = (r: DeployResult) => {
    unsentResults.delete(r.id);
    unsentResults.set(r.id, r);
    if (unsentResults.size > MAX_UNSENT_RESULTS) unsentResults.delete(unsentResults.keys().next().value!);
  };
  const sendDeploy = (m: DeployProgress | DeployResult) => {
    if (!welcomed || !live()) {
      if (m.type === 'deployResult') keepResult(m);
      return;
    }
    sendText(JSON.stringify(m), (err) => {
      if (err && m.type === 'deployResult') keepResult(m);
    });
  };
  const sendUnsentResults = () => {
    const pending = [...unsentResults.values()];
    unsentResults.clear();
    for (const r of pending) sendDeploy(r);
  };

  /** Sends journaled records after what this link already carried, keeping at most a window of them unacked. */
  function flush(): void {
    if (!welcomed || paused || !live()) return;
    for (;;) {
      const room = WINDOW_RECORDS - (sentUpTo - ackedSeq);
      if (room <= 0) return;
      const batch = outbox.framesAfter(sentUpTo, room, WINDOW_BYTES);
      if (batch.records === 0) return;
      for (const frame of batch.frames) sendText(frame);
      sentUpTo = batch.lastSeq;
    }
  }

  const sendFacts = async (force: boolean) => {
    try {
      const facts = await collectors.facts();
      const json = JSON.stringify(facts);
      if (!force && json === lastFactsJson) return;
      lastFactsJson = json;
      if (welcomed && !paused) send({ type: 'facts', facts });
    } catch (err) {
      log.warn('could not read host facts', { err: (err as Error).message });
    }
  };

  /**
   * Reads workloads and journals a snapshot (when one is due) or the changes.
   * Runs one at a time, so records enter the journal in the order their
   * readings were taken; the hub applies them in that order, outages included.
   */
  const pushWorkloads = () => {
    const source = deps.workloads;
    if (!source) return workloadChain;
    workloadChain = workloadChain.then(async () => {
      if (stopped) return;
      try {
        const reading = await source.collect();
        const t = now();
        const snapshot = snapshotDue;
        snapshotDue = false;
        const frames = snapshot ? diff.snapshot(reading, ++syncId, t) : diff.delta(reading, t);
        let seq = 0;
        for (const frame of frames) seq = outbox.pushWorkloads(frame);
        if (snapshot) lastSnapshotSeq = seq;
      } catch (err) {
        log.warn('reading workloads failed', { err: (err as Error).message });
      }
    });
    return workloadChain;
  };

  /**
   * Collects the metric families and journals a snapshot (when one is due)
   * or what changed. Only while the hub takes records: the hub keeps no
   * history of these values, so an outage is not journaled at all, and the
   * snapshot after the reconnect carries the state.
   */
  const pushMetrics = () => {
    const source = deps.metrics;
    if (!source) return metricsChain;
    metricsChain = metricsChain.then(async () => {
      if (stopped || !welcomed || paused) return;
      try {
        const families = await source.collect();
        if (stopped || !welcomed || paused) return;
        const t = now();
        const snapshot = metricsSnapshotDue;
        metricsSnapshotDue = false;
        let seq = 0;
        for (const record of snapshot ? metricDiff.snapshot(families, t) : metricDiff.delta(families, t)) seq = outbox.pushMetrics(record);
        if (snapshot) lastMetricsSnapshotSeq = seq;
      } catch (err) {
        log.warn('collecting metrics failed', { err: (err as Error).message });
      }
    });
    return metricsChain;
  };

  const takeSample = async () => {
    try {
      const data = await collectors.sample();
      outbox.pushSample(now(), data);
    } catch (err) {
      log.warn('sampling failed', { err: (err as Error).message });
    }
    void pushWorkloads();
    void pushMetrics();
  };

  const scheduleReconnect = () => {
    if (stopped) return;
    const cap = Math.min(backoffMax, backoffMin * 2 ** attempt);
    const delay = Math.round(cap / 2 + random() * (cap / 2));
    attempt++;
    log.info('reconnecting', { inMs: delay, attempt });
    reconnectTimer = setTimeout(connect, delay);
  };

  const onHubMessage = (msg: HubMessage) => {
    switch (msg.type) {
      case 'welcome': {
        if (msg.credential) {
          state.writeCredential({ hub: opts.hub, node: opts.name, token: msg.credential });
          log.info('joined the hub; credential saved', { node: msg.node, state: state.dir });
        }
        welcomed = true;
        paused = null;
        attempt = 0;
        lastError = null;
        if (msg.ackedSeq > outbox.lastSeq()) {
          log.warn('the hub holds more of this node than the journal (a restored or copied state directory?); unsent records are renumbered after it',
            { hubAckedSeq: msg.ackedSeq, journalLastSeq: outbox.lastSeq() });
        }
        outbox.rebase(msg.ackedSeq);
        ackedSeq = msg.ackedSeq;
        sentUpTo = msg.ackedSeq;
        log.info('connected to hub', { hub: opts.hub, node: msg.node, pending: outbox.size(), deployResults: unsentResults.size });
        const confirmed = deps.upgrader?.confirm();
        if (confirmed) {
          clearTimeout(confirmTimer);
          log.info('this version reached the hub: the upgrade stays', { version: confirmed });
        }
        sendUnsentResults();
        clearInterval(heartbeatTimer);
        heartbeatTimer = setInterval(() => send({ type: 'heartbeat', ts: now() }), Math.max(1_000, msg.heartbeatMs));
        heartbeatTimer.unref();
        // A snapshot after every connect keeps the hub's view whole whatever it missed; one still on its way is enough.
        if (lastSnapshotSeq <= msg.ackedSeq) snapshotDue = true;
        if (lastMetricsSnapshotSeq <= msg.ackedSeq) metricsSnapshotDue = true;
        void sendFacts(true).then(() => {
          flush();
          void pushWorkloads();
          void pushMetrics();
        });
        return;
      }
      case 'ack':
        if (msg.seq > ackedSeq) {
          ackedSeq = msg.seq;
          outbox.ack(ackedSeq);
          if (sentUpTo < ackedSeq) sentUpTo = ackedSeq;
        }
        flush();
        return;
      case 'pause':
        // The hub stores nothing more until resume; whatever it has not acked goes again then.
        paused = `${msg.code}: ${msg.message}`;
        sentUpTo = ackedSeq;
        log.warn('the hub paused this agent; records stay in the journal', { code: msg.code, message: msg.message, retryAfterMs: msg.retryAfterMs });
        return;
      case 'resume':
        paused = null;
        ackedSeq = Math.max(ackedSeq, Math.min(msg.ackedSeq, outbox.lastSeq()));
        outbox.ack(ackedSeq);
        sentUpTo = ackedSeq;
        log.info('the hub resumed this agent', { ackedSeq, pending: outbox.size() });
        snapshotDue = true;
        metricsSnapshotDue = true;
        void sendFacts(true).then(() => {
          flush();
          void pushWorkloads();
          void pushMetrics();
        });
        return;
      case 'error':
        lastError = `${msg.code}: ${msg.message}`;
        log.warn('hub reported an error', { code: msg.code, message: msg.message });
        return;
      case 'upgrade': {
        const reply = (r: UpgradeResult, then?: () => void) => sendText(JSON.stringify(r), () => then?.());
        if (!deps.upgrader) {
          reply({ type: 'upgradeResult', id: msg.id, outcome: 'refused', message: 'this agent cannot upgrade itself', version: MUSTER_VERSION });
          return;
        }
        log.info('the hub asks for an upgrade', { to: msg.version });
        deps.upgrader.handle(msg).then((r) => {
          log.info('upgrade', { outcome: r.outcome, message: r.message });
          // Restart once the answer is on its way: the hub learns why the link is about to drop.
          reply(r, r.outcome === 'restarting' ? () => opts.onRestart?.('upgraded') : undefined);
        }, (err: Error) => log.error('upgrade failed', { err: err.message }));
        return;
      }
      case 'deploy':
        if (!deps.deploys) {
          sendDeploy({ type: 'deployResult', id: msg.id, ts: now(), outcome: 'refused', message: 'this agent cannot deploy (it runs without a deploy executor)' });
          return;
        }
        // Progress and the result go out on whatever link is up when they happen.
        deps.deploys.handle(msg, sendDeploy).catch((err: Error) => log.error('deploy executor failed', { id: msg.id, err: err.message }));
        return;
    }
  };

  /** Drops a link the hub has not answered on for too long: a black hole looks like a quiet link forever otherwise. */
  const checkLiveness = (socket: WebSocket) => {
    if (ws !== socket) return;
    if (now() - lastHeard > silentAfterMs) {
      lastError = `no answer from the hub for ${Math.round((now() - lastHeard) / 1000)} s`;
      log.warn('hub link silent; dropping it and dialling again', { silentMs: now() - lastHeard });
      socket.terminate();
      return;
    }
    if (socket.readyState === WebSocket.OPEN) socket.ping();
  };

  /** WebSocket close code 1015: the TLS handshake failed (RFC 6455), for onFatal. */
  const TLS_FAILED = 1015;

  function connect(): void {
    if (stopped) return;
    const trusting = deps.trust ? deps.trust() : Promise.resolve<HubTrust>({ tls: url.startsWith('wss:'), ca: undefined });
    trusting.then(dial, (err: Error) => {
      if (stopped) return;
      if (err instanceof TrustError) {
        lastError = err.message;
        log.error('refusing the hub', { code: err.code, reason: err.message });
        opts.onFatal?.(TLS_FAILED, err.message);
        return;
      }
      lastError = `cannot fetch the hub's CA certificate: ${err.message}`;
      log.warn(lastError);
      scheduleReconnect();
    });
  }

  function dial(trust: HubTrust): void {
    if (stopped) return;
    const credential = state.readCredential();
    const token = credential?.token ?? opts.joinToken;
    if (!token) {
      lastError = 'no credential in the state directory and no join token given';
      log.error(lastError, { state: state.dir });
      opts.onFatal?.(CloseCode.unauthorized, lastError);
      return;
    }
    const auth = credential ? { kind: 'credential' as const, token } : { kind: 'join' as const, token };
    let tlsFailure: string | undefined;
    // Frames are compressed one by one (protocol 2), not by permessage-deflate.
    const socket = new WebSocket(url, {
      perMessageDeflate: false, handshakeTimeout: 10_000, maxPayload: 1024 * 1024,
      ...(trust.tls && trust.ca ? { ca: trust.ca } : {}),
    });
    ws = socket;
    welcomed = false;
    paused = null;
    lastHeard = now();
    clearInterval(pingTimer);
    pingTimer = setInterval(() => checkLiveness(socket), pingEveryMs);
    pingTimer.unref();
    socket.on('open', () => {
      lastHeard = now();
      send({
        type: 'hello', protocol: PROTOCOL_VERSION, agentVersion: MUSTER_VERSION,
        node: { name: opts.name, machineId: opts.machineId }, auth,
      });
    });
    socket.on('pong', () => { lastHeard = now(); });
    socket.on('message', (data, isBinary) => {
      lastHeard = now();
      const frame = unpackFrame(data, isBinary);
      const result = frame.ok ? decode(frame.text) : frame;
      if (!result.ok) {
        log.warn('ignoring a frame from the hub', { reason: result.reason });
        return;
      }
      onHubMessage(result.value);
    });
    socket.on('error', (err) => {
      lastError = err.message;
      tlsFailure = explainTlsFailure(err as NodeJS.ErrnoException, opts.hub, trust.tls && trust.ca !== undefined) ?? tlsFailure;
      log.debug('link error', { err: err.message });
    });
    socket.on('close', (code, reasonBuf) => {
      if (ws !== socket) return;
      ws = undefined;
      welcomed = false;
      clearInterval(heartbeatTimer);
      clearInterval(pingTimer);
      const reason = reasonBuf.toString();
      if (stopped) return;
      if (tlsFailure) {
        // Not a hub this agent may talk to, or not at this address: retrying cannot fix it.
        lastError = tlsFailure;
        log.error('refusing the hub', { reason: tlsFailure });
        opts.onFatal?.(TLS_FAILED, tlsFailure);
        return;
      }
      if (FATAL_CLOSE_CODES.includes(code)) {
        // A revoked or unknown credential with a join token at hand: join afresh once.
        if (credential && opts.joinToken && code === CloseCode.unauthorized) {
          log.warn('credential refused; joining again with the join token', { reason });
          state.clearCredential();
        } else {
          lastError = `hub refused this agent (${code}): ${reason}`;
          log.error('hub refused this agent; not reconnecting', { code, reason });
          opts.onFatal?.(code, reason);
          return;
        }
      } else {
        log.warn('link closed', { code, reason: reason || lastError || '' });
      }
      scheduleReconnect();
    });
  }

  return {
    start() {
      if (deps.upgrader?.unconfirmed()) {
        // A new version on probation: if the hub has not welcomed it within the minute, end, and the launcher rolls back.
        confirmTimer = setTimeout(() => {
          if (!deps.upgrader?.unconfirmed()) return;
          log.error('this new version did not reach the hub within a minute; ending so that the previous one comes back');
          opts.onRestart?.('unconfirmed');
        }, CONFIRM_WITHIN_MS);
      }
      void sendFacts(false);
      // Logs are journaled while the hub is away too: the journal bounds them, and drops them before samples.
      // A batch is fsync'd as soon as it is journaled: its positions are saved then, so a SIGKILL re-reads
      // (and ships twice) what a few milliseconds held, not a second of lines. At most one fsync a batch.
      deps.logs?.start((record) => outbox.pushLogs(record), () => outbox.sync());
      sampling = takeSample();
      sampleTimer = setInterval(() => { sampling = takeSample(); }, intervalMs);
      factsTimer = setInterval(() => void sendFacts(false), factsEveryMs);
      connect();
    },
    async sampleNow() {
      await takeSample();
      await workloadChain;
      await metricsChain;
    },
    refreshWorkloads() {
      if (workloadTimer || stopped) return;
      workloadTimer = setTimeout(() => {
        workloadTimer = undefined;
        void pushWorkloads();
      }, WORKLOAD_DEBOUNCE_MS);
    },
    status: () => ({ connected: welcomed, node: opts.name, outbox: outbox.size(), dropped: outbox.dropped(), ackedSeq, paused, lastError }),
    async close() {
      stopped = true;
      clearInterval(sampleTimer);
      clearInterval(factsTimer);
      clearInterval(heartbeatTimer);
      clearInterval(pingTimer);
      clearTimeout(reconnectTimer);
      clearTimeout(workloadTimer);
      clearTimeout(confirmTimer);
      await sampling;
      await workloadChain;
      await metricsChain;
      await deps.logs?.close();
      opts.onClose?.();
      const socket = ws;
      if (socket && socket.readyState !== WebSocket.CLOSED) {
        await new Promise<void>((resolve) => {
          socket.once('close', () => resolve());
          socket.close(CloseCode.normal, 'agent stopping');
          setTimeout(resolve, 1_000).unref();
        });
      }
      outbox.close();
      deps.logs?.durable(outbox.durableSeq());
    },
  };
}
