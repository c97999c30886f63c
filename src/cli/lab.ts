/**
 * `netstate lab up|down|list|inspect|graph|check`: lab files from the
 * command line, as containerlab users expect them (deploy, destroy,
 * inspect, graph), each `up` one transaction whose review is printed first.
 * And desired state for namespaces, as nmstatectl users expect it:
 * `netstate dump`, `netstate diff FILE`, `netstate apply FILE [--confirm 60s]`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { stringify, parse as yamlParse } from 'yaml';
import { ValidationError } from '../errors.js';
import type { LabModel } from '../runtime/lab/model.js';
import { readTime } from '../runtime/lab/units.js';
import type { Review } from '../transactions/transaction.js';
import { withStore } from './open-store.js';
import type { Output } from './output.js';

/** A lab named by its file (read for its name) or by its name. */
async function labNameOf(what: string): Promise<{ name: string; model?: LabModel }> {
  if (existsSync(what) && /\.ya?ml$/.test(what)) {
    const { loadLabFile } = await import('../runtime/lab/load.js');
    const { model } = await loadLabFile(what);
    return { name: model.name, model };
  }
  return { name: what };
}

/** "60s", "500ms", "2m" -> ms; a plain number is seconds. */
export function durationMs(text: string, field: string): number {
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const m = /^(\d+(?:\.\d+)?)m$/.exec(text);
  if (m) return Number(m[1]) * 60_000;
  const r = readTime(text);
  if ('problem' in r || r.value <= 0)
    throw new ValidationError(`--${field}: ${JSON.stringify(text)} is not a duration like 60s`, field);
  return Math.round(r.value / 1000);
}

/** The review as YAML, one section per kind that changes. */
export function reviewText(review: Review): string {
  const shown = Object.fromEntries(Object.entries(review).filter(([, v]) => v && Object.keys(v).length));
  return Object.keys(shown).length ? stringify(shown).trimEnd() : '(nothing to change)';
}

/** A progress bar on a terminal (cli-progress), nothing elsewhere. */
async function progressBar(): Promise<{ progress?: (done: number, total: number, what: string) => void; stop: () => void }> {
  if (!process.stderr.isTTY) return { stop: () => undefined };
  const { SingleBar, Presets } = (await import('cli-progress')).default;
  const bar = new SingleBar(
    { stream: process.stderr, format: 'lab up [{bar}] {value}/{total} steps  {what}', hideCursor: true, clearOnComplete: true },
    Presets.shades_classic,
  );
  let started = false;
  return {
    progress: (done, total, what) => {
      if (!started) bar.start(total, 0, { what: '' });
      started = true;
      bar.update(done, { what: what.slice(0, 50) });
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

export interface LabUpCommandOptions {
  dryRun?: boolean;
  confirm?: string;
  bmv2?: string;
  journal?: string;
  json?: boolean;
}

export async function labUpCommand(file: string, o: LabUpCommandOptions, out: Output): Promise<void> {
  const { loadLabFile } = await import('../runtime/lab/load.js');
  const { labUp } = await import('../runtime/lab/up.js');
  const { model, warnings } = await loadLabFile(file);
  for (const w of warnings) process.stderr.write(`netstate: ${file}:${w.line}:${w.col}: warning: ${w.message}\n`);
  const bar = o.dryRun ? { stop: () => undefined } : await progressBar();
  try {
    const result = await labUp(model, {
      file,
      dryRun: o.dryRun === true,
      ...(o.journal ? { journal: o.journal } : {}),
      ...(o.bmv2 ? { bmv2Binary: o.bmv2 } : {}),
      ...(o.confirm ? { confirm: durationMs(o.confirm, 'confirm') } : {}),
      ...('progress' in bar && bar.progress ? { progress: bar.progress } : {}),
      onReview: async (review) => {
        await out.line(o.json ? JSON.stringify(review, null, 2) : reviewText(review));
      },
    });
    bar.stop();
    if (o.dryRun) await out.line(`(dry run: lab ${model.name} not changed)`);
    else if (!result.report) await out.line(`lab ${model.name} is up as ${file} says: nothing to change`);
    else {
      const id = 'id' in result.report && result.report.id ? ` (commit ${result.report.id})` : '';
      const pending = o.confirm
        ? `; confirm it with: netstate confirm${id ? ` ${(result.report as { id?: string }).id}` : ''}`
        : '';
      await out.line(`lab ${model.name} is ${result.running ? 'changed' : 'up'}${id}${pending}`);
    }
  } finally {
    bar.stop();
  }
}

export async function labDownCommand(what: string, o: { journal?: string }, out: Output): Promise<void> {
  const { labDown } = await import('../runtime/lab/up.js');
  const { name } = await labNameOf(what);
  const report = await labDown(name, o.journal ? { journal: o.journal } : {});
  await out.line(report.removed.length ? `lab ${name} removed: ${report.removed.join(', ')}` : `lab ${name}: nothing was left`);
}

export async function labListCommand(o: { journal?: string; json?: boolean }, out: Output): Promise<void> {
  const { labList } = await import('../runtime/lab/up.js');
  const labs = await labList(o.journal ? { journal: o.journal } : {});
  if (o.json) return out.line(JSON.stringify(labs, null, 2));
  await out.line(
    labs.length ? labs.map((l) => `${l.name}  ${l.made} object(s)${l.file ? `  ${l.file}` : ''}`).join('\n') : '(no labs)',
  );
}

/** Nodes, links, addresses, switches and processes of a running lab, read from the kernel through the store. */
export async function labInspectCommand(what: string, o: { journal?: string; json?: boolean }, out: Output): Promise<void> {
  const { runningModel } = await import('../runtime/lab/up.js');
  const { name } = await labNameOf(what);
  const model = runningModel(name, o.journal ? { journal: o.journal } : {});
  if (!model) throw new ValidationError(`no lab named "${name}" is up`, 'lab');
  const { listNetns } = await import('../backends/netns.js');
  const { processes } = await import('../backends/process/members.js');
  const present = new Set(listNetns());
  const nodes = Object.values(model.nodes);
  const live = nodes.map((n) => n.namespace).filter((n) => present.has(n));
  const rows = await withStore(live, async (db) =>
    nodes.map((n) => {
      const up = present.has(n.namespace);
      const procs = up ? processes(n.namespace) : [];
      const links = up ? db.interfaces.list({ netns: n.namespace }).filter((i) => i.ifname !== 'lo') : [];
      return {
        node: n.name,
        kind: n.kind,
        namespace: n.namespace,
        state: up ? 'up' : 'missing',
        interfaces: links.map((i) => ({
          ifname: i.ifname,
          state: i.state,
          addresses: db.addresses
            .list({ netns: n.namespace, ifname: i.ifname as string })
            .map((a) => `${a.address}/${a.prefixlen}`),
        })),
        processes: procs.map((p) => `${p.pid} ${p.comm}`),
        ...(n.switch
          ? {
              switch: {
                grpcPort: n.switch.grpcPort,
                thriftPort: n.switch.thriftPort,
                deviceId: n.switch.deviceId,
                // simple_switch_grpc's comm, cut to 15 bytes by the kernel.
                state: procs.some((p) => p.comm === 'simple_switch_g') ? 'running' : 'not running',
              },
            }
          : {}),
      };
    }),
  );
  if (o.json) return out.line(JSON.stringify({ name, nodes: rows }, null, 2));
  const lines = [`lab ${name}`];
  for (const r of rows) {
    lines.push(
      `  ${r.node} (${r.kind}) ${r.namespace} ${r.state}${r.switch ? `  switch ${r.switch.state}, device ${r.switch.deviceId}, grpc ${r.switch.grpcPort}, thrift ${r.switch.thriftPort}` : ''}`,
    );
    for (const i of r.interfaces) lines.push(`    ${i.ifname} ${i.state} ${i.addresses.join(' ')}`.trimEnd());
    for (const p of r.processes) lines.push(`    process ${p}`);
  }
  await out.line(lines.join('\n'));
}

export async function labGraphCommand(what: string, o: { output?: string; journal?: string }, out: Output): Promise<void> {
  const { renderSvg } = await import('../runtime/lab/graph.js');
  const { runningModel } = await import('../runtime/lab/up.js');
  const found = await labNameOf(what);
  const model = found.model ?? runningModel(found.name, o.journal ? { journal: o.journal } : {});
  if (!model) throw new ValidationError(`no lab file or running lab "${what}"`, 'lab');
  const svg = await renderSvg(model);
  if (o.output) {
    writeFileSync(o.output, svg);
    await out.line(`wrote ${o.output}`);
  } else await out.line(svg);
}

export async function labCheckCommand(file: string, out: Output): Promise<void> {
  const { loadLabFile } = await import('../runtime/lab/load.js');
  const { model, warnings } = await loadLabFile(file);
  for (const w of warnings) await out.line(`${file}:${w.line}:${w.col}: warning: ${w.message}`);
  await out.line(
    `${file}: lab ${model.name}, ${Object.keys(model.nodes).length} nodes, ${Object.keys(model.links).length} links: valid`,
  );
}

// ---------------------------------------------------------------- desired state (nmstatectl's show/apply)

/** `netstate dump`: the state of the namespaces as YAML (what `apply` takes back). */
export async function dumpCommand(netns: string[] | undefined, json: boolean, out: Output): Promise<void> {
  await withStore(netns, async (db) => {
    const state = db.dump();
    await out.line(json ? JSON.stringify(state, null, 2) : stringify(state));
  });
}

function readState(file: string): unknown {
  const text = readFileSync(file, 'utf8');
  return file.endsWith('.json') ? JSON.parse(text) : yamlParse(text);
}

/** `netstate diff FILE`: what `apply FILE` would change, as a review. */
export async function diffCommand(file: string, netns: string[] | undefined, json: boolean, out: Output): Promise<void> {
  const state = readState(file) as { namespaces?: Record<string, unknown> };
  await withStore(netns ?? namespacesIn(state), async (db) => {
    const tx = db.begin();
    tx.load(state as never);
    const review = tx.review();
    tx.drop();
    await out.line(json ? JSON.stringify(review, null, 2) : reviewText(review));
  });
}

/** `netstate apply FILE [--confirm 60s]`: one transaction to the state of the file (commit-confirmed with --confirm). */
export async function applyCommand(
  file: string,
  o: { netns?: string[]; confirm?: string; journal?: string; dryRun?: boolean },
  out: Output,
): Promise<void> {
  const state = readState(file) as { namespaces?: Record<string, unknown> };
  const { NetState } = await import('../netstate/netstate.js');
  const db = await NetState.open({ netns: o.netns ?? namespacesIn(state), ...(o.journal ? { journal: o.journal } : {}) });
  try {
    const tx = db.begin();
    tx.load(state as never);
    await out.line(reviewText(tx.review()));
    if (o.dryRun) {
      tx.drop();
      return;
    }
    const report = await tx.commit(o.confirm ? { confirm: durationMs(o.confirm, 'confirm') } : {});
    const id = 'id' in report && report.id ? report.id : undefined;
    await out.line(
      o.confirm
        ? `applied, provisional: netstate confirm ${id ?? ''} within ${o.confirm}, or it is rolled back`
        : `applied${id ? ` (commit ${id})` : ''}`,
    );
  } finally {
    await db.close();
  }
}

/** The namespaces a dumped state speaks of (the root namespace when it names only that). */
function namespacesIn(state: { namespaces?: Record<string, unknown> }): string[] | undefined {
  const names = Object.keys(state?.namespaces ?? {}).filter((n) => n !== 'localhost');
  return names.length ? names : undefined;
}
