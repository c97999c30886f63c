/**
 * Traffic-control arithmetic as iproute2's tc does it (tc_core.c, utils.c):
 * rates, sizes and times from the strings users write, and the kernel's
 * scheduler ticks from /proc/net/psched. Matching tc's rounding is what makes
 * our requests byte-identical to `tc qdisc ...`.
 */
import { readFileSync } from 'node:fs';

export const TIME_UNITS_PER_SEC = 1_000_000;

let tickInUsec: number | undefined;

/** Ticks per microsecond of the packet scheduler, as tc_core_init() computes it. */
export function ticksPerUsec(): number {
  if (tickInUsec !== undefined) return tickInUsec;
  let t2us = 1000;
  let us2t = 64;
  let clockRes = 1_000_000;
  try {
    const [a, b, c] = readFileSync('/proc/net/psched', 'utf8')
      .trim()
      .split(/\s+/)
      .map((h) => Number.parseInt(h, 16)) as [number, number, number];
    t2us = a;
    us2t = b;
    clockRes = c;
  } catch {
    // No /proc: keep the values every current kernel reports.
  }
  if (clockRes === 1_000_000_000) t2us = us2t;
  const clockFactor = clockRes / TIME_UNITS_PER_SEC;
  tickInUsec = (t2us / us2t) * clockFactor;
  return tickInUsec;
}

/** tc_core_time2tick: the time is truncated to whole microseconds first, as tc does. */
export function usecToTicks(usec: number): number {
  return Math.floor(Math.trunc(usec) * ticksPerUsec()) >>> 0;
}

export function ticksToUsec(ticks: number): number {
  return ticks / ticksPerUsec();
}

/** tc_calc_xmittime: ticks to send `size` bytes at `rate` bytes/s. */
export function xmitTime(rateBytes: number, size: number): number {
  return usecToTicks((TIME_UNITS_PER_SEC * size) / rateBytes);
}

/** tc's bit-rate units, in bits per second. */
export const BIT_RATE_UNITS: Readonly<Record<string, number>> = {
  bit: 1,
  kbit: 1e3,
  mbit: 1e6,
  gbit: 1e9,
  tbit: 1e12,
  kibit: 1024,
  mibit: 1024 ** 2,
  gibit: 1024 ** 3,
  tibit: 1024 ** 4,
};

/** And its byte-rate units (`mbps` is megaBYTES per second), in bits per second. */
const RATE_UNITS: Record<string, number> = {
  ...BIT_RATE_UNITS,
  bps: 8,
  kbps: 8e3,
  mbps: 8e6,
  gbps: 8e9,
  tbps: 8e12,
  kibps: 8 * 1024,
  mibps: 8 * 1024 ** 2,
  gibps: 8 * 1024 ** 3,
  tibps: 8 * 1024 ** 4,
};

/** The largest rate taken, bytes per second: rates go out as u64, computed in exact JS integers. */
export const MAX_RATE = Number.MAX_SAFE_INTEGER;

/** A number and a unit as tc reads them ('10mbit', '1.5kb', '50ms'): digits, an optional fraction, letters. */
const AMOUNT = /^(\d+(?:\.\d+)?)([a-z]*)$/i;

function amount(value: string, units: Readonly<Record<string, number>>, unitless: string): number | undefined {
  const m = AMOUNT.exec(value.trim());
  if (!m) return undefined;
  const unit = (m[2] as string).toLowerCase() || unitless;
  if (!Object.hasOwn(units, unit)) return undefined;
  return Number(m[1]) * (units[unit] as number);
}

/**
 * Bytes per second from '10mbit', '1gbit', '500kbps' or a number of bits per
 * second; undefined for anything else, for less than a byte per second, and
 * for more than MAX_RATE.
 */
export function parseRate(value: unknown): number | undefined {
  let bits: number | undefined;
  if (typeof value === 'number') bits = value;
  else if (typeof value === 'string') bits = amount(value, RATE_UNITS, 'bit');
  if (bits === undefined || !Number.isFinite(bits)) return undefined;
  const bytes = Math.floor(bits / 8);
  return bytes >= 1 && bytes <= MAX_RATE ? bytes : undefined;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  kbit: 1024 / 8,
  mbit: 1024 ** 2 / 8,
  gbit: 1024 ** 3 / 8,
};

/** Bytes from 32768, '32kb', '1mb' (tc's units: kb = 1024 bytes); undefined unless in 0..2^32-1. */
export function parseSize(value: unknown): number | undefined {
  let bytes: number | undefined;
  if (typeof value === 'number') bytes = Number.isInteger(value) ? value : undefined;
  else if (typeof value === 'string') {
    const b = amount(value, SIZE_UNITS, '');
    bytes = b === undefined ? undefined : Math.floor(b);
  }
  return bytes !== undefined && bytes >= 0 && bytes <= 0xffffffff ? bytes : undefined;
}

/** tc's time units, in microseconds. */
export const TIME_UNITS: Readonly<Record<string, number>> = {
  s: 1e6,
  sec: 1e6,
  secs: 1e6,
  ms: 1e3,
  msec: 1e3,
  msecs: 1e3,
  us: 1,
  usec: 1,
  usecs: 1,
};

/** The longest time taken, microseconds: tc keeps times in an unsigned 32-bit count of them. */
export const MAX_TIME_USEC = 0xffffffff;

/** Microseconds from '50ms', '1s', '100us' or a number of milliseconds; undefined unless in 0..MAX_TIME_USEC. */
export function parseTime(value: unknown): number | undefined {
  let usec: number | undefined;
  if (typeof value === 'number') usec = value * 1000;
  else if (typeof value === 'string') usec = amount(value, TIME_UNITS, 'us');
  return usec !== undefined && Number.isFinite(usec) && usec >= 0 && usec <= MAX_TIME_USEC ? usec : undefined;
}

/** A probability as the kernel's u32 scale, from 1 (percent), '1%' or '0.5%'; undefined unless in 0..100. */
export function parsePercent(value: unknown): number | undefined {
  let p: number | undefined;
  if (typeof value === 'number') p = value;
  else if (typeof value === 'string' && /^\d+(\.\d+)?%?$/.test(value.trim())) p = Number.parseFloat(value);
  if (p === undefined || !Number.isFinite(p) || p < 0 || p > 100) return undefined;
  return Math.round((p / 100) * 0xffffffff) >>> 0;
}

export const TC_LINKLAYER_ETHERNET = 1;

/** tc_calc_rtable: the 256-slot rate table; returns the table and the cell_log used. */
export function rateTable(rateBytes: number, mtu = 0, mpu = 0): { table: Buffer; cellLog: number } {
  const m = mtu === 0 ? 2047 : mtu;
  let cellLog = 0;
  while (m >> cellLog > 255) cellLog++;
  const table = Buffer.alloc(1024);
  for (let i = 0; i < 256; i++) {
    const size = Math.max((i + 1) << cellLog, mpu);
    table.writeUInt32LE(xmitTime(rateBytes, size), i * 4);
  }
  return { table, cellLog };
}
