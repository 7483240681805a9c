/**
 * /metrics is not for everyone: a render of every node is work on the hub's
 * only thread, and what runs where is worth keeping to oneself. A metrics or
 * admin token may scrape and discover; nobody else, unless --metrics-public.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { api, hubFetch, joinToken, startHubProcess, type HubProc } from '../helpers/processes.ts';

const hubs: HubProc[] = [];
test.after(async () => { for (const h of hubs) await h.stop(); });

const get = async (hub: HubProc, path: string, token?: string) => {
  const res = await hubFetch(hub.url + path, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const text = await res.text();
  return { status: res.status, text, code: res.ok ? undefined : (JSON.parse(text) as { error: { code: string } }).error.code };
};

test('/metrics and service discovery refuse no token (401) and a join token (403); a metrics token may scrape and nothing else', async () => {
  const hub = await startHubProcess();
  hubs.push(hub);
  const metrics = (await api<{ token: string }>(hub.url, hub.adminToken, '/api/v1/tokens', { method: 'POST', body: { role: 'metrics' } })).body.token;
  for (const path of ['/metrics', '/metrics/hub', '/metrics/fleet', '/api/v1/sd/prometheus', '/api/v1/sd/nodes']) {
    const none = await get(hub, path);
    assert.is(none.status, 401, `${path} without a token`);
    assert.is(none.code, 'MUSTER_ERR_UNAUTHORIZED');
    const join = await get(hub, path, await joinToken(hub));
    assert.is(join.status, 403, `${path} with a join token`);
    assert.is(join.code, 'MUSTER_ERR_FORBIDDEN');
    assert.is((await get(hub, path, metrics)).status, 200, `${path} with a metrics token`);
    assert.is((await get(hub, path, hub.adminToken)).status, 200, `${path} with the admin token`);
  }
  assert.match((await get(hub, '/metrics', metrics)).text, /^# HELP muster_/m);
  const api403 = await get(hub, '/api/v1/nodes', metrics);
  assert.is(api403.status, 403, 'a metrics token cannot read the API');
  assert.is(api403.code, 'MUSTER_ERR_FORBIDDEN');
});

test('--metrics-public serves /metrics without a token, as node_exporter does', async () => {
  const hub = await startHubProcess({ args: ['--metrics-public'] });
  hubs.push(hub);
  assert.is((await get(hub, '/metrics')).status, 200);
  assert.is((await get(hub, '/api/v1/sd/nodes')).status, 200);
  // A node alone too: past the guard, to the node lookup.
  const one = await get(hub, '/metrics/nodes/nope');
  assert.equal([one.status, one.code], [404, 'MUSTER_ERR_NODE_NOT_FOUND']);
  assert.is((await get(hub, '/api/v1/nodes')).status, 401, 'the API is not public for it');
});

test.run();
