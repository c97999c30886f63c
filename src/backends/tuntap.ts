/**
 * tun/tap devices, made the way `ip tuntap add` makes them. The kernel has
 * no netlink request that creates one (RTM_NEWLINK of kind "tun" is refused:
 * "tun/tap creation via rtnetlink is not supported."): a device is made by
 * opening /dev/net/tun and issuing ioctls on it,
 *
 *   [TUNSETIFINDEX] -> TUNSETIFF -> [TUNSETOWNER] -> [TUNSETGROUP] -> TUNSETPERSIST(1) -> close
 *
 * and removed like any link (RTM_DELLINK). Dumps show it as kind "tun" with
 * IFLA_TUN_* data (type, pi, vnet_hdr, persist, multi_queue, owner, group).
 *
 * The device belongs to the namespace the /dev/net/tun file was OPENED in:
 * tun_chr_open() allocates the file's socket in current->nsproxy->net_ns and
 * every later ioctl uses that socket's namespace, whichever namespace the
 * caller is in by then. So only the open() runs inside the target namespace.
 */
import { PrivilegeError, TuntapError } from '../errors.js';
import { EACCES, EBUSY, EINVAL, ENOENT, EPERM, errnoName } from './errno.js';
import { lastErrno, O_CLOEXEC, O_RDWR, sys } from './libc.js';
import { inNetns } from './netns.js';
import { ifname, int, linkState, mac, parseSpec, shown, spec, u32, z } from './schema.js';

const TUN_DEVICE = '/dev/net/tun';

/** <linux/if_tun.h>, checked against the system headers with a C program. */
export const TUNSETIFF = 0x400454ca;
export const TUNSETPERSIST = 0x400454cb;
export const TUNSETOWNER = 0x400454cc;
export const TUNSETGROUP = 0x400454ce;
export const TUNSETIFINDEX = 0x400454da;
export const IFF_TUN = 0x0001;
export const IFF_TAP = 0x0002;
export const IFF_MULTI_QUEUE = 0x0100;
export const IFF_PERSIST = 0x0800;
export const IFF_NO_PI = 0x1000;
export const IFF_VNET_HDR = 0x4000;
/** Fail with EBUSY when the name exists, instead of attaching to an existing tun/tap of that name. */
export const IFF_TUN_EXCL = 0x8000;

/** struct ifreq on 64-bit Linux: ifr_name[16], then a union whose first member is short ifr_flags. */
const IFREQ_SIZE = 40;
const IFR_FLAGS_OFFSET = 16;
const IFNAMSIZ = 16;

/** uid_t / gid_t; (uid_t)-1 means "nobody" and TUNSETOWNER refuses it with EINVAL. */
const id = int(0, 0xfffffffe);

const tuntapShape = {
  /** The device name; one '%d' lets the kernel pick the number ('tap%d' -> 'tap0'). */
  ifname,
  mode: z.enum(['tun', 'tap'], { error: (i) => `expected 'tun' or 'tap', got ${shown(i.input)}` }),
  /** uid allowed to attach to the device without CAP_NET_ADMIN (`ip tuntap ... user`). */
  owner: id.optional(),
  /** gid allowed likewise (`ip tuntap ... group`). */
  group: id.optional(),
  /** Packet information header in front of each frame; off by default, as in iproute2 (IFF_NO_PI). */
  pi: z.boolean().optional(),
  vnet_hdr: z.boolean().optional(),
  multi_queue: z.boolean().optional(),
  /** The ifindex the device gets (TUNSETIFINDEX); the kernel picks one when omitted. */
  index: int(1, 0x7fffffff).optional(),
  /** Always true: a device that is not persistent dies with the file descriptor, closed on return. */
  persist: z
    .literal(true, { error: () => 'a tun/tap made here is always persistent (it would die with its file descriptor)' })
    .optional(),
};

/** Options of a tun/tap device: `createTuntap({ ifname: 'tap0', mode: 'tap', owner: 1000 })`. */
export const TuntapSpec = spec(tuntapShape);
export type TuntapSpec = z.input<typeof TuntapSpec>;

const alias = z.string().refine((v) => Buffer.byteLength(v) <= 255, { error: 'expected a string of at most 255 bytes' });

/**
 * `nl.link('add', { kind: 'tuntap', ifname: 'tap0', mode: 'tap' })`, as
 * pyroute2's IPRoute takes it (`uid`/`gid` are its names for owner/group),
 * plus link attributes applied right after creation with one `link set`.
 */
export const TuntapLinkSpec = spec({
  ...tuntapShape,
  kind: z.literal('tuntap'),
  uid: id.optional(),
  gid: id.optional(),
  state: linkState.optional(),
  mtu: int(68, 0x7fffffff).optional(),
  address: mac.optional(),
  txqlen: u32.optional(),
  master: z.union([ifname, int(1, 0x7fffffff)], { error: 'expected an interface name or index' }).optional(),
  alias: alias.optional(),
  ifalias: alias.optional(),
}).superRefine((s, ctx) => {
  for (const [a, b] of [
    ['owner', 'uid'],
    ['group', 'gid'],
    ['alias', 'ifalias'],
  ] as const) {
    if (s[a] !== undefined && s[b] !== undefined) {
      ctx.addIssue({ code: 'custom', path: [b], message: `${b} is another name for ${a}: give one of them` });
    }
  }
});
export type TuntapLinkSpec = z.input<typeof TuntapLinkSpec>;

/** What was made: the name the kernel gave the device (the pattern filled in). */
export interface TuntapResult {
  ifname: string;
}

/** Whether a `link add` spec asks for a tun/tap device (made by ioctl, not by netlink). */
export function isTuntapSpec(input: unknown): boolean {
  return typeof input === 'object' && input !== null && (input as { kind?: unknown }).kind === 'tuntap';
}

/** ifr_flags for a spec: the mode, IFF_NO_PI unless `pi`, and IFF_TUN_EXCL as iproute2 sets it. */
export function tuntapFlags(s: z.output<typeof TuntapSpec>): number {
  let flags = (s.mode === 'tap' ? IFF_TAP : IFF_TUN) | IFF_TUN_EXCL;
  if (!s.pi) flags |= IFF_NO_PI;
  if (s.vnet_hdr) flags |= IFF_VNET_HDR;
  if (s.multi_queue) flags |= IFF_MULTI_QUEUE;
  return flags;
}

/**
 * Creates a persistent tun or tap device in `netns` (the root namespace when
 * omitted), like `ip -n NETNS tuntap add dev NAME mode MODE ...`. Bad input
 * is a ValidationError before any system call; a kernel refusal is a
 * TuntapError naming the ioctl, the errno and the device. Until
 * TUNSETPERSIST succeeds the device lives only as long as the file
 * descriptor, so a failure at any step leaves nothing behind.
 */
export function createTuntap(input: TuntapSpec, { netns }: { netns?: string } = {}): TuntapResult {
  const s = parseSpec(TuntapSpec, input, 'tuntap add');
  const where = netns === undefined ? 'the root namespace' : `namespace "${netns}"`;
  const fd = openTunIn(netns, s.ifname);
  try {
    if (s.index !== undefined) {
      const index = Buffer.alloc(4);
      index.writeUInt32LE(s.index);
      tunIoctl(fd, 'TUNSETIFINDEX', TUNSETIFINDEX, ['void *', index], s.ifname, where);
    }
    const ifr = Buffer.alloc(IFREQ_SIZE);
    ifr.write(s.ifname, 0, IFNAMSIZ - 1, 'utf8');
    ifr.writeUInt16LE(tuntapFlags(s), IFR_FLAGS_OFFSET);
    tunIoctl(fd, 'TUNSETIFF', TUNSETIFF, ['void *', ifr], s.ifname, where, s.index);
    // The kernel writes back the name it gave the device ('tap%d' -> 'tap0').
    const name = ifr.subarray(0, IFNAMSIZ);
    const made = name.toString('utf8', 0, name.indexOf(0) < 0 ? IFNAMSIZ : name.indexOf(0));
    if (s.owner !== undefined) tunIoctl(fd, 'TUNSETOWNER', TUNSETOWNER, ['ulong', s.owner], made, where);
    if (s.group !== undefined) tunIoctl(fd, 'TUNSETGROUP', TUNSETGROUP, ['ulong', s.group], made, where);
    tunIoctl(fd, 'TUNSETPERSIST', TUNSETPERSIST, ['ulong', 1], made, where);
    return { ifname: made };
  } finally {
    sys.close(fd);
  }
}

/** What `addTuntapLink` needs of an Rtnl in the same namespace. */
export interface LinkOps {
  set(spec: Record<string, unknown>): Promise<unknown>;
  del(spec: Record<string, unknown>): Promise<unknown>;
}

/**
 * `link add` of kind 'tuntap': the device is created by ioctl, then the
 * link attributes of the spec (state, mtu, address, txqlen, master, alias)
 * are set with one request. If that request is refused the device is
 * removed again, so the call is all or nothing.
 */
export async function addTuntapLink(input: unknown, netns: string | undefined, link: LinkOps): Promise<void> {
  const {
    kind: _kind,
    uid,
    gid,
    state,
    mtu,
    address,
    txqlen,
    master,
    alias,
    ifalias,
    owner,
    group,
    ...rest
  } = parseSpec(TuntapLinkSpec, input, 'link add');
  const made = createTuntap({ ...rest, owner: owner ?? uid, group: group ?? gid }, { netns });
  const attrs = Object.fromEntries(
    Object.entries({ state, mtu, address, txqlen, master, alias: alias ?? ifalias }).filter(([, v]) => v !== undefined),
  );
  if (Object.keys(attrs).length === 0) return;
  try {
    await link.set({ ifname: made.ifname, ...attrs });
  } catch (e) {
    await link.del({ ifname: made.ifname }).catch(() => undefined);
    throw e;
  }
}

/**
 * The spec that makes a device like the one a dump shows (kind 'tun' and
 * its IFLA_TUN_* data), index included; undefined for any other link.
 */
export function tuntapSpecOf(link: {
  ifname: string;
  index?: number;
  kind?: string;
  data?: Record<string, unknown>;
}): z.output<typeof TuntapSpec> | undefined {
  if (link.kind !== 'tun' || !link.data) return undefined;
  const d = link.data;
  const out: z.output<typeof TuntapSpec> = {
    ifname: link.ifname,
    mode: d.type === IFF_TAP ? 'tap' : 'tun',
    pi: Boolean(d.pi),
    vnet_hdr: Boolean(d.vnet_hdr),
    multi_queue: Boolean(d.multi_queue),
  };
  if (typeof d.owner === 'number') out.owner = d.owner;
  if (typeof d.group === 'number') out.group = d.group;
  if (link.index !== undefined) out.index = link.index;
  return out;
}

/** /dev/net/tun opened inside `netns`: the namespace the device will belong to. */
export function openTunIn(netns: string | undefined, name: string): number {
  const fd = inNetns(netns, () => sys.open(TUN_DEVICE, O_RDWR | O_CLOEXEC, 0));
  if (fd >= 0) return fd;
  const errno = lastErrno();
  if (errno === EACCES || errno === EPERM) {
    throw new PrivilegeError(`opening ${TUN_DEVICE} for "${name}" needs root; run as root`);
  }
  const why = errno === ENOENT ? `${TUN_DEVICE} does not exist (no tun driver: modprobe tun)` : `cannot open ${TUN_DEVICE}`;
  throw new TuntapError('open', errno, errnoName(errno), name, why);
}

type IoctlArg = ['void *', Buffer] | ['ulong', number];

function tunIoctl(fd: number, call: string, request: number, arg: IoctlArg, name: string, where: string, index?: number): void {
  if (sys.ioctl(fd, request, ...arg) === 0) return;
  const errno = lastErrno();
  if (errno === EPERM && sys.geteuid() !== 0) {
    throw new PrivilegeError(`creating tun/tap "${name}" in ${where} needs CAP_NET_ADMIN; run as root`);
  }
  throw new TuntapError(call, errno, errnoName(errno), name, `"${name}" in ${where}: ${reason(call, errno, index)}`);
}

function reason(call: string, errno: number, index: number | undefined): string {
  if (call === 'TUNSETIFF' && errno === EBUSY) {
    return index === undefined
      ? 'an interface of that name exists already'
      : `an interface of that name, or index ${index}, exists already`;
  }
  if (call === 'TUNSETIFF' && errno === EINVAL) return 'the kernel refused the name or the flags';
  if ((call === 'TUNSETOWNER' || call === 'TUNSETGROUP') && errno === EINVAL)
    return 'the id has no mapping in this user namespace';
  if (errno === EPERM) return 'not permitted (CAP_NET_ADMIN in the namespace is needed)';
  return 'refused by the kernel';
}
