/**
 * Messages this page sent and is waiting on. ipywidgets counts a sent update as pending
 * until the kernel reports "idle" for it, and holds later updates back meanwhile; this
 * page has no kernel status, so the server's echo of the message (its `parent_msg_id`),
 * or the server's refusal (its `ref`), or a timeout stands in for it. Pure.
 */

export interface PendingSend {
  ref: number;
  msgId: string;
  commId: string;
  /** The state keys the message set (to put back the server's values if refused). */
  keys: string[];
  sentAtMs: number;
  /** Tells the model its message is done with (its "idle"). */
  settle(): void;
}

/** Past this many unanswered messages the oldest are let go: a server that never answers
 * must not grow this page's memory. */
export const MAX_PENDING = 1000;

export class PendingSends {
  private readonly byRef = new Map<number, PendingSend>();
  private readonly refByMsgId = new Map<string, number>();

  get size(): number {
    return this.byRef.size;
  }

  add(send: PendingSend): void {
    this.byRef.set(send.ref, send);
    this.refByMsgId.set(send.msgId, send.ref);
    while (this.byRef.size > MAX_PENDING) {
      const oldest = this.byRef.keys().next().value as number;
      this.take(oldest)?.settle();
    }
  }

  private take(ref: number): PendingSend | null {
    const send = this.byRef.get(ref);
    if (!send) return null;
    this.byRef.delete(ref);
    this.refByMsgId.delete(send.msgId);
    return send;
  }

  /** The send that an update with this `parent_msg_id` answers (taken out), or null: an
   * echo of someone else's message. */
  echoed(parentMsgId: string | null): PendingSend | null {
    if (parentMsgId === null) return null;
    const ref = this.refByMsgId.get(parentMsgId);
    return ref === undefined ? null : this.take(ref);
  }

  /** The send a `refused` frame names (taken out), or null. */
  refused(ref: number | null): PendingSend | null {
    return ref === null ? null : this.take(ref);
  }

  /** Sends older than `maxAgeMs` (taken out): no echo is coming for them (a kernel that
   * does not echo, a socket that dropped). */
  expire(nowMs: number, maxAgeMs: number): PendingSend[] {
    const old = [...this.byRef.values()].filter((s) => nowMs - s.sentAtMs >= maxAgeMs);
    for (const send of old) this.take(send.ref);
    return old;
  }

  /** Every send (taken out): the socket closed, or the kernel died. */
  drain(): PendingSend[] {
    const all = [...this.byRef.values()];
    this.byRef.clear();
    this.refByMsgId.clear();
    return all;
  }
}
