import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deployActionFromFlags, parsePairs, parsePublish, parseVolume } from '../../cli/commands/deploy.ts';
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
});

test.run();
