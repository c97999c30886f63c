/**
 * How `netstate` ends: usage errors 2, failures 1 with one line (the stack
 * only with --debug or NETSTATE_DEBUG), missing privileges 77, --help and
 * --version 0, and a reader that goes away (`| head -1`) ends it quietly
 * with 0.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, netstate, runCommand } from '../../helpers/cli.js';
import { basicLab } from '../../helpers/lab.js';
import { ip, useNetns } from '../../helpers/netns.js';

const ns = useNetns();
const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;

describe('exit statuses', () => {
  // Each row: the words, the status, what stderr says (a pattern over all of it).
  const CASES: [string[], number, RegExp][] = [
    [['bogus'], 2, /^netstate: unknown command 'bogus'\n/],
    [['route', '--bogus'], 2, /^netstate: unknown option '--bogus'\n/],
    [['show', 'bogus'], 2, /^netstate: "bogus" is not one of links, addresses, routes, rules, neighbours\n$/],
    [['route', 'add', '10.1.0.0/16'], 2, /^netstate: route add: netstate route only shows/],
    [['link', 'bogus'], 2, /^netstate: link: "bogus" is not an action/],
    [['route', 'show', 'table', 'nosuch'], 2, /^netstate: table: "nosuch" is not a table/],
    [['route', 'show', 'dev'], 2, /^netstate: route: "dev" needs a value\n$/],
    [['monitor', 'bogus'], 2, /^netstate: monitor: "bogus" is not one of/],
    [['-n', 'nst-no-such-ns', 'link'], 2, /^netstate: no network namespace named "nst-no-such-ns"\n$/],
    [['show', 'links', '--table', '5'], 2, /^netstate: --table applies to routes and rules only\n$/],
    [[], 2, /^Usage: netstate/],
    [['--help'], 0, /^$/],
    [['route', '--help'], 0, /^$/],
    [['--version'], 0, /^$/],
  ];

  it('usage errors exit 2 with one sentence; --help and --version 0', async () => {
    const runs = await Promise.all(CASES.map(([args]) => netstate(...args)));
    CASES.forEach(([args, status, stderr], i) => {
      const r = runs[i] as Awaited<ReturnType<typeof netstate>>;
      expect({ args, status: r.status, stderr: r.stderr }).toEqual({ args, status, stderr: expect.stringMatching(stderr) });
    });
    expect(runs[CASES.findIndex(([a]) => a[0] === '--version')]?.stdout).toBe(`${VERSION}\n`);
    expect(runs[CASES.findIndex(([a]) => a[0] === '--help')]?.stdout).toMatch(/link\|l .*\n(.*\n)*\s+route\|r /);
  });

  it('a failure exits 1 with one line; --debug and NETSTATE_DEBUG add the stack', async () => {
    const args = ['-n', ns.name, 'link', 'show', 'nope'];
    const [plain, debug, env] = await Promise.all([
      netstate(...args),
      netstate(...args, '--debug'),
      runCommand(process.execPath, [BIN, ...args], { NETSTATE_DEBUG: '1' }),
    ]);
    expect(plain).toMatchObject({ status: 1, stderr: `netstate: cannot find device "nope" in ${ns.name}\n` });
    for (const r of [debug, env]) {
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^netstate: LinkError: cannot find device "nope".*\n\s+at /);
    }
  });

  it('missing privileges exit 77', async () => {
    const r = await runCommand(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, '-n', ns.name, 'link'],
      {
        HOME: '/tmp',
      },
    );
    expect(r.status).toBe(77);
    expect(r.stderr).toMatch(/^netstate: .*root/);
  });
});

describe('a reader that goes away', () => {
  /** Enough routes that the output outlasts the pipe's buffer (64 KiB): the reader is gone while netstate still writes. */
  function manyRoutes(n: number): void {
    basicLab(ns.name);
    const file = join('/tmp', `${ns.name}.batch`);
    writeFileSync(file, Array.from({ length: n }, (_, i) => `route add 20.0.${i >> 8}.${i & 255}/32 via 10.0.0.2\n`).join(''));
    try {
      execFileSync('ip', ['-n', ns.name, '-batch', file]);
    } finally {
      rmSync(file, { force: true });
    }
  }

  /** `bash -o pipefail -c 'netstate ... | head -1'`: the pipeline's status is netstate's when it fails. */
  const headOne = (args: string) => runCommand('bash', ['-o', 'pipefail', '-c', `${process.execPath} ${BIN} ${args} | head -1`]);

  it('`| head -1` after show, route and --json ends with 0 and nothing on stderr', async () => {
    manyRoutes(20_000);
    const runs = await Promise.all([
      headOne(`-n ${ns.name} route`),
      headOne(`-n ${ns.name} show routes`),
      headOne(`-n ${ns.name} route show table all --json`),
    ]);
    expect(runs.map((r) => [r.status, r.stderr, r.stdout.split('\n').length])).toEqual([
      [0, '', 2],
      [0, '', 2],
      [0, '', 2],
    ]);
    expect(runs[1]?.stdout).toMatch(/^table\s+type\s+dst/);
  });

  it('monitor | head -1 ends with 0 at the next change after the reader left', async () => {
    basicLab(ns.name);
    const child = spawn('bash', ['-o', 'pipefail', '-c', `${process.execPath} ${BIN} -n ${ns.name} monitor route | head -1`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    // The monitor is ready once it has loaded: changes go on until head took one line and netstate saw EPIPE.
    let n = 0;
    const poke = setInterval(() => ip(ns.name, 'route', 'replace', '10.55.0.0/16', 'via', `10.0.0.${2 + (n++ % 2)}`), 50);
    try {
      expect(await exited).toBe(0);
    } finally {
      clearInterval(poke);
    }
    expect(stderr).toBe('');
  });
});
