import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  buildServices, closeMatches, containerServiceName, findService, processServiceName, type NodeWorkloadView,
} from '../../hub/services.ts';
import { dnsLabel } from '../../dns/names.ts';
import type { ContainerInfo, ListenPort, ProcessInfo, UnitInfo } from '../../protocol/index.ts';

const container = (over: Partial<ContainerInfo>): ContainerInfo => ({
  id: 'c'.repeat(64), name: 'web', image: 'nginx:1.27', imageId: 'sha256:1', command: 'nginx -g daemon off;', state: 'running',
  health: 'none', restartCount: 0, restartPolicy: 'no', pid: 500, ports: [], labels: {}, ...over,
});
const proc = (over: Partial<ProcessInfo>): ProcessInfo => ({
  pid: 100, ppid: 1, name: 'app', cmdline: '/usr/bin/app', uid: 0, user: 'root', startTime: 1_700_000_000, cpuSeconds: 1, rssBytes: 1 << 20, owner: {}, ...over,
});
const unit = (over: Partial<UnitInfo>): UnitInfo => ({
  name: 'x.service', description: 'X', loadState: 'loaded', activeState: 'active', subState: 'running', mainPid: 0, restarts: 0, ...over,
});
const port = (over: Partial<ListenPort>): ListenPort => ({ protocol: 'tcp', address: '0.0.0.0', port: 80, owner: {}, ...over });

function node(name: string, online: boolean, items: { containers?: ContainerInfo[]; processes?: ProcessInfo[]; units?: UnitInfo[]; ports?: ListenPort[] }): NodeWorkloadView {
  return {
    node: name, online,
    containers: new Map((items.containers ?? []).map((c) => [c.id, c])),
    processes: new Map((items.processes ?? []).map((p) => [String(p.pid), p])),
    units: new Map((items.units ?? []).map((u) => [u.name, u])),
    ports: new Map((items.ports ?? []).map((p) => [`${p.protocol} ${p.address}:${p.port}`, p])),
    use: new Map(),
  };
}

test('service names: the muster.service label, then the compose service, then the container name', () => {
  assert.is(containerServiceName({ name: 'proj-web-1', composeService: 'web', labels: { 'muster.service': 'shop' } }), 'shop');
  assert.is(containerServiceName({ name: 'proj-web-1', composeService: 'web', labels: {} }), 'web');
  assert.is(containerServiceName({ name: 'proj-web-1', labels: {} }), 'proj-web-1');
});

test('a bare process is named by its program, or by the script an interpreter runs', () => {
  assert.is(processServiceName({ name: 'redis-server', cmdline: 'redis-server *:6379' }), 'redis-server');
  assert.is(processServiceName({ name: 'node', cmdline: 'node --enable-source-maps /srv/api/server.js' }), 'server');
  assert.is(processServiceName({ name: 'python3', cmdline: 'python3 -m http.server 8000' }), 'http.server');
  assert.is(processServiceName({ name: 'java', cmdline: 'java -Xmx1g -jar /opt/kafka/kafka.jar' }), 'kafka');
  assert.is(processServiceName({ name: 'node', cmdline: 'node -e require("http")' }), 'node');
  // Node 24 renames its main thread; the command line still says node.
  assert.is(processServiceName({ name: 'MainThread', cmdline: '/usr/local/bin/node /srv/app/index.mjs' }), 'index');
});

test('instances of one service on different nodes and of different kinds are joined', () => {
  const services = buildServices([
    node('vm-2', true, {
      containers: [container({ name: 'grafana-grafana-1', composeProject: 'grafana', composeService: 'grafana', ports: [
        { containerPort: 3000, protocol: 'tcp', hostPort: 3000, hostIp: '0.0.0.0' },
        { containerPort: 3000, protocol: 'tcp', hostPort: 3000, hostIp: '::' },
      ] })],
      processes: [proc({ pid: 900, name: 'docker-proxy', owner: { unit: 'docker.service' } })],
      ports: [port({ port: 3000, pid: 900, process: 'docker-proxy', owner: { unit: 'docker.service' } })],
    }),
    node('pi-1', true, {
      units: [unit({ name: 'grafana.service', mainPid: 812 }), unit({ name: 'cron.service', mainPid: 300 }), unit({ name: 'old.service', activeState: 'inactive', subState: 'dead' })],
      processes: [proc({ pid: 812, name: 'grafana', cmdline: '/usr/sbin/grafana-server --config=/etc/grafana.ini', user: 'grafana', owner: { unit: 'grafana.service' } })],
      ports: [port({ port: 3000, pid: 812, process: 'grafana', owner: { unit: 'grafana.service' } })],
    }),
  ]);
  assert.equal(services.map((s) => s.name), ['cron', 'grafana'], 'inactive units are not instances; docker-proxy is not a service');
  const g = findService(services, 'Grafana')!;
  assert.is(g.instances.length, 2);
  const [pi, vm] = g.instances;
  assert.is(pi!.node, 'pi-1');
  assert.is(pi!.kind, 'unit');
  assert.is(pi!.pid, 812);
  assert.equal(pi!.ports, [{ port: 3000, protocol: 'tcp', address: '0.0.0.0' }]);
  assert.is(pi!.command, '/usr/sbin/grafana-server --config=/etc/grafana.ini');
  assert.is(vm!.kind, 'container');
  assert.is(vm!.composeProject, 'grafana');
  assert.is(vm!.ports.length, 2, 'both address families of the published port');
  assert.ok(vm!.healthy && pi!.healthy);
});

test('a bare listening process becomes a process service; a process without a port does not', () => {
  const services = buildServices([node('n1', true, {
    processes: [proc({ pid: 42, name: 'node', cmdline: 'node /srv/api/server.js' }), proc({ pid: 43, name: 'bash', cmdline: '-bash' })],
    ports: [port({ port: 8080, address: '127.0.0.1', pid: 42, process: 'node' }), port({ protocol: 'udp', port: 8080, address: '127.0.0.1', pid: 42, process: 'node' })],
  })]);
  assert.equal(services.map((s) => s.name), ['server']);
  assert.equal(services[0]!.instances[0]!.ports.map((p) => `${p.protocol}/${p.port}`), ['tcp/8080', 'udp/8080']);
  assert.is(services[0]!.instances[0]!.kind, 'process');
});

test('healthy means: node online, running, not failing its health check', () => {
  const services = buildServices([
    node('up', true, { containers: [
      container({ id: 'a'.repeat(64), name: 'a', labels: { 'muster.service': 's' } }),
      container({ id: 'b'.repeat(64), name: 'b', labels: { 'muster.service': 's' }, health: 'unhealthy' }),
      container({ id: 'c'.repeat(64), name: 'c', labels: { 'muster.service': 's' }, state: 'exited', exitCode: 1, pid: 0 }),
    ], units: [unit({ name: 's.service', activeState: 'failed', subState: 'failed' })] }),
    node('down', false, { containers: [container({ id: 'd'.repeat(64), name: 'd', labels: { 'muster.service': 's' } })] }),
  ]);
  const s = findService(services, 's')!;
  assert.equal(s.instances.map((i) => `${i.node}/${i.name}:${i.healthy}`), ['down/d:false', 'up/a:true', 'up/b:false', 'up/c:false', 'up/s.service:false']);
});

test('services are found by DNS label and by DNS name too; close matches for typos', () => {
  const services = buildServices([node('n', true, { containers: [container({ name: 'My_App' })] })]);
  assert.is(services[0]!.dnsLabel, 'my-app');
  assert.ok(findService(services, 'my-app'));
  assert.ok(findService(services, 'MY-APP.service.internal'));
  assert.equal(closeMatches(['grafana', 'graphite', 'prometheus', 'loki'], 'grafan'), ['grafana']);
  assert.equal(closeMatches(['grafana', 'prometheus'], 'prom'), ['prometheus']);
  assert.equal(closeMatches(['grafana'], 'zzz'), []);
  assert.equal(closeMatches(['web', 'db'], 'wbe'), ['web'], 'a transposition is one slip');
  assert.equal(closeMatches(['grafana', 'prometheus'], 'gafrana'), ['grafana']);
});

test('DNS labels: valid names pass, others are mapped to valid labels the same way every time', () => {
  assert.is(dnsLabel('web'), 'web');
  assert.is(dnsLabel('Web'), 'web');
  assert.is(dnsLabel('my_app'), 'my-app');
  assert.is(dnsLabel('app.v2'), 'app-v2');
  const odd = dnsLabel('ünïcode name!');
  assert.match(odd, /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
  assert.is(dnsLabel('ünïcode name!'), odd);
  assert.not.equal(dnsLabel('a b'), dnsLabel('a  b!'));
  const long = dnsLabel('x'.repeat(100));
  assert.ok(long.length <= 63);
  assert.match(dnsLabel('---'), /^x-[0-9a-f]{6}$/);
});

test.run();
