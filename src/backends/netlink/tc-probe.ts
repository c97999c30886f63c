/**
 * Whether the kernel has a qdisc kind, asked without changing anything.
 *
 * The question is a creation the kernel must refuse either way: `kind` on
 * the root of lo (index 1 in every namespace), with NLM_F_CREATE|EXCL and no
 * TCA_OPTIONS. The kernel looks the kind up first: unknown, it answers
 * ENOENT "Specified qdisc kind is unknown"; known, the qdisc's init refuses
 * to start without options (netem_init, tbf_init: EINVAL) and nothing is
 * attached. With EXCL, a root someone put on lo is never changed (EEXIST:
 * no answer). Only for kinds whose init needs options (netem).
 */
import { encodeToBuffer } from './codec/message.js';
import { AF, NLM_F } from './constants.js';
import { RTM_NEWQDISC, TC_H_ROOT } from './families/qdisc.js';
import { NetlinkSocket } from './socket.js';

const LOOPBACK_IFINDEX = 1;
const ENOENT = 2;
const EINVAL = 22;
const UNKNOWN_KIND = 'Specified qdisc kind is unknown';

/** Kinds whose init refuses a creation without options: the only ones this probe may ask about. */
export type ProbedKind = 'netem' | 'tbf';

/** Answers given, per kind: a kernel's qdiscs do not change while it runs (no modules here). */
const known = new Map<string, boolean>();

/** true or false once the kernel said; undefined when it would not say (lo has a root of its own). */
export async function qdiscKindKnown(kind: ProbedKind, netns?: string): Promise<boolean | undefined> {
  const cached = known.get(kind);
  if (cached !== undefined) return cached;
  const sock = new NetlinkSocket({ netns });
  try {
    const seq = sock.nextSeq();
    const bytes = encodeToBuffer({
      type: RTM_NEWQDISC,
      flags: NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL,
      seq,
      body: {
        header: { family: AF.UNSPEC, pad1: 0, pad2: 0, ifindex: LOOPBACK_IFINDEX, handle: 0, parent: TC_H_ROOT, info: 0 },
        attrs: { kind },
      },
    });
    const { errors } = await sock.exchange(bytes, seq, seq, false);
    const ack = errors.get(seq);
    let answer: boolean | undefined;
    if (ack?.error === -ENOENT && ack.extack?.msg?.startsWith(UNKNOWN_KIND)) answer = false;
    else if (ack?.error === -EINVAL) answer = true;
    if (answer !== undefined) known.set(kind, answer);
    return answer;
  } finally {
    sock.close();
  }
}

/** Whether a refusal is the kernel saying it has no such qdisc kind. */
export function isUnknownQdiscKind(errno: number | undefined, extack: string | undefined): boolean {
  return errno === ENOENT && (extack ?? '').startsWith(UNKNOWN_KIND);
}
