import { afterEach, describe, expect, it, vi } from "vitest";
import { FakeSocket } from "../test/fakes";
import { backoffDelay, type ConnectionState, StreamConnection } from "./connection";

describe("backoffDelay", () => {
  it("doubles per attempt up to the cap, with half of it random", () => {
    const low = () => 0;
    const high = () => 1;
    const backoff = { baseMs: 500, maxMs: 8_000 };
    expect([0, 1, 2, 3, 4, 5].map((a) => backoffDelay(a, backoff, low))).toEqual([
      250, 500, 1000, 2000, 4000, 4000,
    ]);
    expect([0, 1, 2, 3, 4, 5].map((a) => backoffDelay(a, backoff, high))).toEqual([
      500, 1000, 2000, 4000, 8000, 8000,
    ]);
  });
});

describe("StreamConnection", () => {
  afterEach(() => vi.useRealTimers());

  function connect() {
    const states: ConnectionState[] = [];
    const unauthorized = vi.fn();
    const messages: unknown[] = [];
    FakeSocket.instances = [];
    const connection = new StreamConnection(
      "ws://x/v1/stream?api_key=k",
      { message: (m) => messages.push(m), state: (s) => states.push(s), unauthorized },
      {
        backoff: { baseMs: 100, maxMs: 1_000 },
        random: () => 0,
        socket: (url) => new FakeSocket(url) as unknown as WebSocket,
      },
    );
    connection.start();
    return { connection, states, unauthorized, messages };
  }

  it("reconnects after a loss with growing delays, reset by a hello", () => {
    vi.useFakeTimers();
    const { states } = connect();
    FakeSocket.latest().send({ type: "hello", topic: "t" });
    expect(states).toEqual(["live"]);

    FakeSocket.latest().drop();
    expect(states.at(-1)).toBe("reconnecting");
    vi.advanceTimersByTime(49);
    expect(FakeSocket.instances).toHaveLength(1);
    vi.advanceTimersByTime(1); // attempt 0: 100 ms capped, half of it with random() = 0
    expect(FakeSocket.instances).toHaveLength(2);

    FakeSocket.latest().drop(); // fails again before its hello: attempt 1 waits 100 ms
    vi.advanceTimersByTime(99);
    expect(FakeSocket.instances).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.instances).toHaveLength(3);

    FakeSocket.latest().send({ type: "hello", topic: "t" });
    expect(states.at(-1)).toBe("live");
    FakeSocket.latest().drop(); // after a hello the delay starts over
    vi.advanceTimersByTime(50);
    expect(FakeSocket.instances).toHaveLength(4);
  });

  it("stops on a refused key and says so", () => {
    vi.useFakeTimers();
    const { states, unauthorized } = connect();
    FakeSocket.latest().drop(1008);
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.instances).toHaveLength(1);
    expect(states.at(-1)).toBe("closed");
    expect(unauthorized).toHaveBeenCalledOnce();
  });

  it("does not reconnect once stopped", () => {
    vi.useFakeTimers();
    const { connection, states } = connect();
    connection.stop();
    FakeSocket.instances[0]?.drop();
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.instances).toHaveLength(1);
    expect(states).toEqual(["closed"]);
  });
});
