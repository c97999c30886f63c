/**
 * Values no spec field should take, for fuzz tests: every JavaScript type
 * where another is expected, numbers out of any range, and strings that
 * look right but are not ('10.0.0.01', '10.0.0.0/024', 'v0 ').
 */
import type { Random } from './random.js';

/** What a hostile getter throws: the one foreign error a ValidationError may carry as its cause. */
export class HostileGetterError extends Error {
  override name = 'HostileGetterError';
}

function circular(): Record<string, unknown> {
  const o: Record<string, unknown> = { a: 1 };
  o.self = o;
  return o;
}

function deep(levels: number): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < levels; i++) v = { nested: v };
  return v;
}

/** Shared parts: walking it as a tree takes 2^levels steps (a naive JSON.stringify never returns). */
function dag(levels: number): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < levels; i++) v = { left: v, right: v };
  return v;
}

function hostile(): object {
  return Object.defineProperty({}, 'ifname', {
    enumerable: true,
    get() {
      throw new HostileGetterError('a getter that throws');
    },
  });
}

const NUMBERS = [
  -1,
  -0,
  0.5,
  1.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  2 ** 64,
  1e30,
  -1e30,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
];

const STRINGS = [
  '',
  ' ',
  'x',
  '1400',
  '0x10',
  '1e3',
  '-1',
  '１２',
  'v0 ',
  ' v0',
  'a/b',
  'a:b',
  'a\0b',
  '.',
  '..',
  'a-very-long-interface-name',
  '10.0.0.01',
  '10.0.0.256',
  '10.0.0',
  '10.0.0.0/024',
  '10.0.0.0/33',
  '10.0.0.0/-1',
  '10.0.0.0/',
  '2001:db8::1%eth0',
  '2001:db8:::1',
  '::ffff:10.0.0.1/129',
  '02:00:00:00:00',
  '02:00:00:00:00:00:00',
  'gg:00:00:00:00:00',
  '02-00-00-00-00-01',
  '1e30bit',
  '10constructor',
  '10 mbit',
  '-5ms',
  '101%',
  '1:2:3',
  'ffff0:',
  '__proto__',
  'toString',
  'constructor',
  'hasOwnProperty',
  'x'.repeat(70000),
  '\u{1F600}',
  '\uD800',
];

/** Objects junk() made that no field of any spec takes (their keys are unknown everywhere, or reading them throws). */
const POISON = new WeakSet<object>();

function poisoned<T extends object>(o: T): T {
  POISON.add(o);
  return o;
}

/**
 * A value every field of every spec refuses, wherever it is put: BigInt
 * (no top-level field is a u64), symbols, functions, NaN and infinities,
 * and the cyclic, shared and hostile objects junk() makes.
 */
export function isPoison(v: unknown): boolean {
  if (typeof v === 'bigint' || typeof v === 'symbol' || typeof v === 'function') return true;
  if (typeof v === 'number') return !Number.isFinite(v);
  return typeof v === 'object' && v !== null && POISON.has(v);
}

/** One hostile value, of any type. */
export function junk(rnd: Random): unknown {
  switch (rnd.int(0, 11)) {
    case 0:
      return rnd.pick(NUMBERS);
    case 1:
    case 2:
      return rnd.pick(STRINGS);
    case 3:
      return rnd.pick([0n, 1n, -1n, 2n ** 64n, 10n ** 40n]);
    case 4:
      return rnd.pick([null, true, false]);
    case 5:
      return rnd.pick([Symbol('junk'), () => 1, function named() {}, class K {}]);
    case 6:
      return rnd.pick([[], [1, 2], ['v0'], [null], [{}], new Array(3)]);
    case 7:
      return rnd.pick([{}, { a: 1 }, { ifname: 'v0' }, Object.create(null), { __proto__: { inherited: 1 } }]);
    case 8:
      return rnd.pick([
        poisoned(circular()),
        deep(rnd.int(2, 3000)),
        poisoned(dag(rnd.int(20, 60)) as object),
        poisoned(hostile()),
      ]);
    case 9:
      return rnd.pick([new Date(0), new Map([['a', 1]]), new Set([1]), /re/, Buffer.from('ab'), new Uint8Array(4)]);
    case 10:
      return rnd.pick([new Error('an error object'), Promise.resolve(1), new Proxy({}, {}), new Number(5), new String('v0')]);
    default:
      return undefined;
  }
}
