/**
 * The problems found in a lab file, collected (never thrown one by one) so
 * that a user sees all of them at once, each at its line and column.
 * Errors stop the lab; warnings are said and the lab goes on.
 */
import type { LabFileProblem } from '../../errors.js';
import { formatPath, type Locator, type Part, type Path } from './locate.js';

export interface LabProblem extends LabFileProblem {
  severity: 'error' | 'warning';
}

export class Problems {
  readonly list: LabProblem[] = [];

  constructor(private readonly locator: Locator) {}

  error(path: Path, message: string, part: Part = 'value'): void {
    this.add('error', path, message, part);
  }

  warning(path: Path, message: string, part: Part = 'value'): void {
    this.add('warning', path, message, part);
  }

  /** Where `path` is written, for messages that point at another place ("already on line 12"). */
  lineOf(path: Path): number {
    return this.locator.at(path).line;
  }

  /** The 1-based line and column of `path`, to order occurrences as they appear in the file. */
  position(path: Path): { line: number; col: number } {
    return this.locator.at(path);
  }

  get errors(): LabProblem[] {
    return this.list.filter((p) => p.severity === 'error');
  }

  get warnings(): LabProblem[] {
    return this.list.filter((p) => p.severity === 'warning');
  }

  private add(severity: LabProblem['severity'], path: Path, message: string, part: Part): void {
    const { line, col } = this.locator.at(path, part);
    this.list.push({ path: formatPath(path), line, col, message, severity });
  }
}

/** In file order (line, then column), as a compiler lists them. */
export function sortProblems<T extends LabFileProblem>(problems: T[]): T[] {
  return [...problems].sort((a, b) => a.line - b.line || a.col - b.col);
}
