/**
 * Standard output for commands that may print 100 000 lines: lines are
 * gathered into chunks of about 64 KiB, each written as one call, and the
 * next is built only once the last one is out (so memory stays flat when the
 * reader is slower). A reader that goes away (`netstate route | head -1`)
 * ends the command quietly: the write fails with EPIPE, `closed` turns true,
 * and the next `line()` or `flush()` rejects with `ReaderGone`, which the
 * command turns into exit status 0 after closing its store.
 */

const CHUNK = 64 * 1024;

/** The reader of standard output has gone (EPIPE): not an error, the end of the command. */
export class ReaderGone extends Error {
  override name = 'ReaderGone';
  constructor() {
    super('the reader of standard output has gone');
  }
}

/** True for the error a write to a closed pipe gives. */
export function isBrokenPipe(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  // After the first EPIPE the stream is destroyed: later writes fail with ERR_STREAM_DESTROYED.
  return e instanceof ReaderGone || code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED';
}

export class Output {
  private parts: string[] = [];
  private size = 0;
  /** Set once a write failed: the reader is gone. */
  closed = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stdout) {}

  /** Queues one line (without its newline); writes when a chunk is full. */
  async line(text: string): Promise<void> {
    this.parts.push(text, '\n');
    this.size += text.length + 1;
    if (this.size >= CHUNK) await this.flush();
  }

  /** Writes what is queued and waits until the stream took it. */
  async flush(): Promise<void> {
    if (this.closed || this.stream.destroyed) throw new ReaderGone();
    if (this.size === 0) return;
    const text = this.parts.join('');
    this.parts = [];
    this.size = 0;
    await new Promise<void>((resolve, reject) => {
      this.stream.write(text, (e) => {
        if (!e) return resolve();
        if (isBrokenPipe(e)) this.closed = true;
        reject(isBrokenPipe(e) ? new ReaderGone() : e);
      });
    });
  }
}
