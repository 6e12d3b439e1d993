import WebSocket from "ws";
import { TERMINAL_JOB_STATUSES } from "#events/jobs";
import type { Platform } from "../support/platform.ts";

interface Pushed {
  type: string;
  at?: string;
  seq?: number;
  jobId?: string;
  status?: string;
}

/**
 * One socket following every job of the tenant, as the dashboard does (`all`, with `batch` frames): resolves
 * waiters on terminal statuses and keeps latencies.
 */
export class Follower {
  readonly latencies: number[] = [];
  recordLatency = false;
  private readonly waiting = new Map<string, (status: string) => void>();
  private readonly ended = new Map<string, string>();
  /** When each job ended, by its terminal status change's `at` (the platform's clock, epoch ms). */
  private readonly endedAt = new Map<string, number>();
  private constructor(private readonly socket: WebSocket) {
    socket.on("message", (data) => {
      const received = Date.now();
      const frame = JSON.parse(data.toString()) as Pushed & { events?: Pushed[] };
      for (const message of frame.type === "batch" ? (frame.events ?? []) : [frame])
        this.see(message, received);
    });
  }

  private see(message: Pushed, received: number): void {
    if (message.seq !== undefined && message.at !== undefined && this.recordLatency) {
      this.latencies.push(received - Date.parse(message.at));
    }
    if (
      message.type === "job.status_changed" &&
      message.jobId !== undefined &&
      TERMINAL_JOB_STATUSES.includes(message.status as never)
    ) {
      this.ended.set(message.jobId, message.status as string);
      if (message.at !== undefined) this.endedAt.set(message.jobId, Date.parse(message.at));
      this.waiting.get(message.jobId)?.(message.status as string);
      this.waiting.delete(message.jobId);
    }
  }

  static async open(platform: Platform): Promise<Follower> {
    const socket = new WebSocket(`${platform.wsUrl}?token=${encodeURIComponent(platform.token)}`);
    await new Promise<void>((ok, fail) => {
      socket.once("open", () => ok());
      socket.once("error", fail);
    });
    const follower = new Follower(socket);
    const subscribed = new Promise<void>((ok) => {
      socket.on("message", (data) => {
        if (JSON.parse(data.toString()).type === "subscribed") ok();
      });
    });
    socket.send(JSON.stringify({ action: "subscribe", all: true, batch: true }));
    await subscribed;
    return follower;
  }

  get endedCount(): number {
    return this.ended.size;
  }

  endedOf(jobId: string): string | undefined {
    return this.ended.get(jobId);
  }

  endedAtOf(jobId: string): number | undefined {
    return this.endedAt.get(jobId);
  }

  until(jobId: string, timeoutMs: number): Promise<string> {
    const ended = this.ended.get(jobId);
    if (ended !== undefined) return Promise.resolve(ended);
    return new Promise((ok, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`job ${jobId} did not end within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiting.set(jobId, (status) => {
        clearTimeout(timer);
        ok(status);
      });
    });
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((ok) => {
      this.socket.once("close", () => ok());
      this.socket.close();
    });
  }
}
