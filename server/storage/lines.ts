const NEWLINE = 0x0a;

/**
 * Splits a byte stream into lines as the chunks arrive, holding only the unfinished line. Each
 * line is decoded as strict UTF-8 (a bad byte is reported, not replaced with U+FFFD), and a
 * trailing "\r" is dropped so CRLF files read like LF ones.
 *
 * `limit` bounds the unfinished line, so a file with no newline is never held whole: past
 * `maxBytes`, `onTooLong(lineNumber)` is called, and it must throw.
 *
 * @example
 * const lines = new LineSplitter((n, text) => rows.push([n, text]));
 * for await (const chunk of body) lines.push(chunk);
 * lines.end();
 */
export class LineSplitter {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private lineNo = 0;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

  /** `onLine(lineNumber, text)`; text is undefined when the line is not valid UTF-8. */
  constructor(
    private readonly onLine: (lineNo: number, text: string | undefined) => void,
    private readonly limit?: { maxBytes: number; onTooLong: (lineNo: number) => never },
  ) {}

  push(chunk: Uint8Array): void {
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      this.hold(chunk.subarray(start, nl));
      this.emit();
      start = nl + 1;
    }
    if (start < chunk.length) this.hold(chunk.slice(start));
  }

  private hold(part: Uint8Array): void {
    this.pendingBytes += part.byteLength;
    if (this.limit && this.pendingBytes > this.limit.maxBytes)
      this.limit.onTooLong(this.lineNo + 1);
    this.pending.push(part);
  }

  /** Emits the last line when the input does not end with a newline. */
  end(): void {
    if (this.pending.some((p) => p.length > 0)) this.emit();
  }

  private emit(): void {
    const bytes = this.pending.length === 1 ? this.pending[0]! : concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    this.lineNo++;
    let text: string | undefined;
    try {
      // Each decode drops a leading byte-order mark, which is how a BOM-prefixed line 1 parses.
      text = this.decoder.decode(bytes);
    } catch {
      text = undefined;
    }
    if (text !== undefined && text.endsWith('\r')) text = text.slice(0, -1);
    this.onLine(this.lineNo, text);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
