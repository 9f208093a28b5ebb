import * as common from '@grafana/grafana-foundation-sdk/common'
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline'
import * as table from '@grafana/grafana-foundation-sdk/table'
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries'
import { alertAnnotation, bilingual, newBoard, row, tagVariable, thresholds, columnNames, of, bigValue } from '../lib/common.ts'
import { influx, matchVar } from '../lib/influxql.ts'

export const DEVICES_UID = 'ioc-device-health'

export const DEVICE_KINDS = ['water_level', 'rain_gauge', 'air_quality', 'camera'] as const

function onlineMappings(): dashboard.ValueMapping[] {
  return [
    {
      type: dashboard.MappingType.ValueToText,
      options: {
        '1': { text: 'Trực tuyến / online', color: 'green', index: 0 },
        '0': { text: 'Mất kết nối / offline', color: 'red', index: 1 },
      },
    },
  ]
}

const DEVICE = `${matchVar('kind', 'kind')} AND ${matchVar('device', 'device')} AND $timeFilter`

/** Latest status per device, one row each: the inner query picks the last status point. */
const LATEST_STATUS = `SELECT last("online") AS "online" FROM "device_status" WHERE ${DEVICE} GROUP BY "device"`

export function deviceHealthBoard(): dashboard.DashboardBuilder {
  const board = newBoard({
    uid: DEVICES_UID,
    title: 'Tình trạng thiết bị',
    vi: 'Thiết bị trực tuyến hay mất kết nối, lần cuối gửi dữ liệu, điện áp pin, cường độ sóng và các bản tin bị từ chối theo lý do.',
    en: 'Device health: online or offline, last seen, battery voltage, signal strength, and refused messages by reason.',
    tags: ['devices'],
  })
    .withVariable(
      new dashboard.CustomVariableBuilder('kind')
        .label('Loại / Kind')
        .values(DEVICE_KINDS.join(','))
        .multi(true)
        .includeAll(true)
        .current({ selected: true, text: ['All'], value: ['$__all'] }),
    )
    .withVariable(tagVariable('device', 'Thiết bị / Device', 'device_status', 'device', matchVar('kind', 'kind')))
    .annotation(alertAnnotation('Thiết bị im lặng / Silent devices', `"kind" = 'silence' AND ${matchVar('device', 'device')}`, 'blue'))

  board.withRow(row('Kết nối / Connectivity'))
  board.withPanel(
    bigValue('text')
      .title('Trực tuyến')
      .description(bilingual('Số thiết bị có trạng thái cuối cùng là trực tuyến.', 'Devices whose latest status is online.'))
      .withTarget(influx(`SELECT sum("online") FROM (${LATEST_STATUS})`).alias('online'))
      .thresholds(of(thresholds([[null, 'green']])))
      .height(4)
      .span(6),
  )
  board.withPanel(
    bigValue('text')
      .title('Mất kết nối')
      .description(
        bilingual(
          'Số thiết bị có trạng thái cuối cùng là mất kết nối (bản tin will hoặc offline).',
          'Devices whose latest status is offline (their will or an offline status).',
        ),
      )
      .withTarget(influx(`SELECT count("online") - sum("online") FROM (${LATEST_STATUS})`).alias('offline'))
      .thresholds(
        of(
          thresholds([
            [null, 'green'],
            [1, 'red'],
          ]),
        ),
      )
      .height(4)
      .span(6),
  )
  board.withPanel(
    bigValue('text', 'sum')
      .title('Bản tin bị từ chối')
      .description(
        bilingual('Tổng số bản tin bị gateway từ chối trong khoảng thời gian.', 'Messages the gateway refused in the time range.'),
      )
      .withTarget(influx(`SELECT sum("count") FROM "rejects" WHERE $timeFilter`).alias('rejects'))
      .thresholds(
        of(
          thresholds([
            [null, 'green'],
            [1, 'orange'],
          ]),
        ),
      )
      .height(4)
      .span(12),
  )
  board.withPanel(
    new statetimeline.PanelBuilder()
      .title('Trực tuyến theo thời gian')
      .description(
        bilingual(
          'Trạng thái kết nối của từng thiết bị theo bản tin status (giữ lại, có will).',
          'Connection state of each device from its retained status messages (with will).',
        ),
      )
      .withTarget(
        influx(`SELECT last("online") FROM "device_status" WHERE ${DEVICE} GROUP BY time($__interval), "device" fill(previous)`).alias(
          '$tag_device',
        ),
      )
      .mappings(onlineMappings())
      .showValue(common.VisibilityMode.Never)
      .height(8)
      .span(24),
  )
  board.withPanel(
    new table.PanelBuilder()
      .title('Lần cuối gửi dữ liệu')
      .description(
        bilingual(
          'Thời điểm (theo giờ của thiết bị) của số đọc mới nhất mỗi thiết bị đã gửi, cùng số thứ tự seq.',
          'Event time of the latest reading each device sent, with its seq number.',
        ),
      )
      .withTarget(influx(`SELECT last("seq") AS "seq" FROM "readings" WHERE ${DEVICE} GROUP BY "device", "kind", "station"`).table())
      .overrides(columnNames({ Time: 'Lần cuối / Last seen', device: 'Thiết bị / Device', kind: 'Loại / Kind', station: 'Trạm / Station' }))
      .withTransformation({ id: 'sortBy', options: { sort: [{ field: 'Time', desc: false }] } })
      .height(9)
      .span(12),
  )
  board.withPanel(
    new table.PanelBuilder()
      .title('Trạng thái và phần mềm')
      .description(
        bilingual(
          'Trạng thái mới nhất, phiên bản phần mềm và thời gian chạy của mỗi thiết bị.',
          'Latest status, firmware and uptime of each device.',
        ),
      )
      .withTarget(
        influx(
          `SELECT last("online") AS "online", "fw", "uptime" FROM "device_status" WHERE ${DEVICE} GROUP BY "device", "kind", "station"`,
        ).table(),
      )
      .overrides(
        columnNames({
          Time: 'Cập nhật / Updated',
          device: 'Thiết bị / Device',
          kind: 'Loại / Kind',
          station: 'Trạm / Station',
          online: 'Kết nối / Online',
          fw: 'Phần mềm / Firmware',
          uptime: 'Thời gian chạy / Uptime',
        }),
      )
      .overrideByName('online', [
        { id: 'mappings', value: onlineMappings() },
        { id: 'custom.cellOptions', value: { type: 'color-background' } },
      ])
      .overrideByName('uptime', [{ id: 'unit', value: 's' }])
      .height(9)
      .span(12),
  )

  board.withRow(row('Pin và sóng / Battery and signal'))
  board.withPanel(
    new timeseries.PanelBuilder()
      .title('Điện áp pin')
      .description(bilingual('Điện áp pin (V) mỗi thiết bị báo về.', 'Battery voltage (V) each device reports.'))
      .withTarget(
        influx(`SELECT mean("battery") FROM "readings" WHERE ${DEVICE} GROUP BY time($__interval), "device" fill(none)`).alias(
          '$tag_device',
        ),
      )
      .unit('volt')
      .decimals(2)
      .height(8)
      .span(12),
  )
  board.withPanel(
    new timeseries.PanelBuilder()
      .title('Cường độ sóng')
      .description(
        bilingual(
          'Cường độ tín hiệu RSSI (dBm); dưới -95 dBm là yếu, dưới -105 dBm dễ mất kết nối.',
          'Received signal strength (dBm); below -95 dBm is weak, below -105 dBm links tend to drop.',
        ),
      )
      .withTarget(
        influx(`SELECT mean("rssi") FROM "readings" WHERE ${DEVICE} GROUP BY time($__interval), "device" fill(none)`).alias('$tag_device'),
      )
      .unit('dBm')
      .thresholds(
        of(
          thresholds([
            [null, 'red'],
            [-105, 'orange'],
            [-95, 'green'],
          ]),
        ),
      )
      .thresholdsStyle(of({ mode: common.GraphThresholdsStyleMode.Dashed }))
      .height(8)
      .span(12),
  )

  board.withRow(row('Bản tin bị từ chối / Refused messages'))
  board.withPanel(
    new timeseries.PanelBuilder()
      .title('Bản tin bị từ chối theo lý do')
      .description(
        bilingual(
          'Số bản tin gateway từ chối (sai định dạng, ngoài phạm vi, không có quyền, ...) theo lý do.',
          'Messages the gateway refused (malformed, out of range, not allowed, ...) by reason.',
        ),
      )
      .withTarget(
        influx(`SELECT sum("count") FROM "rejects" WHERE $timeFilter GROUP BY time($__interval), "reason" fill(none)`).alias('$tag_reason'),
      )
      .drawStyle(common.GraphDrawStyle.Bars)
      .fillOpacity(80)
      .stacking(of({ mode: common.StackingMode.Normal, group: 'A' }))
      .unit('short')
      .height(8)
      .span(12),
  )
  board.withPanel(
    new table.PanelBuilder()
      .title('Từ chối theo thiết bị và lý do')
      .description(
        bilingual(
          'Tổng số bản tin bị từ chối theo thiết bị và lý do trong khoảng thời gian.',
          'Refused messages per device and reason over the time range.',
        ),
      )
      .withTarget(influx(`SELECT sum("count") AS "count" FROM "rejects" WHERE $timeFilter GROUP BY "device", "reason"`).table())
      .withTransformation({ id: 'organize', options: { excludeByName: { Time: true } } })
      .overrides(columnNames({ device: 'Thiết bị / Device', reason: 'Lý do / Reason', count: 'Số lần / Count' }))
      .withTransformation({ id: 'sortBy', options: { sort: [{ field: 'count', desc: true }] } })
      .height(8)
      .span(12),
  )
  return board
}
