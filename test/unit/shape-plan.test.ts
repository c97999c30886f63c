/**
 * shape() from its argument to the bytes sent, without a kernel: the spec's
 * refusals (each naming its field), the qdisc a shape becomes with and
 * without netem, and the netem request a transaction sends, byte-exact
 * against the one `tc qdisc replace dev v0 root netem delay 10ms 2ms loss 1%
 * rate 10mbit limit 500` sent (test/fixtures/requests.json).
 */
import { describe, expect, it } from 'vitest';
import { encodeToBuffer, FAMILIES } from '../../src/backends/netlink/codec/message.js';
import { NLM_F } from '../../src/backends/netlink/constants.js';
import type { BuildContext } from '../../src/backends/netlink/families/family.js';
import { TcError, ValidationError } from '../../src/errors.js';
import { parseShape, shapedRoot } from '../../src/transactions/shaping.js';
import { tcSteps } from '../../src/transactions/tc-plan.js';
import type { RootTarget } from '../../src/transactions/tc-targets.js';
import { requestFixtures } from '../helpers/fixtures.js';

const { indexes, requests } = requestFixtures();
const ctx: BuildContext = {
  index: async (name) => (typeof name === 'number' ? name : (indexes[name] as number)),
  netnsFd: () => {
    throw new Error('not in fixtures');
  },
};

describe('shape() refuses, naming the field, before anything is staged', () => {
  it.each([
    ['nothing to do', {}, 'shape', /at least one of rate, delay, jitter, loss, limit/],
    ['only undefined fields', { rate: undefined }, 'shape', /at least one/],
    ['jitter without delay', { jitter: '2ms' }, 'jitter', /needs delay/],
    ['jitter without delay, with a rate', { rate: '1mbit', jitter: 2 }, 'jitter', /needs delay/],
    ['a rate that is no rate', { rate: 'fast' }, 'rate', /not a rate/],
    ['a rate under a byte per second', { rate: 7 }, 'rate', /not a rate/],
    ['a negative delay', { delay: '-1ms' }, 'delay', /not a time/],
    ['a loss over 100%', { loss: '101%' }, 'loss', /percentage/],
    ['a queue of no packets', { limit: 0 }, 'limit', /./],
    ['a fractional queue', { limit: 1.5 }, 'limit', /./],
    ['an unknown field (a typo)', { rtae: '1mbit' }, 'rtae', /./],
    ['not an object', '10mbit', undefined, /object/],
  ])('%s', (_t, input, field, message) => {
    let err: unknown;
    try {
      parseShape(input, 'shape of v0');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe(field);
    expect((err as Error).message).toMatch(message);
  });

  it.each([
    [{ rate: '10mbit' }, { rate: 10_000_000 }],
    [
      { rate: 1e6, limit: 100 },
      { rate: 1_000_000, limit: 100 },
    ],
    [
      { delay: '10ms', jitter: '2ms', loss: '1%' },
      { delay: 10, jitter: 2, loss: 1 },
    ],
    [
      { delay: 10, loss: 0.5 },
      { delay: 10, loss: 0.5 },
    ],
    [{ delay: '500us' }, { delay: 0.5 }],
  ])('%j is kept as %j (bit/s, ms, percent, packets)', (input, kept) => {
    expect(parseShape(input, 'shape of v0')).toEqual(kept);
  });
});

describe('the qdisc a shape becomes', () => {
  it.each([
    // Without netem: the bucket holds 10 ms of traffic and at least two full frames; the queue 50 ms, or limit frames.
    ['rate, no netem', { rate: 10_000_000 }, false, { kind: 'tbf', options: { rate: 10_000_000, burst: 12_500, latency: 50 } }],
    [
      'a slow rate: two frames of bucket',
      { rate: 64_000 },
      false,
      { kind: 'tbf', options: { rate: 64_000, burst: 3028, latency: 50 } },
    ],
    [
      'rate and limit',
      { rate: 8_000_000, limit: 100 },
      false,
      { kind: 'tbf', options: { rate: 8_000_000, burst: 10_000, limit: 151_400 } },
    ],
    ['limit alone', { limit: 50 }, false, { kind: 'pfifo', options: { limit: 50 } }],
    [
      'with netem: one netem with everything',
      { rate: 1e6, delay: 10, jitter: 2, loss: 1, limit: 9 },
      true,
      { kind: 'netem', options: { rate: 1e6, delay: 10, jitter: 2, loss: 1, limit: 9 } },
    ],
  ])('%s', (_t, shape, netem, root) => {
    expect(shapedRoot(shape, netem, 1500, 'v0')).toEqual(root);
  });

  it.each([
    ['delay', { delay: 10 }, /delay needs the netem qdisc/],
    ['jitter', { delay: 10, jitter: 2 }, /delay, jitter need the netem qdisc/],
    ['loss, beside a rate', { rate: 1e6, loss: 1 }, /loss needs the netem qdisc/],
  ])('%s without netem is a TcError naming netem', (_t, shape, message) => {
    expect(() => shapedRoot(shape, false, 1500, 'v0')).toThrow(TcError);
    expect(() => shapedRoot(shape, false, 1500, 'v0')).toThrow(message);
  });
});

describe('the netem request a shape commits', () => {
  it('is byte-identical to tc qdisc replace ... netem delay 10ms 2ms loss 1% rate 10mbit limit 500', async () => {
    const fx = requests.find((r) => r.name.startsWith('netem as shape() makes it'));
    if (!fx) throw new Error('fixture missing');
    const shape = parseShape({ delay: '10ms', jitter: '2ms', loss: '1%', rate: '10mbit', limit: 500 }, 'shape of v0');
    const link = { netns: 'lab', ifname: 'v0', index: indexes.v0 as number };
    const base: RootTarget = { ...link, slot: 'root', kind: 'default' };
    const target: RootTarget = { ...link, slot: 'root', ...shapedRoot(shape, true, 1500, 'v0') };
    const [step, ...more] = tcSteps({ base, target });
    expect(more).toEqual([]);
    expect(step?.request).toMatchObject({ op: 'qdisc', cmd: 'replace' });
    // Its undo takes the default back by deleting the root.
    expect(step?.undo).toEqual([{ netns: 'lab', op: 'qdisc', cmd: 'del', spec: { index: link.index, parent: 'root' } }]);
    const req = await FAMILIES.qdisc.build('replace', step?.request.spec as Record<string, unknown>, ctx);
    const bytes = Buffer.from(fx.hex, 'hex');
    const ours = encodeToBuffer({
      type: req.type,
      flags: req.flags | NLM_F.ACK,
      seq: bytes.readUInt32LE(8),
      pid: 0,
      body: req.body,
    });
    expect(ours.toString('hex')).toBe(fx.hex);
  });
});
