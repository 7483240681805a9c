/**
 * node_exporter's `bonding` collector: configured and active slaves of each
 * bonding interface, from /sys/class/net/<master>/bonding.
 */
import { isAbsent, readFileAt } from './read.ts';
import { NoDataError, type CollectorSpec } from './registry.ts';

export const bondingCollector: CollectorSpec = {
  name: 'bonding',
  reads: '/sys/class/net/bonding_masters, /sys/class/net/<master>/bonding/slaves, .../bonding_slave/mii_status',
  enabled: true,
  every: 1,
  maxSeries: 2048,
  whenAbsent: 'nodata',
  create: (ctx) => (out) => {
    let masters: string;
    try {
      masters = readFileAt(ctx.root, '/sys/class/net/bonding_masters');
    } catch (err) {
      if (isAbsent(err)) throw new NoDataError('the bonding module is not loaded');
      throw err;
    }
    const slavesOf = out.gauge('node_bonding_slaves', 'Number of configured slaves per bonding interface.', ['master']);
    const activeOf = out.gauge('node_bonding_active', 'Number of active slaves per bonding interface.', ['master']);
    for (const master of masters.trim().split(/\s+/).filter(Boolean)) {
      const slaves = readFileAt(ctx.root, `/sys/class/net/${master}/bonding/slaves`).trim().split(/\s+/).filter(Boolean);
      let active = 0;
      for (const slave of slaves) {
        let state: string;
        try {
          state = readFileAt(ctx.root, `/sys/class/net/${master}/lower_${slave}/bonding_slave/mii_status`);
        } catch (err) {
          if (!isAbsent(err)) throw err;
          state = readFileAt(ctx.root, `/sys/class/net/${master}/slave_${slave}/bonding_slave/mii_status`);
        }
        if (state.trim() === 'up') active++;
      }
      slavesOf(slaves.length, master);
      activeOf(active, master);
    }
  },
};
