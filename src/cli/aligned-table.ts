/**
 * Columns aligned as `ip`'s are (no borders, two spaces apart), built in
 * linear time: cell widths are kept as rows come, and rows are written
 * once the widths are known. (cli-table3 lays out spanning cells by
 * comparing each cell with every earlier row: 8 000 routes took 18 s.)
 */
import type { Output } from './output.js';

export class AlignedTable {
  private readonly rows: string[][] = [];
  /** The widest cell of each column, header left out. */
  private readonly widths: number[];

  /** `optional`: columns left out when no row has anything in them (a route's nexthop weight). */
  constructor(
    private readonly head: string[],
    private readonly optional: ReadonlySet<string> = new Set(),
  ) {
    this.widths = head.map(() => 0);
  }

  get size(): number {
    return this.rows.length;
  }

  push(cells: string[]): void {
    this.rows.push(cells);
    for (let i = 0; i < cells.length; i++) {
      const n = (cells[i] as string).length;
      if (n > (this.widths[i] as number)) this.widths[i] = n;
    }
  }

  /** Header (bold on a terminal) and rows, trailing spaces trimmed. */
  async write(out: Output, bold: boolean): Promise<void> {
    for (const line of this.lines(bold)) await out.line(line);
  }

  *lines(bold = false): Generator<string> {
    const shown = this.head.flatMap((h, i) => (this.optional.has(h) && this.widths[i] === 0 ? [] : [i]));
    const widths = this.head.map((h, i) => Math.max(h.length, this.widths[i] as number) + 2);
    const format = (cells: string[]): string => {
      let line = '';
      for (const i of shown) line += (cells[i] as string).padEnd(widths[i] as number);
      return line.trimEnd();
    };
    const head = format(this.head);
    yield bold ? `\x1b[1m${head}\x1b[22m` : head;
    for (const row of this.rows) yield format(row);
  }
}
