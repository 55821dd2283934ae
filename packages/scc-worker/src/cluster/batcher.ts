/**
 * `pubSubBatchDuration`: buffers published messages per channel and hands each channel's batch on
 * once per window, as one `{sender, messages}` packet (the original's batching).
 */
export class PublishBatcher {
  private buffers = new Map<string, unknown[]>();
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;

  constructor(
    private readonly durationMs: number,
    private readonly flushChannel: (channel: string, messages: unknown[]) => void,
  ) {}

  /**
   * Adds a message; the window starts with the first message after a flush. A 0 window ends with
   * the current event-loop turn (setImmediate: after the I/O callbacks that published together).
   */
  add(channel: string, message: unknown): void {
    const buffer = this.buffers.get(channel);
    if (buffer) buffer.push(message);
    else this.buffers.set(channel, [message]);
    if (this.durationMs === 0) this.immediate ??= setImmediate(() => this.flush());
    else this.timer ??= setTimeout(() => this.flush(), this.durationMs);
  }

  /** Sends everything buffered now. */
  flush(): void {
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
