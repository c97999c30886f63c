import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

export interface RequestFixture {
  name: string;
  op: 'link' | 'address' | 'route' | 'rule' | 'neighbour' | 'qdisc';
  cmd: 'add' | 'set' | 'replace' | 'del';
  spec: Record<string, unknown>;
  command: string;
  hex: string;
}

export interface KernelFixture {
  name: string;
  command: string;
  hex: string;
}

export function requestFixtures(): { indexes: Record<string, number>; requests: RequestFixture[] } {
  return JSON.parse(readFileSync(join(dir, 'requests.json'), 'utf8'));
}

export function kernelFixtures(): KernelFixture[] {
  return JSON.parse(readFileSync(join(dir, 'kernel.json'), 'utf8'));
}
