/**
 * The hub's end of the agent link: authenticates each WebSocket with its
 * first frame, validates every frame before any handler runs, stores facts,
 * samples and workloads, acks what is on disk, and marks nodes offline when
 * they go quiet.
 *
 * Acks are durable: a samples frame (or a sequenced workloads delta) is
 * acked only after the group commit that holds it is fsync'd. When storage
 * fails or a node spends its write budget, the node is paused: the hub
 * stores nothing more from it and acks nothing, the agent keeps its journal,
 * and on `resume` it sends again from the last ack. No handler lets an
 * exception escape to the socket's event emitter, where it would end the hub.
 */
import type { WebSocket, RawData } from 'ws';
import type { FastifyBaseLogger } from 'fastify';
import {
  CloseCode, PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS, createAgentMessageDecoder, unpackFrame,
  type AgentMessage, type CpuTimes, type Hello, type HubMessage, type MetricsMessage, type SamplesMessage, type WorkloadsMessage,
} from '../protocol/index.ts';
import type { LogsMessage } from '../protocol/logs.ts';
import type { LogStore } from './logs/log-store.ts';
import type { LogMetrics } from './logs/log-metrics.ts';
import type { NodeRecord, SampleRow, Store } from './store.ts';
import type { TokenService } from './tokens.ts';
import type { DeployService } from './deploys.ts';
import type { Inventory } from './inventory.ts';
import type { Membership } from './membership.ts';
import { MusterError } from './errors.ts';
import { cpuUsedBetween, memUsed } from './derive.ts';
import { describeFault, isStorageFault, type StorageHealth } from './group-commit.ts';
import type { WriteBudget } from './write-budget.ts';
import type { AgentUpgrades } from './agent-upgrades.ts';
import type { AgentFamilies } from './metrics/agent-families.ts';

export type Logger = Pick<FastifyBaseLogger, 'info' | 'warn' | 'error' | 'debug'>;

export interface AgentGatewayDeps {
  store: Store;
  tokens: TokenService;
  /** Who may join under which name (a held name needs an admin's consent). */
  membership: Pick<Membership, 'join'>;
  /** Where workload frames go, and node online/offline events. */
  inventory: Pick<Inventory, 'apply' | 'record' | 'markUnsynced'>;
  now: () => number;
  log: Logger;
  /** Told of every decoded frame, for metrics. */
  onFrame?: (type: string, bytes: number) => void;
  /** Told after a node's samples or workloads were stored (metrics renders its series ahead of the scrape). */
  onNodeData?: (nodeId: number) => void;
  /** Where deploy progress and results go, and who hears that a node (re)connected; absent, such frames are ignored. */
  deploys?: Pick<DeployService, 'nodeOnline' | 'progress' | 'result'>;
  /** The storage's health (the group commit); absent, storage is taken to be healthy. */
  storage?: { health(): StorageHealth; onHealthChange(fn: (h: StorageHealth) => void): () => void };
  /** Tries one small write, so a hub whose storage failed finds out when it works again. */
  probeStorage?: () => void;
  /** Per-node write budgets; absent, unlimited. */
  budget?: WriteBudget;
  /** Hears agents' upgrade answers and their facts after a restart; absent, such frames are ignored. */
  upgrades?: Pick<AgentUpgrades, 'result' | 'seen'>;
  /** Where agents' generic metric families go (protocol 3); absent, `metrics` records are acked and dropped. */
  families?: Pick<AgentFamilies, 'apply'>;
  /** Where log batches go (the recent-log store, on the same group commit); absent, they are acked and dropped. */
  logs?: Pick<LogStore, 'ingest'>;
  /** Counts what log batches bring. */
  logMetrics?: Pick<LogMetrics, 'received'>;
  /** Per-node budget of log lines and bytes, apart from the one of samples and workloads; absent, unlimited. */
  logBudget?: WriteBudget;
}

export interface AgentGatewayOptions {
  /** How often agents send a heartbeat (told to them in the welcome). */
  heartbeatMs?: number;
  /** Silence after which a node is marked offline and its link dropped. */
  offlineAfterMs?: number;
  /** Time a new link has to send its hello. */
  helloTimeoutMs?: number;
  /** Oldest sample the hub stores, by the hub's clock (default 30 days): older ones are acked, counted and dropped. */
  maxSampleAgeMs?: number;
  /** How far ahead of the hub's clock a sample may be (default 10 min). */
  maxClockAheadMs?: number;
  /** While storage fails, how often the hub tries a write to see whether it works again (default 5 s). */
  storageRetryMs?: number;
}

/** Accepts agent links and keeps the node inventory current. */
export interface AgentGateway {
  /** Takes over a freshly upgraded WebSocket. */
  accept(socket: WebSocket, remote: string): void;
  /** Names of the nodes with a live link. */
  connected(): string[];
  /** Sends a request to a node's live link; false when the node has none. */
  sendTo(nodeId: number, msg: HubMessage): boolean;
  /** Starts the offline sweep. */
  start(): void;
  /** Closes every link (code 1001) and stops timers. */
  close(): void;
}

interface Link {
  socket: WebSocket;
  remote: string;
  node?: NodeRecord;
  /** The protocol version the agent spoke in its hello. */
  protocol: number;
  lastFrame: number;
  lastCpu?: CpuTimes[];
  helloTimer?: NodeJS.Timeout;
  /** Highest sequence number handed to storage: anything at or below it is a replay. */
  queuedSeq: number;
  /** Set while the hub takes no records from this link, and why. */
  paused?: { code: string; resumeTimer?: NodeJS.Timeout };
}

/** WebSocket close code 1013, "try again later": what a protocol 1 agent gets instead of `pause`. */
const TRY_AGAIN_LATER = 1013;

/** Close reasons are limited to 123 bytes by RFC 6455. */
const reasonOf = (s: string) => Buffer.from(s).subarray(0, 123).toString().replace(/\uFFFD$/, '');

/** Creates the gateway; nothing runs until `start()` and `accept()`. */
export function createAgentGateway(deps: AgentGatewayDeps, opts: AgentGatewayOptions = {}): AgentGateway {
  const { store, tokens, inventory, now, log } = deps;
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  const offlineAfterMs = opts.offlineAfterMs ?? heartbeatMs * 3;
  const helloTimeoutMs = opts.helloTimeoutMs ?? 10_000;
  const maxSampleAgeMs = opts.maxSampleAgeMs ?? 30 * 86_400_000;
  const maxClockAheadMs = opts.maxClockAheadMs ?? 10 * 60_000;
  const storageRetryMs = opts.storageRetryMs ?? 5_000;
  const decode = createAgentMessageDecoder();
  const links = new Set<Link>();
  const byNode = new Map<number, Link>();
  let sweep: NodeJS.Timeout | undefined;
  let probe: NodeJS.Timeout | undefined;
  let lastSeenTimer: NodeJS.Timeout | undefined;
  let closing = false;
  const storageOk = () => deps.storage?.health().ok ?? true;

  const send = (link: Link, msg: HubMessage) => {
    if (link.socket.readyState === link.socket.OPEN) link.socket.send(JSON.stringify(msg));
  };

  const refuse = (link: Link, code: number, reason: string, errCode: string) => {
    log.warn({ remote: link.remote, node: link.node?.name, code: errCode, closeCode: code }, `agent link refused: ${reason}`);
    send(link, { type: 'error', code: errCode, message: reason.slice(0, 1024) });
    link.socket.close(code, reasonOf(reason));
  };

  /** Runs a handler so that no exception reaches the socket's emitter, where it would end the hub. */
  const guarded = (what: string, link: Link | undefined, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      if (isStorageFault(err)) log.debug({ node: link?.node?.name, err: describeFault(err).message }, `${what}: storage failed`);
      else log.error({ err, node: link?.node?.name }, `${what} failed`);
    }
  };

  /**
   * Stops taking records from a link: nothing it sends is stored or acked
   * until resume(). A protocol 1 agent knows no `pause`: its link is closed
   * with 1013 and it reconnects after its backoff, resending from its ack.
   */
  function pause(link: Link, code: string, message: string, retryAfterMs: number): void {
    const node = link.node;
    if (!node || link.paused) return;
    link.paused = { code };
    link.queuedSeq = node.ackedSeq;
    if (link.protocol < 2) {
      link.socket.close(TRY_AGAIN_LATER, reasonOf(`try again later: ${message}`));
      return;
    }
    send(link, { type: 'pause', code, message: message.slice(0, 1024), retryAfterMs: Math.min(86_400_000, Math.max(0, Math.round(retryAfterMs))) });
    if (code !== 'MUSTER_ERR_STORAGE') {
      link.paused.resumeTimer = setTimeout(() => resume(link), retryAfterMs);
      link.paused.resumeTimer.unref();
    }
  }

  /** Takes records from a paused link again: it resends from its last ack, then a fresh workloads snapshot. */
  function resume(link: Link): void {
    const node = link.node;
    if (!node || !link.paused) return;
    clearTimeout(link.paused.resumeTimer);
    link.paused = undefined;
    link.queuedSeq = node.ackedSeq;
    send(link, { type: 'resume', ackedSeq: node.ackedSeq });
  }

  /** A storage failure pauses every link; what their agents sent since the last commit stays in their journals. */
  function pauseAllForStorage(h: StorageHealth): void {
    if (h.ok) return;
    inventory.markUnsynced();
    for (const link of links) pause(link, 'MUSTER_ERR_STORAGE', `hub storage failed (${h.code}); keep your data and wait`, storageRetryMs);
    if (!probe && deps.probeStorage) {
      probe = setInterval(() => guarded('storage probe', undefined, () => deps.probeStorage?.()), storageRetryMs);
      probe.unref();
    }
  }

  const dropHealthListener = deps.storage?.onHealthChange((h) => {
    if (!h.ok) {
      pauseAllForStorage(h);
      return;
    }
    clearInterval(probe);
    probe = undefined;
    for (const link of links) if (link.paused?.code === 'MUSTER_ERR_STORAGE') resume(link);
  });

  /** Spends the node's write budget on a frame; pauses the link and returns false when it is spent. */
  function spend(link: Link, node: NodeRecord, bytes: number, rows: number, budget = deps.budget): boolean {
    const verdict = budget?.take(node.id, bytes, rows) ?? { ok: true as const };
    if (verdict.ok) return true;
    log.warn({ node: node.name, retryAfterMs: verdict.retryAfterMs }, `node is ${verdict.reason}; paused until it refills`);
    pause(link, 'MUSTER_ERR_WRITE_BUDGET', `node ${node.name} is ${verdict.reason}`, verdict.retryAfterMs);
    return false;
  }

  /** After a failed commit: the link's records since its last ack are not stored. */
  const storageFailed = (link: Link) => {
    const h = deps.storage?.health();
    if (h && !h.ok) pauseAllForStorage(h);
    else if (link.node) pause(link, 'MUSTER_ERR_STORAGE', 'hub storage failed; keep your data and wait', storageRetryMs);
  };

  /**
   * Acks go out once per link per commit: a sample and a delta of the same
   * agent committed together need one cumulative ack, not two.
   */
  const ackDue = new Set<Link>();
  let ackFlush = false;
  const sendAcks = () => {
    ackFlush = false;
    for (const link of ackDue) {
      const node = link.node;
      // Also while paused: what was committed before the pause is stored, and the agent may forget it.
      if (node && byNode.get(node.id) === link) send(link, { type: 'ack', seq: node.ackedSeq });
    }
    ackDue.clear();
  };
  const ack = (link: Link, _node: NodeRecord) => {
    ackDue.add(link);
    if (!ackFlush) {
      ackFlush = true;
      queueMicrotask(sendAcks);
    }
  };

  /**
   * Marks the link's node offline and lets go of the node. A cut link (its
   * credential revoked) is let go at once, not when its close completes: the
   * node may be removed or handed to another machine in the same tick, and a
   * late close must write nothing for it.
   */
  function detach(link: Link, code: number, reason: string): void {
    const node = link.node;
    if (!node || byNode.get(node.id) !== link) return;
    byNode.delete(node.id);
    store.setOnline(node.id, false, now());
    guarded('recording an event', link, () => inventory.record({ ts: now(), nodeId: node.id, kind: 'node.offline', subject: node.name, service: null, detail: { code, reason } }));
    log.info({ node: node.name, code, reason }, 'agent offline (link closed)');
  }

  const dropRevoked = tokens.onRevoke((record) => {
    if (record.role !== 'node' || record.nodeId === null) return;
    const link = byNode.get(record.nodeId);
    if (!link) return;
    detach(link, CloseCode.revoked, 'node credential revoked');
    refuse(link, CloseCode.revoked, 'node credential revoked', 'MUSTER_ERR_REVOKED');
    clearTimeout(link.paused?.resumeTimer);
    link.node = undefined; // whatever it still sends is refused as not authenticated
  });

  function authenticate(link: Link, hello: Hello): void {
    if (!SUPPORTED_PROTOCOL_VERSIONS.includes(hello.protocol)) {
      refuse(link, CloseCode.unsupportedVersion,
        `protocol version ${hello.protocol} not supported; this hub speaks ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')}`, 'MUSTER_ERR_PROTOCOL_VERSION');
      return;
    }
    link.protocol = hello.protocol;
    const checked = tokens.check(hello.auth.token);
    const record = checked.ok ? checked.record : undefined;
    const t = now();
    let node: NodeRecord;
    let credential: string | undefined;
    let replaced: { previousMachineId: string } | undefined;
    if (hello.auth.kind === 'join') {
      if (!record || record.role !== 'agent') {
        // Expired and used up are said outright: only a holder of the secret gets that far, and it tells them what to ask for.
        const why = !checked.ok && checked.reason !== 'unknown' ? `join token ${checked.reason}; ask an admin for a new one (muster token create --role agent)`
          : 'join token unknown, expired, revoked or not of role agent';
        refuse(link, CloseCode.unauthorized, why, 'MUSTER_ERR_UNAUTHORIZED');
        return;
      }
      try {
        ({ node, credential, replaced } = deps.membership.join(record, hello.node.name, hello.node.machineId));
      } catch (err) {
        if (err instanceof MusterError && (err.code === 'MUSTER_ERR_NODE_NAME_TAKEN' || err.code === 'MUSTER_ERR_UNAUTHORIZED')) {
          refuse(link, err.code === 'MUSTER_ERR_NODE_NAME_TAKEN' ? CloseCode.nameTaken : CloseCode.unauthorized, err.message, err.code);
          return;
        }
        if (isStorageFault(err)) {
          refuse(link, TRY_AGAIN_LATER, 'hub storage failed; cannot join now, try again later', 'MUSTER_ERR_STORAGE');
          return;
        }
        throw err;
      }
    } else {
      // The credential is the proof; the machine-id the agent reports is not checked (anyone can read or copy it).
      const n = record && record.role === 'node' && record.nodeId !== null ? store.getNodeById(record.nodeId) : undefined;
      if (!n || n.name !== hello.node.name) {
        refuse(link, CloseCode.unauthorized, 'node credential unknown, revoked, or issued to another node', 'MUSTER_ERR_UNAUTHORIZED');
        return;
      }
      if (n.machineId !== hello.node.machineId) log.warn({ node: n.name, machineId: hello.node.machineId, recorded: n.machineId }, 'node proved its credential from another machine-id (a copied state directory?)');
      node = n;
    }
    if (record && !credential) guarded('recording a token use', link, () => store.touchToken(record.id, t));
    const previous = byNode.get(node.id);
    if (previous && previous !== link) {
      previous.node = undefined; // its close must not mark the node offline
      previous.socket.close(CloseCode.replaced, 'replaced by a newer link of the same node');
    }
    link.node = node;
    link.queuedSeq = node.ackedSeq;
    link.lastCpu = store.latestSample(node.id)?.data.cpu;
    byNode.set(node.id, link);
    store.setOnline(node.id, true, t);
    if (replaced) {
      guarded('recording an event', link, () => inventory.record({ ts: t, nodeId: node.id, kind: 'node.replaced', subject: node.name, service: null,
        detail: { remote: link.remote, previousMachineId: replaced.previousMachineId, machineId: node.machineId } }));
      log.warn({ node: node.name, remote: link.remote, previousMachineId: replaced.previousMachineId, machineId: node.machineId }, 'node replaced by a new machine, as an admin allowed');
    } else if (!previous) {
      guarded('recording an event', link, () => inventory.record({ ts: t, nodeId: node.id, kind: credential ? 'node.joined' : 'node.online', subject: node.name, service: null, detail: { remote: link.remote } }));
    }
    log.info({ node: node.name, remote: link.remote, joined: credential !== undefined, protocol: hello.protocol }, 'agent online');
    send(link, {
      type: 'welcome', protocol: Math.min(PROTOCOL_VERSION, hello.protocol), node: node.name, ackedSeq: node.ackedSeq, heartbeatMs,
      ...(credential ? { credential } : {}),
    });
    const h = deps.storage?.health();
    if (h && !h.ok) pause(link, 'MUSTER_ERR_STORAGE', `hub storage failed (${h.code}); keep your data and wait`, storageRetryMs);
    guarded('sending open jobs', link, () => deps.deploys?.nodeOnline(node.id));
  }

  /** Whether a sample's time is one the hub can place: not before its window, not ahead of its clock. */
  const inWindow = (ts: number, t: number) => ts >= t - maxSampleAgeMs && ts <= t + maxClockAheadMs;

  function ingest(link: Link, node: NodeRecord, msg: SamplesMessage, bytes: number): void {
    if (link.paused) return; // neither stored nor acked: the agent sends it again after resume
    const t = now();
    const ordered = [...msg.samples].sort((a, b) => a.seq - b.seq);
    const rows: SampleRow[] = [];
    let rejected = 0;
    let top = link.queuedSeq;
    for (const sample of ordered) {
      if (sample.seq <= top) continue; // a replay of what is already stored or queued
      top = sample.seq;
      if (!inWindow(sample.ts, t)) {
        // A clock far off (a Pi that booted without network): the sample cannot be placed in time.
        rejected++;
        continue;
      }
      rows.push({ sample, cpuUsed: cpuUsedBetween(link.lastCpu, sample.data.cpu), memUsed: memUsed(sample.data) });
      link.lastCpu = sample.data.cpu;
    }
    if (top === link.queuedSeq) {
      ack(link, node); // all replays: say again where the hub stands
      return;
    }
    if (!spend(link, node, bytes, rows.length)) return;
    if (rejected > 0) {
      if (node.rejected === 0) log.warn({ node: node.name, rejected }, `node sends samples stamped outside the hub's window (its clock is off?); they are acked and dropped`);
      store.countRejected(node.id, rejected);
    }
    if (msg.dropped > node.dropped) log.warn({ node: node.name, dropped: msg.dropped, lost: msg.lost }, 'agent reports records lost from its journal');
    link.queuedSeq = top;
    // upTo: rejected samples carry no row, but their numbers are done with too.
    store.insertSamples(node.id, rows, { upTo: top, dropped: msg.dropped, ...(msg.lost ? { lost: msg.lost } : {}) }, t,
      (err) => (err ? storageFailed(link) : ack(link, node)));
    deps.onNodeData?.(node.id);
  }

  function applyWorkloads(link: Link, node: NodeRecord, msg: WorkloadsMessage, bytes: number): void {
    if (link.paused) return; // the agent sends a fresh snapshot after resume
    const seq = msg.seq;
    if (seq !== undefined && seq <= link.queuedSeq) {
      ack(link, node);
      return;
    }
    const items = msg.upsert.processes.length + msg.upsert.containers.length + msg.upsert.units.length + msg.upsert.ports.length
      + msg.remove.processes.length + msg.remove.containers.length + msg.remove.units.length + msg.remove.ports.length;
    if (!spend(link, node, bytes, items)) return;
    const t = now();
    // A delta from the journal happened when the agent says, if its clock is sane.
    const at = seq !== undefined && inWindow(msg.ts, t) ? msg.ts : t;
    inventory.apply(node, msg, at);
    deps.onNodeData?.(node.id);
    if (seq === undefined) return;
    link.queuedSeq = seq;
    store.advanceAcked(node.id, seq, (err) => (err ? storageFailed(link) : ack(link, node)));
  }

  /** Nodes already warned about skipped parts of their metrics records: once per link is enough in the log. */
  const warnedMetrics = new WeakSet<Link>();

  /**
   * Applies a `metrics` record. Nothing of it is stored (the hub keeps the
   * latest values in memory), so it spends no write budget; its sequence
   * number is acked with the next group commit, like a workloads delta's.
   */
  function applyMetrics(link: Link, node: NodeRecord, msg: MetricsMessage): void {
    if (link.paused) return; // the agent sends a fresh snapshot after resume
    if (msg.seq <= link.queuedSeq) {
      ack(link, node);
      return;
    }
    const outcome = deps.families?.apply(node.id, msg);
    if (outcome && outcome.rejected > 0) {
      const first = !warnedMetrics.has(link);
      warnedMetrics.add(link);
      (first ? log.warn : log.debug).call(log, { node: node.name, rejected: outcome.rejected, reason: outcome.reason }, 'parts of a metrics record skipped');
    }
    deps.onNodeData?.(node.id);
    link.queuedSeq = msg.seq;
    store.advanceAcked(node.id, msg.seq, (err) => (err ? storageFailed(link) : ack(link, node)));
  }

  /**
   * Stores a log batch. Its lines and the node's acked sequence number are
   * queued on the same group commit, in that order, so the ack that covers
   * the batch goes out only once its lines are fsync'd. A flood spends the
   * node's log budget and pauses that node alone; its agent keeps the rest.
   */
  function applyLogs(link: Link, node: NodeRecord, msg: LogsMessage, bytes: number): void {
    if (link.paused) return; // sent again after resume
    if (msg.seq <= link.queuedSeq) {
      ack(link, node);
      return;
    }
    if (!spend(link, node, bytes, msg.lines.length, deps.logBudget)) return;
    let lineBytes = 0;
    for (const l of msg.lines) lineBytes += Buffer.byteLength(l.l, 'utf8');
    deps.logMetrics?.received(msg.lines.length, lineBytes, msg.drops);
    link.queuedSeq = msg.seq;
    deps.logs?.ingest(node, msg);
    store.advanceAcked(node.id, msg.seq, (err) => (err ? storageFailed(link) : ack(link, node)));
  }

  function handle(link: Link, msg: AgentMessage, bytes: number): void {
    const node = link.node;
    if (!node) {
      if (msg.type !== 'hello') {
        refuse(link, CloseCode.unauthorized, `first frame must be hello, got '${msg.type}'`, 'MUSTER_ERR_UNAUTHORIZED');
        return;
      }
      clearTimeout(link.helloTimer);
      authenticate(link, msg);
      return;
    }
    switch (msg.type) {
      case 'hello':
        refuse(link, CloseCode.badFrame, 'hello sent twice', 'MUSTER_ERR_FRAME_INVALID');
        return;
      case 'facts':
        if (spend(link, node, bytes, 1)) {
          store.setFacts(node.id, msg.facts, now());
          deps.upgrades?.seen(node);
        }
        return;
      case 'upgradeResult':
        deps.upgrades?.result(node.id, msg);
        return;
      case 'samples':
        ingest(link, node, msg, bytes);
        return;
      case 'heartbeat':
        store.touchNode(node.id, now());
        return;
      case 'workloads':
        applyWorkloads(link, node, msg, bytes);
        return;
      case 'metrics':
        applyMetrics(link, node, msg);
        return;
      case 'logs':
        applyLogs(link, node, msg, bytes);
        return;
      case 'deployProgress':
        deps.deploys?.progress(node.id, msg);
        return;
      case 'deployResult':
        deps.deploys?.result(node.id, msg);
        return;
    }
  }

  function onMessage(link: Link, data: RawData, isBinary: boolean): void {
    link.lastFrame = now();
    // Protocol 2 sends large frames as binary: raw DEFLATE of the JSON text, never inflated past the frame limit.
    const frame = unpackFrame(data, isBinary);
    if (!frame.ok) {
      deps.onFrame?.('invalid', 0);
      refuse(link, frame.code === 'MUSTER_ERR_FRAME_TOO_LARGE' ? CloseCode.tooLarge : CloseCode.badFrame, frame.reason, frame.code);
      return;
    }
    const text = frame.text;
    const result = decode(text);
    if (!result.ok) {
      deps.onFrame?.('invalid', text.length);
      refuse(link, CloseCode.badFrame, result.reason, result.code);
      return;
    }
    deps.onFrame?.(result.value.type, text.length);
    try {
      handle(link, result.value, text.length);
    } catch (err) {
      if (isStorageFault(err)) {
        storageFailed(link);
        return;
      }
      log.error({ err, node: link.node?.name }, 'agent frame handling failed');
      refuse(link, 1011, 'internal error on the hub', 'MUSTER_ERR_INTERNAL');
    }
  }

  function onClose(link: Link, code: number, reason: Buffer): void {
    clearTimeout(link.helloTimer);
    clearTimeout(link.paused?.resumeTimer);
    links.delete(link);
    if (!closing) detach(link, code, reason.toString());
  }

  function sweepOffline(): void {
    const cutoff = now() - offlineAfterMs;
    for (const link of links) {
      if (link.lastFrame >= cutoff) continue;
      log.warn({ node: link.node?.name, remote: link.remote }, 'agent silent too long; dropping link');
      link.socket.terminate();
    }
  }

  return {
    accept(socket, remote) {
      const link: Link = { socket, remote, protocol: PROTOCOL_VERSION, lastFrame: now(), queuedSeq: 0 };
      links.add(link);
      link.helloTimer = setTimeout(() => refuse(link, CloseCode.unauthorized, 'no hello in time', 'MUSTER_ERR_UNAUTHORIZED'), helloTimeoutMs);
      socket.on('message', (data, isBinary) => guarded('agent frame', link, () => onMessage(link, data, isBinary)));
      socket.on('close', (code, reason) => guarded('agent link close', link, () => onClose(link, code, reason)));
      socket.on('error', (err) => {
        // ws closes the socket itself after this (1009 for an oversized frame, 1002 for a protocol error).
        log.warn({ remote, node: link.node?.name, err: err.message }, 'agent link error');
      });
    },
    connected: () => [...byNode.values()].map((l) => l.node?.name ?? '').filter(Boolean),
    sendTo(nodeId, msg) {
      const link = byNode.get(nodeId);
      if (!link || link.socket.readyState !== link.socket.OPEN) return false;
      send(link, msg);
      return true;
    },
    start() {
      guarded('marking nodes offline', undefined, () => store.markAllOffline());
      sweep ??= setInterval(() => guarded('offline sweep', undefined, sweepOffline), Math.min(heartbeatMs, 5_000));
      sweep.unref();
      lastSeenTimer ??= setInterval(() => guarded('saving last-seen times', undefined, () => store.persistLastSeen()), 60_000);
      lastSeenTimer.unref();
      if (!storageOk()) pauseAllForStorage(deps.storage!.health());
    },
    close() {
      closing = true;
      clearInterval(sweep);
      clearInterval(probe);
      clearInterval(lastSeenTimer);
      sweep = undefined;
      dropRevoked();
      dropHealthListener?.();
      guarded('saving last-seen times', undefined, () => store.persistLastSeen());
      for (const link of links) {
        clearTimeout(link.paused?.resumeTimer);
        link.socket.close(CloseCode.goingAway, 'hub shutting down');
      }
    },
  };
}
