// What several benchmarks share: their numeric options and the percentiles they print.

/** `--name N` among a benchmark's arguments, or `def` when it is not given. */
export function arg(args: string[], name: string, def: number): number {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? Number(args[i + 1]) : def
}

/** The nearest-rank percentile `p` (0-100) of `xs`; NaN when there are none. */
export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? Number.NaN
}
