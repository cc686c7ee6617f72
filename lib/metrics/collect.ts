import { Counter, Gauge, type Registry } from 'prom-client'

// Metrics read at scrape time from counters the node already keeps: nothing is
// added to the command path. A value the node counts itself cannot be fed to a
// prom-client Counter by `set` (there is none), and a Gauge named `..._total`
// would say `# TYPE gauge`, which tells Prometheus (and promtool) the wrong
// thing. So each counter below is a real Counter whose collect() resets it and
// adds the current count: the exposition says `counter`, the value is ours.
// A count that starts again from 0 (a restart; resetStats in commands/call.ts)
// is a counter reset to Prometheus, which handles it. Each metric lives in the
// node's own registry (the one `registers` names, never prom-client's global
// one: a test process runs several nodes); prom-client runs collect() bound to
// the metric.

/** A series of a labelled metric: its labels and its value. */
export type Series<L extends string> = Array<[Record<L, string>, number]>

/** A counter without labels, read from `read()` at each scrape. */
export function counterOf (registry: Registry, name: string, help: string, read: () => number): void {
  countersOf(registry, name, help, [], () => [[{}, read()]])
}

/** A counter with labels: one series per entry of `read()`, none left over from earlier scrapes. */
export function countersOf<L extends string> (registry: Registry, name: string, help: string, labelNames: readonly L[], read: () => Series<L>): void {
  new Counter<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect () {
      this.reset()
      for (const [labels, value] of read()) this.inc(labels, value)
    }
  })
}

/** A gauge without labels, read from `read()` at each scrape. */
export function gaugeOf (registry: Registry, name: string, help: string, read: () => number): void {
  gaugesOf(registry, name, help, [], () => [[{}, read()]])
}

/** A gauge with labels: one series per entry of `read()`, none left over from earlier scrapes (a forgotten peer goes). */
export function gaugesOf<L extends string> (registry: Registry, name: string, help: string, labelNames: readonly L[], read: () => Series<L>): void {
  new Gauge<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect () {
      this.reset()
      for (const [labels, value] of read()) this.set(labels, value)
    }
  })
}
