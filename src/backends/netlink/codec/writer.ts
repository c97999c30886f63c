/** A growable output buffer; one is reused across the messages of a batch. */
export class Writer {
  buf: Buffer;
  pos = 0;

  constructor(initial = 4096) {
    this.buf = Buffer.alloc(initial);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Reserves `n` zeroed bytes and returns their offset. */
  skip(n: number): number {
    this.ensure(n);
    const at = this.pos;
    this.buf.fill(0, at, at + n);
    this.pos += n;
    return at;
  }

  bytes(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }

  align4(): void {
    const pad = (4 - (this.pos & 3)) & 3;
    if (pad) this.skip(pad);
  }

  reset(): void {
    this.pos = 0;
  }

  /** A copy of what was written since `from`. */
  slice(from = 0): Buffer {
    return Buffer.from(this.buf.subarray(from, this.pos));
  }
}
