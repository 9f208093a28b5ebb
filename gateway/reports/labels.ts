import { AQI_BANDS } from '../domain/vn-aqi.ts'
import { AQI_BAND_KEYS, type Lang, type ReportLabels } from './types.ts'

// Texts of the report in Vietnamese (with diacritics) and English. Units are SI as the data model
// stores them (docs/data-model.md): m, m/h, mm, s; VN_AQI has no unit.

export const LABELS: Record<Lang, ReportLabels> = {
  vi: {
    sections: {
      water_levels: 'Mực nước', rainfall: 'Lượng mưa', air_quality: 'Chất lượng không khí (VN_AQI)', cameras: 'Camera giao thông', alerts: 'Cảnh báo',
    },
    fields: {
      station: 'Trạm', name: 'Tên', district: 'Huyện/thị xã/thành phố', readings: 'Số bản tin', max: 'Cao nhất', min: 'Thấp nhất', last: 'Sau cùng',
      max_level: 'Cấp báo động cao nhất', time_at_level_s: 'Thời gian ở mỗi cấp', covered_s: 'Thời gian có số liệu', first_reached: 'Lần đầu đạt cấp',
      max_rise_rate: 'Tốc độ lên lớn nhất', max_fall_rate: 'Tốc độ xuống lớn nhất', total_mm: 'Tổng lượng mưa', max_1h: 'Mưa 1 giờ lớn nhất',
      max_24h: 'Mưa 24 giờ lớn nhất', hours: 'Số giờ có số liệu', hours_by_band: 'Số giờ theo mức', max_aqi: 'VN_AQI cao nhất', mean_aqi: 'VN_AQI trung bình',
      camera: 'Camera', zones: 'Vùng đếm', frames: 'Số khung hình', vehicles: 'Số lượt phương tiện', peak: 'Nhiều nhất trong một khung hình',
      congestion_s: 'Thời gian theo mức ùn tắc', max_congestion: 'Mức ùn tắc cao nhất', opened: 'Số cảnh báo', acknowledged: 'Đã xác nhận',
      resolved: 'Đã kết thúc', time_to_ack_s: 'Thời gian đến khi xác nhận', time_to_resolve_s: 'Thời gian đến khi kết thúc', acknowledged_by: 'Người xác nhận',
      resolved_by: 'Người kết thúc', notifications: 'Tin nhắn', sent: 'Đã gửi', failed: 'Thất bại', pending: 'Đang chờ', at: 'Lúc',
    },
    units: { m: 'm', m_per_h: 'm/giờ', mm: 'mm', s: 'giây', h: 'giờ', aqi: '', vehicles: 'lượt' },
    levels: { below: 'Dưới báo động I', I: 'Báo động I', II: 'Báo động II', III: 'Báo động III' },
    aqi_bands: Object.fromEntries(AQI_BAND_KEYS.map((k, i) => [k, AQI_BANDS[i]!.vi])),
    congestion: { '0': 'Thông thoáng', '1': 'Đông', '2': 'Ùn ứ', '3': 'Ùn tắc' },
    vehicle_classes: { car: 'Ô tô', motorcycle: 'Xe máy', bus: 'Xe buýt', truck: 'Xe tải', bicycle: 'Xe đạp' },
  },
  en: {
    sections: { water_levels: 'Water levels', rainfall: 'Rainfall', air_quality: 'Air quality (VN_AQI)', cameras: 'Traffic cameras', alerts: 'Alerts' },
    fields: {
      station: 'Station', name: 'Name', district: 'District', readings: 'Readings', max: 'Highest', min: 'Lowest', last: 'Last',
      max_level: 'Highest alarm level', time_at_level_s: 'Time at each level', covered_s: 'Time with data', first_reached: 'First reached',
      max_rise_rate: 'Fastest rise', max_fall_rate: 'Fastest fall', total_mm: 'Total rainfall', max_1h: 'Wettest hour', max_24h: 'Wettest 24 hours',
      hours: 'Hours with data', hours_by_band: 'Hours by band', max_aqi: 'Highest VN_AQI', mean_aqi: 'Mean VN_AQI',
      camera: 'Camera', zones: 'Counting zones', frames: 'Frames', vehicles: 'Vehicles counted', peak: 'Most in one frame',
      congestion_s: 'Time by congestion level', max_congestion: 'Highest congestion', opened: 'Alerts opened', acknowledged: 'Acknowledged',
      resolved: 'Resolved', time_to_ack_s: 'Time to acknowledge', time_to_resolve_s: 'Time to resolve', acknowledged_by: 'Acknowledged by',
      resolved_by: 'Resolved by', notifications: 'Notifications', sent: 'Sent', failed: 'Failed', pending: 'Pending', at: 'At',
    },
    units: { m: 'm', m_per_h: 'm/h', mm: 'mm', s: 's', h: 'h', aqi: '', vehicles: 'vehicles' },
    levels: { below: 'Below alarm level I', I: 'Alarm level I', II: 'Alarm level II', III: 'Alarm level III' },
    aqi_bands: Object.fromEntries(AQI_BAND_KEYS.map((k, i) => [k, AQI_BANDS[i]!.en])),
    congestion: { '0': 'Free flow', '1': 'Busy', '2': 'Slow', '3': 'Jammed' },
    vehicle_classes: { car: 'Car', motorcycle: 'Motorcycle', bus: 'Bus', truck: 'Truck', bicycle: 'Bicycle' },
  },
}
