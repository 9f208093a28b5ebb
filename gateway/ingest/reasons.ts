/** Why a telemetry or status message (or one reading of a batch) was refused; the metric label. */
export const REJECT_REASONS = [
  'too_large',
  'invalid_json',
  'invalid_payload',
  'too_many_readings',
  'ts_invalid',
  'ts_future',
  'ts_too_old',
  'unknown_metric',
  'derived_metric',
  'metric_not_for_kind',
  'not_finite',
  'out_of_range',
  'unit_mismatch',
  'missing_interval',
  'senml_unsupported',
  'internal',
] as const
export type RejectReason = (typeof REJECT_REASONS)[number]

export interface Refusal {
  reason: RejectReason
  /** A sentence a technician can act on, naming the field. */
  message: string
}

export class Refused extends Error {
  constructor(
    readonly reason: RejectReason,
    message: string,
  ) {
    super(message)
  }
}
