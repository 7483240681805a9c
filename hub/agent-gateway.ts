/**
 * The hub's end of the agent link: authenticates each WebSocket with its
 * first frame, validates every frame before any handler runs, stores facts
 * and samples, acks what is stored, and marks nodes offline when they go quiet.
 */
import type { WebSocket, RawData } from 'ws';
import type { FastifyBaseLogger } from 'fastify';
import {
  CloseCode, PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS, createAgentMessageDecoder,
  type AgentMessage, type CpuTimes, type Hello, type HubMessage, type SamplesMessage,
} from '../protocol/index.ts';
import type { NodeRecord, SampleRow, Store } from './store.ts';
import type { TokenService } from './tokens.ts';
import type { DeployService } from './deploys.ts';
import type { Inventory } from './inventory.ts';
import { MusterError } from './errors.ts';
import { cpuUsedBetween, memUsed } from './derive.ts';

export type Logger = Pick<FastifyBaseLogger, 'info' | 'warn' | 'error' | 'debug'>;

export interface AgentGatewayDeps {
  store: Store;
  tokens: TokenService;
  /** Where workload frames go, and node online/offline events. */
  inventory: Pick<Inventory, 'apply' | 'record'>;
  now: () => number;
  log: Logger;
  /** Told of every decoded frame, for metrics. */
  onFrame?: (type: string, bytes: number) => void;
  /** Told after a node's samples or workloads were stored (metrics renders its series ahead of the scrape). */
  onNodeData?: (nodeId: number) => void;
  /** Where deploy progress and results go, and who hears that a node (re)connected; absent, such frames are ignored. */
  deploys?: Pick<DeployService, 'nodeOnline' | 'progress' | 'result'>;
}

export interface AgentGatewayOptions {
  /** How often agents send a heartbeat (told to them in the welcome). */
  heartbeatMs?: number;
  /** Silence after which a node is marked offline and its link dropped. */
  offlineAfterMs?: number;
  /** Time a new link has to send its hello. */
  helloTimeoutMs?: number;
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
  lastFrame: number;
  lastCpu?: CpuTimes[];
  helloTimer?: NodeJS.Timeout;
}

/** Close reasons are limited to 123 bytes by RFC 6455. */
const reasonOf = (s: string) => Buffer.from(s).subarray(0, 123).toString().replace(/\uFFFD$/, '');

/** Creates the gateway; nothing runs until `start()` and `accept()`. */
export function createAgentGateway(deps: AgentGatewayDeps, opts: AgentGatewayOptions = {}): AgentGateway {
  const { store, tokens, inventory, now, log } = deps;
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  const offlineAfterMs = opts.offlineAfterMs ?? heartbeatMs * 3;
  const helloTimeoutMs = opts.helloTimeoutMs ?? 10_000;
  const decode = createAgentMessageDecoder();
  const links = new Set<Link>();
  const byNode = new Map<number, Link>();
  let sweep: NodeJS.Timeout | undefined;
  let closing = false;

  const send = (link: Link, msg: HubMessage) => {
    if (link.socket.readyState === link.socket.OPEN) link.socket.send(JSON.stringify(msg));
  };

  const refuse = (link: Link, code: number, reason: string, errCode: string) => {
    log.warn({ remote: link.remote, node: link.node?.name, code: errCode, closeCode: code }, `agent link refused: ${reason}`);
    send(link, { type: 'error', code: errCode, message: reason.slice(0, 1024) });
    link.socket.close(code, reasonOf(reason));
  };

  const dropRevoked = tokens.onRevoke((record) => {
    if (record.role !== 'node' || record.nodeId === null) return;
    const link = byNode.get(record.nodeId);
    if (link) refuse(link, CloseCode.revoked, 'node credential revoked', 'MUSTER_ERR_REVOKED');
  });

  function authenticate(link: Link, hello: Hello): void {
    if (!SUPPORTED_PROTOCOL_VERSIONS.includes(hello.protocol)) {
      refuse(link, CloseCode.unsupportedVersion,
        `protocol version ${hello.protocol} not supported; this hub speaks ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')}`, 'MUSTER_ERR_PROTOCOL_VERSION');
      return;
    }
    const record = tokens.verify(hello.auth.token);
    const t = now();
    let node: NodeRecord;
    let credential: string | undefined;
    if (hello.auth.kind === 'join') {
      if (!record || record.role !== 'agent') {
        refuse(link, CloseCode.unauthorized, 'join token unknown, expired, revoked or not of role agent', 'MUSTER_ERR_UNAUTHORIZED');
        return;
      }
      try {
        node = store.joinNode(hello.node.name, hello.node.machineId, t);
      } catch (err) {
        if (err instanceof MusterError && err.code === 'MUSTER_ERR_NODE_NAME_TAKEN') {
          refuse(link, CloseCode.nameTaken, err.message, err.code);
          return;
        }
        throw err;
      }
      // A re-join (state directory lost) retires the node's older credentials.
      tokens.revokeNode(node.id);
      credential = tokens.create('node', { nodeId: node.id, label: `node ${node.name}` }).token;
    } else {
      const n = record && record.role === 'node' && record.nodeId !== null ? store.getNodeById(record.nodeId) : undefined;
      if (!n || n.name !== hello.node.name || n.machineId !== hello.node.machineId) {
        refuse(link, CloseCode.unauthorized, 'node credential unknown, revoked, or issued to another node', 'MUSTER_ERR_UNAUTHORIZED');
        return;
      }
      node = n;
    }
    if (record) store.touchToken(record.id, t);
    const previous = byNode.get(node.id);
    if (previous && previous !== link) {
      previous.node = undefined; // its close must not mark the node offline
      previous.socket.close(CloseCode.replaced, 'replaced by a newer link of the same node');
    }
    link.node = node;
    link.lastCpu = store.latestSample(node.id)?.data.cpu;
    byNode.set(node.id, link);
    store.setOnline(node.id, true, t);
    if (!previous) inventory.record({ ts: t, nodeId: node.id, kind: credential ? 'node.joined' : 'node.online', subject: node.name, service: null, detail: { remote: link.remote } });
    log.info({ node: node.name, remote: link.remote, joined: credential !== undefined }, 'agent online');
    send(link, {
      type: 'welcome', protocol: PROTOCOL_VERSION, node: node.name, ackedSeq: node.ackedSeq, heartbeatMs,
      ...(credential ? { credential } : {}),
    });
    deps.deploys?.nodeOnline(node.id);
  }

  function ingest(link: Link, node: NodeRecord, msg: SamplesMessage): void {
    const ordered = [...msg.samples].sort((a, b) => a.seq - b.seq);
    const rows: SampleRow[] = [];
    for (const sample of ordered) {
      if (sample.seq <= node.ackedSeq) continue; // a replay of what is already stored
      rows.push({ sample, cpuUsed: cpuUsedBetween(link.lastCpu, sample.data.cpu), memUsed: memUsed(sample.data) });
      link.lastCpu = sample.data.cpu;
    }
    const acked = store.insertSamples(node.id, rows, msg.dropped, now());
    node.ackedSeq = acked;
    if (msg.dropped > node.dropped) {
      log.warn({ node: node.name, dropped: msg.dropped }, 'agent reports samples dropped from a full outbox');
    }
    node.dropped = msg.dropped;
    send(link, { type: 'ack', seq: acked });
  }

  function handle(link: Link, msg: AgentMessage): void {
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
        store.setFacts(node.id, msg.facts, now());
        return;
      case 'samples':
        ingest(link, node, msg);
        deps.onNodeData?.(node.id);
        return;
      case 'heartbeat':
        store.touchNode(node.id, now());
        return;
      case 'workloads':
        inventory.apply(node, msg);
        deps.onNodeData?.(node.id);
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
    if (isBinary) {
      refuse(link, CloseCode.badFrame, 'binary frames are not part of the protocol', 'MUSTER_ERR_FRAME_INVALID');
      return;
    }
    const text = data.toString();
    const result = decode(text);
    if (!result.ok) {
      deps.onFrame?.('invalid', text.length);
      refuse(link, CloseCode.badFrame, result.reason, result.code);
      return;
    }
    deps.onFrame?.(result.value.type, text.length);
    try {
      handle(link, result.value);
    } catch (err) {
      log.error({ err, node: link.node?.name }, 'agent frame handling failed');
      refuse(link, 1011, 'internal error on the hub', 'MUSTER_ERR_INTERNAL');
    }
  }

  function onClose(link: Link, code: number, reason: Buffer): void {
    clearTimeout(link.helloTimer);
    links.delete(link);
    const node = link.node;
    if (closing || !node || byNode.get(node.id) !== link) return;
    byNode.delete(node.id);
    store.setOnline(node.id, false, now());
    inventory.record({ ts: now(), nodeId: node.id, kind: 'node.offline', subject: node.name, service: null, detail: { code, reason: reason.toString() } });
    log.info({ node: node.name, code, reason: reason.toString() }, 'agent offline (link closed)');
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
      const link: Link = { socket, remote, lastFrame: now() };
      links.add(link);
      link.helloTimer = setTimeout(() => refuse(link, CloseCode.unauthorized, 'no hello in time', 'MUSTER_ERR_UNAUTHORIZED'), helloTimeoutMs);
      socket.on('message', (data, isBinary) => onMessage(link, data, isBinary));
      socket.on('close', (code, reason) => onClose(link, code, reason));
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
      store.markAllOffline();
      sweep ??= setInterval(sweepOffline, Math.min(heartbeatMs, 5_000));
      sweep.unref();
    },
    close() {
      closing = true;
      clearInterval(sweep);
      sweep = undefined;
      dropRevoked();
      for (const link of links) link.socket.close(CloseCode.goingAway, 'hub shutting down');
    },
  };
}
