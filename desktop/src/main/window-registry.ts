/**
 * The webContents of the windows this app created (window-factory.ts adds each one). The IPC
 * sender check trusts only these, and events are pushed only to these.
 */
import type { WebContents } from 'electron';

/** The part of WebContents the registry and the IPC bridge use (tests pass plain objects). */
export interface RegisteredContents {
  readonly id: number;
  isDestroyed(): boolean;
  getURL(): string;
  send(channel: string, ...args: unknown[]): void;
  once(event: 'destroyed', listener: () => void): unknown;
}

export class WindowRegistry<W extends RegisteredContents = WebContents> {
  private readonly contents = new Set<W>();

  add(webContents: W): void {
    this.contents.add(webContents);
    webContents.once('destroyed', () => this.contents.delete(webContents));
  }

  has(webContents: unknown): boolean {
    return this.contents.has(webContents as W);
  }

  /** The live ones, in creation order. */
  all(): W[] {
    return [...this.contents].filter((w) => !w.isDestroyed());
  }
}
