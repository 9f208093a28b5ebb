/**
 * A WHERE clause made of optional conditions, `?` placeholders in the order of `args`. The SQLite
 * and PostgreSQL stores build their filtered lists with it; PostgreSQL numbers the placeholders
 * (pg/placeholders.ts) after any it puts before them.
 */
export class SqlWhere {
  private readonly parts: string[] = []
  readonly args: unknown[] = []

  /** A condition with its own placeholders; an absent part (no scope, say) adds nothing. */
  and(part: string | { sql: string; args: readonly unknown[] } | undefined, ...args: unknown[]): this {
    if (part === undefined) return this
    if (typeof part === 'string') this.push(part, args)
    else this.push(part.sql, part.args)
    return this
  }

  /** `column = ?` when a value is given: a filter the caller left out filters nothing. */
  equals(column: string, value: unknown): this {
    return value === undefined ? this : this.and(`${column} = ?`, value)
  }

  /** `WHERE a AND b`, or nothing without a condition. */
  get sql(): string {
    return this.parts.length > 0 ? `WHERE ${this.parts.join(' AND ')}` : ''
  }

  private push(sql: string, args: readonly unknown[]): void {
    this.parts.push(sql)
    this.args.push(...args)
  }
}
