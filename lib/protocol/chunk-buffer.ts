// Received bytes as the two parsers (requests, replies) hold them: chunks are
// kept as they come and joined onto the unread rest only once the bytes the
// parser needs are all there, so a message arriving in many chunks is copied
// once, not once per chunk. A base class, not a member: the request parser is
// the hot path, and its fields stay on the parser itself.

const LF = 10
export const EMPTY = Buffer.alloc(0)

export class ChunkBuffer {
  /** Joined bytes; parsing reads from `pos`. */
  protected buf: Buffer = EMPTY
  protected pos = 0
  /** Chunks received but not yet joined onto `buf`. */
  protected pending: Buffer[] = []
  protected pendingBytes = 0
  /** Bytes needed from `pos` before parsing can make progress. */
  protected need = 1
  /** Where the search for the current line's LF resumes. */
  protected scanFrom = 0
  /** A line is incomplete: until a chunk brings an LF, there is nothing to join. */
  protected awaitingLf = false
  protected pendingHasLf = false

  /** Bytes received and not yet consumed. */
  get buffered (): number {
    return this.buf.length - this.pos + this.pendingBytes
  }

  /** Keeps a received chunk (not empty) for the next join. */
  protected stash (chunk: Buffer): void {
    this.pending.push(chunk)
    this.pendingBytes += chunk.length
    if (this.awaitingLf && !this.pendingHasLf && chunk.indexOf(LF) !== -1) this.pendingHasLf = true
  }

  protected join (): void {
    if (this.pending.length === 0) return
    const rest = this.buf.subarray(this.pos)
    this.buf = rest.length === 0 && this.pending.length === 1
      ? this.pending[0] as Buffer
      : Buffer.concat([rest, ...this.pending])
    this.scanFrom -= this.pos
    this.pos = 0
    this.pending = []
    this.pendingBytes = 0
    this.pendingHasLf = false
  }

  /** Parsing stops until `bytesFromPos` bytes are there; what was read whole is let go. */
  protected needMore (bytesFromPos: number): void {
    this.need = bytesFromPos
    if (this.pos === this.buf.length) {
      this.buf = EMPTY
      this.pos = 0
      this.scanFrom = 0
    }
  }

  /** Drops everything held. */
  protected clear (): void {
    this.buf = EMPTY
    this.pos = 0
    this.pending = []
    this.pendingBytes = 0
    this.awaitingLf = false
    this.pendingHasLf = false
  }
}
