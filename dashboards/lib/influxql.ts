import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog'
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common'

// The foundation SDK ships query builders for Prometheus, Loki and others but none for InfluxDB, so
// the InfluxQL target is declared here as the SDK's README shows for a custom query type. Its
// fields follow Grafana's InfluxDB data source model (public/app/plugins/datasource/influxdb
// types: InfluxQuery) for raw InfluxQL queries.

/** Stable uid of the provisioned InfluxDB data source (dashboards/provisioning/datasources). */
export const DATASOURCE_UID = 'ioc-influxdb'

export const INFLUX: DataSourceRef = { type: 'influxdb', uid: DATASOURCE_UID }

export type ResultFormat = 'time_series' | 'table'

export interface InfluxQLQuery extends Dataquery {
  refId: string
  datasource: DataSourceRef
  rawQuery: true
  query: string
  resultFormat: ResultFormat
  /** Series name; `$tag_<key>` and `$col` are replaced by Grafana. */
  alias?: string
  hide?: boolean
}

export class InfluxQLBuilder implements Builder<Dataquery> {
  private readonly q: InfluxQLQuery

  constructor(query: string, refId = 'A') {
    this.q = {
      refId,
      datasource: INFLUX,
      rawQuery: true,
      query,
      resultFormat: 'time_series',
      _implementsDataqueryVariant() {},
    }
  }

  table(): this {
    this.q.resultFormat = 'table'
    return this
  }

  alias(alias: string): this {
    this.q.alias = alias
    return this
  }

  refId(refId: string): this {
    this.q.refId = refId
    return this
  }

  build(): InfluxQLQuery {
    return this.q
  }
}

/** Shorthand: `influx('SELECT ...')`, `influx('SELECT ...', 'B').table()`. */
export function influx(query: string, refId = 'A'): InfluxQLBuilder {
  return new InfluxQLBuilder(query, refId)
}

/** Quotes an InfluxQL identifier (measurement, tag or field key). */
export function ident(name: string): string {
  return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

/** Quotes an InfluxQL string literal. */
export function literal(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

/**
 * `"tag" =~ /^$var$/`: the form Grafana documents for multi-value and All variables in InfluxQL,
 * which it expands to an anchored alternation of the escaped values.
 */
export function matchVar(tag: string, variable: string): string {
  return `${ident(tag)} =~ /^$${variable}$/`
}
