import * as common from '@grafana/grafana-foundation-sdk/common'
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline'
import * as table from '@grafana/grafana-foundation-sdk/table'
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries'
import { alertAnnotation, bilingual, newBoard, row, tagVariable, thresholds, columnNames, of } from '../lib/common.ts'
import { influx, matchVar } from '../lib/influxql.ts'

export const TRAFFIC_UID = 'ioc-traffic'

export const VEHICLE_CLASSES = ['car', 'motorcycle', 'bus', 'truck', 'bicycle'] as const
const CLASS_VI: Record<(typeof VEHICLE_CLASSES)[number], string> = {
  car: 'ô tô',
  motorcycle: 'xe máy',
  bus: 'xe buýt',
  truck: 'xe tải',
  bicycle: 'xe đạp',
}

const CAMERA = `${matchVar('camera', 'camera')} AND ${matchVar('zone', 'zone')} AND $timeFilter`

/** Congestion levels 0-3 the vision capability writes per zone. */
export function congestionMappings(): dashboard.ValueMapping[] {
  const levels: Array<[string, string]> = [
    ['Thông thoáng / free', 'green'],
    ['Đông / busy', 'yellow'],
    ['Ùn ứ / slow', 'orange'],
    ['Ùn tắc / jammed', 'red'],
  ]
  const options: Record<string, dashboard.ValueMappingResult> = {}
  levels.forEach(([text, color], i) => {
    options[String(i)] = { text, color, index: i }
  })
  return [{ type: dashboard.MappingType.ValueToText, options }]
}

export function trafficBoard(): dashboard.DashboardBuilder {
  const board = newBoard({
    uid: TRAFFIC_UID,
    title: 'Giao thông',
    vi: 'Số phương tiện theo loại ở mỗi camera và vùng đếm, mức ùn tắc, và đường dẫn tới ảnh chụp mới nhất của camera.',
    en: "Traffic: vehicles by class per camera and counting zone, congestion level, and a link to each camera's latest analysed snapshot.",
    tags: ['traffic'],
    from: 'now-6h',
  })
    .withVariable(tagVariable('camera', 'Camera', 'detections', 'camera'))
    .withVariable(tagVariable('zone', 'Vùng / Zone', 'detections', 'zone', matchVar('camera', 'camera')))
    .withVariable(
      new dashboard.TextBoxVariableBuilder('gateway_url')
        .label('Gateway URL')
        .description("Địa chỉ HTTP của gateway, dùng cho đường dẫn ảnh chụp / The gateway's HTTP address, used by the snapshot links")
        .defaultValue('http://localhost:8080'),
    )
    .annotation(
      alertAnnotation('Cảnh báo ùn tắc / Congestion alerts', `"kind" = 'congestion' AND ${matchVar('device', 'camera')}`, 'orange'),
    )

  board.withRow(row('Lưu lượng / Counts'))
  const counts = new timeseries.PanelBuilder()
    .title('Phương tiện theo loại — $camera')
    .description(
      bilingual(
        'Số phương tiện trung bình nhìn thấy trong từng vùng đếm của camera, theo loại (ô tô, xe máy, xe buýt, xe tải, xe đạp). Bảng lặp lại cho mỗi camera được chọn.',
        'Mean number of vehicles seen in each counting zone of the camera, by class. The panel repeats for each selected camera.',
      ),
    )
    .withTarget(
      influx(
        `SELECT ${VEHICLE_CLASSES.map((c) => `mean("${c}") AS "${c}"`).join(', ')} FROM "detections" WHERE "camera" =~ /^$camera$/ AND ${matchVar('zone', 'zone')} AND $timeFilter GROUP BY time($__interval), "zone" fill(none)`,
      ).alias('$tag_zone · $col'),
    )
    .repeat('camera')
    .repeatDirection('h')
    .maxPerRow(2)
    .drawStyle(common.GraphDrawStyle.Bars)
    .fillOpacity(70)
    .stacking(of({ mode: common.StackingMode.Normal, group: 'A' }))
    .unit('short')
    .decimals(1)
    .height(9)
    .span(12)
  for (const c of VEHICLE_CLASSES)
    counts.overrideByRegexp(`.* ${c}$`, [{ id: 'displayName', value: `\${__field.labels.zone} · ${CLASS_VI[c]}` }])
  board.withPanel(counts)

  board.withRow(row('Ùn tắc / Congestion'))
  board.withPanel(
    new statetimeline.PanelBuilder()
      .title('Mức ùn tắc theo vùng')
      .description(
        bilingual(
          'Mức ùn tắc 0-3 của mỗi vùng đếm, tính từ số xe và độ chiếm dụng.',
          'Congestion level 0-3 per counting zone, from counts and occupancy.',
        ),
      )
      .withTarget(
        influx(`SELECT max("congestion") FROM "detections" WHERE ${CAMERA} GROUP BY time($__interval), "camera", "zone" fill(none)`).alias(
          '$tag_camera / $tag_zone',
        ),
      )
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
      .showValue(common.VisibilityMode.Never)
      .height(7)
      .span(24),
  )
  board.withPanel(
    new timeseries.PanelBuilder()
      .title('Độ chiếm dụng mặt đường')
      .description(
        bilingual('Tỷ lệ diện tích vùng đếm bị phương tiện chiếm (0-100 %).', 'Share of the counting zone covered by vehicles (0-100 %).'),
      )
      .withTarget(
        influx(`SELECT mean("occupancy") FROM "detections" WHERE ${CAMERA} GROUP BY time($__interval), "camera", "zone" fill(none)`).alias(
          '$tag_camera / $tag_zone',
        ),
      )
      .unit('percentunit')
      .min(0)
      .max(1)
      .height(8)
      .span(12),
  )
  const snapshotLink = {
    title: 'Ảnh chụp mới nhất / Latest snapshot',
    url: '${gateway_url}/api/v1/cameras/${__value.raw}/snapshot',
    targetBlank: true,
  }
  board.withPanel(
    new table.PanelBuilder()
      .title('Camera và ảnh chụp')
      .description(
        bilingual(
          'Trạng thái mới nhất của mỗi camera; bấm vào tên camera để mở ảnh chụp đã phân tích (GET /api/v1/cameras/:id/snapshot, cần đăng nhập gateway).',
          'Latest state of each camera; click a camera id to open its analysed snapshot (GET /api/v1/cameras/:id/snapshot, needs a gateway login).',
        ),
      )
      .withTarget(
        influx(
          `SELECT last("congestion") AS "congestion", ${VEHICLE_CLASSES.map((c) => `last("${c}") AS "${c}"`).join(', ')} FROM "detections" WHERE ${matchVar('camera', 'camera')} AND $timeFilter GROUP BY "camera"`,
        ).table(),
      )
      .withTransformation({ id: 'organize', options: { excludeByName: { Time: true } } })
      .overrides(columnNames({ camera: 'Camera', congestion: 'Ùn tắc / Congestion' }))
      .overrideByName('camera', [{ id: 'links', value: [snapshotLink] }])
      .overrideByName('congestion', [
        { id: 'mappings', value: congestionMappings() },
        { id: 'custom.cellOptions', value: { type: 'color-background' } },
      ])
      .height(8)
      .span(12),
  )
  return board
}
