/**
 * Traffic-control arithmetic as iproute2's tc does it (tc_core.c, utils.c):
 * rates, sizes and times from the strings users write, and the kernel's
 * scheduler ticks from /proc/net/psched. Matching tc's rounding is what makes
 * our requests byte-identical to `tc qdisc ...`.
 */
import { readFileSync } from 'node:fs';
import { ValidationError } from '../../../errors.js';

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

const RATE_UNITS: Record<string, number> = {
  bit: 1,
  kbit: 1e3,
  mbit: 1e6,
  gbit: 1e9,
  tbit: 1e12,
  kibit: 1024,
  mibit: 1024 ** 2,
  gibit: 1024 ** 3,
  tibit: 1024 ** 4,
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

/** Bytes per second from '10mbit', '1gbit', '500kbps' or a number of bits per second. */
export function parseRate(value: unknown, field: string): number {
  let bits: number | undefined;
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) bits = value;
  else if (typeof value === 'string') {
    const m = /^(\d+(?:\.\d+)?)([a-z]*)$/i.exec(value.trim());
    const unit = m ? (m[2] as string).toLowerCase() || 'bit' : undefined;
    if (m && unit && RATE_UNITS[unit] !== undefined) bits = Number(m[1]) * (RATE_UNITS[unit] as number);
  }
  if (bits === undefined || bits <= 0) {
    throw new ValidationError(
      `${field}: ${JSON.stringify(value)} is not a rate like '10mbit', '1gbit' or bits per second`,
      field,
    );
  }
  return Math.floor(bits / 8);
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

/** Bytes from 32768, '32kb', '1mb' (tc's units: kb = 1024 bytes). */
export function parseSize(value: unknown, field: string): number {
  let bytes: number | undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) bytes = value;
  else if (typeof value === 'string') {
    const m = /^(\d+(?:\.\d+)?)([a-z]*)$/i.exec(value.trim());
    const unit = m ? (m[2] as string).toLowerCase() : undefined;
    if (m && unit !== undefined && SIZE_UNITS[unit] !== undefined)
      bytes = Math.floor(Number(m[1]) * (SIZE_UNITS[unit] as number));
  }
  if (bytes === undefined || bytes > 0xffffffff) {
    throw new ValidationError(`${field}: ${JSON.stringify(value)} is not a size like 32768 or '32kb'`, field);
  }
  return bytes;
}

const TIME_UNITS: Record<string, number> = {
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

/** Microseconds from '50ms', '1s', '100us' or a number of milliseconds. */
export function parseTime(value: unknown, field: string): number {
  let usec: number | undefined;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) usec = value * 1000;
  else if (typeof value === 'string') {
    const m = /^(\d+(?:\.\d+)?)([a-z]*)$/i.exec(value.trim());
    const unit = m ? (m[2] as string).toLowerCase() || 'us' : undefined;
    if (m && unit && TIME_UNITS[unit] !== undefined) usec = Number(m[1]) * (TIME_UNITS[unit] as number);
  }
  if (usec === undefined) {
    throw new ValidationError(`${field}: ${JSON.stringify(value)} is not a time like '50ms', '1s' or milliseconds`, field);
  }
  return usec;
}

/** A probability as the kernel's u32 scale, from 1 (percent) or '1%' or '0.5%'. */
export function parsePercent(value: unknown, field: string): number {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.replace(/%$/, '') : '';
  const p = Number(text);
  if (text === '' || !Number.isFinite(p) || p < 0 || p > 100) {
    throw new ValidationError(`${field}: ${JSON.stringify(value)} is not a percentage in 0..100`, field);
  }
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
