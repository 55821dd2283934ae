/**
 * `pubSubBatchDuration`: buffers published messages per channel and hands each channel's batch on
 * once per window, as one `{sender, messages}` packet (the original's batching).
 *
 * With a 0 window it is adaptive (`minIntervalMs`): the first messages after a quiet spell go at
 * the end of the current event-loop turn, adding no delay; under sustained load flushes come at
 * most once per `minIntervalMs`, so each broker connection carries one frame per interval instead
 * of one per turn. Light traffic keeps its latency; heavy traffic gets the batching it pays for.
 */
export class PublishBatcher {
  private buffers = new Map<string, unknown[]>();
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private lastFlushAt = 0;

  constructor(
    private readonly durationMs: number,
    private readonly flushChannel: (channel: string, messages: unknown[]) => void,
    private readonly minIntervalMs = 0,
  ) {}

  /**
   * Adds a message; the window starts with the first message after a flush. A 0 window ends with
   * the current event-loop turn (setImmediate: after the I/O callbacks that published together).
   */
  add(channel: string, message: unknown): void {
    const buffer = this.buffers.get(channel);
    if (buffer) buffer.push(message);
    else this.buffers.set(channel, [message]);
    if (this.durationMs > 0) {
      this.timer ??= setTimeout(() => this.flush(), this.durationMs);
      return;
    }
    if (this.immediate || this.timer) return;
    const wait = this.minIntervalMs === 0 ? 0 : this.lastFlushAt + this.minIntervalMs - Date.now();
    if (wait <= 0) this.immediate = setImmediate(() => this.flush());
    else this.timer = setTimeout(() => this.flush(), wait);
  }

  /** Sends everything buffered now. */
  flush(): void {
    if (this.minIntervalMs > 0) this.lastFlushAt = Date.now();
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
    const buffers = this.buffers;
    this.buffers = new Map();
    for (const [channel, messages] of buffers) this.flushChannel(channel, messages);
  }

  /** Flushes what is buffered and stops the timer. */
  close(): void {
    this.flush();
  }
}
