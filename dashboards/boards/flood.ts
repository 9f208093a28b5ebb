import * as common from '@grafana/grafana-foundation-sdk/common'
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline'
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries'
import {
  alarmLevelMappings,
  alarmThresholds,
  alertAnnotation,
  bilingual,
  newBoard,
  row,
  tagVariable,
  thresholds,
  of,
  bigValue,
} from '../lib/common.ts'
import { influx, literal, matchVar } from '../lib/influxql.ts'
import { hasLevels, type StationLevels } from '../lib/stations.ts'

export const FLOOD_UID = 'ioc-flood'

const WATER = `"kind" = 'water_level' AND ${matchVar('station', 'station')} AND $timeFilter`

function levelText(s: StationLevels): string {
  const [i, ii, iii] = s.levels.map((l) => (l === null ? '—' : `${l.toFixed(2)} m`))
  const confirm = s.toConfirm.length ? ` (cần xác nhận / to confirm: ${s.toConfirm.join(', ')})` : ''
  return `BĐ I ${i}, BĐ II ${ii}, BĐ III ${iii}${confirm}`
}

/** Per-station overrides so each station's series carries its own alarm lines and colours. */
function stationOverrides<T extends { overrideByName(n: string, p: dashboard.DynamicConfigValue[]): T }>(
  panel: T,
  stations: StationLevels[],
  style: boolean,
): T {
  for (const s of stations.filter(hasLevels)) {
    const props: dashboard.DynamicConfigValue[] = [
      { id: 'thresholds', value: alarmThresholds(s.levels) },
      { id: 'displayName', value: s.name },
    ]
    if (style) props.push({ id: 'custom.thresholdsStyle', value: { mode: common.GraphThresholdsStyleMode.Dashed } })
    panel.overrideByName(s.id, props)
  }
  return panel
}

export function floodBoard(stations: StationLevels[]): dashboard.DashboardBuilder {
  const board = newBoard({
    uid: FLOOD_UID,
    title: 'Lũ lụt',
    vi: 'Mực nước các trạm thủy văn với các mức báo động I, II, III (Quyết định 05/2020/QĐ-TTg), tốc độ nước lên, lượng mưa và các cảnh báo.',
    en: 'Flood: water level per river station with alarm levels I, II and III (Decision 05/2020/QĐ-TTg), rate of rise, rainfall, and alerts as annotations.',
    tags: ['flood'],
    from: 'now-2d',
  })
    .withVariable(tagVariable('station', 'Trạm / Station', 'readings', 'station', `"kind" = 'water_level'`))
    .annotation(alertAnnotation('Cảnh báo / Alerts', matchVar('station', 'station'), 'red'))

  board.withRow(row('Mực nước / Water level'))
  board.withPanel(
    stationOverrides(
      bigValue('tile')
        .title('Mực nước hiện tại')
        .description(
          bilingual(
            'Số đọc mới nhất của mỗi trạm; màu theo mức báo động của trạm.',
            "Latest reading per station, coloured by that station's alarm level.",
          ),
        )
        .withTarget(influx(`SELECT last("water_level") FROM "readings" WHERE ${WATER} GROUP BY "station"`).alias('$tag_station'))
        .unit('lengthm')
        .decimals(2)
        .textMode(common.BigValueTextMode.ValueAndName)
        .thresholds(of(thresholds([[null, 'green']])))
        .height(5)
        .span(24),
      stations,
      false,
    ),
  )
  board.withPanel(
    stationOverrides(
      new timeseries.PanelBuilder()
        .title('Mực nước theo trạm')
        .description(
          bilingual(
            'Mực nước (m trên mốc cao độ của trạm); đường nét đứt là mức báo động I, II, III của từng trạm. Chọn một trạm để thấy rõ các mức.',
            "Water level (m above the station gauge datum); dashed lines are each station's alarm levels I, II and III. Pick one station to see its lines clearly.",
          ),
        )
        .withTarget(
          influx(`SELECT mean("water_level") FROM "readings" WHERE ${WATER} GROUP BY time($__interval), "station" fill(none)`).alias(
            '$tag_station',
          ),
        )
        .unit('lengthm')
        .decimals(2)
        .lineWidth(2)
        .thresholds(of(thresholds([[null, 'green']])))
        .height(10)
        .span(24),
      stations,
      true,
    ),
  )
  // One chart per station with levels: the scales differ (Thượng Nhật sits near 60 m), so each gets
  // its own axis and its alarm bands drawn as areas.
  const withLevels = stations.filter(hasLevels)
  const n = withLevels.length
  const span = n === 1 ? 24 : n % 2 === 0 && n % 3 !== 0 ? 12 : 8
  withLevels.forEach((s) => {
    board.withPanel(
      new timeseries.PanelBuilder()
        .title(`${s.name}${s.river ? ` — ${s.river}` : ''}`)
        .description(
          bilingual(`Trạm ${s.name}: ${levelText(s)}.`, `Station ${s.id}: alarm levels I, II, III as listed; areas are coloured by level.`),
        )
        .withTarget(
          influx(
            `SELECT mean("water_level") FROM "readings" WHERE "kind" = 'water_level' AND "station" = ${literal(s.id)} AND $timeFilter GROUP BY time($__interval) fill(none)`,
          ).alias(s.name),
        )
        .unit('lengthm')
        .decimals(2)
        .lineWidth(2)
        .thresholds(of(alarmThresholds(s.levels)))
        .thresholdsStyle(of({ mode: common.GraphThresholdsStyleMode.LineAndArea }))
        .axisSoftMin((s.levels.find((l) => l !== null) ?? 0) - 1)
        .axisSoftMax((s.levels[2] ?? s.levels[1] ?? s.levels[0] ?? 0) + 0.5)
        .height(8)
        .span(span),
    )
  })
  board.withPanel(
    new statetimeline.PanelBuilder()
      .title('Mức báo động')
      .description(
        bilingual(
          'Mức báo động do gateway tính cho mỗi số đọc (0: dưới BĐ I; 1-3: BĐ I-III).',
          'Alarm level the gateway derives for each reading (0 below I; 1-3 for levels I-III).',
        ),
      )
      .withTarget(
        influx(`SELECT max("alarm_level") FROM "derived" WHERE ${WATER} GROUP BY time($__interval), "station" fill(none)`).alias(
          '$tag_station',
        ),
      )
      .mappings(alarmLevelMappings())
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
      .showValue(common.VisibilityMode.Never)
      .height(6)
      .span(24),
  )

  board.withRow(row('Tốc độ lên và mưa / Rise rate and rainfall'))
  const rise = new timeseries.PanelBuilder()
    .title('Tốc độ nước lên')
    .description(
      bilingual(
        'Tốc độ thay đổi mực nước (m/giờ) trên cửa sổ của trạm; đường nét đứt là ngưỡng cảnh báo lên nhanh nếu có.',
        "Rate of change of the water level (m/h) over the station's window; the dashed line is the fast-rise alert threshold where one is set.",
      ),
    )
    .withTarget(
      influx(`SELECT mean("rise_rate") FROM "derived" WHERE ${WATER} GROUP BY time($__interval), "station" fill(none)`).alias(
        '$tag_station',
      ),
    )
    .unit('suffix: m/h')
    .decimals(2)
    .thresholds(of(thresholds([[null, 'green']])))
    .height(8)
    .span(12)
  for (const s of stations) {
    if (s.riseAlert === undefined) continue
    rise.overrideByName(s.id, [
      {
        id: 'thresholds',
        value: thresholds([
          [null, 'green'],
          [s.riseAlert, 'red'],
        ]),
      },
      { id: 'custom.thresholdsStyle', value: { mode: common.GraphThresholdsStyleMode.Dashed } },
    ])
  }
  board.withPanel(rise)
  board.withPanel(
    new timeseries.PanelBuilder()
      .title('Lượng mưa theo giờ')
      .description(bilingual('Tổng lượng mưa (mm) mỗi giờ của từng trạm đo mưa.', 'Rainfall (mm) summed per hour for each rain gauge.'))
      .withTarget(
        influx(
          `SELECT sum("rainfall") FROM "readings" WHERE "kind" = 'rain_gauge' AND $timeFilter GROUP BY time($__interval), "device" fill(none)`,
        ).alias('$tag_device'),
      )
      .interval('1h')
      .unit('lengthmm')
      .drawStyle(common.GraphDrawStyle.Bars)
      .fillOpacity(80)
      .lineWidth(1)
      .stacking(of({ mode: common.StackingMode.None, group: 'A' }))
      .height(8)
      .span(12),
  )
  board.withPanel(
    new timeseries.PanelBuilder()
      .title('Nước trong vùng ngập của camera')
      .description(
        bilingual(
          'Tỷ lệ diện tích vùng theo dõi ngập của mỗi camera bị nước phủ (0-100 %), từ mô hình phân vùng ảnh so với ảnh nền khô.',
          "Share of each camera's flood zone covered by water (0-100 %), from the segmentation model against a dry reference frame.",
        ),
      )
      .withTarget(
        influx(
          `SELECT mean("water_ratio") FROM "detections" WHERE $timeFilter GROUP BY time($__interval), "camera", "zone" fill(none)`,
        ).alias('$tag_camera / $tag_zone'),
      )
      .unit('percentunit')
      .min(0)
      .max(1)
      .thresholds(
        of(
          thresholds([
            [null, 'green'],
            [0.2, 'orange'],
            [0.5, 'red'],
          ]),
        ),
      )
      .thresholdsStyle(of({ mode: common.GraphThresholdsStyleMode.Dashed }))
      .height(8)
      .span(24),
  )
  return board
}
