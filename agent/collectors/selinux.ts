/**
 * node_exporter's `selinux` collector: whether SELinux is on, and its
 * configured and current modes, from /sys/fs/selinux and /etc/selinux/config.
 */
import { tryReadSys } from './read.ts';
import type { CollectorSpec } from './registry.ts';

/** SELinux's modes as node_exporter numbers them (go-selinux): enforcing 1, permissive 0, disabled -1. */
export function selinuxMode(word: string | undefined): number {
  if (word === 'enforcing') return 1;
  if (word === 'permissive') return 0;
  return -1;
}

/** The SELINUX= line of /etc/selinux/config. */
export function parseSelinuxConfig(text: string): string | undefined {
  return /^\s*SELINUX\s*=\s*(\w+)/m.exec(text)?.[1]?.toLowerCase();
}

export const selinuxCollector: CollectorSpec = {
  name: 'selinux',
  reads: '/sys/fs/selinux/enforce, /etc/selinux/config',
  enabled: true,
  every: 6,
  maxSeries: 3,
  whenAbsent: 'quiet',
  create: (ctx) => (out) => {
    const enforce = tryReadSys(ctx.root, '/sys/fs/selinux/enforce');
    const enabled = out.gauge('node_selinux_enabled', 'SELinux is enabled, 1 is true, 0 is false');
    if (enforce === undefined) {
      enabled(0);
      return;
    }
    enabled(1);
    out.gauge('node_selinux_config_mode', 'Configured SELinux enforcement mode')(selinuxMode(parseSelinuxConfig(tryReadSys(ctx.root, '/etc/selinux/config') ?? '')));
    out.gauge('node_selinux_current_mode', 'Current SELinux enforcement mode')(enforce === '1' ? 1 : 0);
  },
};
