/**
 * Lab files from the file system: the text read, relative paths taken from
 * the file's directory, and a switch's program checked to exist, still
 * before anything touches the kernel.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ValidationError } from '../../errors.js';
import type { LabModel } from './model.js';
import { checkLab, type LabCheck, parseLab } from './parse.js';
import type { LabProblem } from './problems.js';

async function textOf(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ValidationError(
      code === 'ENOENT' ? `no lab file ${file}` : `cannot read lab file ${file}: ${code ?? (e as Error).message}`,
      'file',
    );
  }
}

function optionsFor(file: string) {
  return { file, baseDir: dirname(resolve(file)), exists: existsSync };
}

/** The model of lab file `file` and its warnings; a LabFileError listing every problem when it has errors. */
export async function loadLabFile(file: string): Promise<{ model: LabModel; warnings: LabProblem[] }> {
  return parseLab(await textOf(file), optionsFor(file));
}

/** Every problem of lab file `file`, and its model when it has no errors (`netstate lab check`, editors). */
export async function checkLabFile(file: string): Promise<LabCheck> {
  return checkLab(await textOf(file), optionsFor(file));
}
