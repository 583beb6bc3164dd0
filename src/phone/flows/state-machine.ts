/**
 * A named-state machine with one guarded transition, as SIP.js's registerer does it: the legal
 * edges are a table (drawn in each flow's doc comment), and an edge not in the table is a bug in
 * the flow, so `transition()` throws rather than letting the phone wander into a state nobody
 * designed.
 */
export type Edges<S extends string> = { readonly [K in S]: readonly S[] };

export class IllegalTransition extends Error {
  override name = 'IllegalTransition';
}

export class StateMachine<S extends string> {
  private current: S;
  private readonly edges: Edges<S>;
  private readonly label: string;
  private readonly onChange: (from: S, to: S) => void;

  constructor(label: string, initial: S, edges: Edges<S>, onChange: (from: S, to: S) => void = () => {}) {
    this.label = label;
    this.current = initial;
    this.edges = edges;
    this.onChange = onChange;
  }

  get state(): S {
    return this.current;
  }

  /** True when `to` is a legal next state. */
  can(to: S): boolean {
    return this.edges[this.current].includes(to);
  }

  transition(to: S): void {
    const from = this.current;
    if (!this.can(to)) throw new IllegalTransition(`${this.label}: no edge ${from} -> ${to} (allowed: ${this.edges[from].join(', ') || 'none'})`);
    this.current = to;
    this.onChange(from, to);
  }
}
