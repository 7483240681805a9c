/**
 * The node's architecture in the names container images use.
 */
import type { ArmVariant } from './cpuinfo.ts';

/** Architecture and OCI platform string (`linux/arm/v7`) of a node. */
export interface ArchFacts {
  arch: string;
  platform: string;
}

/** Node's `process.arch` -> GOARCH, the names Docker and OCI image indexes use. */
const GOARCH: Record<string, string> = {
  x64: 'amd64', arm64: 'arm64', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64',
  loong64: 'loong64', mips: 'mips', mipsel: 'mipsle', mips64el: 'mips64le', ppc: 'ppc',
};

/**
 * Maps the agent's runtime architecture to the image platform it can run.
 *
 * The runtime's architecture, not the kernel's, is what counts: a Raspberry Pi
 * 4 on 32-bit Raspberry Pi OS runs an aarch64 kernel under an armhf userland
 * that cannot run arm64 images. For 32-bit ARM the level comes from the CPU
 * (a v8 core runs v7 images), then from the level Node was built for
 * (`process.config.variables.arm_version`), then defaults to v7, the level of
 * Node's official 32-bit builds. Node on Linux ppc64 is little-endian only.
 */
export function archFacts(nodeArch: string, cpuVariant: ArmVariant | undefined, nodeArmVersion?: string, os = 'linux'): ArchFacts {
  if (nodeArch === 'arm') {
    const level = cpuVariant === 'v6' || (cpuVariant === undefined && nodeArmVersion === '6') ? 'v6' : 'v7';
    return { arch: `arm${level}`, platform: `${os}/arm/${level}` };
  }
  const arch = GOARCH[nodeArch] ?? nodeArch;
  return { arch, platform: `${os}/${arch}` };
}
