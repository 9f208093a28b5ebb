/** A detection in source-frame pixels. */
export interface Detection {
  classId: number
  class: string
  score: number
  /** [x1, y1, x2, y2] in source-frame pixels. */
  box: [number, number, number, number]
}

export function area(b: readonly number[]): number {
  return Math.max(0, b[2]! - b[0]!) * Math.max(0, b[3]! - b[1]!)
}

export function intersection(a: readonly number[], b: readonly number[]): number {
  const w = Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!)
  const h = Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!)
  return w > 0 && h > 0 ? w * h : 0
}

/** IoU with plain areas (no "+1"), as docs/vision.md "Models" says. */
export function iou(a: readonly number[], b: readonly number[]): number {
  const i = intersection(a, b)
  if (i === 0) return 0
  return i / (area(a) + area(b) - i)
}

/**
 * Whether boxes `a` and `b` are one object for the merge: their IoU over `iouThreshold`, or their
 * intersection over the smaller box over `iosThreshold` (a fragment cut by a tile's edge).
 */
export function sameObject(a: readonly number[], b: readonly number[], iouThreshold: number, iosThreshold: number): boolean {
  const i = intersection(a, b)
  if (i === 0) return false
  return i / (area(a) + area(b) - i) > iouThreshold || i / Math.min(area(a), area(b)) > iosThreshold
}

/**
 * Greedy class-agnostic NMS (the YOLOX default): highest score first, a box is dropped when its
 * IoU with a kept box exceeds `iouThreshold`. `iosThreshold` (intersection over the smaller box)
 * additionally drops a fragment of an object cut by a tile edge whose larger, whole box was kept;
 * plain IoU misses that case because the fragment is small. Hand-written: a few lines, and no
 * maintained npm package implements this exact variant.
 */
export function nms(dets: Detection[], iouThreshold: number, iosThreshold = 1.01): Detection[] {
  const sorted = [...dets].sort((a, b) => b.score - a.score)
  const kept: Detection[] = []
  for (const d of sorted) if (!kept.some((k) => sameObject(d.box, k.box, iouThreshold, iosThreshold))) kept.push(d)
  return kept
}
