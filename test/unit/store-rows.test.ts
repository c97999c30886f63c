/**
 * The store's rows, read straight from kernel bytes, agree with the codec:
 * for every captured kernel message, the key columns say what the decoded
 * record says, and the stored body decodes to the same record (minus the
 * counters the store leaves out).
 */
import { describe, expect, it } from 'vitest';
import { KINDS } from '../../src/db/kinds/index.js';
import { decodeBody } from '../../src/db/kinds/kind.js';
import { prefixColumns } from '../../src/db/kinds/values.js';
import { decodeAll } from '../../src/index.js';
import { kernelFixtures } from '../helpers/fixtures.js';

const BY_FAMILY = new Map(KINDS.map((k) => [k.family, k]));

/** Every message of every capture, with the kind that stores it. */
function messages() {
  const out: {
    name: string;
    buf: Buffer;
    off: number;
    len: number;
    kind: (typeof KINDS)[number];
    record: Record<string, unknown>;
  }[] = [];
  for (const f of kernelFixtures()) {
    const buf = Buffer.from(f.hex, 'hex');
    let off = 0;
    for (const m of decodeAll(buf)) {
      const len = buf.readUInt32LE(off);
      const family = m.type.replace(/^RTM_(NEW|DEL|GET)/, '').toLowerCase();
      const kind = BY_FAMILY.get(
        (
          {
            link: 'link',
            addr: 'address',
            route: 'route',
            rule: 'rule',
            neigh: 'neighbour',
            qdisc: 'qdisc',
            tfilter: 'filter',
          } as Record<string, string>
        )[family] as never,
      );
      if (kind && m.body)
        out.push({ name: f.name, buf, off, len, kind, record: decodeBody(kind.family, buf.subarray(off + 16, off + len)) });
      off += (len + 3) & ~3;
    }
  }
  return out;
}

describe('store rows from kernel bytes', () => {
  const all = messages();
  it('covers every kind', () => {
    expect(new Set(all.map((m) => m.kind.name))).toEqual(new Set(KINDS.map((k) => k.name)));
  });

  for (const m of all) {
    it(`${m.name}: ${m.kind.name} ${String(m.record.ifname ?? m.record.dst ?? m.record.address ?? m.record.priority ?? '')}`, () => {
      const values = m.kind.row(m.buf, m.off, m.len);
      if (!values) {
        // Only what the store deliberately leaves out: other families (bridge, multicast routing),
        // qdiscs under classes, a filter priority's own entry and u32 hash tables.
        if (m.kind.name === 'qdisc') expect(['root', 'ingress']).not.toContain(m.record.parent);
        else if (m.kind.name === 'filter') expect(m.record.handle).toMatch(/^(0|[0-9a-f]+:)$/);
        else expect(['inet', 'inet6']).not.toContain(m.record.family === undefined ? 'inet' : m.record.family);
        return;
      }
      const col = (name: string) => values[m.kind.columns.findIndex(([n]) => n === name)];
      const stored = decodeBody(m.kind.family, values[values.length - 1] as Buffer);
      // Counters leave; a filter's options keep their shape with its counters and timestamps zeroed.
      const { stats: _s, stats64: _s64, stats2: _s2, af_spec: _a, cacheinfo: _c, qdisc: _q, probes: _p, ...rest } = m.record;
      if (m.kind.name === 'filter') delete rest.options;
      expect(stored).toMatchObject(rest);
      if (m.kind.name === 'qdisc' || m.kind.name === 'filter') {
        expect([col('idx'), col('kind')]).toEqual([m.record.index, m.record.kind]);
      }
      if (m.kind.name === 'route') {
        const [key] = prefixColumns(m.record.dst, 'dst').filter((k) => k.family === col('family'));
        expect(col('dst')).toEqual(key?.key);
        expect(col('tbl')).toBe(m.record.table);
        expect(col('priority')).toBe(m.record.priority ?? 0);
        expect(col('oif')).toBe(m.record.oif ?? null);
      }
      if (m.kind.name === 'interface') {
        expect([col('idx'), col('ifname')]).toEqual([m.record.index, m.record.ifname]);
      }
    });
  }
});
