/** The package's version, from its package.json (found upwards from this file: dist/src/cli or src/cli). */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'netstate' && pkg.version) return pkg.version;
    } catch {}
    const up = dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}
