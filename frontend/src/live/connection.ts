// One WebSocket to /v1/stream that reconnects with exponential backoff and jitter.
import type { StreamMessage } from "./messages";

export type ConnectionState = "connecting" | "live" | "reconnecting" | "closed";

export interface Backoff {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 500, maxMs: 30_000 };

/** "Equal jitter": half the capped exponential delay, plus a random part of the other half,
 * so clients that lost the server together do not come back together. */
export function backoffDelay(
  attempt: number,
  backoff: Backoff = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const cap = Math.min(backoff.maxMs, backoff.baseMs * 2 ** attempt);
  return Math.round(cap / 2 + random() * (cap / 2));
}

export interface ConnectionEvents {
  message(message: StreamMessage): void;
  state(state: ConnectionState): void;
  /** The server refused the key (close code 1008). */
  unauthorized(): void;
}

export interface ConnectionOptions {
  backoff?: Backoff;
  random?: () => number;
  socket?: (url: string) => WebSocket;
}

const POLICY_VIOLATION = 1008;

export class StreamConnection {
  private socket: WebSocket | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  state: ConnectionState = "connecting";

  constructor(
    private readonly url: string,
    private readonly events: ConnectionEvents,
    private readonly options: ConnectionOptions = {},
  ) {}

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.socket?.close();
    this.socket = null;
    this.setState("closed");
  }

  private setState(state: ConnectionState): void {
    this.state = state;
    this.events.state(state);
  }

  private open(): void {
    const socket = this.options.socket ? this.options.socket(this.url) : new WebSocket(this.url);
    this.socket = socket;
    socket.onmessage = (event: MessageEvent) => {
      let message: StreamMessage;
      try {
        message = JSON.parse(String(event.data)) as StreamMessage;
      } catch {
        return;
      }
      if (message.type === "hello") {
        this.attempt = 0;
        this.setState("live");
      }
      this.events.message(message);
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.socket !== socket || this.stopped) return;
      this.socket = null;
      if (event.code === POLICY_VIOLATION) {
        this.setState("closed");
        this.events.unauthorized();
        return;
      }
      this.setState("reconnecting");
      const delay = backoffDelay(this.attempt, this.options.backoff, this.options.random);
      this.attempt += 1;
      this.timer = setTimeout(() => {
        this.timer = null;
        if (!this.stopped) this.open();
      }, delay);
    };
  }
}
