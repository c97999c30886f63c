/**
 * `tx.ensure(spec)` (NDB's ensure) and `tx.create({ ..., reuse: true })`
 * (IPDB's reuse): the interface as the spec says, made when missing,
 * changed in place when there (same index: not made again), refused when
 * what is there is something else.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/index.js';
import type { CreateSpec } from '../../../src/transactions/specs.js';
import { type FeatureCase, featureCases, linkDetail, sysfs, useFeatureLab } from './harness.js';

const lab = useFeatureLab();

/** br9 with index 42, made by iproute2 (down, MTU 1500); a tap tp0 with owner 4242. */
const EXISTING = ['link add br9 index 42 type bridge', 'tuntap add dev tp0 mode tap user 4242'];

const cases: FeatureCase[] = [
  {
    name: 'ensure of a missing bridge makes it',
    stage: (tx) => tx.ensure({ kind: 'bridge', ifname: 'br8', mtu: 1400 }).up(),
    review: { interfaces: { br8: { kind: 'bridge', mtu: 1400, state: 'up' } } },
    check: (ns) => expect(linkDetail(ns, 'br8')).toMatchObject({ mtu: 1400, linkinfo: { info_kind: 'bridge' } }),
  },
  {
    name: 'ensure of a bridge that exists changes it in place',
    setup: EXISTING,
    stage: (tx) => tx.ensure({ kind: 'bridge', ifname: 'br9', mtu: 1400, ifalias: 'ensured' }).up(),
    review: { interfaces: { br9: { ifalias: 'ensured', mtu: 1400, state: 'up' } } },
    check: (ns) => expect(linkDetail(ns, 'br9')).toMatchObject({ ifindex: 42, mtu: 1400, ifalias: 'ensured' }),
  },
  {
    name: 'create with reuse of a veth that exists changes it in place',
    stage: (tx) => tx.create({ kind: 'veth', ifname: 'v0', peer: 'v1', reuse: true, mtu: 1400 }),
    review: { interfaces: { v0: { mtu: 1400 } } },
    check: (ns) => expect(linkDetail(ns, 'v0')?.mtu).toBe(1400),
  },
  {
    name: 'ensure of a tap that exists changes it in place',
    setup: EXISTING,
    stage: (tx) => tx.ensure({ kind: 'tuntap', ifname: 'tp0', mode: 'tap', owner: 4242, mtu: 1400 }),
    review: { interfaces: { tp0: { mtu: 1400 } } },
    check: (ns) => {
      expect(linkDetail(ns, 'tp0')?.mtu).toBe(1400);
      expect(sysfs(ns, 'tp0', 'owner')).toBe('4242');
    },
  },
  {
    name: 'ensure twice in one transaction: one creation with what both said',
    stage: (tx) => {
      tx.ensure({ kind: 'bridge', ifname: 'br8' });
      tx.ensure({ kind: 'bridge', ifname: 'br8', mtu: 1400 }).addIp('10.0.60.1/24');
    },
    check: (ns) => expect(linkDetail(ns, 'br8')?.mtu).toBe(1400),
    rollback: false, // undone as the first case is
  },
  {
    name: 'a bridge removed and made again under its name in one transaction (another MTU, a port)',
    setup: EXISTING,
    stage: (tx) => {
      tx.interface('br9').remove();
      tx.create({ kind: 'bridge', ifname: 'br9', mtu: 1400 }).addPort('v1');
    },
    check: (ns) => {
      const br = linkDetail(ns, 'br9');
      expect(br?.ifindex).not.toBe(42);
      expect(br?.mtu).toBe(1400);
      expect(linkDetail(ns, 'v1')?.master).toBe('br9');
    },
  },
];

featureCases(lab, cases);

describe('ensure of what is there as the spec says', () => {
  it('stages nothing and applies nothing (a bridge, a veth, a tap, an address)', async () => {
    const db = await lab.open(EXISTING);
    const tx = db.begin();
    tx.ensure({ kind: 'bridge', ifname: 'br9', mtu: 1500 });
    tx.ensure({ kind: 'veth', ifname: 'v0', peer: 'v1' }).ensureIp('10.0.0.1/24');
    tx.ensure({ kind: 'tuntap', ifname: 'tp0', mode: 'tap', owner: 4242 });
    expect(tx.review().interfaces).toEqual({});
    expect((await tx.commit()).applied).toEqual([]);
  });
});

describe('ensure and reuse refuse what exists as something else (a ValidationError, nothing staged)', () => {
  /** [title, the call, the field named]. */
  const REFUSED: [string, CreateSpec, string][] = [
    ['a bridge where a veth is', { kind: 'bridge', ifname: 'v0', reuse: true }, 'kind'],
    ['a veth where a bridge is', { kind: 'veth', ifname: 'br9', peer: 'x1', reuse: true }, 'kind'],
    ['a tun where a tap is (another mode)', { kind: 'tuntap', ifname: 'tp0', mode: 'tun', reuse: true }, 'mode'],
    // The kernel keeps a tun/tap's owner; one asked for that differs is not silently dropped.
    ['a tap with another owner', { kind: 'tuntap', ifname: 'tp0', mode: 'tap', owner: 4343, reuse: true }, 'owner'],
    ['a bridge where one is, without reuse', { kind: 'bridge', ifname: 'br9' }, 'ifname'],
  ];
  it.each(REFUSED)('%s', async (_title, spec, field) => {
    const db = await lab.open(EXISTING);
    const tx = db.begin();
    let err: unknown;
    try {
      tx.create(spec);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe(field);
    expect(tx.review().interfaces).toEqual({});
  });
});
