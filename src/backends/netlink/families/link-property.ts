/**
 * Link properties: alternative names of a link (`ip link property add dev
 * X altname Y`, `ip link property del dev X altname Y`), kernel 5.5+.
 *
 * A request is RTM_NEWLINKPROP / RTM_DELLINKPROP with the link's ifinfomsg
 * and IFLA_PROP_LIST { IFLA_ALT_IFNAME }, byte for byte as iproute2 sends it
 * (add: REQUEST|ACK|CREATE|EXCL|APPEND). The kernel announces the change as
 * an RTM_NEWLINK only when the link is up (netdev_state_change): for a link
 * that is down, read it back.
 */
import { field, ifindex, ifname as ifnameField, Refusal, shown, spec, type z } from '../../schema.js';
import type { Body } from '../codec/attributes.js';
import { AF, NLM_F } from '../constants.js';
import type { BuildContext, Request } from './family.js';

export const RTM_NEWLINKPROP = 108;
export const RTM_DELLINKPROP = 109;

/** ALTIFNAMSIZ: an alternative name is up to 127 bytes. */
const ALTIFNAMSIZ = 128;

/** An alternative name: as an interface name (no '/', ':', whitespace), up to 127 bytes. */
export const altname = field<string, string>((v) => {
  if (typeof v !== 'string') return new Refusal(`an alternative name is a string, not ${shown(v)}`);
  if (v.length === 0) return new Refusal('an alternative name cannot be empty');
  if (Buffer.byteLength(v) >= ALTIFNAMSIZ) return new Refusal(`"${v.slice(0, 40)}…" is longer than 127 bytes`);
  if (v === '.' || v === '..' || /[/:\s\0]/.test(v)) {
    return new Refusal(`${JSON.stringify(v)} is not a valid name (no '/', ':', whitespace or NUL, not '.' or '..')`);
  }
  return v;
});

/** `{ ifname: 'v0', altname: 'uplink-to-core' }` (or the link by index). */
export const AltnameSpec = spec({
  ifname: ifnameField.optional(),
  index: ifindex.optional(),
  altname,
});
export type AltnameSpec = z.input<typeof AltnameSpec>;

/** The request adding or removing one alternative name of a link. */
export async function buildAltname(cmd: 'add' | 'del', s: z.output<typeof AltnameSpec>, ctx: BuildContext): Promise<Request> {
  const index = s.index ?? (s.ifname !== undefined ? await ctx.index(s.ifname, 'ifname') : 0);
  const body: Body = {
    header: { family: AF.UNSPEC, pad: 0, ifi_type: 0, index, flags: 0, change: 0 },
    attrs: { prop_list: { alt_ifname: [s.altname] } },
  };
  return cmd === 'add'
    ? { type: RTM_NEWLINKPROP, flags: NLM_F.REQUEST | NLM_F.CREATE | NLM_F.EXCL | NLM_F.APPEND, body }
    : { type: RTM_DELLINKPROP, flags: NLM_F.REQUEST, body };
}
