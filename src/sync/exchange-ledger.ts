// One side of a sync exchange (docs/protocol.md, "Sync exchange"): the claims of the DELTAs this
// node sent, and the order of what the peer sends back. Write concern counts a peer only for what
// it acknowledged of data this node sent it (ACK(0) after our END: "I applied all of it"), never
// for what its DIGEST says it holds: a member can claim any clock. Pure: the replicator moves the
// frames and asks this ledger whether each one is in order.

import { Clock } from '../core/clock.js';
import { ReplikvError } from '../errors.js';
import { EXCHANGE_ACK_SEQ, MSG } from './messages.js';

/** A peer's message out of order in a sync exchange; its stream is closed. */
export class ExchangeOrderError extends ReplikvError {
  override readonly code = 'PROTOCOL_ERROR';
}

/** What the ledger needs of a decoded message: its type, and the sequence number of an ACK. */
export interface ExchangeFrame {
  type: number;
  seq?: number;
}

export class ExchangeLedger {
  private readonly claims = Clock.empty();
  private ourEnd = false;
  private theirEnd = false;
  private ack = false;

  /** A DELTA with this claim was handed to the stream. */
  sent(claim: Clock): void {
    if (this.ourEnd) throw new Error('a DELTA after END'); // our own bug, not the peer's
    this.claims.merge(claim);
  }

  /** Our END was handed to the stream: from now on the peer may acknowledge. */
  sentEnd(): void {
    this.ourEnd = true;
  }

  /**
   * A message from the peer: 'delta' (apply it), 'end' (its END: every DELTA of its is in), or
   * 'ack' (it applied every DELTA of ours). The ACK may come before or after its END, never before
   * ours. Throws ExchangeOrderError for anything else.
   */
  received(m: ExchangeFrame): 'delta' | 'end' | 'ack' {
    if (m.type === MSG.delta && !this.theirEnd) return 'delta';
    if (m.type === MSG.end && !this.theirEnd) {
      this.theirEnd = true;
      return 'end';
    }
    if (m.type === MSG.ack) {
      if (m.seq !== EXCHANGE_ACK_SEQ) throw new ExchangeOrderError(`ACK ${m.seq} in a sync exchange (only ${EXCHANGE_ACK_SEQ} acknowledges one)`);
      if (this.ack) throw new ExchangeOrderError('a second ACK in a sync exchange');
      if (!this.ourEnd) throw new ExchangeOrderError('an ACK before this node sent END');
      this.ack = true;
      return 'ack';
    }
    const expected = this.theirEnd ? 'ACK' : 'DELTA, END or ACK';
    throw new ExchangeOrderError(`expected ${expected}, got message type ${m.type}${this.theirEnd && m.type !== MSG.ack ? ' after END' : ''}`);
  }

  /** Whether an ACK is still worth waiting for: something was sent and it is not acknowledged yet. */
  get owed(): boolean {
    return !this.ack && !this.claims.isEmpty();
  }

  /** The dots the peer now holds by its acknowledgement: the union of our claims once it acked, else none. */
  credit(): Clock {
    return this.ack ? this.claims.clone() : Clock.empty();
  }
}
