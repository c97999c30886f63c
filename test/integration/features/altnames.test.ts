/**
 * Alternative names in transactions: `addAltname` / `delAltname` on an
 * interface handle (`ip link property add|del dev X altname Y`). The kernel
 * announces the change only for a link that is up, so down links are tested
 * too. Read back through `ip -j link show` (its `altnames` list); a removed
 * link comes back with its alternative names on a rollback; a frozen link
 * gets one removed from outside back.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/index.js';
import { ipJson } from '../../helpers/netns.js';
import { expectRollsBack, type FeatureCase, featureCases, useFeatureLab } from './harness.js';

const lab = useFeatureLab();

/** The alternative names `ip -j link show DEV` lists, sorted. */
function altnames(ns: string, dev: string): string[] {
  const [link] = ipJson<{ altnames?: string[] }[]>(ns, 'link', 'show', 'dev', dev);
  return [...(link?.altnames ?? [])].sort();
}

const cases: FeatureCase[] = [
  {
    name: 'an altname on a link that is up',
    stage: (tx) => tx.interface('v0').addAltname('uplink-to-core'),
    review: { interfaces: { v0: { '+altnames': ['uplink-to-core'] } } },
    check: (ns) => expect(altnames(ns, 'v0')).toEqual(['uplink-to-core']),
    freeze: { pin: (db) => db.interfaces.freeze('v0'), drift: ['link property del dev v0 altname uplink-to-core'] },
  },
  {
    name: 'two altnames on a link that is down (the kernel says nothing of them)',
    setup: ['link add d0 type veth peer name d1'],
    stage: (tx) => tx.interface('d0').addAltname('first').addAltname('second'),
    check: (ns) => expect(altnames(ns, 'd0')).toEqual(['first', 'second']),
  },
  {
    name: 'one altname exchanged for another in one commit',
    setup: ['link property add dev v0 altname old-name'],
    stage: (tx) => tx.interface('v0').delAltname('old-name').addAltname('new-name'),
    review: { interfaces: { v0: { '+altnames': ['new-name'], '-altnames': ['old-name'] } } },
    check: (ns) => expect(altnames(ns, 'v0')).toEqual(['new-name']),
  },
  {
    name: 'a new veth made with an altname',
    stage: (tx) => tx.create({ kind: 'veth', ifname: 'n0', peer: 'n1' }).addAltname('n0-alt').up(),
    check: (ns) => expect(altnames(ns, 'n0')).toEqual(['n0-alt']),
  },
];

featureCases(lab, cases);

describe('altnames', () => {
  it('a removed link comes back with its altnames on a rollback', async () => {
    const db = await lab.open([
      'link add r0 type veth peer name r1',
      'link property add dev r0 altname r0-a',
      'link property add dev r0 altname r0-b',
    ]);
    await expectRollsBack(db, lab.ns, (tx) => tx.interface('r0').remove());
    expect(altnames(lab.ns, 'r0')).toEqual(['r0-a', 'r0-b']);
  });

  it('refuses, before the kernel is touched, a name in use, its own name, twice, an unknown removal, a bad name', async () => {
    const db = await lab.open(['link property add dev v1 altname taken']);
    const refusals: [string, (tx: ReturnType<typeof db.begin>) => void, RegExp][] = [
      ['the name of another link', (tx) => tx.interface('v0').addAltname('v1'), /v1 in /],
      ["another link's altname", (tx) => tx.interface('v0').addAltname('taken'), /is v1 in/],
      ['its own name', (tx) => tx.interface('v0').addAltname('v0'), /its own name/],
      ['twice', (tx) => tx.interface('v0').addAltname('x').addAltname('x'), /has the altname x already/],
      ['a removal of one it has not', (tx) => tx.interface('v0').delAltname('nope'), /has no altname nope/],
      ['128 bytes', (tx) => tx.interface('v0').addAltname('a'.repeat(128)), /longer than 127 bytes/],
      ['a slash', (tx) => tx.interface('v0').addAltname('a/b'), /not a valid name/],
    ];
    for (const [what, stage, message] of refusals) {
      const tx = db.begin();
      let err: unknown;
      try {
        stage(tx);
      } catch (e) {
        err = e;
      }
      expect(err, what).toBeInstanceOf(ValidationError);
      expect((err as Error).message, what).toMatch(message);
    }
    expect(altnames(lab.ns, 'v0')).toEqual([]);
    expect(altnames(lab.ns, 'v1')).toEqual(['taken']);
  });
});
