import * as common from '@grafana/grafana-foundation-sdk/common'
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import * as table from '@grafana/grafana-foundation-sdk/table'
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries'
import { alertAnnotation, bilingual, newBoard, row, tagVariable, thresholds, columnNames, of, bigValue } from '../lib/common.ts'
import { influx, matchVar } from '../lib/influxql.ts'
import { AQI_BANDS as VN_AQI_BANDS } from '../../gateway/domain/vn-aqi.ts'

export const AIR_UID = 'ioc-air-quality'

/**
 * VN_AQI bands and their official colours (Decision 1459/QĐ-TCMT, domain/vn-aqi.md). The index is
 * an integer, so a band starts at the first integer above the previous band's top.
 */
export const AQI_BANDS = VN_AQI_BANDS.map((b) => ({ from: b.min, to: b.max, vi: b.vi, en: b.en, rgb: b.rgb }))

export function rgbHex(rgb: readonly number[]): string {
  return `#${rgb
    .map((c) => c.toString(16).padStart(2, '0'))
    .join('')
    .toUpperCase()}`
}

export function aqiThresholds(): dashboard.ThresholdsConfig {
  return thresholds(AQI_BANDS.map((b, i) => [i === 0 ? null : b.from, rgbHex(b.rgb)]))
}

/** Band names shown beside the number; colours come from the thresholds. */
export function aqiBandMappings(): dashboard.ValueMapping[] {
  return AQI_BANDS.map((b, i) => ({
    type: dashboard.MappingType.RangeToText,
    options: {
      from: i === 0 ? 0 : b.from - 0.5,
      to: i === AQI_BANDS.length - 1 ? 1e9 : b.to + 0.5,
      result: { text: `${b.vi} / ${b.en}`, color: rgbHex(b.rgb), index: i },
    },
  }))
}

/**
 * Pollutants in µg/m³ and the 1-hour concentration at which each one's sub-index reaches 100
 * (the top of "Trung bình"), drawn as a dashed guide line.
 */
export const POLLUTANTS = [
  { field: 'pm25', label: 'PM2.5', at100: 50 },
  { field: 'pm10', label: 'PM10', at100: 150 },
  { field: 'no2', label: 'NO₂', at100: 200 },
  { field: 'so2', label: 'SO₂', at100: 350 },
  { field: 'o3', label: 'O₃', at100: 200 },
  { field: 'co', label: 'CO', at100: 30000 },
] as const

const AIR = `"kind" = 'air_quality' AND ${matchVar('station', 'station')} AND $timeFilter`

export function airQualityBoard(): dashboard.DashboardBuilder {
  const board = newBoard({
    uid: AIR_UID,
    title: 'Chất lượng không khí',
    vi: 'Chỉ số VN_AQI theo giờ (Quyết định 1459/QĐ-TCMT) với màu chính thức của từng mức, và nồng độ từng chất ô nhiễm.',
    en: "Air quality: hourly VN_AQI (Decision 1459/QĐ-TCMT) in the official band colours, and each pollutant's concentration.",
    tags: ['air-quality'],
  })
    .withVariable(tagVariable('station', 'Trạm / Station', 'readings', 'station', `"kind" = 'air_quality'`))
    .annotation(alertAnnotation('Cảnh báo AQI / AQI alerts', `"kind" = 'aqi' AND ${matchVar('station', 'station')}`, 'purple'))

  board.withRow(row('VN_AQI'))
  board.withPanel(
    bigValue('tile')
      .title('VN_AQI hiện tại')
      .description(
        bilingual(
          'Giá trị VN_AQI giờ mới nhất của mỗi trạm, tô màu theo mức: Tốt, Trung bình, Kém, Xấu, Rất xấu, Nguy hại.',
          'Latest hourly VN_AQI per station, coloured by band: good, moderate, poor, bad, very bad, hazardous.',
        ),
      )
      .withTarget(influx(`SELECT last("aqi") FROM "derived" WHERE ${AIR} GROUP BY "station"`).alias('$tag_station'))
      .decimals(0)
      .thresholds(of(aqiThresholds()))
      .textMode(common.BigValueTextMode.ValueAndName)
      .height(5)
      .span(12),
  )
  board.withPanel(
    new table.PanelBuilder()
      .title('Mức chất lượng và chất ô nhiễm chính')
      .description(
        bilingual(
          'Mức VN_AQI và chất quyết định chỉ số (có chỉ số phụ lớn nhất) ở mỗi trạm.',
          'VN_AQI band and the dominant pollutant (largest sub-index) at each station.',
        ),
      )
      .withTarget(influx(`SELECT last("aqi") AS "aqi", "aqi_dominant" FROM "derived" WHERE ${AIR} GROUP BY "station"`).table())
      .overrides(columnNames({ Time: 'Thời điểm / Time', station: 'Trạm / Station', aqi: 'VN_AQI', aqi_dominant: 'Chất chính / Dominant' }))
      .overrideByName('aqi', [
        { id: 'thresholds', value: aqiThresholds() },
        { id: 'mappings', value: aqiBandMappings() },
        { id: 'custom.cellOptions', value: { type: 'color-background' } },
      ])
      .height(5)
      .span(12),
  )
  board.withPanel(
    new timeseries.PanelBuilder()
      .title('VN_AQI theo giờ')
      .description(
        bilingual(
          'VN_AQI giờ (PM dùng NowCast 12 giờ); nền tô theo các mức màu chính thức.',
          'Hourly VN_AQI (PM by 12-hour NowCast); the background shows the official band colours.',
        ),
      )
      .withTarget(
        influx(`SELECT mean("aqi") FROM "derived" WHERE ${AIR} GROUP BY time($__interval), "station" fill(none)`).alias('$tag_station'),
      )
      .decimals(0)
      .min(0)
      .thresholds(of(aqiThresholds()))
      .thresholdsStyle(of({ mode: common.GraphThresholdsStyleMode.Area }))
      .lineWidth(2)
      .height(9)
      .span(24),
  )

  board.withRow(row('Chất ô nhiễm / Pollutants'))
  for (const p of POLLUTANTS) {
    board.withPanel(
      new timeseries.PanelBuilder()
        .title(`${p.label} (µg/m³)`)
        .description(
          bilingual(
            `Nồng độ ${p.label} trung bình (µg/m³). Đường nét đứt: ${p.at100} µg/m³, nồng độ 1 giờ ứng với chỉ số phụ 100.`,
            `${p.label} mean concentration (µg/m³). Dashed line: ${p.at100} µg/m³, the 1-hour concentration at sub-index 100.`,
          ),
        )
        .withTarget(
          influx(`SELECT mean("${p.field}") FROM "readings" WHERE ${AIR} GROUP BY time($__interval), "station" fill(none)`).alias(
            '$tag_station',
          ),
        )
        .unit('conμgm3')
        .min(0)
        .thresholds(
          of(
            thresholds([
              [null, 'green'],
              [p.at100, 'orange'],
            ]),
          ),
        )
        .thresholdsStyle(of({ mode: common.GraphThresholdsStyleMode.Dashed }))
        .height(7)
        .span(8),
    )
  }
  return board
}
