/**
 * Which filter notifications make the store ask the kernel again: a u32
 * filter changed in place is announced with its old content (see
 * src/db/tc-refresh.ts), so every RTM_NEWTFILTER that is not an exclusive add
 * or a dump answer asks for its device's block again.
 */
import { describe, expect, it } from 'vitest';
import { replacedFilters } from '../../src/db/tc-refresh.js';

const RTM_NEWTFILTER = 44;
const RTM_DELTFILTER = 45;
const F = { REQUEST: 0x1, MULTI: 0x2, ACK: 0x4, EXCL: 0x200, CREATE: 0x400 };

/** nlmsghdr (16 bytes) + struct tcmsg (20 bytes), no attributes. */
function message(type: number, flags: number, index: number, parent: number): Buffer {
  const m = Buffer.alloc(36);
  m.writeUInt32LE(36, 0);
  m.writeUInt16LE(type, 4);
  m.writeUInt16LE(flags, 6);
  m.writeInt32LE(index, 20);
  m.writeUInt32LE(0x800800, 24);
  m.writeUInt32LE(parent, 28);
  return m;
}

describe('replacedFilters', () => {
  it.each([
    [
      'tc filter replace (CREATE, no EXCL)',
      RTM_NEWTFILTER,
      F.REQUEST | F.ACK | F.CREATE,
      0xffff0000,
      [{ index: 7, parent: 0xfffffff2 }],
    ],
    ['tc filter change (neither)', RTM_NEWTFILTER, F.REQUEST | F.ACK, 0xfffffff2, [{ index: 7, parent: 0xfffffff2 }]],
    ["clsact's egress block", RTM_NEWTFILTER, F.REQUEST | F.CREATE, 0xfffffff3, [{ index: 7, parent: 0xfffffff3 }]],
    [
      'tc filter add (CREATE|EXCL): the content is the new one',
      RTM_NEWTFILTER,
      F.REQUEST | F.ACK | F.CREATE | F.EXCL,
      0xffff0000,
      [],
    ],
    ['a dump answer (MULTI): never asks again', RTM_NEWTFILTER, F.MULTI, 0xfffffff2, []],
    ['a delete', RTM_DELTFILTER, F.REQUEST | F.ACK, 0xffff0000, []],
    ['a filter of a classful root (1:), not kept', RTM_NEWTFILTER, F.REQUEST | F.CREATE, 0x10000, []],
  ])('%s', (_t, type, flags, parent, expected) => {
    expect(replacedFilters([message(type, flags, 7, parent)])).toEqual(expected);
  });

  it('one question per device and block, however many announcements', () => {
    const replace = F.REQUEST | F.CREATE;
    const batch = [
      message(RTM_NEWTFILTER, replace, 7, 0xffff0000),
      message(RTM_NEWTFILTER, replace, 7, 0xfffffff2),
      message(RTM_NEWTFILTER, replace, 8, 0xffff0000),
      Buffer.alloc(20),
    ];
    expect(replacedFilters(batch)).toEqual([
      { index: 7, parent: 0xfffffff2 },
      { index: 8, parent: 0xfffffff2 },
    ]);
  });
});
