import { AQI_BANDS } from '../domain/vn-aqi.ts'
import { AQI_BAND_KEYS, type Lang, type ReportLabels } from './types.ts'

// Texts of the report in Vietnamese (with diacritics) and English, each key's two side by side so
// neither language misses one. Units are SI as the data model stores them (docs/data-model.md):
// m, m/h, mm, s; VN_AQI has no unit.

type Texts = Record<string, readonly [vi: string, en: string]>

const TEXTS: Record<keyof ReportLabels, Texts> = {
  sections: {
    water_levels: ['Mực nước', 'Water levels'],
    rainfall: ['Lượng mưa', 'Rainfall'],
    air_quality: ['Chất lượng không khí (VN_AQI)', 'Air quality (VN_AQI)'],
    cameras: ['Camera giao thông', 'Traffic cameras'],
    alerts: ['Cảnh báo', 'Alerts'],
  },
  fields: {
    station: ['Trạm', 'Station'],
    name: ['Tên', 'Name'],
    district: ['Huyện/thị xã/thành phố', 'District'],
    readings: ['Số bản tin', 'Readings'],
    max: ['Cao nhất', 'Highest'],
    min: ['Thấp nhất', 'Lowest'],
    last: ['Sau cùng', 'Last'],
    max_level: ['Cấp báo động cao nhất', 'Highest alarm level'],
    time_at_level_s: ['Thời gian ở mỗi cấp', 'Time at each level'],
    covered_s: ['Thời gian có số liệu', 'Time with data'],
    first_reached: ['Lần đầu đạt cấp', 'First reached'],
    max_rise_rate: ['Tốc độ lên lớn nhất', 'Fastest rise'],
    max_fall_rate: ['Tốc độ xuống lớn nhất', 'Fastest fall'],
    total_mm: ['Tổng lượng mưa', 'Total rainfall'],
    max_1h: ['Mưa 1 giờ lớn nhất', 'Wettest hour'],
    max_24h: ['Mưa 24 giờ lớn nhất', 'Wettest 24 hours'],
    hours: ['Số giờ có số liệu', 'Hours with data'],
    hours_by_band: ['Số giờ theo mức', 'Hours by band'],
    max_aqi: ['VN_AQI cao nhất', 'Highest VN_AQI'],
    mean_aqi: ['VN_AQI trung bình', 'Mean VN_AQI'],
    camera: ['Camera', 'Camera'],
    zones: ['Vùng đếm', 'Counting zones'],
    frames: ['Số khung hình', 'Frames'],
    vehicles: ['Số lượt phương tiện', 'Vehicles counted'],
    peak: ['Nhiều nhất trong một khung hình', 'Most in one frame'],
    congestion_s: ['Thời gian theo mức ùn tắc', 'Time by congestion level'],
    max_congestion: ['Mức ùn tắc cao nhất', 'Highest congestion'],
    opened: ['Số cảnh báo', 'Alerts opened'],
    acknowledged: ['Đã xác nhận', 'Acknowledged'],
    resolved: ['Đã kết thúc', 'Resolved'],
    time_to_ack_s: ['Thời gian đến khi xác nhận', 'Time to acknowledge'],
    time_to_resolve_s: ['Thời gian đến khi kết thúc', 'Time to resolve'],
    acknowledged_by: ['Người xác nhận', 'Acknowledged by'],
    resolved_by: ['Người kết thúc', 'Resolved by'],
    notifications: ['Tin nhắn', 'Notifications'],
    sent: ['Đã gửi', 'Sent'],
    failed: ['Thất bại', 'Failed'],
    pending: ['Đang chờ', 'Pending'],
    at: ['Lúc', 'At'],
  },
  units: {
    m: ['m', 'm'],
    m_per_h: ['m/giờ', 'm/h'],
    mm: ['mm', 'mm'],
    s: ['giây', 's'],
    h: ['giờ', 'h'],
    aqi: ['', ''],
    vehicles: ['lượt', 'vehicles'],
  },
  levels: {
    below: ['Dưới báo động I', 'Below alarm level I'],
    I: ['Báo động I', 'Alarm level I'],
    II: ['Báo động II', 'Alarm level II'],
    III: ['Báo động III', 'Alarm level III'],
  },
  aqi_bands: Object.fromEntries(AQI_BAND_KEYS.map((k, i) => [k, [AQI_BANDS[i]!.vi, AQI_BANDS[i]!.en] as const])),
  congestion: { '0': ['Thông thoáng', 'Free flow'], '1': ['Đông', 'Busy'], '2': ['Ùn ứ', 'Slow'], '3': ['Ùn tắc', 'Jammed'] },
  vehicle_classes: {
    car: ['Ô tô', 'Car'],
    motorcycle: ['Xe máy', 'Motorcycle'],
    bus: ['Xe buýt', 'Bus'],
    truck: ['Xe tải', 'Truck'],
    bicycle: ['Xe đạp', 'Bicycle'],
  },
}

function labelsIn(lang: Lang): ReportLabels {
  const i = lang === 'vi' ? 0 : 1
  const pick = (t: Texts) => Object.fromEntries(Object.entries(t).map(([k, both]) => [k, both[i]]))
  return Object.fromEntries(Object.entries(TEXTS).map(([group, t]) => [group, pick(t)])) as ReportLabels
}

export const LABELS: Record<Lang, ReportLabels> = { vi: labelsIn('vi'), en: labelsIn('en') }
