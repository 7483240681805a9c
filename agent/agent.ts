/**
 * The node agent: samples on a timer into the outbox, keeps one WebSocket to
 * the hub, authenticates with its credential (or joins with a token the first
 * time), sends facts then the outbox, and reconnects with capped, jittered
 * backoff. Sampling never waits for the link.
 */
import WebSocket from 'ws';
import {
  AGENT_PATH, CloseCode, FATAL_CLOSE_CODES, MUSTER_VERSION, PROTOCOL_VERSION, createHubMessageDecoder,
  type AgentMessage, type DeployProgress, type DeployResult, type HostFacts, type HubMessage, type SampleData,
} from '../protocol/index.ts';
import { createOutbox, type Outbox } from './outbox.ts';
import { createWorkloadDiff } from './workload-diff.ts';
import type { WorkloadCollector } from './workloads.ts';
import type { StateStore } from './state.ts';
import type { DeployExecutor } from './deploy.ts';
import type { AgentLogger } from './log.ts';

/** What the agent needs from its collectors. */
export interface HostSource {
  facts(): Promise<HostFacts>;
  sample(): Promise<SampleData>;
}

export interface AgentDeps {
  collectors: HostSource;
  /** Processes, containers, units and ports; absent, the agent reports host facts and samples only. */
  workloads?: WorkloadCollector;
  /** Runs deploys the hub sends; absent, the agent refuses them. */
  deploys?: DeployExecutor;
  state: StateStore;
  log: AgentLogger;
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
  outboxCapacity?: number;
  /** Re-read facts this often and send them when they changed. */
  factsEveryMs?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Called when the hub refuses this agent for good (bad token, revoked, name taken). */
  onFatal?: (code: number, reason: string) => void;
  /** Called by close(), after the last read: releases what the collectors hold (event streams, watchers). */
  onClose?: () => void;
}

/** Live view of the agent, for tests and the CLI. */
export interface AgentStatus {
  connected: boolean;
  node: string;
  outbox: number;
  dropped: number;
  ackedSeq: number;
  lastError: string | null;
}

export interface Agent {
  start(): void;
  /** Takes a sample now (besides the timer); resolves when it is in the outbox. */
  sampleNow(): Promise<void>;
  /** Reads workloads soon and sends what changed: for Docker events, which should not wait for the next sample. */
  refreshWorkloads(): void;
  status(): AgentStatus;
  /** Stops timers, closes the link, saves the outbox to the state directory. */
  close(): Promise<void>;
}

const BATCH = 100;
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

/** Creates an agent; nothing runs until `start()`. */
export function createAgent(deps: AgentDeps, opts: AgentOptions): Agent {
  const { collectors, state, log } = deps;
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const intervalMs = opts.intervalMs ?? 10_000;
  const factsEveryMs = opts.factsEveryMs ?? 5 * 60_000;
  const backoffMin = opts.backoffMinMs ?? 1_000;
  const backoffMax = opts.backoffMaxMs ?? 30_000;
  const decode = createHubMessageDecoder();
  const url = agentUrl(opts.hub);
  const outbox: Outbox = createOutbox({ capacity: opts.outboxCapacity }, state.takeOutbox());

  let ws: WebSocket | undefined;
  let welcomed = false;
  let sentUpTo = 0;
  let ackedSeq = 0;
  let attempt = 0;
  let stopped = false;
  let lastFactsJson = '';
  let lastError: string | null = null;
  let sampleTimer: NodeJS.Timeout | undefined;
  let factsTimer: NodeJS.Timeout | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let sampling: Promise<void> = Promise.resolve();
  let workloadChain: Promise<void> = Promise.resolve();
  let workloadTimer: NodeJS.Timeout | undefined;
  let syncId = 0;
  const diff = createWorkloadDiff();

  const send = (msg: AgentMessage) => {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  };

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
    const socket = ws;
    if (!welcomed || !socket || socket.readyState !== WebSocket.OPEN) {
      if (m.type === 'deployResult') keepResult(m);
      return;
    }
    socket.send(JSON.stringify(m), (err) => {
      if (err && m.type === 'deployResult') keepResult(m);
    });
  };
  const sendUnsentResults = () => {
    const pending = [...unsentResults.values()];
    unsentResults.clear();
    for (const r of pending) sendDeploy(r);
  };

  const flush = () => {
    if (!welcomed) return;
    for (;;) {
      const batch = outbox.pendingAfter(sentUpTo, BATCH);
      if (batch.length === 0) return;
      send({ type: 'samples', samples: batch, dropped: outbox.dropped() });
      sentUpTo = batch[batch.length - 1]!.seq;
      if (batch.length < BATCH) return;
    }
  };

  const sendFacts = async (force: boolean) => {
    try {
      const facts = await collectors.facts();
      const json = JSON.stringify(facts);
      if (!force && json === lastFactsJson) return;
      lastFactsJson = json;
      if (welcomed) send({ type: 'facts', facts });
    } catch (err) {
      log.warn('could not read host facts', { err: (err as Error).message });
    }
  };

  /**
   * Reads workloads and sends a snapshot (after a welcome) or the changes.
   * Runs one at a time, so frames leave in the order their readings were taken.
   */
  const pushWorkloads = (mode: 'snapshot' | 'delta') => {
    const source = deps.workloads;
    if (!source) return workloadChain;
    workloadChain = workloadChain.then(async () => {
      if (!welcomed) return;
      try {
        const state = await source.collect();
        if (!welcomed) return; // the link dropped meanwhile; the next welcome sends a snapshot
        const frames = mode === 'snapshot' ? diff.snapshot(state, ++syncId, now()) : diff.delta(state, now());
        for (const frame of frames) send(frame);
      } catch (err) {
        log.warn('reading workloads failed', { err: (err as Error).message });
      }
    });
    return workloadChain;
  };

  const takeSample = async () => {
    try {
      const data = await collectors.sample();
      outbox.push(now(), data);
      flush();
    } catch (err) {
      log.warn('sampling failed', { err: (err as Error).message });
    }
    void pushWorkloads('delta');
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
        attempt = 0;
        lastError = null;
        ackedSeq = msg.ackedSeq;
        outbox.rebase(msg.ackedSeq);
        sentUpTo = msg.ackedSeq;
        log.info('connected to hub', { hub: opts.hub, node: msg.node, pending: outbox.size(), deployResults: unsentResults.size });
        sendUnsentResults();
        clearInterval(heartbeatTimer);
        heartbeatTimer = setInterval(() => send({ type: 'heartbeat', ts: now() }), Math.max(1_000, msg.heartbeatMs));
        heartbeatTimer.unref();
        void sendFacts(true).then(() => {
          flush();
          void pushWorkloads('snapshot');
        });
        return;
      }
      case 'ack':
        ackedSeq = Math.max(ackedSeq, msg.seq);
        outbox.ack(msg.seq);
        return;
      case 'error':
        lastError = `${msg.code}: ${msg.message}`;
        log.warn('hub reported an error', { code: msg.code, message: msg.message });
        return;
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

  function connect(): void {
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
    const socket = new WebSocket(url, { perMessageDeflate: { threshold: 1024 }, handshakeTimeout: 10_000, maxPayload: 1024 * 1024 });
    ws = socket;
    welcomed = false;
    socket.on('open', () => {
      socket.send(JSON.stringify({
        type: 'hello', protocol: PROTOCOL_VERSION, agentVersion: MUSTER_VERSION,
        node: { name: opts.name, machineId: opts.machineId }, auth,
      } satisfies AgentMessage));
    });
    socket.on('message', (data, isBinary) => {
      const result = decode(isBinary ? '' : data.toString());
      if (!result.ok) {
        log.warn('ignoring a frame from the hub', { reason: result.reason });
        return;
      }
      onHubMessage(result.value);
    });
    socket.on('error', (err) => {
      lastError = err.message;
      log.debug('link error', { err: err.message });
    });
    socket.on('close', (code, reasonBuf) => {
      if (ws !== socket) return;
      ws = undefined;
      welcomed = false;
      clearInterval(heartbeatTimer);
      const reason = reasonBuf.toString();
      if (stopped) return;
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
      void sendFacts(false);
      sampling = takeSample();
      sampleTimer = setInterval(() => { sampling = takeSample(); }, intervalMs);
      factsTimer = setInterval(() => void sendFacts(false), factsEveryMs);
      connect();
    },
    async sampleNow() {
      await takeSample();
      await workloadChain;
    },
    refreshWorkloads() {
      if (workloadTimer || stopped) return;
      workloadTimer = setTimeout(() => {
        workloadTimer = undefined;
        void pushWorkloads('delta');
      }, WORKLOAD_DEBOUNCE_MS);
    },
    status: () => ({ connected: welcomed, node: opts.name, outbox: outbox.size(), dropped: outbox.dropped(), ackedSeq, lastError }),
    async close() {
      stopped = true;
      clearInterval(sampleTimer);
      clearInterval(factsTimer);
      clearInterval(heartbeatTimer);
      clearTimeout(reconnectTimer);
      clearTimeout(workloadTimer);
      await sampling;
      await workloadChain;
      opts.onClose?.();
      const socket = ws;
      if (socket && socket.readyState !== WebSocket.CLOSED) {
        await new Promise<void>((resolve) => {
          socket.once('close', () => resolve());
          socket.close(CloseCode.normal, 'agent stopping');
          setTimeout(resolve, 1_000).unref();
        });
      }
      state.writeOutbox(outbox.snapshot());
    },
  };
}
