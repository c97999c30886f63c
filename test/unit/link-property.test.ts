/**
 * Alternative names (`ip link property add|del dev X altname Y`): the bytes
 * iproute2 6.1 sent (captured with test/fixtures/capture.sh, link index 3),
 * and the refusals before any request.
 */
import { describe, expect, it } from 'vitest';
import { encodeToBuffer } from '../../src/backends/netlink/codec/message.js';
import { NLM_F } from '../../src/backends/netlink/constants.js';
import { AltnameSpec, buildAltname } from '../../src/backends/netlink/families/link-property.js';
import { parseSpec } from '../../src/backends/schema.js';
import { ValidationError } from '../../src/errors.js';

const ctx = { index: async () => 3, netnsFd: () => -1 };
const BODY = '0000000003000000000000000000000010003480' + '0a003500' + '6430616c74000000';

describe('altname requests are byte-identical to iproute2', () => {
  it.each([
    ['add', 'ip link property add dev d0 altname d0alt', `300000006c00050e0100000000000000${BODY}`],
    ['del', 'ip link property del dev d0 altname d0alt', `300000006d0005000100000000000000${BODY}`],
  ] as const)('%s: %s', async (cmd, _command, hex) => {
    const req = await buildAltname(cmd, parseSpec(AltnameSpec, { ifname: 'd0', altname: 'd0alt' }, 'altname'), ctx);
    expect(encodeToBuffer({ type: req.type, flags: req.flags | NLM_F.ACK, seq: 1, pid: 0, body: req.body }).toString('hex')).toBe(
      hex,
    );
  });

  it.each([
    ['empty', ''],
    ['a slash', 'a/b'],
    ['whitespace', 'a b'],
    ['a colon', 'a:1'],
    ['128 bytes', 'x'.repeat(128)],
    ['a number', 7],
  ])('refuses %s', (_title, altname) => {
    expect(() => parseSpec(AltnameSpec, { ifname: 'd0', altname }, 'altname')).toThrow(ValidationError);
  });

  it('takes 127 bytes', () => {
    expect(parseSpec(AltnameSpec, { ifname: 'd0', altname: 'x'.repeat(127) }, 'altname').altname).toHaveLength(127);
  });
});
