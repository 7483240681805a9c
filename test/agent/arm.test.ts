/**
 * The agent bundle on the boards muster is for: Node 18 for 64-bit ARM
 * (a Raspberry Pi 4/5 on a 64-bit OS) and 32-bit ARM (armv7l, the newest a
 * 32-bit Pi gets from the npm registry), the registry's own binaries run
 * under qemu-user-static with Debian's cross-compiled C libraries. Each joins
 * a hub over TLS with the CA pin and reports its architecture as container
 * images name it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { AGENT_BUNDLE, ROOT, api, joinToken, missingComponent, startHubProcess, tempDir, waitFor, type HubProc } from '../helpers/processes.ts';

interface Board { name: string; qemu: string; sysroot: string; node: string; arch: string; platform: string }
const BOARDS: Board[] = [
  { name: 'pi-arm64', qemu: '/usr/bin/qemu-aarch64-static', sysroot: '/usr/aarch64-linux-gnu', node: join(ROOT, '.cache/node18-arm64/bin/node'), arch: 'arm64', platform: 'linux/arm64' },
  { name: 'pi-armv7', qemu: '/usr/bin/qemu-arm-static', sysroot: '/usr/arm-linux-gnueabihf', node: join(ROOT, '.cache/node18-armv7l/bin/node'), arch: 'armv7', platform: 'linux/arm/v7' },
];

let hub: HubProc | undefined;
test.after(async () => { await hub?.stop(); });

for (const b of BOARDS) {
  test(`the agent on ${b.arch} Node 18 (qemu-user) joins with the pin and reports ${b.platform}`, async () => {
    const missing = [b.qemu, b.sysroot, b.node].find((p) => !existsSync(p));
    if (missing) {
      missingComponent(`${b.arch} emulation (${missing})`, 'bash install/test-host.sh installs qemu-user-static, the cross C libraries and the ARM Node 18 builds');
      return;
    }
    hub ??= await startHubProcess();
    const child = spawn(b.qemu, ['-L', b.sysroot, b.node, AGENT_BUNDLE, '--hub', hub.url, '--join', await joinToken(hub), '--ca-hash', hub.caHash!,
      '--name', b.name, '--state', tempDir(b.name), '--interval', '5s'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    try {
      // Emulated, Node 18 takes seconds to start and its first readings are slow: be patient.
      const node = await waitFor(`${b.name} online with a sample`, async () => {
        if (child.exitCode !== null) throw new Error(`the agent exited: ${out}`);
        const r = await api(hub!.url, hub!.adminToken, `/api/v1/nodes/${b.name}`);
        return r.status === 200 && r.body.online && r.body.facts && r.body.samples.ackedSeq >= 1 ? r.body : undefined;
      }, 150_000, 1_000);
      assert.is(node.facts.arch, b.arch);
      assert.is(node.facts.platform, b.platform);
      assert.match(node.facts.runtime, /^node v18\./);
    } finally {
      child.kill('SIGKILL');
    }
  });
}

test.run();
