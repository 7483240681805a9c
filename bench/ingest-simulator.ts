/**
 * Simulated agents for bench/hub-ingest.ts, run as a child process with an
 * IPC channel (see ingest-messages.ts). Each simulated agent speaks the real
 * protocol over its own WebSocket, with the options of the real agent:
 * hello with the shared join token, then its facts and a workloads
 * snapshot; then per interval one `samples` frame with increasing seq and
 * a workloads delta, and a heartbeat as often as the welcome asks; with logs, every second a `logs`
 * batch (bench/simulated-logs.ts). Ack latency is the time from handing a samples frame to ws to
 * reading the matching (cumulative) ack.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import {
  AGENT_PATH, MAX_FRAME_BYTES, MUSTER_VERSION, PROTOCOL_VERSION, createAgentMessageDecoder, createHubMessageDecoder, packFrame,
  type AgentMessage,
} from '../protocol/index.ts';
import type { SimulatorCommand, SimulatorEvent, SimulatorReport } from './ingest-messages.ts';
import { assertValidFrames, createSimulatedHost, type SimulatedHost } from './simulated-host.ts';
import { createSimulatedLogs, type SimulatedLogs } from './simulated-logs.ts';
import { sleep } from './timing.ts';

interface SimAgent {
  host: SimulatedHost;
  ws: WebSocket;
  heartbeatMs: number;
  seq: number;
  lastSampleAt: number;
  /** Samples sent and not yet acked, oldest first. */
  pending: { seq: number; sentAt: number; counted: boolean }[];
  /** Log batches sent and not yet acked, oldest first. */
  pendingLogs: { seq: number; lines: number; counted: boolean }[];
  logs: SimulatedLogs;
  timers: NodeJS.Timeout[];
  open: boolean;
}

/** The simulator's state and command handling; `emit` carries events back to the bench. */
export interface Simulator {
  onCommand(cmd: SimulatorCommand): Promise<void>;
  /** Stops every timer and drops every link at once. */
  stopAll(): void;
}

/** Creates a simulator with no agents yet. */
export function createSimulator(emit: (event: SimulatorEvent) => void): Simulator {
  const decodeHub = createHubMessageDecoder();
  const agents: SimAgent[] = [];
  let counting = false;
  let sent = 0;
  let acked = 0;
  let frameBytes = 0;
  let workloadBytes = 0;
  let frames = 0;
  let withWorkloads = true;
  let linksClosed = 0;
  let logLinesPerSecond = 0;
  let logLinesSent = 0;
  let logLinesAcked = 0;
  let logFrameBytes = 0;
  let logFrames = 0;
  let hubErrors = 0;
  /** [sent at, ms after counting began; ack latency, ms] of every counted sample acked. */
  let acks: [number, number][] = [];
  let countingSince = 0;
  let intervalMs = 10_000;
  // The histogram holds the time between 5 ms ticks; lateness is that minus the 5 ms.
  const LOOP_TICK_MS = 5;
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_TICK_MS });

  let compress = true;
  /** Sends a frame's text as the agent does: deflated when above 1 KiB (protocol 2), unless compression is off. */
  const sendText = (ws: WebSocket, text: string) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(compress ? packFrame(text) : text);
  };
  const send = (a: SimAgent, msg: AgentMessage) => sendText(a.ws, JSON.stringify(msg));

  /** Opens one link, joins with the token, and resolves once welcomed (facts sent). */
  function join(index: number, url: string, ca: string, token: string, deflate: boolean): Promise<SimAgent> {
    const host = createSimulatedHost(index);
    compress = deflate;
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 30_000, maxPayload: MAX_FRAME_BYTES, ca });
    return new Promise((resolve, reject) => {
      let agent: SimAgent | undefined;
      ws.on('open', () => {
        ws.send(JSON.stringify({
          type: 'hello', protocol: PROTOCOL_VERSION, agentVersion: MUSTER_VERSION,
          node: { name: host.name, machineId: host.machineId }, auth: { kind: 'join', token },
        } satisfies AgentMessage));
      });
      ws.on('message', (data, isBinary) => {
        const now = performance.now();
        const r = decodeHub(isBinary ? '' : data.toString());
        if (!r.ok) { hubErrors++; return; }
        const msg = r.value;
        if (msg.type === 'welcome') {
          if (!msg.credential) { reject(new Error(`${host.name}: welcome after a join carries no credential`)); return; }
          agent = { host, ws, heartbeatMs: msg.heartbeatMs, seq: msg.ackedSeq, lastSampleAt: 0, pending: [], pendingLogs: [], logs: createSimulatedLogs(index), timers: [], open: true };
          send(agent, { type: 'facts', facts: host.facts });
          // As the agent's journal does: the snapshot and every delta take the next number, like samples.
          if (withWorkloads) send(agent, { ...host.workloads.snapshot(1, Date.now()), seq: ++agent.seq });
          resolve(agent);
        } else if (msg.type === 'ack' && agent) {
          const p = agent.pending;
          while (p.length > 0 && p[0]!.seq <= msg.seq) {
            const s = p.shift()!;
            if (s.counted) { acked++; acks.push([s.sentAt - countingSince, now - s.sentAt]); }
          }
          const l = agent.pendingLogs;
          while (l.length > 0 && l[0]!.seq <= msg.seq) {
            const b = l.shift()!;
            if (b.counted) logLinesAcked += b.lines;
          }
        } else if (msg.type === 'error') {
          hubErrors++;
          if (!agent) reject(new Error(`${host.name}: hub refused the join: ${msg.code} ${msg.message}`));
        }
      });
      ws.on('error', (err) => { if (!agent) reject(err); });
      ws.on('close', (code, reason) => {
        if (!agent) { reject(new Error(`${host.name}: link closed before welcome (${code} ${reason.toString()})`)); return; }
        agent.open = false;
        linksClosed++;
      });
    });
  }

  /** Sends one samples frame and remembers when, for the ack latency; then the workloads delta, as the agent does. */
  function sendSample(a: SimAgent): void {
    if (!a.open) return;
    const now = Date.now();
    const elapsed = a.lastSampleAt === 0 ? intervalMs / 1000 : (now - a.lastSampleAt) / 1000;
    a.lastSampleAt = now;
    a.seq++;
    const frame = JSON.stringify({ type: 'samples', samples: [{ seq: a.seq, ts: now, data: a.host.nextSample(elapsed) }], dropped: 0 } satisfies AgentMessage);
    a.pending.push({ seq: a.seq, sentAt: performance.now(), counted: counting });
    if (counting) { sent++; frameBytes += frame.length; frames++; }
    sendText(a.ws, frame);
    const delta = withWorkloads ? a.host.workloads.nextDelta(elapsed, now) : undefined;
    if (delta) {
      const json = JSON.stringify({ ...delta, seq: ++a.seq });
      if (counting) workloadBytes += json.length;
      sendText(a.ws, json);
    }
  }

  /** Sends one second's log batch, numbered in the same sequence as samples, as the agent's journal numbers it. */
  function sendLogs(a: SimAgent): void {
    if (!a.open) return;
    const json = JSON.stringify({ ...a.logs.batch(logLinesPerSecond, Date.now()), seq: ++a.seq } satisfies AgentMessage);
    a.pendingLogs.push({ seq: a.seq, lines: logLinesPerSecond, counted: counting });
    if (counting) { logLinesSent += logLinesPerSecond; logFrameBytes += json.length; logFrames++; }
    sendText(a.ws, json);
  }

  async function joinAll(cmd: Extract<SimulatorCommand, { type: 'join' }>): Promise<void> {
    intervalMs = cmd.intervalMs;
    withWorkloads = cmd.workloads;
    logLinesPerSecond = cmd.logLinesPerSecond ?? 0;
    const url = new URL(AGENT_PATH, cmd.url.replace(/^http/, 'ws')).toString();
    const ca = readFileSync(cmd.caFile, 'utf8');
    // Every simulated host's frames must pass the hub's validation before any is sent.
    const decode = createAgentMessageDecoder();
    for (let i = 0; i < cmd.agents; i++) assertValidFrames(createSimulatedHost(i), decode);
    if (logLinesPerSecond > 0) {
      const r = decode(JSON.stringify({ ...createSimulatedLogs(0).batch(logLinesPerSecond, Date.now()), seq: 1 }));
      if (!r.ok) throw new Error(`a simulated logs batch does not pass the hub's validation: ${r.reason}`);
    }
    const t0 = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < cmd.agents) {
        const i = next++;
        agents[i] = await join(i, url, ca, cmd.token, cmd.deflate);
      }
    };
    await Promise.all(Array.from({ length: Math.min(cmd.concurrency, cmd.agents) }, worker));
    emit({ type: 'joined', agents: agents.length, ms: performance.now() - t0 });
  }

  /** Starts every agent's sample and heartbeat timers, phases spread evenly over one period. */
  function startAll(): void {
    const n = agents.length;
    agents.forEach((a, i) => {
      const phase = (i * intervalMs) / n;
      a.timers.push(setTimeout(() => {
        sendSample(a);
        a.timers.push(setInterval(() => sendSample(a), intervalMs));
      }, phase));
      if (logLinesPerSecond > 0) {
        a.timers.push(setTimeout(() => {
          sendLogs(a);
          a.timers.push(setInterval(() => sendLogs(a), 1_000));
        }, (i * 1_000) / n));
      }
      const hb = Math.max(1_000, a.heartbeatMs);
      a.timers.push(setTimeout(() => {
        a.timers.push(setInterval(() => send(a, { type: 'heartbeat', ts: Date.now() }), hb));
      }, (i * hb) / n));
    });
  }

  async function report(): Promise<SimulatorReport> {
    counting = false;
    loopDelay.disable();
    // Samples and log batches sent inside the window get up to 5 s for their acks.
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && agents.some((a) => a.open && (a.pending.some((p) => p.counted) || a.pendingLogs.some((p) => p.counted)))) await sleep(50);
    const r: SimulatorReport = {
      sent,
      acked,
      acks,
      linksClosed,
      hubErrors,
      linksOpen: agents.filter((a) => a.open).length,
      meanFrameBytes: frames ? Math.round(frameBytes / frames) : 0,
      meanWorkloadsBytes: frames ? Math.round(workloadBytes / frames) : 0,
      logLinesSent,
      logLinesAcked,
      meanLogsFrameBytes: logFrames ? Math.round(logFrameBytes / logFrames) : 0,
      loopDelayP99Ms: loopDelay.count > 0 ? Math.max(0, loopDelay.percentile(99) / 1e6 - LOOP_TICK_MS) : undefined,
    };
    acks = [];
    return r;
  }

  function stopAll(): void {
    for (const a of agents) {
      for (const t of a.timers) clearTimeout(t);
      a.open = false;
      a.ws.terminate();
    }
  }

  async function onCommand(cmd: SimulatorCommand): Promise<void> {
    switch (cmd.type) {
      case 'join':
        await joinAll(cmd);
        return;
      case 'start':
        startAll();
        emit({ type: 'started' });
        return;
      case 'measure':
        sent = 0; acked = 0; frameBytes = 0; workloadBytes = 0; frames = 0; acks = [];
        logLinesSent = 0; logLinesAcked = 0; logFrameBytes = 0; logFrames = 0;
        countingSince = performance.now();
        counting = true;
        loopDelay.reset();
        loopDelay.enable();
        emit({ type: 'measuring' });
        return;
      case 'report':
        emit({ type: 'report', report: await report() });
        return;
      case 'stop':
        stopAll();
        return;
    }
  }

  return { onCommand, stopAll };
}

if (!process.send) {
  process.stderr.write('bench/ingest-simulator.ts is started by bench/hub-ingest.ts with an IPC channel; run that instead\n');
  process.exit(2);
}
const simulator = createSimulator((event) => process.send?.(event));
process.on('message', (cmd: SimulatorCommand) => {
  simulator.onCommand(cmd).then(() => {
    if (cmd.type === 'stop') process.disconnect?.();
  }, (err: unknown) => {
    process.send?.({ type: 'fatal', message: err instanceof Error ? err.message : String(err) } satisfies SimulatorEvent);
    simulator.stopAll();
    process.disconnect?.();
  });
});
// The bench went away (or told us to stop): close everything and let the process end.
process.on('disconnect', () => {
  simulator.stopAll();
  setTimeout(() => process.exit(0), 200).unref();
});
