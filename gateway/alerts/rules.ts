import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { mkdirSync } from 'node:fs'
import Type, { type Static, type TNumber, type TSchema } from 'typebox'
import Value from 'typebox/value'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import { SEVERITIES } from './types.ts'
import { schemaProblem } from '../util/schema-error.ts'

// Rules in config/rules.yaml (or <dataDir>/rules.yaml once replaced through the API).

const RuleId = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$', description: 'Rule id' })
const SeverityT = Type.Union(SEVERITIES.map((s) => Type.Literal(s)))
const Names = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
  maxItems: 1000,
  description: 'Ids this rule applies to; absent means all',
})
const Seconds = Type.Integer({ minimum: 0, maximum: 7 * 86400 })
const Common = {
  id: RuleId,
  enabled: Type.Optional(Type.Boolean({ default: true })),
  description: Type.Optional(Type.String({ maxLength: 500 })),
}

/** One severity per threshold, lowest first (rules with one to three thresholds). */
const Severities = Type.Optional(Type.Array(SeverityT, { minItems: 1, maxItems: 3 }))

/** Which cameras and zones a camera rule watches; absent: all. */
const CameraZones = { cameras: Type.Optional(Names), zones: Type.Optional(Names) }

/** Decision 05/2020/QĐ-TTg alarm levels I-III, levels from config/stations.yaml unless overridden. */
export const WaterAlarmRule = Type.Object(
  {
    ...Common,
    type: Type.Literal('water_alarm'),
    stations: Type.Optional(Names),
    hysteresis_m: Type.Number({ minimum: 0, maximum: 5, default: 0.1 }),
    min_duration_s: Type.Optional(Seconds),
    severities: Type.Optional(Type.Array(SeverityT, { minItems: 3, maxItems: 3 })),
    /** Per-station override of the levels [I, II, III] in metres above the gauge datum. */
    levels: Type.Optional(
      Type.Record(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$' }), Type.Array(Type.Number(), { minItems: 3, maxItems: 3 })),
    ),
  },
  { additionalProperties: false },
)

export const RiseRateRule = Type.Object(
  {
    ...Common,
    type: Type.Literal('rise_rate'),
    stations: Type.Optional(Names),
    window_s: Type.Integer({ minimum: 60, maximum: 86400, default: 3600 }),
    /** Defaults to the station's rise_alert_m_per_h in config/stations.yaml. */
    threshold_m_per_h: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 20 })),
    hysteresis_m_per_h: Type.Number({ minimum: 0, maximum: 20, default: 0.05 }),
    min_duration_s: Type.Optional(Seconds),
    severity: Type.Optional(SeverityT),
  },
  { additionalProperties: false },
)

export const RainfallRule = Type.Object(
  {
    ...Common,
    type: Type.Literal('rainfall'),
    stations: Type.Optional(Names),
    window_s: Type.Integer({ minimum: 300, maximum: 86400, description: 'Accumulation window, e.g. 3600, 10800, 86400' }),
    thresholds_mm: Type.Array(Type.Number({ exclusiveMinimum: 0, maximum: 5000 }), { minItems: 1, maxItems: 3 }),
    hysteresis_mm: Type.Number({ minimum: 0, maximum: 1000, default: 0 }),
    min_duration_s: Type.Optional(Seconds),
    severities: Severities,
  },
  { additionalProperties: false },
)

/** VN_AQI bands of Decision 1459/QĐ-TCMT: an alert from `min_aqi` on, its level the band. */
export const AqiBandRule = Type.Object(
  {
    ...Common,
    type: Type.Literal('aqi_band'),
    stations: Type.Optional(Names),
    min_aqi: Type.Union([Type.Literal(51), Type.Literal(101), Type.Literal(151), Type.Literal(201), Type.Literal(301)], { default: 101 }),
    hysteresis: Type.Number({ minimum: 0, maximum: 50, default: 5 }),
    min_duration_s: Type.Optional(Seconds),
  },
  { additionalProperties: false },
)

export const SilenceRule = Type.Object(
  {
    ...Common,
    type: Type.Literal('silence'),
    device_kinds: Type.Optional(
      Type.Array(Type.Union(['water_level', 'rain_gauge', 'air_quality', 'camera'].map((k) => Type.Literal(k))), { maxItems: 4 }),
    ),
    devices: Type.Optional(Names),
    expected_interval_s: Type.Integer({ minimum: 1, maximum: 7 * 86400 }),
    severity: Type.Optional(SeverityT),
  },
  { additionalProperties: false },
)

/**
 * A rule on a measure of camera zones, which rises with trouble: its thresholds (with their defaults)
 * and its hysteresis are on that measure's scale.
 */
function cameraZoneRule<T extends string>(type: T, threshold: TNumber, defaults: number[], hysteresis: TNumber) {
  return Type.Object(
    {
      ...Common,
      type: Type.Literal(type),
      ...CameraZones,
      thresholds: Type.Array(threshold, { minItems: 1, maxItems: 3, default: defaults }),
      hysteresis,
      min_duration_s: Type.Optional(Seconds),
      severities: Severities,
    },
    { additionalProperties: false },
  )
}

/** Congestion level 0-3 of the vehicles in a zone (docs/vision.md). */
export const CongestionRule = cameraZoneRule(
  'congestion',
  Type.Number({ minimum: 0, maximum: 3 }),
  [2, 3],
  Type.Number({ minimum: 0, maximum: 3, default: 0.5 }),
)

/** Share of a zone covered by water, 0-1 (docs/vision.md). */
export const WaterRatioRule = cameraZoneRule(
  'water_ratio',
  Type.Number({ exclusiveMinimum: 0, maximum: 1 }),
  [0.2, 0.5],
  Type.Number({ minimum: 0, maximum: 1, default: 0.05 }),
)

const BY_TYPE: Record<string, TSchema> = {
  water_alarm: WaterAlarmRule,
  rise_rate: RiseRateRule,
  rainfall: RainfallRule,
  aqi_band: AqiBandRule,
  silence: SilenceRule,
  congestion: CongestionRule,
  water_ratio: WaterRatioRule,
}
export const RULE_TYPES = Object.keys(BY_TYPE)

export const RuleSchema = Type.Union([WaterAlarmRule, RiseRateRule, RainfallRule, AqiBandRule, SilenceRule, CongestionRule, WaterRatioRule])
export type Rule = Static<typeof RuleSchema>
export type WaterAlarm = Static<typeof WaterAlarmRule>
export type RiseRate = Static<typeof RiseRateRule>
export type Rainfall = Static<typeof RainfallRule>
export type AqiBand = Static<typeof AqiBandRule>
export type Silence = Static<typeof SilenceRule>
export type Congestion = Static<typeof CongestionRule>
export type WaterRatio = Static<typeof WaterRatioRule>

export const RulesDocSchema = Type.Object(
  {
    version: Type.Literal(1),
    rules: Type.Array(RuleSchema, { maxItems: 1000 }),
  },
  { additionalProperties: false },
)
export type RulesDoc = Static<typeof RulesDocSchema>

export class RuleError extends Error {
  override name = 'RuleError'
}

function firstError(schema: TSchema, value: unknown, prefix: string, skip?: readonly string[]): string | undefined {
  const p = schemaProblem(Value.Errors(schema, value), {
    prefix,
    root: '(top level)',
    skip,
    unknown: 'is not an accepted field',
    required: true,
  })
  return p && `${p.key} ${p.message}`
}

function ascending(xs: readonly number[]): boolean {
  return xs.every((x, i) => i === 0 || x > (xs[i - 1] as number))
}

/**
 * Checks a rules document and fills defaults. Throws RuleError whose message names the field,
 * e.g. `rules[2].thresholds_mm must be in ascending order`.
 */
export function parseRules(input: unknown): RulesDoc {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new RuleError('rules document must be a mapping with version and rules')
  const doc = input as { version?: unknown; rules?: unknown }
  const top = firstError(
    Type.Object({ version: Type.Literal(1), rules: Type.Array(Type.Unknown(), { maxItems: 1000 }) }, { additionalProperties: false }),
    doc,
    '',
    [],
  )
  if (top) throw new RuleError(top)
  const seen = new Set<string>()
  const rules: Rule[] = []
  ;(doc.rules as unknown[]).forEach((raw, i) => {
    const at = `rules[${i}]`
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new RuleError(`${at} must be a mapping`)
    const type = (raw as { type?: unknown }).type
    const schema = typeof type === 'string' ? BY_TYPE[type] : undefined
    if (!schema) throw new RuleError(`${at}.type must be one of ${RULE_TYPES.join(', ')}`)
    const withDefaults = Value.Default(schema, Value.Clone(raw))
    const err = firstError(schema, withDefaults, at)
    if (err) throw new RuleError(err)
    const rule = withDefaults as Rule
    if (seen.has(rule.id)) throw new RuleError(`${at}.id "${rule.id}" is used by another rule`)
    seen.add(rule.id)
    const thresholds =
      'thresholds_mm' in rule
        ? { name: 'thresholds_mm', xs: rule.thresholds_mm }
        : 'thresholds' in rule
          ? { name: 'thresholds', xs: rule.thresholds }
          : undefined
    if (thresholds && !ascending(thresholds.xs)) throw new RuleError(`${at}.${thresholds.name} must be in ascending order`)
    if (thresholds && 'severities' in rule && rule.severities && rule.severities.length !== thresholds.xs.length) {
      throw new RuleError(`${at}.severities must have one entry per threshold (${thresholds.xs.length})`)
    }
    if (rule.type === 'water_alarm' && rule.levels) {
      for (const [station, lv] of Object.entries(rule.levels)) {
        if (!ascending(lv)) throw new RuleError(`${at}.levels.${station} must be ascending (I < II < III)`)
      }
    }
    rules.push(rule)
  })
  return { version: 1, rules }
}

export function parseRulesYaml(text: string, source: string): RulesDoc {
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (err) {
    throw new RuleError(`${source} is not valid YAML: ${(err as Error).message.split('\n')[0]}`)
  }
  try {
    return parseRules(doc)
  } catch (err) {
    throw new RuleError(`${source}: ${(err as Error).message}`)
  }
}

/** Where the active rules live: a copy replaced through the API in the data dir wins over the shipped file. */
export function rulesPaths(dataDir: string, shipped = 'config/rules.yaml'): { active: string; shipped: string } {
  return { active: join(dataDir, 'rules.yaml'), shipped }
}

export function loadRules(dataDir: string, shipped = 'config/rules.yaml'): RulesDoc {
  return loadRulesOf(dataDir, shipped).doc
}

/** The active rules, and whether they are this gateway's own (<dataDir>/rules.yaml, replaced through PUT) rather than the shipped file. */
export function loadRulesOf(dataDir: string, shipped = 'config/rules.yaml'): { doc: RulesDoc; own: boolean } {
  const p = rulesPaths(dataDir, shipped)
  const own = existsSync(p.active)
  const file = own ? p.active : existsSync(p.shipped) ? p.shipped : undefined
  if (!file) return { doc: { version: 1, rules: [] }, own }
  return { doc: parseRulesYaml(readFileSync(file, 'utf8'), file), own }
}

/** Writes the rules to <dataDir>/rules.yaml atomically (write, fsync by rename). */
export function saveRules(dataDir: string, doc: RulesDoc): void {
  const target = join(dataDir, 'rules.yaml')
  mkdirSync(dirname(target), { recursive: true })
  const tmp = `${target}.${process.pid}.tmp`
  writeFileSync(tmp, `# Replaced through PUT /api/v1/rules on ${new Date().toISOString()}\n${toYaml(doc)}`)
  renameSync(tmp, target)
}
