import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deployActionFromFlags, parseCapability, parseDevice, parsePairs, parsePublish, parseVolume } from '../../cli/commands/deploy.ts';
import { main } from '../../cli/muster.ts';
import { CliError } from '../../cli/config.ts';

const throwsUsage = (fn: () => unknown, re: RegExp) => {
  try {
    fn();
  } catch (err) {
    assert.instance(err, CliError);
    assert.is((err as CliError).exitCode, 2);
    assert.match((err as Error).message, re);
    return;
  }
  assert.unreachable('expected a usage error');
};

test('-p reads the way docker run reads it', () => {
  assert.equal(parsePublish('8080:80'), { containerPort: 80, hostPort: 8080, protocol: 'tcp' });
  assert.equal(parsePublish('127.0.0.1:8080:80'), { containerPort: 80, hostPort: 8080, hostIp: '127.0.0.1', protocol: 'tcp' });
  assert.equal(parsePublish('53:53/udp'), { containerPort: 53, hostPort: 53, protocol: 'udp' });
  assert.equal(parsePublish('80'), { containerPort: 80, protocol: 'tcp' });
  assert.equal(parsePublish('[::1]:8080:80'), { containerPort: 80, hostPort: 8080, hostIp: '::1', protocol: 'tcp' });
  for (const bad of ['', 'http', '70000:80', '8080:0', '1:2:3:4', '8080:80/sctp']) throwsUsage(() => parsePublish(bad), /-p needs/);
});

test('-v, -e and -l', () => {
  assert.equal(parseVolume('/srv/data:/data'), { source: '/srv/data', target: '/data' });
  assert.equal(parseVolume('data:/data:ro'), { source: 'data', target: '/data', readOnly: true });
  for (const bad of ['/srv', '/srv:data', '/a:/b:rx', ':/b']) throwsUsage(() => parseVolume(bad), /-v needs/);
  assert.equal(parsePairs('-e', ['A=1', 'B=', 'C=x=y', 'HOME'], (k) => (k === 'HOME' ? '/root' : undefined)), { A: '1', B: '', C: 'x=y', HOME: '/root' });
  throwsUsage(() => parsePairs('-e', ['UNSET_ONE'], () => undefined), /-e UNSET_ONE: give KEY=VALUE, or set UNSET_ONE/);
  throwsUsage(() => parsePairs('-l', ['=v']), /-l needs KEY=VALUE/);
});

test('the flags make exactly one action', () => {
  const run = deployActionFromFlags({ node: 'n', image: 'nginx', name: 'web', publish: ['8080:80'], cpu: '500m', memory: '256M' }, ['nginx', '-g', 'daemon off;'], {});
  assert.equal(run, {
    kind: 'run',
    container: {
      image: 'nginx', name: 'web', env: {}, labels: {}, ports: [{ containerPort: 80, hostPort: 8080, protocol: 'tcp' }], volumes: [],
      restart: 'unless-stopped', command: ['nginx', '-g', 'daemon off;'], cpus: 0.5, memoryBytes: 256 * 1024 * 1024,
    },
  });
  assert.is(deployActionFromFlags({ image: 'nginx', name: 'web', replace: true }, [], {}).kind, 'replace');
  assert.equal(deployActionFromFlags({ 'restart-container': 'web' }, [], {}), { kind: 'container', action: 'restart', name: 'web' });
  assert.equal(deployActionFromFlags({ unit: 'nginx', action: 'restart' }, [], {}), { kind: 'unit', action: 'restart', unit: 'nginx.service' });
  throwsUsage(() => deployActionFromFlags({ image: 'nginx', 'stop-container': 'web' }, [], {}), /exactly one of/);
  throwsUsage(() => deployActionFromFlags({}, [], {}), /exactly one of/);
  throwsUsage(() => deployActionFromFlags({ unit: 'nginx' }, [], {}), /--action start, stop or restart/);
  throwsUsage(() => deployActionFromFlags({ image: 'nginx' }, [], {}), /--name is required/);
  throwsUsage(() => deployActionFromFlags({ image: 'nginx', name: 'w', restart: 'sometimes' }, [], {}), /--restart needs one of/);
  throwsUsage(() => deployActionFromFlags({ image: 'nginx', name: 'w', memory: '1K' }, [], {}), /--memory needs a size of at least 4M/);
  throwsUsage(() => deployActionFromFlags({ image: 'nginx', name: 'w', cpu: 'lots' }, [], {}), /--cpu needs cores/);
});

test('--privileged, --network, --pid, --device and --cap-add ask for powers explicitly; bad values are usage errors', () => {
  const run = (v: Record<string, unknown>) => {
    const a = deployActionFromFlags({ image: 'img', name: 'w', ...v }, [], {});
    if (a.kind !== 'run') throw new Error(a.kind);
    return a.container;
  };
  const c = run({ privileged: true, network: 'host', pid: 'host', device: ['/dev/ttyUSB0', '/dev/sda:/dev/xvda:rw'], 'cap-add': ['net_admin', 'CAP_SYS_TIME', 'NET_ADMIN'] });
  assert.is(c.privileged, true);
  assert.is(c.network, 'host');
  assert.is(c.pid, 'host');
  assert.equal(c.devices, [{ hostPath: '/dev/ttyUSB0' }, { hostPath: '/dev/sda', containerPath: '/dev/xvda', permissions: 'rw' }]);
  assert.equal(c.capAdd, ['NET_ADMIN', 'SYS_TIME'], 'as docker takes them: any case, CAP_ or not, once each');
  assert.is(run({ network: 'backend_net' }).network, 'backend_net');
  const plain = run({});
  for (const k of ['privileged', 'network', 'pid', 'devices', 'capAdd']) assert.not.ok(k in plain, `${k} only when asked for`);
  assert.equal(parseDevice('/dev/ttyACM0:r'), { hostPath: '/dev/ttyACM0', permissions: 'r' });

  throwsUsage(() => run({ pid: 'container:db' }), /--pid takes host only/);
  throwsUsage(() => run({ network: 'container:db' }), /--network container:db: sharing another container's network is not supported/);
  throwsUsage(() => run({ network: 'my net' }), /--network needs host or a Docker network's name/);
  throwsUsage(() => run({ 'cap-add': ['NET_ADMINS'] }), /--cap-add needs a Linux capability/);
  for (const bad of ['ttyUSB0', '/dev/a:dev/b', '/dev/a:/dev/b:rx', '/dev/a:/dev/b:rr', '/dev/a:/b:/c:rw']) throwsUsage(() => parseDevice(bad), /--device needs HOST\[:CONTAINER\]\[:PERMS\]/);
  assert.is(parseCapability('all'), 'ALL');
  throwsUsage(() => deployActionFromFlags({ unit: 'nginx', action: 'restart', privileged: true }, [], {}), /--privileged apply to a container started with --image only/);
  throwsUsage(() => deployActionFromFlags({ 'stop-container': 'web', network: 'host', 'cap-add': ['NET_ADMIN'] }, [], {}), /--network, --cap-add apply/);
});

test('recommend, deploy and jobs have help, and bad flags exit 2 before anything is sent', async () => {
  for (const cmd of ['recommend', 'deploy', 'jobs']) {
    let out = '';
    assert.is(await main([cmd, '--help'], { env: {}, out: (s) => { out += s; }, err: () => {} }), 0);
    assert.match(out, new RegExp(`Usage: muster ${cmd}`));
  }
  let err = '';
  const io = { env: { MUSTER_HUB: 'http://127.0.0.1:9', MUSTER_TOKEN: 't' }, out: () => {}, err: (s: string) => { err += s; } };
  assert.is(await main(['deploy', '--node', 'n', '--image', 'nginx', '--name', 'w', 'stray'], io), 2);
  assert.match(err, /unexpected argument "stray"; put the container's command after --/);
  assert.is(await main(['recommend', '--memory', 'lots'], io), 2);
  assert.is(await main(['deploy', '--node', 'n1', '--constraint', 'a=b', '--image', 'x', '--name', 'y'], io), 2);
  assert.match(err, /apply to --node auto only/);
  for (const bad of [['--pid', 'container:x'], ['--network', 'a:b'], ['--device', 'tty0'], ['--cap-add', 'ROOT']]) {
    assert.is(await main(['deploy', '--node', 'n1', '--image', 'x', '--name', 'y', ...bad], io), 2, bad.join(' '));
  }
});

test.run();
