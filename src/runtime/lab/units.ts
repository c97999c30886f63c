/**
 * The quantities a lab file writes with units (rates, times, loss, memory
 * sizes), read into plain numbers for the model and written back in one
 * canonical form, so that model -> YAML -> model is exact.
 *
 * Rates and times follow tc(8), which is what applies them, with one
 * deliberate refusal: tc reads `mbps` as megaBYTES per second, a classic
 * eight-fold mistake, so only bit rates are taken.
 */

import { BIT_RATE_UNITS, TIME_UNITS } from '../../backends/netlink/families/tc-units.js';

/** What a reader gives: the value, or why there is none. */
export type Read<T> = { value: T } | { problem: string };

const NUMBER = String.raw`(\d+(?:\.\d+)?)`;

/** tc's bit-rate units: only bit rates are taken (above). */
const RATE_UNITS = BIT_RATE_UNITS;
const RATE = new RegExp(`^${NUMBER}\\s*([a-z]+)$`, 'i');

/** A rate like `10mbit` or `1.5gbit`, in bits per second. */
export function readRate(text: unknown): Read<number> {
  const example = 'like 10mbit, 500kbit or 1gbit';
  if (typeof text === 'number') return { problem: `a rate needs a unit: ${text} what? Write it ${example}` };
  if (typeof text !== 'string') return { problem: `expected a rate ${example}, got ${JSON.stringify(text)}` };
  const m = RATE.exec(text.trim());
  const unit = m?.[2]?.toLowerCase();
  if (!m || !unit) return { problem: `"${text}" is not a rate ${example}` };
  if (/^[kmgt]?i?bps$/.test(unit)) {
    const asBits = `${Number(m[1]) * 8}${unit.replace('bps', 'bit')}`;
    return {
      problem: `"${text}": tc reads "${unit}" as BYTES per second; write ${asBits} for that, or ${m[1]}${unit.replace('bps', 'bit')} for bits`,
    };
  }
  const scale = RATE_UNITS[unit];
  if (scale === undefined) return { problem: `"${text}" has an unknown rate unit "${m[2]}"; use bit, kbit, mbit, gbit or tbit` };
  const bits = Math.round(Number(m[1]) * scale);
  if (bits < 8) return { problem: `"${text}" is below 8bit, the smallest rate tc can apply` };
  if (!Number.isSafeInteger(bits)) return { problem: `"${text}" is too large a rate` };
  return { value: bits };
}

/** Bits per second in the largest whole unit: 10000000 -> `10mbit`. */
export function formatRate(bits: number): string {
  for (const [unit, scale] of [
    ['tbit', 1e12],
    ['gbit', 1e9],
    ['mbit', 1e6],
    ['kbit', 1e3],
  ] as const) {
    if (bits % scale === 0) return `${bits / scale}${unit}`;
  }
  return `${bits}bit`;
}

const TIME = new RegExp(`^${NUMBER}\\s*([a-z]+)$`, 'i');

/** A time like `10ms`, `1.5s` or `250us`, in microseconds (netem's resolution as tc writes it). */
export function readTime(text: unknown): Read<number> {
  const example = 'like 10ms, 1s or 250us';
  if (typeof text === 'number') return { problem: `a time needs a unit: ${text} what? Write it ${example}` };
  if (typeof text !== 'string') return { problem: `expected a time ${example}, got ${JSON.stringify(text)}` };
  const m = TIME.exec(text.trim());
  const scale = m?.[2] ? TIME_UNITS[m[2].toLowerCase()] : undefined;
  if (!m) return { problem: `"${text}" is not a time ${example}` };
  if (scale === undefined) return { problem: `"${text}" has an unknown time unit "${m[2]}"; use s, ms or us` };
  const us = Math.round(Number(m[1]) * scale);
  if (us > 3_600_000_000) return { problem: `"${text}" is more than an hour` };
  return { value: us };
}

/** Microseconds in the largest whole unit: 10000 -> `10ms`. */
export function formatTime(us: number): string {
  if (us !== 0 && us % 1e6 === 0) return `${us / 1e6}s`;
  if (us !== 0 && us % 1e3 === 0) return `${us / 1e3}ms`;
  return `${us}us`;
}

/** A loss like `1%`, `0.5%` or a bare number of percent, in percent (0..100). */
export function readLoss(text: unknown): Read<number> {
  let n: number;
  if (typeof text === 'number') n = text;
  else if (typeof text === 'string' && /^\d+(?:\.\d+)?\s*%$/.test(text.trim())) n = Number.parseFloat(text);
  else return { problem: `expected a loss like 1% or 0.5%, got ${JSON.stringify(text)}` };
  if (!(n >= 0 && n <= 100)) return { problem: `a loss is a percentage in 0..100, got ${JSON.stringify(text)}` };
  return { value: n };
}

export function formatLoss(percent: number): string {
  return `${percent}%`;
}

const MEMORY = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)$/i;
const MEMORY_SCALE: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
/** The smallest memory limit taken: below a few MiB a process is OOM-killed as it starts. */
export const MIN_MEMORY = 4 * 1024 ** 2;

/**
 * A memory size like `256M`, `1G`, `512Mi`, `64MB` or a number of bytes, in
 * bytes. As in Docker and containerlab, K, M, G and T are binary (1M =
 * 1048576 bytes), with or without `i` and `B`.
 */
export function readMemory(text: unknown): Read<number> {
  const example = 'like 256M or 1G';
  let bytes: number;
  if (typeof text === 'number') bytes = text;
  else if (typeof text === 'string') {
    const m = MEMORY.exec(text.trim());
    if (!m) return { problem: `"${text}" is not a memory size ${example}` };
    const unit = (m[2] ?? '').toLowerCase();
    if (!unit && (m[3] || m[4])) return { problem: `"${text}" is not a memory size ${example}` };
    bytes = Math.round(Number(m[1]) * (MEMORY_SCALE[unit] as number));
  } else return { problem: `expected a memory size ${example}, got ${JSON.stringify(text)}` };
  if (!Number.isSafeInteger(bytes)) return { problem: `expected a whole number of bytes or a size ${example}, got ${text}` };
  if (bytes < MIN_MEMORY) return { problem: `${JSON.stringify(text)} is less than 4M, too little for any process to start` };
  return { value: bytes };
}

/** Bytes in the largest whole binary unit: 268435456 -> `256M`. */
export function formatMemory(bytes: number): string {
  for (const [unit, scale] of [
    ['T', 1024 ** 4],
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const) {
    if (bytes % scale === 0) return `${bytes / scale}${unit}`;
  }
  return String(bytes);
}
