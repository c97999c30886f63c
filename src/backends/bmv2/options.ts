/**
 * What a BMv2 switch is started with, declared once (zod): the TypeScript
 * type of `new Bmv2Switch(options)` and the check run on it, so a bad field
 * is a ValidationError naming it before anything runs. And the command line
 * simple_switch_grpc takes, built from it in the order its option parsers
 * expect (RUNTIME-NOTES.md section B):
 *
 *   simple_switch_grpc --device-id N -i P@IF ... --thrift-port T
 *     [--log-console | --log-file F --log-flush] [-L LEVEL] [--pcap DIR]
 *     (PROGRAM.json | --no-p4) -- --grpc-server-addr HOST:PORT [--cpu-port C]
 *
 * Everything a switch listens on is explicit on its command line: BMv2
 * listens on Thrift port 9090 when `--thrift-port` is not given, so it is
 * always given (a build without Thrift takes `thriftPort: null`).
 */
import { ValidationError } from '../../errors.js';
import { type Cgroup, CgroupLimits } from '../cgroup.js';
import { validateNetnsName } from '../netns.js';
import { ifname, int, parseSpec, shown, spec, z } from '../schema.js';

/** BMv2's default gRPC address (target option --grpc-server-addr). */
export const DEFAULT_GRPC_ADDRESS = '0.0.0.0:9559';
/** BMv2's default Thrift port. */
export const DEFAULT_THRIFT_PORT = 9090;
export const DEFAULT_BINARY = 'simple_switch_grpc';
/** How long a start may take to listen on its ports (p4net's startup_timeout). */
export const DEFAULT_STARTUP_TIMEOUT = 10_000;
/** BMv2's --drop-port default: not a data port. */
const DROP_PORT = 511;

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'off'] as const;

/** A switch's name: what records and transactions call it. */
export const switchName = z
  .string({ error: (i) => `a switch name is a string, got ${shown(i.input)}` })
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,47}$/, { error: "a switch name is 1..48 letters, digits, '_', '.', '-'" });

const tcpPort = int(1, 65535, 'a TCP port');

/** host:port, the host an IPv4 address, a [bracketed] IPv6 address or a name. */
const grpcAddress = z
  .string({ error: (i) => `grpcAddress is 'host:port', got ${shown(i.input)}` })
  .refine((v) => splitHostPort(v) !== undefined, {
    error: (i) => `grpcAddress is 'host:port' ('0.0.0.0:9559', '[::1]:50051'), got ${shown(i.input)}`,
  });

/** The TCP port of a 'host:port' address, or undefined when it is not one. */
export function splitHostPort(address: string): { host: string; port: number } | undefined {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]/]+):(\d{1,5})$/.exec(address);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

const portNumber = z.string().regex(/^(0|[1-9]\d{0,2})$/, { error: 'a port number is 0..510' });

const isCgroup = (v: unknown): v is Cgroup =>
  typeof v === 'object' && v !== null && typeof (v as Cgroup).name === 'string' && Array.isArray((v as Cgroup).dirs);

const fields = {
  /** Its name (records, messages, the default output file); default `bmv2-<deviceId>`. */
  name: switchName.optional(),
  /** The executable: a name looked up on PATH, or a path (default simple_switch_grpc). */
  binary: z.string().min(1, { error: 'binary is a command name or a path' }).optional(),
  /** The compiled P4 program (BMv2 JSON). Exactly one of program and noP4. */
  program: z.string().min(1, { error: 'program is a path to a BMv2 JSON file' }).optional(),
  /** Start without a program (`--no-p4`): a switch that drops everything until one is pushed over P4Runtime. */
  noP4: z.boolean().optional(),
  /** Port number -> interface in the switch's namespace: `{ 1: 'veth1', 2: 'veth2' }`. */
  ports: z.record(portNumber, ifname, { error: "ports map port numbers to interfaces: { 1: 'veth1' }" }).optional(),
  /** --device-id (default 0): the P4Runtime device id. */
  deviceId: int(0, 0xffffffff, 'a device id').optional(),
  /** --thrift-port (default 9090); null for a build without Thrift (nothing is waited for there). */
  thriftPort: z.union([tcpPort, z.null()]).optional(),
  /** --grpc-server-addr, 'host:port' (default '0.0.0.0:9559'). */
  grpcAddress: grpcAddress.optional(),
  /** The port of the gRPC address, when only it is given ('0.0.0.0:PORT'). */
  grpcPort: tcpPort.optional(),
  /** --cpu-port: packet-in/out through P4Runtime (none by default; not a data port). */
  cpuPort: int(1, DROP_PORT - 1, 'a CPU port').optional(),
  /** BMv2's log: 'console' (--log-console, into `output`) or a file (--log-file F --log-flush); none by default. */
  log: z.string().min(1).optional(),
  /** -L: trace, debug, info, warn, error or off (BMv2's default is trace). */
  logLevel: z.enum(LOG_LEVELS).optional(),
  /** --pcap DIR: per-port pcap files (<ifname>_in.pcap, <ifname>_out.pcap); the directory is made. */
  pcap: z.string().min(1).optional(),
  /**
   * Where its stdout and stderr go (appended). Default: a file nobody else
   * sees (made and unlinked at once), read for the last lines of a failed
   * start: gone with the process.
   */
  output: z.string().min(1).optional(),
  /** The named namespace it runs in (the caller's own when omitted). */
  netns: z
    .string()
    .superRefine((v, ctx) => {
      try {
        validateNetnsName(v);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
      }
    })
    .optional(),
  /** CPU and memory limits: a cgroup of its own for each run. */
  limits: CgroupLimits.optional(),
  /** An existing cgroup (createCgroup) to run in. */
  cgroup: z.custom<Cgroup>(isCgroup, { error: 'cgroup is what createCgroup returned' }).optional(),
  /** Variables added to our environment for the process. */
  env: z.record(z.string(), z.string(), { error: 'env maps names to strings' }).optional(),
  /** How long waitUntilReady waits by default (ms, default 10 000). */
  startupTimeout: int(1, 3_600_000, 'milliseconds').optional(),
};

/** `new Bmv2Switch(options)`. */
export const Bmv2Options = spec(fields);
export type Bmv2OptionsInput = z.input<typeof Bmv2Options>;

/** Options with every default filled in, as a switch keeps them. */
export interface Bmv2Config {
  name: string;
  binary: string;
  program?: string;
  noP4: boolean;
  /** Sorted by port number. */
  ports: [number, string][];
  deviceId: number;
  thriftPort: number | null;
  grpcAddress: string;
  grpcPort: number;
  cpuPort?: number;
  log?: string;
  logLevel?: (typeof LOG_LEVELS)[number];
  pcap?: string;
  output?: string;
  netns?: string;
  limits?: z.output<typeof CgroupLimits>;
  cgroup?: Cgroup;
  env?: Record<string, string>;
  startupTimeout: number;
}

/** Checks options and fills in the defaults; a ValidationError naming the field otherwise. */
export function parseBmv2Options(input: unknown, what = 'Bmv2Switch'): Bmv2Config {
  const o = parseSpec(Bmv2Options, input, what);
  const refuse = (message: string, field: string): never => {
    throw new ValidationError(`${what}: ${field}: ${message}`, field);
  };
  if ((o.program === undefined) === (o.noP4 !== true)) {
    refuse('give a program (BMv2 JSON) or noP4: true, one of them', o.program === undefined ? 'program' : 'noP4');
  }
  const ports = Object.entries(o.ports ?? {})
    .map(([p, i]) => [Number(p), i] as [number, string])
    .sort((a, b) => a[0] - b[0]);
  const seen = new Map<string, number>();
  for (const [p, i] of ports) {
    if (p === DROP_PORT) refuse(`port ${DROP_PORT} is BMv2's drop port`, `ports.${p}`);
    const before = seen.get(i);
    if (before !== undefined) refuse(`interface ${i} is port ${before} already`, `ports.${p}`);
    seen.set(i, p);
  }
  if (o.cpuPort !== undefined && ports.some(([p]) => p === o.cpuPort)) {
    refuse(`cpu port ${o.cpuPort} is a data port (BMv2 exits: "Cpu port ${o.cpuPort} is used as a data port")`, 'cpuPort');
  }
  if (o.grpcAddress !== undefined && o.grpcPort !== undefined && splitHostPort(o.grpcAddress)?.port !== o.grpcPort) {
    refuse(`grpcPort ${o.grpcPort} is not the port of grpcAddress ${o.grpcAddress}`, 'grpcPort');
  }
  const address = o.grpcAddress ?? (o.grpcPort !== undefined ? `0.0.0.0:${o.grpcPort}` : DEFAULT_GRPC_ADDRESS);
  const grpcPort = (splitHostPort(address) as { port: number }).port;
  const thriftPort = o.thriftPort === undefined ? DEFAULT_THRIFT_PORT : o.thriftPort;
  if (thriftPort === grpcPort) refuse(`the Thrift and gRPC ports are both ${grpcPort}`, 'thriftPort');
  if (o.limits && o.cgroup) refuse('give limits or cgroup, not both', 'limits');
  const deviceId = o.deviceId ?? 0;
  const c: Bmv2Config = {
    name: o.name ?? `bmv2-${deviceId}`,
    binary: o.binary ?? DEFAULT_BINARY,
    noP4: o.noP4 === true,
    ports,
    deviceId,
    thriftPort,
    grpcAddress: address,
    grpcPort,
    startupTimeout: o.startupTimeout ?? DEFAULT_STARTUP_TIMEOUT,
  };
  for (const k of ['program', 'cpuPort', 'log', 'logLevel', 'pcap', 'output', 'netns', 'limits', 'cgroup', 'env'] as const) {
    if (o[k] !== undefined) (c as unknown as Record<string, unknown>)[k] = o[k];
  }
  return c;
}

/** The arguments after the executable, in the order simple_switch_grpc's parsers take them. */
export function bmv2Args(c: Bmv2Config): string[] {
  const args = ['--device-id', String(c.deviceId)];
  for (const [port, ifname] of c.ports) args.push('-i', `${port}@${ifname}`);
  if (c.thriftPort !== null) args.push('--thrift-port', String(c.thriftPort));
  if (c.log === 'console') args.push('--log-console');
  else if (c.log !== undefined) args.push('--log-file', c.log, '--log-flush');
  if (c.logLevel !== undefined) args.push('-L', c.logLevel);
  if (c.pcap !== undefined) args.push('--pcap', c.pcap);
  args.push(c.noP4 ? '--no-p4' : (c.program as string));
  args.push('--', '--grpc-server-addr', c.grpcAddress);
  if (c.cpuPort !== undefined) args.push('--cpu-port', String(c.cpuPort));
  return args;
}
