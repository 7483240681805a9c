import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createStore, openDatabase } from '../../hub/store.ts';
import { createWorkloadStore } from '../../hub/workload-store.ts';
import { createInventory } from '../../hub/inventory.ts';
import type { ContainerInfo, ListenPort, ProcessInfo, UnitInfo, WorkloadsMessage } from '../../protocol/index.ts';
import { tempDir } from '../helpers/processes.ts';

const silent = { info() {}, warn() {}, error() {}, debug() {} };

const container = (id: string, over: Partial<ContainerInfo> = {}): ContainerInfo => ({
  id: id.repeat(64).slice(0, 64), name: `ctr-${id}`, image: 'img', imageId: 'sha256:1', command: 'run', state: 'running',
  health: 'none', restartCount: 0, restartPolicy: 'no', pid: 10, ports: [], labels: {}, ...over,
});
const proc = (pid: number, name = 'app'): ProcessInfo => ({
  pid, ppid: 1, name, cmdline: `/bin/${name}`, uid: 0, user: 'root', startTime: 1_700_000_000, cpuSeconds: 0, rssBytes: 0, owner: {},
});
const unit = (name: string, activeState: string): UnitInfo => ({
  name, description: '', loadState: 'loaded', activeState, subState: activeState === 'active' ? 'running' : activeState, mainPid: 0, restarts: 0,
});
const port = (p: number, pid: number): ListenPort => ({ protocol: 'tcp', address: '0.0.0.0', port: p, pid, process: 'app', owner: {} });

function frame(parts: { upsert?: Partial<WorkloadsMessage['upsert']>; remove?: Partial<WorkloadsMessage['remove']>; sync?: WorkloadsMessage['sync'] }): WorkloadsMessage {
  return {
    type: 'workloads', ts: 0,
    upsert: { processes: [], containers: [], units: [], ports: [], ...parts.upsert },
    remove: { processes: [], containers: [], units: [], ports: [], ...parts.remove },
    use: [],
    ...(parts.sync ? { sync: parts.sync } : {}),
  };
}

function setup(dir = tempDir('inv')) {
  const db = openDatabase(join(dir, 'muster.db'));
  const store = createStore({ db });
  const workloads = createWorkloadStore(db);
  let t = 1_000_000;
  const inventory = createInventory({ store: workloads, now: () => t, log: silent });
  const node = store.joinNode('n1', 'm1', t);
  return { dir, db, store, workloads, inventory, node, tick: (ms = 1000) => { t += ms; } };
}

test('the first snapshot of a node fills the inventory without events; later changes are events', () => {
  const { inventory, node, workloads, tick } = setup();
  const events0 = inventory.apply(node, frame({ sync: { id: 1, part: 0, last: true }, upsert: { containers: [container('a')], processes: [proc(5)], ports: [port(80, 5)] } }));
  assert.equal(events0, []);
  assert.is(inventory.get(node.id)!.containers.size, 1);

  tick();
  const ev = inventory.apply(node, frame({ upsert: { containers: [container('a', { state: 'exited', exitCode: 137, pid: 0 }), container('b')], ports: [port(81, 5)] } }));
  assert.equal(ev.map((e) => `${e.kind} ${e.subject}`).sort(), ['container.died ctr-a', 'container.started ctr-b', 'port.opened tcp 0.0.0.0:81']);
  tick();
  const ev2 = inventory.apply(node, frame({ remove: { containers: [container('a').id], ports: ['tcp 0.0.0.0:80'] } }));
  assert.equal(ev2.map((e) => e.kind).sort(), ['container.removed', 'port.closed']);
  const stored = workloads.listEvents({ limit: 10 });
  assert.is(stored.length, 5);
  assert.is(stored[0]!.node, 'n1');
  assert.equal(workloads.listEvents({ limit: 10, kind: 'container' }).map((e) => e.kind).sort(), ['container.died', 'container.removed', 'container.started']);
});

test('a later snapshot forgets what it does not mention, and says so in events', () => {
  const { inventory, node } = setup();
  inventory.apply(node, frame({ sync: { id: 1, part: 0, last: true }, upsert: { containers: [container('a'), container('b')], units: [unit('web.service', 'active')] } }));
  // Reconnect: a snapshot in two parts; container b and the unit are gone, the unit failed before it went.
  inventory.apply(node, frame({ sync: { id: 2, part: 0, last: false }, upsert: { containers: [container('a')] } }));
  assert.is(inventory.get(node.id)!.containers.size, 2, 'nothing is forgotten before the last part');
  const ev = inventory.apply(node, frame({ sync: { id: 2, part: 1, last: true }, upsert: { units: [unit('web.service', 'failed')] } }));
  assert.is(inventory.get(node.id)!.containers.size, 1);
  assert.equal(ev.map((e) => e.kind).sort(), ['container.removed', 'unit.failed']);
});

test('a snapshot part out of order is applied but does not remove anything', () => {
  const { inventory, node } = setup();
  inventory.apply(node, frame({ sync: { id: 1, part: 0, last: true }, upsert: { containers: [container('a'), container('b')] } }));
  inventory.apply(node, frame({ sync: { id: 2, part: 1, last: true }, upsert: { containers: [container('c')] } }));
  assert.is(inventory.get(node.id)!.containers.size, 3);
});

test('the inventory survives a hub restart: it is loaded from SQLite', () => {
  const first = setup();
  first.inventory.apply(first.node, frame({ sync: { id: 1, part: 0, last: true }, upsert: { containers: [container('a')], processes: [proc(7, 'redis')], units: [unit('redis.service', 'active')] } }));
  first.db.close();
  const db = openDatabase(join(first.dir, 'muster.db'));
  const inventory = createInventory({ store: createWorkloadStore(db), now: () => 2_000_000, log: silent });
  const w = inventory.get(first.node.id)!;
  assert.is(w.containers.size, 1);
  assert.is(w.processes.get('7')!.name, 'redis');
  assert.is(w.units.get('redis.service')!.activeState, 'active');
  // Known from the store: the next change is news.
  const ev = inventory.apply(first.node, frame({ upsert: { units: [unit('redis.service', 'failed')] } }));
  assert.equal(ev.map((e) => e.kind), ['unit.failed']);
  db.close();
});

test('an agent gone wrong cannot grow the inventory without bound', () => {
  const { inventory, node } = setup();
  const many = Array.from({ length: 3000 }, (_, i) => container(String(i).padStart(4, '0')));
  inventory.apply(node, frame({ sync: { id: 1, part: 0, last: true }, upsert: { containers: many.slice(0, 1000) } }));
  for (let i = 1; i < 3; i++) inventory.apply(node, frame({ upsert: { containers: many.slice(i * 1000, (i + 1) * 1000).map((c, j) => ({ ...c, id: `${i}-${j}`.padEnd(64, 'x') })) } }));
  inventory.apply(node, frame({ upsert: { containers: Array.from({ length: 1000 }, (_, j) => container('z', { id: `y-${j}`.padEnd(64, 'y') })) } }));
  inventory.apply(node, frame({ upsert: { containers: Array.from({ length: 1000 }, (_, j) => container('z', { id: `w-${j}`.padEnd(64, 'w') })) } }));
  assert.is(inventory.get(node.id)!.containers.size, 4096);
});

test('a process whose CPU and memory alone moved is updated in memory, not rewritten to disk, and wakes no subscriber', () => {
  const { dir, db, inventory, node, tick } = setup();
  inventory.apply(node, frame({ sync: { id: 1, part: 0, last: true }, upsert: { processes: [proc(7, 'redis')], units: [unit('redis.service', 'active')] } }));
  let calls = 0;
  inventory.subscribe(() => { calls++; });
  const before = { ...inventory.get(node.id)!.versions };
  tick();
  inventory.apply(node, frame({ upsert: { processes: [{ ...proc(7, 'redis'), cpuSeconds: 12.5, rssBytes: 4096 }], units: [{ ...unit('redis.service', 'active'), memoryBytes: 1 << 20 }] } }));
  const w = inventory.get(node.id)!;
  assert.is(w.processes.get('7')!.cpuSeconds, 12.5, 'metrics see the new figure');
  assert.is(w.units.get('redis.service')!.memoryBytes, 1 << 20);
  assert.ok(w.versions.processes > before.processes && w.versions.units > before.units, 'versions move so /metrics re-renders');
  assert.is(calls, 0, 'DNS and services did not change');
  const stored = db.prepare("SELECT data_json FROM workloads WHERE kind = 'processes' AND key = '7'").get() as { data_json: string };
  assert.is((JSON.parse(stored.data_json) as ProcessInfo).cpuSeconds, 0, 'the stored row was not rewritten');

  tick();
  inventory.apply(node, frame({ upsert: { processes: [{ ...proc(7, 'redis'), cmdline: '/bin/redis --port 6380' }] } }));
  assert.is(calls, 1, 'a changed command line is news');
  db.close();
  const reopened = openDatabase(join(dir, 'muster.db'));
  const again = createInventory({ store: createWorkloadStore(reopened), now: () => 3_000_000, log: silent });
  assert.is(again.get(node.id)!.processes.get('7')!.cmdline, '/bin/redis --port 6380');
  reopened.close();
});

test('subscribers hear about changes', () => {
  const { inventory, node } = setup();
  let calls = 0;
  const off = inventory.subscribe(() => { calls++; });
  inventory.apply(node, frame({ sync: { id: 1, part: 0, last: true }, upsert: { processes: [proc(1)] } }));
  inventory.apply(node, frame({}));
  off();
  inventory.apply(node, frame({ upsert: { processes: [proc(2)] } }));
  assert.is(calls, 1, 'an empty frame is not a change, and an unsubscribed listener hears nothing');
});

const TOKEN = `muster_0123456789ab_${'Q'.repeat(43)}`;
/** The database's bytes on disk, WAL included: what someone who copies the files gets. */
const onDisk = (dir: string) => ['muster.db', 'muster.db-wal'].map((f) => join(dir, f)).filter(existsSync).map((f) => readFileSync(f).toString('latin1')).join('');

test('an agent 0.1.0 sends command lines in clear: the hub redacts them before they are kept or stored', () => {
  const { inventory, node, db, dir } = setup();
  const clear = { ...proc(7, 'agent'), cmdline: `node muster-agent.js --join ${TOKEN} --password=hunter2` };
  const ctr = container('c', { command: 'redis-server --requirepass hunter3', labels: { 'muster.service': 'cache', db_password: 'hunter4' } });
  inventory.apply(node, frame({ sync: { id: 1, part: 0, last: true }, upsert: { processes: [clear], containers: [ctr] } }));
  const w = inventory.get(node.id)!;
  assert.is(w.processes.get('7')!.cmdline, 'node muster-agent.js --join muster_0123456789ab_<redacted> --password=<redacted>');
  assert.is(w.containers.get(ctr.id)!.command, 'redis-server --requirepass <redacted>');
  assert.is(w.containers.get(ctr.id)!.labels['db_password'], '<redacted>');
  // Sent again unchanged with new figures: still a usage-only update (no disk write), still redacted.
  inventory.apply(node, frame({ upsert: { processes: [{ ...clear, cpuSeconds: 5 }] } }));
  assert.is(w.processes.get('7')!.cmdline, 'node muster-agent.js --join muster_0123456789ab_<redacted> --password=<redacted>');
  const rows = db.prepare('SELECT data_json FROM workloads').all() as { data_json: string }[];
  assert.is(rows.length, 2);
  for (const secret of [TOKEN, 'hunter2', 'hunter3', 'hunter4']) {
    assert.not.ok(rows.some((r) => r.data_json.includes(secret)), secret);
    assert.not.ok(onDisk(dir).includes(secret), `${secret} is in the database files`);
  }
});

test('what an older hub stored is scrubbed at start: in memory, in the rows, and in the bytes of the files', () => {
  const dir = tempDir('inv-scrub');
  // An older hub: the real stores, writing a process row that holds a join token and a container with a password.
  {
    const db = openDatabase(join(dir, 'muster.db'));
    const store = createStore({ db });
    const workloads = createWorkloadStore(db);
    const node = store.joinNode('old', 'm-old', 1);
    workloads.apply(node.id, {
      upserts: [
        { kind: 'processes', key: '9', data: { ...proc(9, 'agent'), cmdline: `node muster-agent.js --hub ws://hub:7070 --join ${TOKEN}` } },
        { kind: 'processes', key: '10', data: proc(10, 'sshd') },
        { kind: 'containers', key: 'c'.repeat(64), data: container('c', { command: 'postgres -c password=hunter5' }) },
      ],
      removes: [], events: [],
    }, 1);
    db.close();
  }
  assert.ok(onDisk(dir).includes(TOKEN), 'the old hub left the token in the file');

  const { db, inventory, node } = setup(dir);
  assert.is(node.name, 'n1');
  const old = 1; // the first node joined
  const w = inventory.get(old)!;
  assert.is(w.processes.get('9')!.cmdline, 'node muster-agent.js --hub ws://hub:7070 --join muster_0123456789ab_<redacted>');
  assert.is(w.processes.get('10')!.cmdline, '/bin/sshd');
  assert.is(w.containers.get('c'.repeat(64))!.command, 'postgres -c password=<redacted>');
  const rows = db.prepare('SELECT key, data_json FROM workloads').all() as { key: string; data_json: string }[];
  assert.is(rows.length, 3);
  assert.ok(rows.find((r) => r.key === '9')!.data_json.includes('muster_0123456789ab_<redacted>'));
  for (const secret of [TOKEN, 'hunter5']) {
    assert.not.ok(rows.some((r) => r.data_json.includes(secret)), `${secret} is in a row`);
    assert.not.ok(onDisk(dir).includes(secret), `${secret} is in the database files`);
  }
  db.close();
  assert.not.ok(onDisk(dir).includes(TOKEN), 'nor after the hub closed the database');
});

test('a scrub the disk refuses does not stop the hub: memory is clean, and the node\'s next snapshot rewrites its rows', () => {
  const dir = tempDir('inv-scrub-fail');
  {
    const db = openDatabase(join(dir, 'muster.db'));
    const node = createStore({ db }).joinNode('old', 'm-old', 1);
    createWorkloadStore(db).apply(node.id, { upserts: [{ kind: 'processes', key: '9', data: { ...proc(9), cmdline: `x --token ${TOKEN}` } }], removes: [], events: [] }, 1);
    db.close();
  }
  const db = openDatabase(join(dir, 'muster.db'));
  const real = createWorkloadStore(db);
  const errors: string[] = [];
  const log = { ...silent, error: (_o: object, msg?: string) => { errors.push(msg ?? ''); } };
  const inventory = createInventory({ store: { ...real, rewrite: () => { throw Object.assign(new Error('disk full'), { code: 'SQLITE_FULL' }); } }, now: () => 2, log });
  assert.is(errors.length, 1);
  assert.is(inventory.get(1)!.processes.get('9')!.cmdline, 'x --token <redacted>');
  inventory.apply({ id: 1, name: 'old' }, frame({ sync: { id: 1, part: 0, last: true }, upsert: { processes: [{ ...proc(9), cmdline: 'x --token <redacted>' }] } }));
  const rows = db.prepare('SELECT data_json FROM workloads').all() as { data_json: string }[];
  assert.not.ok(rows.some((r) => r.data_json.includes(TOKEN)));
  db.close();
});

test.run();
