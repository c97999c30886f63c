/** The quantities with units and the names of lab things, table by table. */
import { describe, expect, test } from 'vitest';
import {
  labNameProblem,
  labNamespace,
  labTag,
  namespacesOfLab,
  nodeNameProblem,
  parseLabNamespace,
} from '../../../src/runtime/lab/names.js';
import { closest } from '../../../src/runtime/lab/suggest.js';
import {
  formatMemory,
  formatRate,
  formatTime,
  readLoss,
  readMemory,
  readRate,
  readTime,
} from '../../../src/runtime/lab/units.js';

type Row = [unknown, number | string];

describe('units', () => {
  const readers = { readRate, readTime, readLoss, readMemory };
  // A number is the value read; a string is a part of the problem's text.
  const rows: [keyof typeof readers, Row[]][] = [
    [
      'readRate',
      [
        ['10mbit', 10e6],
        ['1.5gbit', 1.5e9],
        ['500kbit', 500e3],
        ['64bit', 64],
        ['1kibit', 1024],
        ['2Mbit', 2e6],
        ['10mbps', 'BYTES per second; write 80mbit'],
        ['1kbps', 'BYTES per second'],
        [1000, 'needs a unit'],
        ['10', 'is not a rate'],
        ['10 xbit', 'unknown rate unit'],
        ['4bit', 'below 8bit'],
        [null, 'expected a rate'],
      ],
    ],
    [
      'readTime',
      [
        ['10ms', 10_000],
        ['1s', 1e6],
        ['250us', 250],
        ['1.5ms', 1500],
        ['2 msec', 2000],
        ['0ms', 0],
        [10, 'needs a unit'],
        ['2h', 'unknown time unit'],
        ['7200s', 'more than an hour'],
        ['-1ms', 'is not a time'],
      ],
    ],
    [
      'readLoss',
      [
        ['1%', 1],
        ['0.5%', 0.5],
        [2, 2],
        [0, 0],
        ['100%', 100],
        ['150%', 'in 0..100'],
        [-1, 'in 0..100'],
        ['1', 'expected a loss'],
      ],
    ],
    [
      'readMemory',
      [
        ['256M', 256 * 2 ** 20],
        ['1G', 2 ** 30],
        ['512Mi', 512 * 2 ** 20],
        ['64MB', 64 * 2 ** 20],
        ['64MiB', 64 * 2 ** 20],
        ['4096k', 4 * 2 ** 20],
        [8388608, 8388608],
        ['1K', 'less than 4M'],
        [1000, 'less than 4M'],
        ['lots', 'not a memory size'],
        ['10B', 'not a memory size'],
        [true, 'expected a memory size'],
      ],
    ],
  ];
  test.each(rows.flatMap(([reader, cases]) => cases.map(([input, want]) => [reader, input, want] as const)))(
    '%s(%j)',
    (reader, input, want) => {
      const r = readers[reader](input);
      if (typeof want === 'number') expect(r).toEqual({ value: want });
      else expect('problem' in r && r.problem).toContain(want);
    },
  );

  test.each([
    [formatRate, 10e6, '10mbit'],
    [formatRate, 1500e3, '1500kbit'],
    [formatRate, 1e9, '1gbit'],
    [formatRate, 1234, '1234bit'],
    [formatTime, 10_000, '10ms'],
    [formatTime, 2e6, '2s'],
    [formatTime, 1500, '1500us'],
    [formatTime, 0, '0us'],
    [formatMemory, 256 * 2 ** 20, '256M'],
    [formatMemory, 2 ** 30, '1G'],
    [formatMemory, 5000 * 1024, '5000K'],
    [formatMemory, 4194305, '4194305'],
  ] as const)('%o(%d) = %s, read back the same', (format, value, text) => {
    expect(format(value)).toBe(text);
    const reader = format === formatRate ? readRate : format === formatTime ? readTime : readMemory;
    if (value >= 8 && (format !== formatMemory || value >= 4 * 2 ** 20)) expect(reader(text)).toEqual({ value });
  });
});

describe('names', () => {
  test.each([
    ['demo', undefined],
    ['p4-lab1', undefined],
    ['a', undefined],
    ['0123456789abcdef', undefined],
    ['0123456789abcdefg', 'longer than 16'],
    ['Demo', 'not a lab name'],
    ['-demo', 'not a lab name'],
    ['demo-', 'not a lab name'],
    ['de.mo', 'not a lab name'],
    ['', 'not a lab name'],
    [7, 'a lab name is a string'],
  ] as const)('lab name %j', (name, problem) => {
    if (problem === undefined) expect(labNameProblem(name)).toBeUndefined();
    else expect(labNameProblem(name)).toContain(problem);
  });

  test.each([
    ['h1', undefined],
    ['Spine_1', undefined],
    ['a-b', undefined],
    ['abcdefghijklmno', undefined],
    ['abcdefghijklmnop', 'longer than 15'],
    ['_h', 'not a node name'],
    ['h.1', 'not a node name'],
    ['h 1', 'not a node name'],
  ] as const)('node name %j', (name, problem) => {
    if (problem === undefined) expect(nodeNameProblem(name)).toBeUndefined();
    else expect(nodeNameProblem(name)).toContain(problem);
  });

  test('a node namespace carries the lab name; two labs with an h1 do not collide', () => {
    expect(labNamespace('demo', 'h1')).toBe('demo.h1');
    expect(labNamespace('test', 'h1')).not.toBe(labNamespace('demo', 'h1'));
    expect(labTag('demo')).toBe('demo.');
    expect(parseLabNamespace('demo.h1')).toEqual({ lab: 'demo', node: 'h1' });
    expect(parseLabNamespace('p4-lab.s1')).toEqual({ lab: 'p4-lab', node: 's1' });
    for (const other of ['demo', 'nst-123', 'Demo.h1', 'demo.', '.h1', 'demo.h.1'])
      expect(parseLabNamespace(other)).toBeUndefined();
  });

  test("with '-' in lab names, containerlab-style names would be ambiguous; these are not", () => {
    // clab-a-b-c: lab a-b node c, or lab a node b-c?
    const pairs = [
      ['a-b', 'c'],
      ['a', 'b-c'],
    ] as const;
    const names = pairs.map(([lab, node]) => labNamespace(lab, node));
    expect(new Set(names).size).toBe(2);
    expect(names.map((n) => parseLabNamespace(n))).toEqual(pairs.map(([lab, node]) => ({ lab, node })));
    // lab down "a" takes a.* only, never lab a-b's namespaces.
    expect(namespacesOfLab('a', ['a.b-c', 'a-b.c', 'a.h1', 'ab.h1', 'nst-1', 'a'])).toEqual(['a.b-c', 'a.h1']);
  });

  test.each([
    ['hots', ['host', 'bridge', 'bmv2'], 'host'],
    ['cpus', ['cpu', 'memory'], 'cpu'],
    ['grpc_port', ['grpc-port', 'thrift-port'], 'grpc-port'],
    ['deviceId', ['device-id'], 'device-id'],
    ['h3', ['h1', 'h2'], 'h1'],
    ['xyz', ['host', 'bridge'], undefined],
    ['a', ['b'], undefined],
  ] as const)('did you mean: %s -> %s', (word, known, want) => {
    expect(closest(word, known)).toBe(want);
  });
});
