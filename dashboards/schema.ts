import Type, { type Static } from 'typebox'

// Grafana's dashboard JSON model (schema v1, "classic" dashboards) as a typebox schema, for
// checking built boards at run time. Field names, required fields and enums follow the published
// schema types in the @grafana/schema package (raw/dashboard/x/types.gen: Dashboard, Panel,
// RowPanel, GridPos, FieldConfigSource, ThresholdsConfig, ValueMapping, VariableModel,
// AnnotationQuery, DashboardLink) and Grafana's documented JSON model ("view dashboard JSON
// model"). It is stricter than Grafana in a few places on purpose, where a loose value would still
// load but show a broken board: a panel must have an id, a type Grafana ships, a title, a grid
// position inside the 24 columns, and queries with a data source.

/** Panel types used here, all core visualisations that ship with Grafana 11 and 12. */
export const CORE_PANEL_TYPES = ['timeseries', 'stat', 'table', 'statetimeline', 'bargauge', 'barchart', 'gauge', 'text', 'state-timeline'] as const

const Uid = Type.String({ pattern: '^[a-zA-Z0-9_-]{1,40}$' })

export const DataSourceRefSchema = Type.Object({
  type: Type.String({ minLength: 1 }),
  uid: Type.String({ minLength: 1 }),
})

export const GridPosSchema = Type.Object({
  h: Type.Integer({ minimum: 1 }),
  w: Type.Integer({ minimum: 1, maximum: 24 }),
  x: Type.Integer({ minimum: 0, maximum: 23 }),
  y: Type.Integer({ minimum: 0 }),
  static: Type.Optional(Type.Boolean()),
})

export const ThresholdsConfigSchema = Type.Object({
  mode: Type.Union([Type.Literal('absolute'), Type.Literal('percentage')]),
  steps: Type.Array(Type.Object({ value: Type.Union([Type.Number(), Type.Null()]), color: Type.String({ minLength: 1 }) }), { minItems: 1 }),
})

const MappingResult = Type.Object({
  text: Type.Optional(Type.String()),
  color: Type.Optional(Type.String()),
  icon: Type.Optional(Type.String()),
  index: Type.Optional(Type.Integer()),
})

export const ValueMappingSchema = Type.Union([
  Type.Object({ type: Type.Literal('value'), options: Type.Record(Type.String(), MappingResult) }),
  Type.Object({
    type: Type.Literal('range'),
    options: Type.Object({ from: Type.Union([Type.Number(), Type.Null()]), to: Type.Union([Type.Number(), Type.Null()]), result: MappingResult }),
  }),
  Type.Object({ type: Type.Literal('regex'), options: Type.Object({ pattern: Type.String(), result: MappingResult }) }),
  Type.Object({ type: Type.Literal('special'), options: Type.Object({ match: Type.String(), result: MappingResult }) }),
])

export const FieldConfigSourceSchema = Type.Object({
  defaults: Type.Object({
    unit: Type.Optional(Type.String()),
    decimals: Type.Optional(Type.Number()),
    min: Type.Optional(Type.Number()),
    max: Type.Optional(Type.Number()),
    thresholds: Type.Optional(ThresholdsConfigSchema),
    mappings: Type.Optional(Type.Array(ValueMappingSchema)),
    links: Type.Optional(Type.Array(Type.Object({ title: Type.String(), url: Type.String() }))),
    custom: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  }),
  overrides: Type.Array(
    Type.Object({
      matcher: Type.Object({ id: Type.String({ minLength: 1 }), options: Type.Optional(Type.Unknown()) }),
      properties: Type.Array(Type.Object({ id: Type.String({ minLength: 1 }), value: Type.Optional(Type.Unknown()) })),
    }),
  ),
})

/** A query target; InfluxQL ones must carry their raw query. */
export const TargetSchema = Type.Object({
  refId: Type.String({ minLength: 1 }),
  datasource: DataSourceRefSchema,
  hide: Type.Optional(Type.Boolean()),
  rawQuery: Type.Optional(Type.Boolean()),
  query: Type.Optional(Type.String({ minLength: 1 })),
  resultFormat: Type.Optional(Type.Union([Type.Literal('time_series'), Type.Literal('table'), Type.Literal('logs')])),
  alias: Type.Optional(Type.String()),
})

export const PanelSchema = Type.Object({
  type: Type.Union(CORE_PANEL_TYPES.map((t) => Type.Literal(t))),
  id: Type.Integer({ minimum: 1 }),
  title: Type.String({ minLength: 1 }),
  description: Type.String({ minLength: 1 }),
  gridPos: GridPosSchema,
  datasource: Type.Optional(DataSourceRefSchema),
  targets: Type.Array(TargetSchema, { minItems: 1 }),
  fieldConfig: FieldConfigSourceSchema,
  options: Type.Record(Type.String(), Type.Unknown()),
  transformations: Type.Optional(Type.Array(Type.Object({ id: Type.String({ minLength: 1 }), options: Type.Unknown() }))),
  repeat: Type.Optional(Type.String()),
  repeatDirection: Type.Optional(Type.Union([Type.Literal('h'), Type.Literal('v')])),
  maxPerRow: Type.Optional(Type.Integer({ minimum: 1 })),
  interval: Type.Optional(Type.String()),
  timeFrom: Type.Optional(Type.String({ pattern: '^[0-9]+[smhdwMy]$' })),
  links: Type.Optional(Type.Array(Type.Unknown())),
})

export const RowPanelSchema = Type.Object({
  type: Type.Literal('row'),
  id: Type.Integer({ minimum: 1 }),
  title: Type.String({ minLength: 1 }),
  collapsed: Type.Boolean(),
  gridPos: GridPosSchema,
  panels: Type.Array(PanelSchema),
})

export const VariableSchema = Type.Object({
  type: Type.Union(['query', 'custom', 'textbox', 'constant', 'datasource', 'interval', 'adhoc'].map((t) => Type.Literal(t))),
  name: Type.String({ pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' }),
  label: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  query: Type.Optional(Type.Union([Type.String(), Type.Record(Type.String(), Type.Unknown())])),
  datasource: Type.Optional(DataSourceRefSchema),
  multi: Type.Optional(Type.Boolean()),
  includeAll: Type.Optional(Type.Boolean()),
  allValue: Type.Optional(Type.String()),
  refresh: Type.Optional(Type.Union([Type.Literal(0), Type.Literal(1), Type.Literal(2)])),
  current: Type.Optional(Type.Unknown()),
})

export const AnnotationQuerySchema = Type.Object({
  name: Type.String({ minLength: 1 }),
  datasource: DataSourceRefSchema,
  enable: Type.Boolean(),
  iconColor: Type.String({ minLength: 1 }),
  hide: Type.Optional(Type.Boolean()),
  builtIn: Type.Optional(Type.Integer()),
  target: Type.Optional(TargetSchema),
})

export const DashboardLinkSchema = Type.Object({
  title: Type.String(),
  type: Type.Union([Type.Literal('link'), Type.Literal('dashboards')]),
  icon: Type.String(),
  tooltip: Type.String(),
  tags: Type.Array(Type.String()),
  asDropdown: Type.Boolean(),
  targetBlank: Type.Boolean(),
  includeVars: Type.Boolean(),
  keepTime: Type.Boolean(),
  url: Type.Optional(Type.String()),
})

export const DashboardSchema = Type.Object({
  uid: Uid,
  title: Type.String({ minLength: 1 }),
  description: Type.String({ minLength: 1 }),
  tags: Type.Array(Type.String({ minLength: 1 })),
  timezone: Type.String(),
  editable: Type.Boolean(),
  graphTooltip: Type.Union([Type.Literal(0), Type.Literal(1), Type.Literal(2)]),
  time: Type.Object({ from: Type.String({ minLength: 1 }), to: Type.String({ minLength: 1 }) }),
  refresh: Type.Optional(Type.String()),
  schemaVersion: Type.Integer({ minimum: 36 }),
  version: Type.Optional(Type.Integer()),
  id: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  panels: Type.Array(Type.Union([PanelSchema, RowPanelSchema]), { minItems: 1 }),
  templating: Type.Object({ list: Type.Array(VariableSchema) }),
  annotations: Type.Object({ list: Type.Array(AnnotationQuerySchema) }),
  links: Type.Array(DashboardLinkSchema),
})

export type DashboardJson = Static<typeof DashboardSchema>
