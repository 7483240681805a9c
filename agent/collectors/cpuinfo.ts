/**
 * /proc/cpuinfo: the CPU (or board) model and, on 32-bit ARM, the architecture level.
 */
import { readProcText } from './read.ts';

/** ARM architecture level, as OCI platform variants name it. */
export type ArmVariant = 'v6' | 'v7' | 'v8';

/** What the collectors take from /proc/cpuinfo. */
export interface CpuInfo {
  /** Human-readable model, undefined if the file names none. */
  model: string | undefined;
  /** ARM architecture level the CPU implements; undefined on other architectures. */
  armVariant: ArmVariant | undefined;
}

/**
 * Core names for ARM Ltd. (implementer 0x41) part numbers, the ones found in
 * small fleets. arm64 kernels print no "model name", only these numbers; lscpu
 * keeps the full table.
 */
const ARM_PARTS: Record<string, string> = {
  '0xb76': 'ARM1176', '0xc07': 'Cortex-A7', '0xc08': 'Cortex-A8', '0xc09': 'Cortex-A9', '0xc0f': 'Cortex-A15',
  '0xd03': 'Cortex-A53', '0xd04': 'Cortex-A35', '0xd05': 'Cortex-A55', '0xd07': 'Cortex-A57', '0xd08': 'Cortex-A72',
  '0xd09': 'Cortex-A73', '0xd0a': 'Cortex-A75', '0xd0b': 'Cortex-A76', '0xd0c': 'Neoverse-N1', '0xd0d': 'Cortex-A77',
  '0xd40': 'Neoverse-V1', '0xd41': 'Cortex-A78', '0xd44': 'Cortex-X1', '0xd46': 'Cortex-A510', '0xd47': 'Cortex-A710',
  '0xd48': 'Cortex-X2', '0xd49': 'Neoverse-N2', '0xd4f': 'Neoverse-V2',
};

/** The first value of each `key : value` line; keys are case-sensitive (x86 has both `model` and `model name`). */
function firstValues(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key !== '' && value !== '' && !values.has(key)) values.set(key, value);
  }
  return values;
}

/**
 * Parses /proc/cpuinfo. The model prefers the board name ARM boards print
 * ("Model : Raspberry Pi 4 Model B Rev 1.4"), which says far more than
 * "ARMv7 Processor rev 3 (v7l)"; then x86's "model name"; then the ARM core
 * from its part number; then the older ARM, MIPS, POWER and RISC-V spellings.
 *
 * The ARM level reads the "(v6l)" suffix first because an ARM1176 (Raspberry
 * Pi 1 and Zero) reports "CPU architecture: 7" although it is ARMv6.
 */
export function parseCpuinfo(text: string): CpuInfo {
  const v = firstValues(text);
  const implementer = v.get('CPU implementer');
  const part = v.get('CPU part')?.toLowerCase();
  const armCore = implementer === '0x41' && part !== undefined ? ARM_PARTS[part] : undefined;
  const model = v.get('Model') ?? v.get('model name') ?? armCore ?? v.get('Hardware') ?? v.get('Processor')
    ?? v.get('cpu model') ?? v.get('cpu') ?? v.get('uarch');

  let armVariant: ArmVariant | undefined;
  const armName = `${v.get('model name') ?? ''} ${v.get('Processor') ?? ''}`;
  const level = v.get('CPU architecture');
  if (/\(v6l\)|ARMv6/.test(armName) || armCore === 'ARM1176') armVariant = 'v6';
  else if (/\(v7l\)|ARMv7/.test(armName) || level === '7') armVariant = 'v7';
  else if (level === '8' || level === 'AArch64') armVariant = 'v8';
  return { model, armVariant };
}

/** Reads and parses `<root>/proc/cpuinfo`. */
export async function readCpuinfo(root: string): Promise<CpuInfo> {
  return parseCpuinfo(await readProcText(root, '/proc/cpuinfo'));
}
