/** Seeded random fault trials, part 2 of 4 (the parts run in parallel; see fault-trials.ts). */
import { describe } from 'vitest';
import { defineTrials } from './fault-trials.js';

describe('fault trials, part 2', () => defineTrials(2, Number(process.env.TRIALS ?? 50)));
