/** Lab files from disk: relative paths from the file's directory, a missing program found before any kernel call. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { LabFileError, ValidationError } from '../../../src/errors.js';
import { checkLabFile, loadLabFile } from '../../../src/runtime/lab/load.js';

const dir = mkdtempSync(join(tmpdir(), 'nst-labfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const LAB = `name: disk
topology:
  kinds:
    bmv2: { program: build/prog.json }
  nodes:
    s1: { kind: bmv2, pcap: captures }
    s2: { kind: bmv2, program: /nonexistent/other.json }
    h1: {}
  links:
    - endpoints: [h1:eth0, s1:p1]
`;

describe('loadLabFile', () => {
  test('a missing program is a problem at the line that names it; relative paths are from the file', async () => {
    const file = join(dir, 'lab.yaml');
    writeFileSync(file, LAB);
    const error = await loadLabFile(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LabFileError);
    expect((error as LabFileError).problems.map((p) => [p.line, p.col, p.message])).toEqual([
      [4, 22, `s1's program ${join(dir, 'build/prog.json')} does not exist`],
      [7, 32, "s2's program /nonexistent/other.json does not exist"],
    ]);

    mkdirSync(join(dir, 'build'));
    writeFileSync(join(dir, 'build/prog.json'), '{}');
    const { problems } = await checkLabFile(file);
    expect(problems.map((p) => p.line)).toEqual([7]);

    writeFileSync(file, LAB.replace('program: /nonexistent/other.json', 'no-p4: true'));
    const { model, warnings } = await loadLabFile(file);
    expect(warnings).toEqual([]);
    expect(model.nodes.s1?.switch).toMatchObject({ program: join(dir, 'build/prog.json'), pcap: join(dir, 'captures') });
    expect(model.nodes.s2?.switch).toMatchObject({ noP4: true });
    expect(model.nodes.s2?.switch?.program).toBeUndefined();
  });

  test('no such file: a ValidationError naming it', async () => {
    const error = await loadLabFile(join(dir, 'nope.yaml')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toBe(`no lab file ${join(dir, 'nope.yaml')}`);
  });
});
