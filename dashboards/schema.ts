import {
  BarGaugeDisplayMode,
  BigValueColorMode,
  BigValueGraphMode,
  BigValueJustifyMode,
  BigValueTextMode,
  DashboardCursorSync,
  GraphDrawStyle,
  GraphGradientMode,
  GraphThresholdsStyleMode,
  LegendDisplayMode,
  MappingType,
  StackingMode,
  TableCellDisplayMode,
  ThresholdsMode,
  TooltipDisplayMode,
  VariableHide,
  VariableRefresh,
  VariableSort,
  VisibilityMode,
  VizOrientation,
} from '@grafana/schema'
import Type, { type Static, type TSchema } from 'typebox'

// Grafana's dashboard JSON model (schema v1, "classic" dashboards) as a typebox schema, for
// checking built boards at run time (tests only; @grafana/schema is a dev dependency). Field
// names and required fields follow the published schema types of the @grafana/schema package
// (raw/dashboard/x/types.gen: Dashboard, Panel, RowPanel, GridPos, FieldConfigSource,
// ThresholdsConfig, ValueMapping, VariableModel, AnnotationQuery, DashboardLink; the panelcfg
// types of the panels used) and Grafana's documented JSON model; every enumerated value is checked
// against that package's own runtime enums. Grafana publishes no JSON Schema for the model, hence
// this. It is stricter than Grafana in a few places on purpose, where a loose value would still
// load but show a broken board: a panel must have an id, a type Grafana ships, a title, a
// description, a grid position inside the 24 columns, and queries with a data source.

/** The values of a TypeScript enum object from @grafana/schema (numeric enums: the numbers). */
function oneOf(e: Record<string, string | number>): TSchema {
  const values = Object.values(e)
  const numeric = values.filter((v): v is number => typeof v === 'number')
  const pick = numeric.length ? numeric : (values as string[])
  return Type.Union(pick.map((v) => Type.Literal(v)))
}

/** Panel types used here, all core visualisations that ship with Grafana 11 and 12. */
export const CORE_PANEL_TYPES = ['timeseries', 'stat', 'table', 'bargauge', 'state-timeline'] as const

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
  mode: oneOf(ThresholdsMode),
  steps: Type.Array(Type.Object({ value: Type.Union([Type.Number(), Type.Null()]), color: Type.String({ minLength: 1 }) }), {
    minItems: 1,
  }),
})

const MappingResult = Type.Object({
  text: Type.Optional(Type.String()),
  color: Type.Optional(Type.String()),
  icon: Type.Optional(Type.String()),
  index: Type.Optional(Type.Integer()),
})

export const ValueMappingSchema = Type.Union([
  Type.Object({ type: Type.Literal(MappingType.ValueToText), options: Type.Record(Type.String(), MappingResult) }),
  Type.Object({
    type: Type.Literal(MappingType.RangeToText),
    options: Type.Object({
      from: Type.Union([Type.Number(), Type.Null()]),
      to: Type.Union([Type.Number(), Type.Null()]),
      result: MappingResult,
    }),
  }),
  Type.Object({ type: Type.Literal(MappingType.RegexToText), options: Type.Object({ pattern: Type.String(), result: MappingResult }) }),
  Type.Object({ type: Type.Literal(MappingType.SpecialValue), options: Type.Object({ match: Type.String(), result: MappingResult }) }),
])

/** `fieldConfig.defaults.custom` of graph-like panels (common GraphFieldConfig): enums checked. */
export const GraphCustomSchema = Type.Object({
  drawStyle: Type.Optional(oneOf(GraphDrawStyle)),
  gradientMode: Type.Optional(oneOf(GraphGradientMode)),
  thresholdsStyle: Type.Optional(Type.Object({ mode: oneOf(GraphThresholdsStyleMode) })),
  stacking: Type.Optional(Type.Object({ mode: oneOf(StackingMode), group: Type.Optional(Type.String()) })),
  showPoints: Type.Optional(oneOf(VisibilityMode)),
  lineWidth: Type.Optional(Type.Number({ minimum: 0 })),
  fillOpacity: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
  cellOptions: Type.Optional(Type.Object({ type: oneOf(TableCellDisplayMode) })),
})

const Legend = Type.Object({
  displayMode: oneOf(LegendDisplayMode),
  placement: Type.Union([Type.Literal('bottom'), Type.Literal('right')]),
  showLegend: Type.Boolean(),
})
const Tooltip = Type.Object({ mode: oneOf(TooltipDisplayMode) })
const Reduce = Type.Object({
  calcs: Type.Array(Type.String({ minLength: 1 })),
  values: Type.Optional(Type.Boolean()),
  fields: Type.Optional(Type.String()),
})

/** Required options per panel type, from the panelcfg types of @grafana/schema. */
export const PANEL_OPTIONS: Record<string, TSchema> = {
  timeseries: Type.Object({ legend: Legend, tooltip: Tooltip }),
  stat: Type.Object({
    reduceOptions: Reduce,
    colorMode: oneOf(BigValueColorMode),
    graphMode: oneOf(BigValueGraphMode),
    justifyMode: oneOf(BigValueJustifyMode),
    textMode: oneOf(BigValueTextMode),
    orientation: Type.Optional(oneOf(VizOrientation)),
  }),
  bargauge: Type.Object({ reduceOptions: Reduce, displayMode: oneOf(BarGaugeDisplayMode), orientation: oneOf(VizOrientation) }),
  table: Type.Object({ showHeader: Type.Boolean() }),
  'state-timeline': Type.Object({ showValue: oneOf(VisibilityMode), legend: Legend, tooltip: Tooltip, mergeValues: Type.Boolean() }),
}

export const FieldConfigSourceSchema = Type.Object({
  defaults: Type.Object({
    unit: Type.Optional(Type.String()),
    decimals: Type.Optional(Type.Number()),
    min: Type.Optional(Type.Number()),
    max: Type.Optional(Type.Number()),
    thresholds: Type.Optional(ThresholdsConfigSchema),
    mappings: Type.Optional(Type.Array(ValueMappingSchema)),
    links: Type.Optional(Type.Array(Type.Object({ title: Type.String(), url: Type.String() }))),
    custom: Type.Optional(GraphCustomSchema),
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
  refresh: Type.Optional(oneOf(VariableRefresh)),
  hide: Type.Optional(oneOf(VariableHide)),
  sort: Type.Optional(oneOf(VariableSort)),
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
  graphTooltip: oneOf(DashboardCursorSync),
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
