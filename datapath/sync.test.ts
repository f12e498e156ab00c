/**
 * ServiceSync and PolicyMapSync against the in-memory maps: the exact write sequence (so the
 * "never a hole" ordering is checked mechanically) and that unchanged state writes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryMaps } from './map-source.js';
import { ServiceSync } from './services.js';
import { PolicyMapSync } from './policy-maps.js';

const svc = (backends: Array<[string, number]>) => ({
  vip: '10.96.0.10', port: 80, protocol: 'TCP' as const, backends: backends.map(([ip, port]) => ({ ip, port })),
});

test('services: grow writes slots before the count, shrink lowers the count before deleting', () => {
  const m = new MemoryMaps();
  const s = new ServiceSync(m);
  s.upsert(svc([['10.0.0.1', 8080], ['10.0.0.2', 8080]]));
  assert.deepEqual(m.log.splice(0), [
    'set tendril_svc {"vip":"10.96.0.10","port":80,"proto":6} {"svcId":1,"count":0,"flags":0}',
    'set tendril_backend {"svcId":1,"slot":0} {"ip":"10.0.0.1","port":8080}',
    'set tendril_backend {"svcId":1,"slot":1} {"ip":"10.0.0.2","port":8080}',
    'set tendril_svc {"vip":"10.96.0.10","port":80,"proto":6} {"svcId":1,"count":2,"flags":0}',
  ]);
  s.upsert(svc([['10.0.0.1', 8080], ['10.0.0.2', 8080]]));
  assert.deepEqual(m.log.splice(0), [], 'unchanged: no writes');
  s.upsert(svc([['10.0.0.3', 8080]]));
  assert.deepEqual(m.log.splice(0), [
    'set tendril_svc {"vip":"10.96.0.10","port":80,"proto":6} {"svcId":1,"count":1,"flags":0}',
    'set tendril_backend {"svcId":1,"slot":0} {"ip":"10.0.0.3","port":8080}',
    'delete tendril_backend {"svcId":1,"slot":1}',
  ]);
  s.upsert(svc([]));
  assert.deepEqual(m.map('tendril_svc').get({ vip: '10.96.0.10', port: 80, proto: 6 }), { svcId: 1, count: 0, flags: 0 }, 'kept with count 0 (ECONNREFUSED)');
  s.sync([]);
  assert.equal(m.map('tendril_svc').keys().length, 0);
  assert.equal(m.map('tendril_backend').keys().length, 0);
  s.upsert({ ...svc([['10.0.0.9', 1]]), vip: '10.96.0.99' });
  assert.equal(m.map('tendril_svc').get({ vip: '10.96.0.99', port: 80, proto: 6 })!.svcId, 1, 'freed ids are reused');
});

test('policy: only changed keys are written; removed keys are deleted; ids are interned', () => {
  const m = new MemoryMaps();
  const p = new PolicyMapSync(m);
  const a = { identity: 1001, port: 8080, proto: 6, verdict: 'allow' as const, policy: 'shop/web' };
  const d = { identity: 1001, port: 9090, proto: 6, verdict: 'deny' as const, policy: 'shop/deny' };
  p.setEndpointPolicy(2, [a, d]);
  assert.equal(m.log.splice(0).length, 2);
  p.setEndpointPolicy(2, [a, d]);
  assert.deepEqual(m.log.splice(0), []);
  p.setEndpointPolicy(2, [a]);
  assert.deepEqual(m.log.splice(0), ['delete tendril_policy {"epId":2,"identity":1001,"port":9090,"proto":6}']);
  assert.equal(p.ids.name(p.ids.id('shop/deny')), 'shop/deny');
  p.setIdentity('10.250.1.2', 1001);
  p.setIdentity('10.250.1.2', 1001);
  assert.equal(m.log.splice(0).length, 1);
  p.setRedirects([{ srcIdentity: 0, dstIdentity: 1002, port: 8081, proto: 6, proxyIp: '127.0.0.1', proxyPort: 15001 }]);
  p.setRedirects([{ srcIdentity: 0, dstIdentity: 1002, port: 8081, proto: 6, proxyIp: '127.0.0.1', proxyPort: 15002 }]);
  assert.deepEqual(m.log.splice(0).map((l) => l.split(' ')[0]), ['set', 'set']);
  p.setRedirects([]);
  assert.deepEqual(m.log.splice(0), ['delete tendril_redirect {"srcIdentity":0,"dstIdentity":1002,"port":8081,"proto":6}']);
});

test('wantsDatapath: false is off unless kubeProxyReplacement; auto; true is required', async () => {
  const { wantsDatapath } = await import('./component.js');
  const cfg = (enabled: unknown, kpr: boolean) => ({ datapath: { enabled }, kubeProxyReplacement: kpr }) as unknown as Parameters<typeof wantsDatapath>[0];
  assert.equal(wantsDatapath(cfg(false, false)), 'off');
  assert.equal(wantsDatapath(cfg('false', true)), 'auto');
  assert.equal(wantsDatapath(cfg('auto', false)), 'auto');
  assert.equal(wantsDatapath(cfg(true, false)), 'required');
  assert.equal(wantsDatapath(cfg('true', false)), 'required');
});
