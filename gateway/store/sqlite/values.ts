import type { FieldValue } from '../types.ts'

// How a field value is stored in `samples` (v, t): shared by the store and the export scan.

export const T_NUMBER = 0
export const T_STRING = 1
export const T_BOOL = 2

export function decode(v: number | string, t: number): FieldValue {
  if (t === T_BOOL) return v === 1
  if (t === T_STRING) return String(v)
  return v as number
}
