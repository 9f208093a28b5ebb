import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge'
import * as common from '@grafana/grafana-foundation-sdk/common'
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import * as stat from '@grafana/grafana-foundation-sdk/stat'
import * as table from '@grafana/grafana-foundation-sdk/table'
import {
  alarmLevelMappings,
  alarmThresholds,
  alertAnnotation,
  bilingual,
  newBoard,
  row,
  thresholds,
  columnNames,
  of,
  bigValue,
} from '../lib/common.ts'
import { influx } from '../lib/influxql.ts'
import { hasLevels, type StationLevels } from '../lib/stations.ts'
import { aqiThresholds } from './air-quality.ts'
import { congestionMappings } from './traffic.ts'

export const OPERATIONS_UID = 'ioc-operations'

/** Severities of the alert engine (gateway/alerts/types.ts), lowest first, with their colours. */
export const SEVERITY_COLORS = [
  ['info', 'blue'],
  ['minor', 'yellow'],
  ['major', 'orange'],
  ['critical', 'red'],
] as const

/**
 * The latest change of every alert: one alert exists per rule and subject (station, device, zone),
 * and the `alerts` measurement holds every change, so the last point of each group is the alert's
 * current state. Alerts still open or acknowledged are those whose last change is not `resolved`.
 * The selector runs on `id`, the one field every change carries (`level` only comes with level
 * alerts).
 * Panels using it look back 30 days (a relative time override) whatever the dashboard's range, so
 * that an alert opened long ago and still open is counted.
 */
export const LATEST_ALERTS =
  'SELECT last("id") AS "id", "kind", "severity", "state", "title", "level" FROM "alerts" WHERE $timeFilter GROUP BY "rule", "station", "device", "zone"'
export const OPEN_ALERTS = `SELECT * FROM (${LATEST_ALERTS}) WHERE "state" != 'resolved'`

function severityMappings(): dashboard.ValueMapping[] {
  const options: Record<string, dashboard.ValueMappingResult> = {}
  SEVERITY_COLORS.forEach(([sev, color], i) => {
    options[sev] = { color, index: i }
  })
  return [{ type: dashboard.MappingType.ValueToText, options }]
}

export function operationsBoard(stations: StationLevels[]): dashboard.DashboardBuilder {
  const board = newBoard({
    uid: OPERATIONS_UID,
    title: 'Tổng quan điều hành',
    vi: 'Tổng quan cho cán bộ trực: cảnh báo đang mở theo loại và mức độ, mực nước mới nhất của tất cả các trạm, VN_AQI và giao thông.',
    en: 'Operations overview for duty officers: open alerts by kind and severity, latest level of every station, VN_AQI and traffic.',
    tags: ['overview'],
  }).annotation(alertAnnotation('Cảnh báo / Alerts', `"severity" =~ /^(major|critical)$/`, 'red'))

  board.withRow(row('Cảnh báo đang mở / Open alerts'))
  board.withPanel(
    bigValue('tile')
      .title('Tổng cảnh báo đang mở')
      .description(bilingual('Số cảnh báo đang mở hoặc đã xác nhận nhưng chưa kết thúc.', 'Alerts open or acknowledged, not yet resolved.'))
      .withTarget(influx(`SELECT count("id") FROM (${LATEST_ALERTS}) WHERE "state" != 'resolved'`).alias('open'))
      .timeFrom('30d')
      .thresholds(
        of(
          thresholds([
            [null, 'green'],
            [1, 'red'],
          ]),
        ),
      )
      .noValue('0')
      .height(4)
      .span(6),
  )
  // One number per severity: the open alerts grouped by severity, each row turned into a field
  // named after it so that every severity gets its own colour.
  const bySeverity = new stat.PanelBuilder()
    .title('Cảnh báo đang mở theo mức độ')
    .description(
      bilingual(
        'Số cảnh báo chưa kết thúc ở mỗi mức độ (info, minor, major, critical).',
        'Unresolved alerts at each severity (info, minor, major, critical).',
      ),
    )
    .withTarget(influx(OPEN_ALERTS).table())
    .timeFrom('30d')
    .withTransformation({
      id: 'groupBy',
      options: {
        fields: { severity: { aggregations: [], operation: 'groupby' }, id: { aggregations: ['count'], operation: 'aggregate' } },
      },
    })
    .withTransformation({
      id: 'rowsToFields',
      options: {
        mappings: [
          { fieldName: 'severity', handlerKey: 'field.name' },
          { fieldName: 'id (count)', handlerKey: 'field.value' },
        ],
      },
    })
    .thresholds(of(thresholds([[null, 'green']])))
    .colorMode(common.BigValueColorMode.Background)
    .graphMode(common.BigValueGraphMode.None)
    .textMode(common.BigValueTextMode.ValueAndName)
    .reduceOptions(of({ calcs: ['lastNotNull'], values: false, fields: '' }))
    .height(4)
    .span(18)
  for (const [sev, color] of SEVERITY_COLORS)
    bySeverity.overrideByName(sev, [
      {
        id: 'thresholds',
        value: thresholds([
          [null, 'green'],
          [1, color],
        ]),
      },
    ])
  board.withPanel(bySeverity)
  board.withPanel(
    new table.PanelBuilder()
      .title('Cảnh báo đang mở theo loại và mức độ')
      .description(
        bilingual(
          'Số cảnh báo chưa kết thúc, gộp theo loại (mực nước, mưa, AQI, ùn tắc, ...) và mức độ.',
          'Unresolved alerts counted by kind (water level, rainfall, AQI, congestion, ...) and severity.',
        ),
      )
      .withTarget(influx(OPEN_ALERTS).table())
      .timeFrom('30d')
      .withTransformation({
        id: 'groupBy',
        options: {
          fields: {
            kind: { aggregations: [], operation: 'groupby' },
            severity: { aggregations: [], operation: 'groupby' },
            id: { aggregations: ['count'], operation: 'aggregate' },
          },
        },
      })
      .overrides(columnNames({ kind: 'Loại / Kind', severity: 'Mức độ / Severity', 'id (count)': 'Số cảnh báo / Open' }))
      .overrideByName('severity', [
        { id: 'mappings', value: severityMappings() },
        { id: 'custom.cellOptions', value: { type: 'color-text' } },
      ])
      .height(8)
      .span(8),
  )
  board.withPanel(
    new table.PanelBuilder()
      .title('Danh sách cảnh báo đang mở')
      .description(
        bilingual(
          'Mỗi cảnh báo chưa kết thúc với trạng thái, mức độ và lần thay đổi gần nhất; xác nhận và kết thúc trong ứng dụng gateway.',
          'Each unresolved alert with its state, severity and latest change; acknowledge and resolve them in the gateway.',
        ),
      )
      .withTarget(influx(OPEN_ALERTS).table())
      .timeFrom('30d')
      .withTransformation({
        id: 'organize',
        options: {
          excludeByName: { rule: true, id: true },
          indexByName: { Time: 0, title: 1, kind: 2, severity: 3, level: 4, state: 5, station: 6, device: 7 },
        },
      })
      .overrides(
        columnNames({
          Time: 'Cập nhật / Updated',
          title: 'Nội dung / Title',
          kind: 'Loại / Kind',
          severity: 'Mức độ / Severity',
          level: 'Cấp / Level',
          state: 'Trạng thái / State',
          station: 'Trạm / Station',
          device: 'Thiết bị / Device',
          zone: 'Vùng / Zone',
        }),
      )
      .overrideByName('severity', [
        { id: 'mappings', value: severityMappings() },
        { id: 'custom.cellOptions', value: { type: 'color-background' } },
      ])
      .height(8)
      .span(16),
  )

  board.withRow(row('Mực nước các trạm / Station levels'))
  const levels = new bargauge.PanelBuilder()
    .title('Mực nước mới nhất các trạm')
    .description(
      bilingual(
        'Số đọc mới nhất của mỗi trạm trong 7 ngày; màu theo mức báo động riêng của trạm.',
        "Latest reading of every station within 7 days, coloured by that station's own alarm levels.",
      ),
    )
    .withTarget(
      influx(`SELECT last("water_level") FROM "readings" WHERE "kind" = 'water_level' AND $timeFilter GROUP BY "station"`).alias(
        '$tag_station',
      ),
    )
    .timeFrom('7d')
    .unit('lengthm')
    .decimals(2)
    .displayMode(common.BarGaugeDisplayMode.Basic)
    .orientation(common.VizOrientation.Horizontal)
    .reduceOptions(of({ calcs: ['lastNotNull'], values: false, fields: '' }))
    .thresholds(of(thresholds([[null, 'green']])))
    .height(8)
    .span(12)
  for (const s of stations.filter(hasLevels)) {
    levels.overrideByName(s.id, [
      { id: 'thresholds', value: alarmThresholds(s.levels) },
      { id: 'max', value: (s.levels[2] ?? s.levels[1] ?? s.levels[0] ?? 0) + 1 },
      { id: 'min', value: (s.levels.find((l) => l !== null) ?? 0) - 2 },
      { id: 'displayName', value: s.name },
    ])
  }
  board.withPanel(levels)
  board.withPanel(
    new table.PanelBuilder()
      .title('Mức báo động hiện tại')
      .description(
        bilingual(
          'Mực nước và mức báo động của số đọc mới nhất mỗi trạm.',
          "Water level and alarm level of each station's latest reading.",
        ),
      )
      // The level from the reading, its alarm level and rise rate from the newest `derived` point,
      // written at the same time (docs/data-model.md): one row per station once merged on time and
      // station. Not last("alarm_level"): a station without alarm levels has a rise rate only.
      .withTarget(
        influx(
          `SELECT last("water_level") AS "water_level" FROM "readings" WHERE "kind" = 'water_level' AND $timeFilter GROUP BY "station"`,
        ).table(),
      )
      .withTarget(
        influx(
          `SELECT "alarm_level", "rise_rate" FROM "derived" WHERE "kind" = 'water_level' AND $timeFilter GROUP BY "station" ORDER BY time DESC LIMIT 1`,
          'B',
        ).table(),
      )
      .withTransformation({ id: 'merge', options: {} })
      .timeFrom('7d')
      .overrides(
        columnNames({
          Time: 'Thời điểm / Time',
          station: 'Trạm / Station',
          water_level: 'Mực nước (m) / Level',
          alarm_level: 'Báo động / Alarm',
          rise_rate: 'Lên (m/h) / Rise',
        }),
      )
      .overrideByName('alarm_level', [
        { id: 'mappings', value: alarmLevelMappings() },
        { id: 'custom.cellOptions', value: { type: 'color-background' } },
      ])
      .height(8)
      .span(12),
  )

  board.withRow(row('Không khí và giao thông / Air and traffic'))
  board.withPanel(
    bigValue('tile')
      .title('VN_AQI các trạm')
      .description(
        bilingual(
          'VN_AQI giờ mới nhất của mỗi trạm, màu theo mức chính thức.',
          'Latest hourly VN_AQI per station in the official band colours.',
        ),
      )
      .withTarget(
        influx(`SELECT last("aqi") FROM "derived" WHERE "kind" = 'air_quality' AND $timeFilter GROUP BY "station"`).alias('$tag_station'),
      )
      .timeFrom('1d')
      .decimals(0)
      .thresholds(of(aqiThresholds()))
      .textMode(common.BigValueTextMode.ValueAndName)
      .height(5)
      .span(12),
  )
  board.withPanel(
    bigValue('tile')
      .title('Ùn tắc theo camera')
      .description(
        bilingual(
          'Mức ùn tắc cao nhất giữa các vùng của mỗi camera trong 15 phút qua.',
          "Highest congestion level across each camera's zones over the last 15 minutes.",
        ),
      )
      .withTarget(influx(`SELECT max("congestion") FROM "detections" WHERE $timeFilter GROUP BY "camera"`).alias('$tag_camera'))
      .timeFrom('15m')
      .mappings(congestionMappings())
      .thresholds(
        of(
          thresholds([
            [null, 'green'],
            [1, 'yellow'],
            [2, 'orange'],
            [3, 'red'],
          ]),
        ),
      )
      .textMode(common.BigValueTextMode.ValueAndName)
      .height(5)
      .span(12),
  )
  return board
}
