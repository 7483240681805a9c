import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCgroupOwner } from '../../../agent/collectors/cgroup-owner.ts';
import { ROOT } from '../../helpers/processes.ts';

const ID = 'a'.repeat(32) + '0123456789abcdef'.repeat(2);

test('cgroup v2: a service, a nested service cgroup, a session scope, nothing', () => {
  assert.equal(parseCgroupOwner('0::/system.slice/nginx.service\n'), { unit: 'nginx.service' });
  assert.equal(parseCgroupOwner('0::/system.slice/foo.service/payload\n'), { unit: 'foo.service' });
  assert.equal(parseCgroupOwner('0::/user.slice/user-1000.slice/session-3.scope\n'), { unit: 'session-3.scope' });
  assert.equal(parseCgroupOwner('0::/init.scope\n'), { unit: 'init.scope' });
  assert.equal(parseCgroupOwner('0::/\n'), {});
});

test('containers: Docker (systemd and cgroupfs drivers), podman, containerd CRI, kubepods', () => {
  assert.equal(parseCgroupOwner(`0::/system.slice/docker-${ID}.scope\n`), { containerId: ID });
  assert.equal(parseCgroupOwner(`12:memory:/docker/${ID}\n11:cpu,cpuacct:/docker/${ID}\n0::/\n`), { containerId: ID });
  assert.equal(parseCgroupOwner(`0::/machine.slice/libpod-${ID}.scope/container\n`), { containerId: ID });
  assert.equal(parseCgroupOwner(`0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-${ID}.scope\n`), { containerId: ID });
  assert.equal(parseCgroupOwner(`4:memory:/kubepods/besteffort/pod1234/${ID}\n`), { containerId: ID });
});

test('cgroup v1 with systemd: the unit comes from the name=systemd hierarchy', () => {
  const text = '12:memory:/\n11:cpu,cpuacct:/\n1:name=systemd:/system.slice/ssh.service\n0::/\n';
  assert.equal(parseCgroupOwner(text), { unit: 'ssh.service' });
});

test('recorded: a sandbox without systemd has no owner', () => {
  const text = readFileSync(join(ROOT, 'test/fixtures/workloads/cgroup-v1-sandbox.txt'), 'utf8');
  assert.equal(parseCgroupOwner(text), {});
});

test.run();
